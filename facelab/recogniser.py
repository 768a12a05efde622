"""An independent face recogniser for evaluation (and later as a teacher): dlib's ResNet face descriptor.

dlib's ``dlib_face_recognition_resnet_model_v1`` maps a 150×150 face chip to a 128-d descriptor
(99.38 % on LFW; two photos of one person are usually within Euclidean distance 0.6). It comes
from PyPI's ``dlib-bin`` (the compiled library) and ``face-recognition-models`` (the weights, as
package data). It is a training and evaluation tool only: nothing in the app imports this module,
and dlib is imported on first use, so facelab works without it (:func:`available` tells).

**Geometry.** facelab's photo models see 64-px crops aligned by MTCNN to a 5-point template
(:class:`facelab.align.AlignConfig`). Every crop aligned to one template has its face in the same
place, so the dlib chip is one fixed square of the crop, not re-estimated per image:
:data:`CHIP_BOX` is where dlib's own pipeline (its 5-point shape predictor, then
``get_face_chip_details(shape, 150, 0.25)``, as ``compute_face_descriptor`` does) puts the chip on
facelab-aligned crops — the median over all 244 aligned London photos (spread 1-2 % of the side)
(``python bench/recogniser_check.py`` re-measures it). The chip is warped straight from the crop
with a bicubic filter (a 64-px crop's chip region is ~53 px, so it is upscaled ~2.8×). A fixed chip
treats a reconstruction exactly like the view it came from: a blurry reconstruction is judged on
its pixels, never on where a landmark predictor happened to land on a blur. On the aligned London
views themselves, neutral↔smiling identification is 100 % over all 102 people (the bench).
Crops aligned to another template (``scale``, ``offset_x``/``offset_y``, other points) get the
box moved by the similarity between the two templates (``geometry=AlignConfig``); pre-cropped sets
(FER2013's tight 48-px crops) are not in any template, so pass an explicit ``geometry`` box there:
:data:`PRECROPPED_BOXES` holds the measured one per set, :data:`GENERATOR_BOX` the generator's
(its cartoon faces are centred but smaller than an aligned photo's: the photo template's chip would
take in half the background). Both were measured like :data:`CHIP_BOX`: the median of the chip
dlib's own pipeline puts on the crop upscaled to 256 px, over the faces its detector finds.

**Face found** (:func:`face_found`): dlib's HOG frontal face detector (default threshold, no
pyramid upsampling of its own) on the crop upscaled (bicubic) to each side in :data:`FIND_SIDES`;
a detection at any of them counts. One side alone is fragile on blurry faces: the detector's
80-px window and its 5/6 pyramid step see a face in a narrow band of scales, so real-disvae's
held-out reconstructions are "found" at 48-78 % depending on which single side is used; the
union of four interleaved sides settles (80 %; adding 128 and 320 px changes nothing). Every
aligned London view is found at every side; 200 images of smoothed noise never are.

**Cache** (:func:`cached_descriptors`, :func:`dataset_descriptors`): descriptors of dataset
images are computed once and kept under ``<cache dir>/recogniser/<geometry key>/`` (the cache
policy of :mod:`facelab.cache`), keyed by a hash of each crop's pixels, so the "recogniser as a
teacher" (a 128-d target for every training image: :mod:`facelab.datasets.teacher`, the swap
method's ``teacher_weight``) reuses them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "CHIP_BOX",
    "CHIP_SIZE",
    "DESCRIPTOR_DIM",
    "FIND_SIDES",
    "GENERATOR_BOX",
    "INSTALL_HINT",
    "PRECROPPED_BOXES",
    "SAME_PERSON_DISTANCE",
    "RecogniserUnavailable",
    "as_uint8_images",
    "available",
    "cached_descriptors",
    "chip_box",
    "chips",
    "dataset_descriptors",
    "descriptors",
    "distances",
    "face_found",
    "model_files",
    "nearest",
]

CHIP_SIZE = 150  # dlib's face chip side
# dlib's chip (150 px, padding 0.25) on a crop aligned to facelab's default template, as fractions of
# the crop side: (left, top, right, bottom). Measured by bench/recogniser_check.py (median over the 244
# aligned London photos of the chip that dlib's 5-point shape predictor + get_face_chip_details give;
# spread ±0.01-0.02 of the side; its rotation, 0.2° ± 0.8°, is ignored).
CHIP_BOX = (0.0872, 0.1415, 0.9165, 0.9722)
# The chip on the generator's 64-px renders (fractions of the side, as CHIP_BOX): median over the 305 of
# 400 generator faces (40 identities × 10, seed 0) on which dlib's detector finds a face, spread ±0.04;
# the chip fitted to the generator's own mean landmarks (facelab.synthetic.landmarks) agrees within 0.03.
# dlib is a weak judge of these cartoons either way: a face's nearest other face is the same identity for
# 41.5 % (chance 4.5 %; 43.0 % with the photo template's chip), against 100 % on aligned London photos.
GENERATOR_BOX = (0.251, 0.298, 0.757, 0.804)
# Pre-cropped sets (no alignment; the whole photo is the crop): the chip per set, by registry name. FER2013:
# median over the 222 of 300 random training faces on which dlib's detector finds a face (spread ±0.09, far
# looser than aligned crops' ±0.02: FER2013's faces were registered automatically and loosely). On the 91
# faces found among another 120, the fixed box's descriptor lies within 0.6 (the same-person distance) of
# the one from dlib's own per-image landmark chip for 89 % (median distance 0.32; the whole crop as chip:
# 70 %, median 0.50; different FER2013 faces: median 0.78). A set not listed here gets no descriptor (NaN),
# not one from a guessed chip.
PRECROPPED_BOXES = {"fer2013": (0.0, 0.08, 1.02, 1.09)}
FIND_SIDES = (160, 192, 224, 256)  # face detection runs on the crop upscaled to each of these sides
SAME_PERSON_DISTANCE = 0.6  # dlib's suggested same-person threshold on descriptor distance
DESCRIPTOR_DIM = 128
INSTALL_HINT = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0"
CACHE_VERSION = 1

_DEFAULT_TEMPLATE = ((0.34, 0.40), (0.66, 0.40), (0.50, 0.55), (0.37, 0.72), (0.63, 0.72))


class RecogniserUnavailable(ImportError):
    """dlib or its model files are not installed."""


def model_files() -> Path:
    """The folder of face-recognition-models' ``.dat`` files, found without importing the package
    (its ``__init__`` imports ``pkg_resources``, which recent setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        folder = Path(loc) / "models"
        if (folder / "dlib_face_recognition_resnet_model_v1.dat").is_file():
            return folder
    raise RecogniserUnavailable(f"face-recognition-models is not installed (its model files): {INSTALL_HINT}")


def available() -> bool:
    """Whether dlib and the model files are installed (imports nothing heavy)."""
    try:
        model_files()
    except RecogniserUnavailable:
        return False
    return importlib.util.find_spec("dlib") is not None


@functools.lru_cache(maxsize=1)
def _dlib():
    """(dlib module, face descriptor network, HOG face detector), loaded once."""
    try:
        import dlib
    except ImportError as e:
        raise RecogniserUnavailable(f"dlib is not installed: {INSTALL_HINT}") from e
    folder = model_files()
    net = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
    return dlib, net, dlib.get_frontal_face_detector()


# ------------------------------------------------------------------------------------------ images
def as_uint8_images(images: Any) -> list[np.ndarray]:
    """Images in any of facelab's forms → a list of contiguous ``uint8`` (H, W, 3) arrays.

    Accepts a (N, 3, S, S) float array or tensor in [0, 1] (models' layout; clipped and rounded), a
    (N, S, S, 3) ``uint8`` array (datasets' crops), or a sequence of PIL images / (H, W, 3) arrays.
    """
    if hasattr(images, "detach"):  # torch tensor
        images = images.detach().cpu().numpy()
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4:
            raise ValueError(f"expected a batch of images (N, 3, S, S) or (N, S, S, 3), got shape {images.shape}")
        if images.shape[1] == 3 and images.shape[-1] != 3:
            images = images.transpose(0, 2, 3, 1)
        if images.dtype != np.uint8:
            images = np.round(np.clip(images.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
        return [np.ascontiguousarray(im) for im in images]
    out = []
    for im in images:
        if isinstance(im, Image.Image):
            out.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        else:
            out.extend(as_uint8_images(np.asarray(im)[None]))
    return out


def _template(geometry) -> np.ndarray | None:
    """The 5 template points (fractions of the crop side) of an AlignConfig-like ``geometry``."""
    if geometry is None:
        return np.asarray(_DEFAULT_TEMPLATE)
    if hasattr(geometry, "template"):
        t = np.asarray(geometry.template, dtype=np.float64)
        scale = float(getattr(geometry, "scale", 1.0))
        offset = np.array([getattr(geometry, "offset_x", 0.0), getattr(geometry, "offset_y", 0.0)], dtype=np.float64)
        return (t - 0.5) * scale + 0.5 + offset
    if isinstance(geometry, dict) and "template" in geometry:
        from types import SimpleNamespace

        return _template(SimpleNamespace(**{"scale": 1.0, "offset_x": 0.0, "offset_y": 0.0, **geometry}))
    return None


def chip_box(geometry=None) -> np.ndarray:
    """The chip's corners in the crop, as fractions of its side: (3, 2) = top-left, top-right,
    bottom-left. ``geometry``: None (facelab's default template), an :class:`~facelab.align.AlignConfig`
    (or its dict) the crops were aligned with, or an explicit (left, top, right, bottom) box."""
    template = _template(geometry)
    x0, y0, x1, y1 = CHIP_BOX
    corners = np.array([[x0, y0], [x1, y0], [x0, y1]], dtype=np.float64)
    if template is None:  # an explicit box
        x0, y0, x1, y1 = (float(v) for v in geometry)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"chip box must be (left, top, right, bottom) with right > left, bottom > top: {geometry}")
        return np.array([[x0, y0], [x1, y0], [x0, y1]], dtype=np.float64)
    from .align import apply_similarity, estimate_similarity

    m = estimate_similarity(np.asarray(_DEFAULT_TEMPLATE), template)
    return apply_similarity(m, corners)


def _geometry_key(geometry) -> str:
    box = np.round(chip_box(geometry), 6).tolist()
    return hashlib.blake2b(repr((CACHE_VERSION, CHIP_SIZE, box)).encode(), digest_size=6).hexdigest()


def chips(images: Any, geometry=None) -> list[np.ndarray]:
    """dlib's 150×150 face chips of aligned crops (any side), warped with one bicubic step."""
    corners = chip_box(geometry)
    out = []
    for im in as_uint8_images(images):
        h, w = im.shape[:2]
        tl, tr, bl = corners * np.array([w, h])
        # output chip pixel (u, v) → crop pixel tl + u/CHIP·(tr−tl) + v/CHIP·(bl−tl)
        coeffs = ((tr[0] - tl[0]) / CHIP_SIZE, (bl[0] - tl[0]) / CHIP_SIZE, tl[0],
                  (tr[1] - tl[1]) / CHIP_SIZE, (bl[1] - tl[1]) / CHIP_SIZE, tl[1])
        chip = Image.fromarray(im).transform((CHIP_SIZE, CHIP_SIZE), Image.Transform.AFFINE, coeffs,
                                             resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
        out.append(np.ascontiguousarray(np.asarray(chip, dtype=np.uint8)))
    return out


def descriptors(images: Any, geometry=None, batch_size: int = 32) -> np.ndarray:
    """dlib's 128-d face descriptors of aligned face crops → (N, 128) float32.

    ``images``: see :func:`as_uint8_images`; ``geometry``: see :func:`chip_box`. Deterministic (no
    jitter). Raises :class:`RecogniserUnavailable` without dlib.
    """
    _, net, _ = _dlib()
    all_chips = chips(images, geometry)
    out = np.zeros((len(all_chips), DESCRIPTOR_DIM), dtype=np.float32)
    for start in range(0, len(all_chips), batch_size):
        part = all_chips[start:start + batch_size]
        out[start:start + len(part)] = np.asarray([np.asarray(v) for v in net.compute_face_descriptor(part)])
    return out


def face_found(images: Any, sides: Sequence[int] = FIND_SIDES) -> np.ndarray:
    """Whether dlib's HOG frontal face detector finds a face in each image, upscaled (bicubic) to
    any of ``sides`` px → (N,) bool. Raises :class:`RecogniserUnavailable` without dlib."""
    _, _, detector = _dlib()
    found = []
    for im in as_uint8_images(images):
        hit = False
        for side in sides:
            big = np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.BICUBIC), dtype=np.uint8)
            if len(detector(np.ascontiguousarray(big), 0)):
                hit = True
                break
        found.append(hit)
    return np.asarray(found, dtype=bool)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between descriptors: (N, 128) × (M, 128) → (N, M)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def nearest(query: np.ndarray, gallery: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Index of each query's nearest gallery descriptor; ``exclude`` (N, M) bool masks pairs out."""
    d = distances(query, gallery)
    if exclude is not None:
        d = np.where(exclude, np.inf, d)
    return d.argmin(1)


# ------------------------------------------------------------------------------------------ cache
class _Store:
    """One folder of cached descriptors: ``descriptors.npz`` with ``keys`` (hex) and ``vectors``.

    Rewritten whole through a temporary file and an atomic rename; two concurrent writers can lose
    each other's new entries (recomputed next time), never corrupt the file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "descriptors.npz"
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, DESCRIPTOR_DIM), np.float32)
        if self.path.is_file():
            try:
                with np.load(self.path) as z:
                    keys, vectors = z["keys"], z["vectors"]
                if vectors.shape[1:] == (DESCRIPTOR_DIM,) and len(keys) == len(vectors):
                    self.vectors = vectors.astype(np.float32)
                    self.index = {str(k): i for i, k in enumerate(keys)}
            except (OSError, ValueError, KeyError):
                pass  # unreadable: start again

    def get(self, key: str) -> np.ndarray | None:
        i = self.index.get(key)
        return None if i is None else self.vectors[i]

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        # one row per key: a batch can hold the same crop twice (FER2013 has duplicate images), and a
        # second row would leave more vectors than keys, a file every later load discards
        new = list({k: v for k, v in zip(keys, vectors) if k not in self.index}.items())
        if not new:
            return
        start = len(self.vectors)
        self.vectors = np.concatenate([self.vectors, np.stack([v for _, v in new]).astype(np.float32)])
        for n, (k, _) in enumerate(new):
            self.index[k] = start + n
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".descriptors-{uuid.uuid4().hex}.npz"
        keys_arr = np.array(sorted(self.index, key=self.index.get))
        with open(tmp, "wb") as f:
            np.savez(f, keys=keys_arr, vectors=self.vectors)
        os.replace(tmp, self.path)


def _image_key(im: np.ndarray) -> str:
    return hashlib.blake2b(repr(im.shape).encode() + b"\0" + im.tobytes(), digest_size=16).hexdigest()


def cached_descriptors(images: Any, geometry=None, cache_dir: str | os.PathLike | None = None,
                       batch_size: int = 32) -> np.ndarray:
    """:func:`descriptors`, computed once per distinct crop and geometry and cached on disk
    (``<cache dir>/recogniser/<geometry key>/``; default cache dir: :func:`facelab.cache.default_cache_dir`)."""
    from .cache import default_cache_dir

    ims = as_uint8_images(images)
    store = _Store(Path(cache_dir or default_cache_dir()) / "recogniser" / _geometry_key(geometry))
    keys = [_image_key(im) for im in ims]
    out = np.zeros((len(ims), DESCRIPTOR_DIM), dtype=np.float32)
    missing = []
    for i, k in enumerate(keys):
        v = store.get(k)
        if v is None:
            missing.append(i)
        else:
            out[i] = v
    if missing:
        computed = descriptors([ims[i] for i in missing], geometry, batch_size=batch_size)
        out[missing] = computed
        store.add([keys[i] for i in missing], computed)
    return out


def _dataset_images(dataset, indices: Iterable[int]) -> list[np.ndarray]:
    out = []
    for i in indices:
        image = getattr(dataset, "image_array", None)
        if image is not None:  # FaceImageDataset: the cached uint8 crop itself
            out.append(np.asarray(image(int(i)), dtype=np.uint8))
        else:  # any item with a (3, S, S) float image in [0, 1]: exact for 8-bit sources
            out.extend(as_uint8_images(np.asarray(dataset[int(i)]["image"])[None]))
    return out


def dataset_descriptors(dataset, geometry=None, cache_dir: str | os.PathLike | None = None,
                        chunk: int = 256, progress: bool = False, indices: Sequence[int] | None = None,
                        desc: str = "descriptors") -> np.ndarray:
    """The descriptor of every item of a face dataset (FaceImageDataset, a mix, a Subset, generator
    faces...) → (len(dataset), 128), or of the items at ``indices`` only → (len(indices), 128),
    cached per crop (:func:`cached_descriptors`). For the "recogniser as a teacher": a 128-d target
    per training image, computed once."""
    from tqdm.auto import tqdm

    order = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    n = len(order)
    out = np.zeros((n, DESCRIPTOR_DIM), dtype=np.float32)
    with tqdm(total=n, desc=desc, unit="img", disable=not progress) as bar:
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            out[start:start + len(idx)] = cached_descriptors(_dataset_images(dataset, idx), geometry, cache_dir)
            bar.update(len(idx))
    return out
