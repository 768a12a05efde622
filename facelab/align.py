"""Face detection and 5-point similarity alignment.

Models see faces aligned the same way everywhere (training, evaluation, app): eyes level, fixed
inter-ocular distance, the whole face with a little hair and chin margin. Detection is
facenet-pytorch's MTCNN; alignment is done here (facenet-pytorch only crops boxes) by fitting a
similarity transform from the five landmarks to :data:`TEMPLATE` and warping once with PIL.

The settings live in :class:`AlignConfig`, which a model stores in its JSON config and whose
:meth:`AlignConfig.key` names caches of aligned crops. facenet_pytorch and torch are imported
lazily, inside :class:`MTCNNDetector`, so ``import facelab.align`` stays fast.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from facelab.imageio import DEFAULT_MAX_PIXELS, ImageError, center_crop, read_image

__all__ = [
    "TEMPLATE",
    "ALIGN_VERSION",
    "AlignConfig",
    "Detection",
    "Detector",
    "MTCNNDetector",
    "Face",
    "NoFaceError",
    "estimate_similarity",
    "apply_similarity",
    "align_landmarks",
    "faces",
    "align_largest",
]

#: Bumped when the warp itself changes, so caches keyed by :meth:`AlignConfig.key` go stale.
ALIGN_VERSION = 1

#: Canonical landmark positions in unit coordinates of the output square (x right, y down), in
#: MTCNN order: left eye, right eye (as seen in the image), nose tip, left and right mouth corner.
#: Inter-ocular distance 0.32 leaves the forehead, some hair and the chin inside the crop.
TEMPLATE = np.array(
    [
        [0.34, 0.40],
        [0.66, 0.40],
        [0.50, 0.55],
        [0.37, 0.72],
        [0.63, 0.72],
    ],
    dtype=np.float64,
)
TEMPLATE.setflags(write=False)


def _template_tuple(t: Any) -> tuple[tuple[float, float], ...]:
    a = np.asarray(t, dtype=np.float64)
    if a.shape != (5, 2) or not np.all(np.isfinite(a)):
        raise ValueError(f"template must be a finite (5, 2) array, got shape {a.shape}")
    return tuple((float(x), float(y)) for x, y in a)


@dataclass(frozen=True)
class AlignConfig:
    """Every setting that changes which faces are found or how crops look.

    Stored in a model's JSON config (:meth:`to_dict` / :meth:`from_dict`) so the app aligns
    exactly as training did, and hashed by :meth:`key` to name caches of aligned crops.

    ``scale`` zooms the template about the crop centre (< 1 shows more margin) and ``offset_x`` /
    ``offset_y`` shift it, in units of the crop side. Detection runs on a copy whose longest side
    is at most ``max_detect_side``; the photo itself is first limited to ``max_pixels``.
    ``thresholds`` are MTCNN's three stage thresholds, ``min_score`` drops weak final detections.
    """

    size: int = 64
    template: tuple[tuple[float, float], ...] = field(default_factory=lambda: _template_tuple(TEMPLATE))
    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0
    fill: tuple[int, int, int] = (0, 0, 0)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_detect_side: int = 1024
    min_face_size: int = 20
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    min_score: float = 0.9

    def __post_init__(self) -> None:
        # Normalise lists from JSON into tuples so equal configs compare and hash equal.
        set_ = object.__setattr__
        set_(self, "size", int(self.size))
        set_(self, "template", _template_tuple(self.template))
        set_(self, "scale", float(self.scale))
        set_(self, "offset_x", float(self.offset_x))
        set_(self, "offset_y", float(self.offset_y))
        set_(self, "fill", tuple(int(c) for c in self.fill))
        set_(self, "max_pixels", int(self.max_pixels))
        set_(self, "max_detect_side", int(self.max_detect_side))
        set_(self, "min_face_size", int(self.min_face_size))
        set_(self, "thresholds", tuple(float(t) for t in self.thresholds))
        set_(self, "min_score", float(self.min_score))
        if self.size < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if len(self.fill) != 3:
            raise ValueError(f"fill must be an RGB triple, got {self.fill}")
        if len(self.thresholds) != 3:
            raise ValueError(f"thresholds must have 3 values, got {self.thresholds}")
        if self.max_detect_side < 32 or self.max_pixels < 1 or self.min_face_size < 1:
            raise ValueError("max_detect_side, max_pixels and min_face_size are too small")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists, not tuples)."""
        d = asdict(self)
        d["template"] = [list(p) for p in self.template]
        d["fill"] = list(self.fill)
        d["thresholds"] = list(self.thresholds)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AlignConfig":
        """Inverse of :meth:`to_dict`. Missing keys take defaults; unknown keys are an error,
        because silently ignoring a setting would align differently from what was trained."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown AlignConfig settings: {', '.join(unknown)}")
        return cls(**d)

    def key(self) -> str:
        """Short stable hash of all settings (and :data:`ALIGN_VERSION`), for cache names."""
        blob = json.dumps(
            {"v": ALIGN_VERSION, **self.to_dict()}, sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def template_px(self) -> np.ndarray:
        """The template in output pixel coordinates, (5, 2) float64."""
        t = np.asarray(self.template, dtype=np.float64)
        t = (t - 0.5) * self.scale + 0.5 + np.array([self.offset_x, self.offset_y])
        return t * self.size


# --------------------------------------------------------------------------------------------
# Geometry


def estimate_similarity(src: Any, dst: Any) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping
    ``src`` points onto ``dst`` points (Umeyama 1991). Returns the 2×3 matrix ``M`` with
    ``dst ≈ src @ M[:, :2].T + M[:, 2]``.

    Similarity rather than full affine: five noisy landmarks would otherwise shear the face.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two matching (N>=2, 2) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s < 1e-12:
        raise ValueError("source points coincide; cannot estimate a similarity")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # forbid reflections
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def apply_similarity(m: np.ndarray, pts: Any) -> np.ndarray:
    """Apply a 2×3 transform from :func:`estimate_similarity` to (N, 2) points."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def align_landmarks(img: Image.Image, landmarks: Any, config: AlignConfig | None = None) -> Image.Image:
    """Warp ``img`` so ``landmarks`` (5, 2, in ``img`` pixel coordinates) land on the template.

    Output is ``config.size`` square RGB; areas outside the photo get ``config.fill``. PIL's
    affine warp does not antialias, so when the face shrinks (the usual case) the region around
    it is first downscaled with a proper filter to the output resolution and the warp only
    rotates -- otherwise a face from a 12 MP photo would come out aliased.
    """
    cfg = config or AlignConfig()
    if img.mode != "RGB":
        img = img.convert("RGB")
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (5, 2):
        raise ValueError(f"landmarks must be (5, 2), got {lm.shape}")
    m = estimate_similarity(lm, cfg.template_px())  # input px -> output px
    inv = np.linalg.inv(_h(m))  # output px -> input px
    s = math.hypot(m[0, 0], m[1, 0])  # output pixels per input pixel
    size = cfg.size
    fill = tuple(cfg.fill)

    if s < 1.0:
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
        src_c = apply_similarity(inv[:2], corners)
        margin = 3.0 / s  # resampling support, in input pixels
        x0 = max(0, math.floor(src_c[:, 0].min() - margin))
        y0 = max(0, math.floor(src_c[:, 1].min() - margin))
        x1 = min(img.width, math.ceil(src_c[:, 0].max() + margin))
        y1 = min(img.height, math.ceil(src_c[:, 1].max() + margin))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            nw = max(1, round((x1 - x0) * s))
            nh = max(1, round((y1 - y0) * s))
            small = img.resize(
                (nw, nh), Image.Resampling.LANCZOS, box=(x0, y0, x1, y1), reducing_gap=3.0
            )
            # input px -> small px: shift by the box origin, then scale per axis.
            pre = np.array(
                [[nw / (x1 - x0), 0.0, -x0 * nw / (x1 - x0)],
                 [0.0, nh / (y1 - y0), -y0 * nh / (y1 - y0)],
                 [0.0, 0.0, 1.0]]
            )
            inv_small = pre @ inv
            return _warp(small, inv_small, size, fill)
    return _warp(img, inv, size, fill)


def _warp(img: Image.Image, inv: np.ndarray, size: int, fill: tuple[int, ...]) -> Image.Image:
    data = tuple(float(v) for v in inv[:2].ravel())
    return img.transform(
        (size, size), Image.Transform.AFFINE, data, resample=Image.Resampling.BICUBIC, fillcolor=fill
    )


# --------------------------------------------------------------------------------------------
# Detection


@dataclass(eq=False)  # numpy fields: == would be ambiguous
class Detection:
    """One detected face in the coordinates of the image given to the detector."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, mouth left, mouth right


@runtime_checkable
class Detector(Protocol):
    """Anything that finds faces; tests plug in a fake so they need no MTCNN."""

    def detect(self, img: Image.Image) -> list[Detection]: ...


_MTCNN_CACHE: dict[tuple, Any] = {}
_MTCNN_LOCK = threading.Lock()


class MTCNNDetector:
    """facenet-pytorch MTCNN with downscaling for speed.

    The network is built on first use and cached per process (keyed by device and thresholds)
    under a lock, because the Gradio app calls it from several worker threads. Photos whose
    longest side exceeds ``max_detect_side`` are detected on a downscaled copy (MTCNN's image
    pyramid on a 12 MP photo takes seconds on CPU); boxes and landmarks are mapped back.
    """

    def __init__(
        self,
        device: Any = None,
        *,
        max_detect_side: int = 1024,
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        min_score: float = 0.9,
    ):
        self._device = device
        self.max_detect_side = int(max_detect_side)
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.min_score = float(min_score)

    @classmethod
    def from_config(cls, config: AlignConfig, device: Any = None) -> "MTCNNDetector":
        return cls(
            device,
            max_detect_side=config.max_detect_side,
            min_face_size=config.min_face_size,
            thresholds=config.thresholds,
            min_score=config.min_score,
        )

    @property
    def device(self):
        import torch

        if self._device is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self._device)

    @property
    def model(self):
        """The shared facenet-pytorch ``MTCNN`` (weights ship inside the package; no download)."""
        device = self.device
        key = (str(device), self.min_face_size, self.thresholds)
        model = _MTCNN_CACHE.get(key)
        if model is None:
            with _MTCNN_LOCK:
                model = _MTCNN_CACHE.get(key)
                if model is None:
                    from facenet_pytorch import MTCNN

                    model = MTCNN(
                        keep_all=True,
                        min_face_size=self.min_face_size,
                        thresholds=list(self.thresholds),
                        post_process=False,
                        device=device,
                    ).eval()
                    _MTCNN_CACHE[key] = model
        return model

    def detect_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size a ``size`` photo is actually detected at."""
        w, h = size
        longest = max(w, h)
        if longest <= self.max_detect_side:
            return w, h
        f = self.max_detect_side / longest
        return max(1, round(w * f)), max(1, round(h * f))

    def can_detect(self, size: tuple[int, int]) -> bool:
        """Whether a ``size`` photo can hold a face of ``min_face_size``: MTCNN's image pyramid
        (the same test as facenet-pytorch's) has at least one level. An empty pyramid makes
        facenet-pytorch fail with ``torch.cat(): expected a non-empty list`` instead of finding
        nothing, so such photos never reach it."""
        return min(self.detect_size(size)) * (12.0 / self.min_face_size) >= 12

    def detect(self, img: Image.Image) -> list[Detection]:
        if not self.can_detect(img.size):
            return []
        if img.mode != "RGB":
            img = img.convert("RGB")
        w, h = img.size
        dw, dh = self.detect_size((w, h))
        small = img
        if (dw, dh) != (w, h):
            small = img.resize((dw, dh), Image.Resampling.BILINEAR, reducing_gap=2.0)
        boxes, probs, points = self.model.detect(small, landmarks=True)
        if boxes is None or len(boxes) == 0:
            return []
        sx, sy = w / dw, h / dh
        out = []
        for box, p, pts in zip(boxes, probs, points):
            if p is None or float(p) < self.min_score:
                continue
            b = np.asarray(box, dtype=np.float64) * [sx, sy, sx, sy]
            lm = np.asarray(pts, dtype=np.float64).reshape(5, 2) * [sx, sy]
            out.append(Detection(box=tuple(float(v) for v in b), score=float(p), landmarks=lm))
        return out

    def describe(self, size: tuple[int, int]) -> str:
        dw, dh = self.detect_size(size)
        where = "the full" if (dw, dh) == tuple(size) else "a"
        suffix = "image" if where == "the full" else "downscale"
        return f"MTCNN on {where} {dw}×{dh} {suffix}"


# --------------------------------------------------------------------------------------------
# Faces


class NoFaceError(ImageError):
    """The photo is readable but no face was found; the message suggests what to do."""


@dataclass(eq=False)
class Face:
    """A detected, aligned face. Coordinates refer to the image as returned by
    :func:`~facelab.imageio.read_image` (EXIF-rotated, at most ``config.max_pixels``), whose
    size is ``image_size``. ``landmarks`` is None for a centre-crop fallback."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None
    score: float
    crop: Image.Image
    image_size: tuple[int, int] | None = None


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _prepare(photo: Any, config: AlignConfig | None, detector: Detector | None):
    cfg = config or AlignConfig()
    img = read_image(photo, max_pixels=cfg.max_pixels)
    det = detector if detector is not None else MTCNNDetector.from_config(cfg)
    return cfg, img, det


def _faces(img: Image.Image, cfg: AlignConfig, det: Detector) -> list[Face]:
    found = sorted(det.detect(img), key=lambda d: _area(d.box), reverse=True)
    return [
        Face(
            box=tuple(float(v) for v in d.box),
            landmarks=np.asarray(d.landmarks, dtype=np.float64),
            score=float(d.score),
            crop=align_landmarks(img, d.landmarks, cfg),
            image_size=img.size,
        )
        for d in found
    ]


def faces(photo: Any, config: AlignConfig | None = None, detector: Detector | None = None) -> list[Face]:
    """Every face in ``photo`` (anything :func:`read_image` accepts), largest box first, each
    aligned to ``config.size``. An empty list when there is none; :class:`ImageError` when the
    photo cannot be read."""
    cfg, img, det = _prepare(photo, config, detector)
    return _faces(img, cfg, det)


def align_largest(
    photo: Any,
    config: AlignConfig | None = None,
    detector: Detector | None = None,
    fallback: str = "error",
) -> Face:
    """The largest face in ``photo``, aligned.

    With no face, ``fallback="error"`` raises :class:`NoFaceError`; ``fallback="center"``
    returns the centre crop instead (box = whole image, score 0.0, landmarks None) so a demo or
    an evaluation run keeps going on photos the detector misses.
    """
    if fallback not in ("error", "center"):
        raise ValueError(f"fallback must be 'error' or 'center', got {fallback!r}")
    cfg, img, det = _prepare(photo, config, detector)
    found = _faces(img, cfg, det)
    if found:
        return found[0]
    if fallback == "center":
        w, h = img.size
        return Face(
            box=(0.0, 0.0, float(w), float(h)),
            landmarks=None,
            score=0.0,
            crop=center_crop(img, cfg.size),
            image_size=img.size,
        )
    source = str(photo) if isinstance(photo, (str, os.PathLike)) else None
    if isinstance(det, MTCNNDetector) and not det.can_detect(img.size):
        raise NoFaceError(_too_small(img.size, det), source=source)
    if isinstance(det, MTCNNDetector):
        tried = det.describe(img.size)
    else:
        tried = f"{type(det).__name__} on the {img.size[0]}×{img.size[1]} image"
    raise NoFaceError(
        f"no face found in the photo (tried {tried}); "
        "try a clearer frontal photo or use the centre crop",
        source=source,
    )


def _too_small(size: tuple[int, int], det: MTCNNDetector) -> str:
    """Why no face can be found in a tiny or very thin photo, in a user's words."""
    w, h = size
    dw, dh = det.detect_size(size)
    shrunk = f", searched at {dw}×{dh}" if (dw, dh) != (w, h) else ""
    what = "small" if max(w, h) < det.min_face_size else "narrow"
    return (
        f"the photo is too {what} to find a face in ({w}×{h} pixels{shrunk}; a face must be at least "
        f"{det.min_face_size} pixels across); upload a larger photo or use the centre crop"
    )
