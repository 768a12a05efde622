"""From records to model-ready samples: read, align (or centre-crop), cache, serve.

:func:`prepare_face` is the pure per-image step (bytes in, ``uint8`` (S, S, 3) array out;
:func:`prepare_face_landmarks` also returns the five landmarks) so a multiprocessing pool can run
it later; :class:`FaceImageDataset` drives it in a plain loop with a tqdm bar, caches the results
on disk and serves items in the same format as :class:`facelab.synthetic.SyntheticFaces`.

Cache layout (one folder per dataset and preparation setting)::

    <cache_dir>/datasets/<dataset>/<prep key>/index.json        keys, failures, the files below
    <cache_dir>/datasets/<dataset>/<prep key>/images-<id>.npy    (N, S, S, 3) uint8
    <cache_dir>/datasets/<dataset>/<prep key>/landmarks-<id>.npy (N, 5, 2) float32, crop pixels
    <cache_dir>/datasets/<dataset>/<prep key>/poses-<id>.npy     (N, 3) float32, degrees

Entries are keyed by a hash of the file *content*, so renamed or moved files hit the cache and
edited files miss it; the prep key is ``AlignConfig.key()`` (which covers the crop size) plus
the no-face fallback, or ``pre-<S>`` for pre-aligned sets. Failures (corrupt file, no face) are
cached too, so a second run never re-detects anything. ``index.json`` is replaced atomically
and names the files it belongs to (one fresh ``<id>`` per write), so a crashed or concurrent
writer never leaves a mismatched set behind. The images are memory-mapped, not loaded.

Pose labels. The landmarks are MTCNN's five points (MTCNN order, :data:`facelab.pose.LANDMARK_NAMES`)
mapped into the aligned crop, in crop pixels (x right, y down; pixel centres at k + 0.5, as
:func:`facelab.synthetic.landmarks`); NaN rows where there are none: centre-crop fallbacks and
pre-aligned sets (FER2013, CK+48), which never run MTCNN. ``poses`` holds yaw, pitch, roll in
degrees fitted to them by :func:`facelab.pose.estimate_pose` with the generic human template,
computed once when a face is cached (the index records the estimator, :data:`POSE_ESTIMATOR`;
a different one recomputes them from the landmarks, without detecting again). Sign conventions
are the generator's: +yaw turns the face towards the image's right, +pitch looks up, +roll turns
the head clockwise. The similarity alignment levels the face, so yaw and pitch are those of the
photo but roll is what is left in the crop (near 0 by construction). Error where the truth is
known (generator faces, ``python bench/pose_estimate.py``): 1.1° yaw, 1.3° pitch mean absolute
error on the template's own shape with 0.5 px landmark noise; 4.6° yaw, 10.4° pitch, 2.8° roll
from MTCNN's landmarks on the generator's renders (cartoons, not human-shaped). On the frontal
London + Canada studio photos |yaw| has median 1.8° (90th percentile 4.6°); pitch is the weak
axis (|pitch| median 9°, 90th percentile 19°, and a smile moves it: the mouth corners rise), so
treat pitch labels as coarse. Caches written before landmarks were kept still load: their faces
get no pose label (NaN) until the set is loaded with ``refresh=True`` (``?refresh=1``), which
detects every face again; nothing re-runs MTCNN unasked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..align import AlignConfig, NoFaceError, align_largest, apply_similarity, estimate_similarity
from ..imageio import ImageError, center_crop, read_image
from ..labels import MISSING
from .core import Record, reason_category, summarize_skipped

from ..cache import default_cache_dir

logger = logging.getLogger("facelab.datasets")

__all__ = ["Prep", "prepare_face", "prepare_face_landmarks", "read_source", "content_key", "FaceImageDataset",
           "default_cache_dir", "FaceCache", "POSE_ESTIMATOR", "pose_estimator_key"]

CACHE_VERSION = 1  # landmarks and poses are optional index fields: caches from before them still load

#: Bumped when the pose estimator (:func:`estimate_cached_poses`, :mod:`facelab.pose`) changes, so cached
#: poses are recomputed from the cached landmarks.
POSE_ESTIMATOR = 1

NO_LANDMARKS = np.full((5, 2), np.nan, np.float32)
NO_LANDMARKS.setflags(write=False)


@dataclass(frozen=True)
class Prep:
    """How an image becomes a face crop: picklable, hashable, names the cache.

    ``aligned=True``: the set is pre-cropped (FER2013, CK+48) → largest centred square resized to
    ``size`` (greyscale becomes RGB). Otherwise MTCNN + 5-point alignment with ``align_config``
    (its ``size`` is forced to ``size``); ``fallback="center"`` keeps photos with no face as a
    centre crop instead of skipping them.
    """

    size: int = 64
    aligned: bool = False
    align_config: AlignConfig | None = None
    fallback: str = "error"

    def __post_init__(self):
        if self.fallback not in ("error", "center"):
            raise ValueError(f"fallback must be 'error' or 'center', not {self.fallback!r}")
        if not self.aligned:
            cfg = self.align_config or AlignConfig(size=self.size)
            if cfg.size != self.size:
                cfg = dataclasses.replace(cfg, size=self.size)
            object.__setattr__(self, "align_config", cfg)

    def key(self) -> str:
        if self.aligned:
            return f"pre-{self.size}"
        return f"{self.align_config.key()}-{self.size}" + ("-center" if self.fallback == "center" else "")


def read_source(record: Record) -> tuple[str, bytes]:
    """The raw bytes behind a record: ``("file", file bytes)`` or ``("gray48", pixels)`` for
    FER2013 CSV rows. Raises :class:`ImageError` if the file cannot be read."""
    if "pixels" in record.extra:
        return "gray48", bytes(record.extra["pixels"])
    try:
        with open(record.path, "rb") as f:
            return "file", f.read()
    except FileNotFoundError:
        raise ImageError("file not found", record.path) from None
    except OSError as e:
        raise ImageError(f"cannot read file ({e.strerror or e})", record.path) from None


def content_key(kind: str, data: bytes) -> str:
    """Hash of an image's content (what the cache is keyed by)."""
    return hashlib.blake2b(kind.encode() + b"\0" + data, digest_size=16).hexdigest()


def prepare_face(kind: str, data: bytes, prep: Prep, detector: Any = None) -> np.ndarray:
    """One image → ``uint8`` array (S, S, 3). Pure (no shared state but the detector), so it can
    run in a worker process. Raises :class:`ImageError` (corrupt) or :class:`NoFaceError`."""
    return prepare_face_landmarks(kind, data, prep, detector)[0]


def prepare_face_landmarks(kind: str, data: bytes, prep: Prep, detector: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`prepare_face` and the face's five landmarks in the crop's pixel coordinates: ``float32``
    (5, 2), NaN for a centre crop (pre-aligned set or no-face fallback)."""
    if kind == "gray48":
        side = int(round(math.sqrt(len(data))))
        if side * side != len(data):
            raise ImageError(f"{len(data)} pixel values do not form a square image")
        src: Any = np.frombuffer(data, dtype=np.uint8).reshape(side, side)
    else:
        src = data
    points = NO_LANDMARKS
    if prep.aligned:
        img = read_image(src)
        crop = center_crop(img, prep.size)
    else:
        face = align_largest(src, config=prep.align_config, detector=detector, fallback=prep.fallback)
        crop = face.crop
        if face.landmarks is not None:  # photo pixels → crop pixels: the warp align_landmarks used
            m = estimate_similarity(face.landmarks, prep.align_config.template_px())
            points = apply_similarity(m, face.landmarks) * (prep.size / prep.align_config.size)
        if crop.size != (prep.size, prep.size):
            crop = crop.resize((prep.size, prep.size))
    arr = np.asarray(crop.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(arr), np.asarray(points, dtype=np.float32)


def pose_estimator_key() -> str:
    """Names the estimator behind cached poses: :data:`POSE_ESTIMATOR` and the template's numbers."""
    from ..pose import GENERIC_TEMPLATE

    digest = hashlib.blake2b(np.ascontiguousarray(GENERIC_TEMPLATE, dtype=np.float64).tobytes(), digest_size=6)
    return f"{POSE_ESTIMATOR}-{digest.hexdigest()}"


def estimate_cached_poses(landmarks: np.ndarray) -> np.ndarray:
    """(N, 3) ``float32`` yaw, pitch, roll in degrees for (N, 5, 2) crop landmarks; NaN rows where a
    row has NaN. :func:`facelab.pose.estimate_poses` with the generic template."""
    from ..pose import estimate_poses

    if not len(landmarks):
        return np.zeros((0, 3), np.float32)
    return estimate_poses(landmarks).astype(np.float32)


def classify_error(exc: Exception) -> str:
    """Skip reason for a failed image: ``"no face: …"`` or ``"corrupt: …"``."""
    if isinstance(exc, NoFaceError):
        return f"no face: {getattr(exc, 'reason', str(exc))}"
    return f"corrupt: {getattr(exc, 'reason', str(exc))}"


class FaceCache:
    """Content-keyed store of prepared crops, their landmarks and poses for one dataset and one :class:`Prep`.

    ``images`` (N, S, S, 3), ``landmarks`` (N, 5, 2) and ``poses`` (N, 3) share rows. In a cache
    written before landmarks were kept, the first ``unrecorded`` rows have NaN landmarks because
    nobody recorded them (not because the face had none)."""

    def __init__(self, folder: Path, size: int):
        self.folder = Path(folder)
        self.size = size
        self.rows: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        self.images: np.ndarray = np.zeros((0, size, size, 3), np.uint8)
        self.landmarks: np.ndarray = np.zeros((0, 5, 2), np.float32)
        self.poses: np.ndarray = np.zeros((0, 3), np.float32)
        self.unrecorded = 0
        self.image_file: str | None = None
        self._files: tuple[str, ...] = ()  # the files the loaded index names (deleted once replaced)
        self._rewrite = False  # the files on disk are out of date even without new entries
        self._new_keys: list[str] = []
        self._new_images: list[np.ndarray] = []
        self._new_landmarks: list[np.ndarray] = []
        self._new_failed: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        index = self.folder / "index.json"
        if not index.is_file():
            return
        try:
            meta = json.loads(index.read_text())
            if meta.get("version") != CACHE_VERSION or meta.get("size") != self.size:
                return
            n = len(meta["keys"])
            images = np.load(self.folder / meta["images"], mmap_mode="r") if n else self.images
            if images.shape[0] != n or images.shape[1:] != (self.size, self.size, 3):
                raise ValueError("image file does not match the index")
            if meta.get("landmarks"):
                landmarks = np.load(self.folder / meta["landmarks"]).astype(np.float32, copy=False)
                unrecorded = int(meta.get("unrecorded", 0))
                if landmarks.shape != (n, 5, 2) or not 0 <= unrecorded <= n:
                    raise ValueError("landmark file does not match the index")
            else:  # written before landmarks were kept
                landmarks, unrecorded = np.full((n, 5, 2), np.nan, np.float32), n
            poses = None
            if meta.get("poses") and meta.get("pose_estimator") == pose_estimator_key():
                poses = np.load(self.folder / meta["poses"]).astype(np.float32, copy=False)
                if poses.shape != (n, 3):
                    raise ValueError("pose file does not match the index")
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("ignoring unreadable face cache %s (%s)", self.folder, e)
            return
        if poses is None:  # none cached, or by another estimator: recompute from the landmarks (no detection)
            known = int(np.isfinite(landmarks).all((1, 2)).sum())
            if known:
                logger.info("estimating the pose of %d cached faces in %s (pose estimator %s)", known, self.folder,
                            pose_estimator_key())
            poses = estimate_cached_poses(landmarks)
            self._rewrite = known > 0
        self.rows = {k: i for i, k in enumerate(meta["keys"])}
        self.failed = dict(meta.get("failed", {}))
        self.images, self.landmarks, self.poses, self.unrecorded = images, landmarks, poses, unrecorded
        self.image_file = meta["images"] if n else None
        self._files = tuple(meta[k] for k in ("images", "landmarks", "poses") if meta.get(k))

    @property
    def dirty(self) -> bool:
        return bool(self._new_keys or self._new_failed or self._rewrite)

    def clear(self) -> None:
        """Forget every cached entry (``refresh``); the next :meth:`flush` writes only new ones."""
        self.rows, self.failed, self.images = {}, {}, self.images[:0]
        self.landmarks, self.poses, self.unrecorded = self.landmarks[:0], self.poses[:0], 0
        self._new_keys, self._new_images, self._new_landmarks, self._new_failed = [], [], [], {}
        self._rewrite = True  # write the empty state even if nothing new comes

    def lookup(self, key: str) -> tuple[int | None, str | None]:
        """(row, None) for a cached crop, (None, reason) for a cached failure, (None, None) if new."""
        if key in self.rows:
            return self.rows[key], None
        if key in self.failed:
            return None, self.failed[key]
        if key in self._new_failed:
            return None, self._new_failed[key]
        return None, None

    def add(self, key: str, image: np.ndarray, landmarks: np.ndarray | None = None) -> int:
        """Store a crop and its (5, 2) crop landmarks (None: it has none); returns its row."""
        if key in self.rows:
            return self.rows[key]
        self.rows[key] = len(self.rows)
        self._new_keys.append(key)
        self._new_images.append(image)
        self._new_landmarks.append(NO_LANDMARKS if landmarks is None else np.asarray(landmarks, np.float32))
        return self.rows[key]

    def add_failure(self, key: str, reason: str) -> None:
        self._new_failed[key] = reason

    def flush(self) -> None:
        """Write old + new entries (new image, landmark and pose files, then atomically the index
        that names them); poses of new faces are estimated here."""
        if not self.dirty:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.rows, key=self.rows.__getitem__)
        parts = [np.asarray(self.images)] if len(self.images) else []
        if self._new_images:
            parts.append(np.stack(self._new_images))
        images = np.concatenate(parts) if parts else np.zeros((0, self.size, self.size, 3), np.uint8)
        new_landmarks = np.stack(self._new_landmarks) if self._new_landmarks else self.landmarks[:0]
        landmarks = np.concatenate([self.landmarks, new_landmarks])
        poses = np.concatenate([self.poses, estimate_cached_poses(new_landmarks)])
        assert images.shape[0] == landmarks.shape[0] == poses.shape[0] == len(keys)
        tag = uuid.uuid4().hex[:12]
        files = {"images": f"images-{tag}.npy", "landmarks": f"landmarks-{tag}.npy", "poses": f"poses-{tag}.npy"}
        for field, array in (("images", images), ("landmarks", landmarks), ("poses", poses)):
            tmp = self.folder / (files[field] + ".tmp")
            with open(tmp, "wb") as f:
                np.save(f, array)
            os.replace(tmp, self.folder / files[field])
        failed = {**self.failed, **self._new_failed}
        meta = {"version": CACHE_VERSION, "size": self.size, **files, "pose_estimator": pose_estimator_key(),
                "unrecorded": self.unrecorded, "keys": keys, "failed": failed}
        tmp_index = self.folder / f"index.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp_index.write_text(json.dumps(meta))
        os.replace(tmp_index, self.folder / "index.json")
        old = self._files
        self.image_file, self.failed, self._files = files["images"], failed, tuple(files.values())
        self.images = np.load(self.folder / files["images"], mmap_mode="r")
        self.landmarks, self.poses = landmarks, poses
        self._new_keys, self._new_images, self._new_landmarks, self._new_failed = [], [], [], {}
        self._rewrite = False
        for name in old:
            if name not in self._files:
                try:
                    (self.folder / name).unlink()
                except OSError:
                    pass


class FaceImageDataset(Dataset):
    """Records → aligned face crops, served like :class:`~facelab.synthetic.SyntheticFaces`.

    Items: ``{"image": float32 (3, S, S) in [0, 1], "identity": int (dense id, -1 if missing),
    "expression": int (vocabulary index or -1), "intensity": float (nan if missing),
    "pose": float32 (3,) yaw, pitch, roll in degrees, "dataset": str}``.
    The pose is estimated from the face's landmarks (see the module docstring) and is NaN where
    there are none, the missing-label mark the losses skip (:func:`facelab.losses.labelled_l1`).
    ``pose`` means what it means on generator items (degrees); photo items carry no ``yaw``/``pitch``
    keys, which on the generator are exact factors in its own units that its evaluation reads.
    ``landmarks`` (N, 5, 2, crop pixels) and ``poses`` (N, 3) hold them for every item.

    Building (in ``__init__``) reads each file, hashes it, and takes the crop from the cache or
    computes it with :func:`prepare_face_landmarks`; unreadable files and photos without a face are skipped
    and counted, never fatal. ``skipped`` lists ``(path, reason)`` for files dropped here *and*
    by the scan (``scan_skipped``); :meth:`report` summarises them.

    ``identity_map`` maps identity strings to dense ids; by default ids are assigned over this
    dataset's identities in sorted order. :func:`facelab.datasets.load` sets one map across a mix
    (:meth:`set_identity_map`) so identities stay disjoint.
    """

    def __init__(
        self,
        records: Iterable[Record],
        size: int = 64,
        *,
        name: str = "",
        aligned: bool = False,
        align_config: AlignConfig | None = None,
        fallback: str = "error",
        detector: Any = None,
        cache_dir: str | Path | None = None,
        progress: bool = True,
        identity_map: dict[str, int] | None = None,
        scan_skipped: Iterable[tuple[str, str]] = (),
        refresh: bool = False,
    ):
        records = list(records)
        self.name = name or (records[0].dataset if records and records[0].dataset else "faces")
        self.size = int(size)
        self.prep = Prep(self.size, bool(aligned), align_config, fallback)
        self.cache_folder = Path(cache_dir or default_cache_dir()) / "datasets" / _safe(self.name) / self.prep.key()
        self.skipped: list[tuple[str, str]] = list(scan_skipped)
        self._scan_total = len(records) + len(self.skipped)
        self.stats: dict[str, float] = {}
        self._build(records, detector, progress, refresh)
        self.set_identity_map(identity_map)
        self._report(progress)

    # ------------------------------------------------------------------------------ building
    def _build(self, records: list[Record], detector: Any, progress: bool, refresh: bool) -> None:
        from tqdm.auto import tqdm

        cache = FaceCache(self.cache_folder, self.size)
        if refresh:
            cache.clear()
        if detector is None and not self.prep.aligned:
            from ..align import MTCNNDetector  # builds its network on first detect only

            detector = MTCNNDetector.from_config(self.prep.align_config)
        kept: list[Record] = []
        rows: list[int] = []
        hits = computed = 0
        t0 = last_flush = time.perf_counter()
        bar = tqdm(records, desc=f"{self.name}: faces", unit="img", disable=not progress, leave=True)
        for record in bar:
            try:
                kind, data = read_source(record)
            except ImageError as e:
                self.skipped.append((record.path, classify_error(e)))
                continue
            key = content_key(kind, data)
            row, failure = cache.lookup(key)
            if row is None and failure is None:
                computed += 1
                try:
                    image, points = prepare_face_landmarks(kind, data, self.prep, detector)
                except ImageError as e:  # NoFaceError included
                    failure = classify_error(e)
                    cache.add_failure(key, failure)
                else:
                    row = cache.add(key, image, points)
            else:
                hits += 1
            if failure is not None:
                self.skipped.append((record.path, failure))
                continue
            kept.append(record)
            rows.append(row)
            if progress:
                bar.set_postfix(cached=hits, new=computed, skipped=len(self.skipped), refresh=False)
            if cache.dirty and time.perf_counter() - last_flush > 120:  # checkpoint long builds
                cache.flush()
                last_flush = time.perf_counter()
        bar.close()
        cache.flush()
        elapsed = time.perf_counter() - t0
        self._cache = cache
        self._images = cache.images
        self._image_file = cache.image_file  # rows index this exact file
        self._rows = np.asarray(rows, dtype=np.int64)
        self.landmarks = np.asarray(cache.landmarks[self._rows], dtype=np.float32).reshape(-1, 5, 2)
        self.poses = np.asarray(cache.poses[self._rows], dtype=np.float32).reshape(-1, 3)
        # pre-cropped sets never have landmarks: only detected ones can have lost them
        unrecorded = 0 if self.prep.aligned else int((self._rows < cache.unrecorded).sum())
        if unrecorded:
            logger.warning("%s: %d faces come from a crop cache written before landmarks were kept, so they have no "
                           "pose label; load with refresh=1 to detect them again", self.name, unrecorded)
        self.records = kept
        self.stats = {
            "records": len(records),
            "kept": len(kept),
            "cached": hits,
            "computed": computed,
            "skipped": len(self.skipped),
            "posed": int(np.isfinite(self.poses).all(1).sum()),
            "unrecorded": unrecorded,
            "seconds": elapsed,
        }
        self.expressions = np.asarray([r.expression for r in kept], dtype=np.int64)
        self.intensities = np.asarray([r.intensity for r in kept], dtype=np.float32)
        self.splits = [r.split for r in kept]

    def set_identity_map(self, identity_map: dict[str, int] | None) -> None:
        """Use ``identity_map`` (identity string → dense id) for the ``identity`` field."""
        if identity_map is None:
            names = sorted({r.identity for r in self.records if r.identity is not None})
            identity_map = {n: i for i, n in enumerate(names)}
        missing = {r.identity for r in self.records if r.identity is not None} - set(identity_map)
        if missing:
            raise ValueError(f"identity_map lacks {len(missing)} identities, e.g. {sorted(missing)[:3]}")
        self.identity_map = dict(identity_map)
        self.identities = np.asarray(
            [identity_map[r.identity] if r.identity is not None else MISSING for r in self.records], dtype=np.int64
        )

    def report(self) -> str:
        """``"london: 242 faces; skipped 2 of 244: 2 no face (…)"``."""
        s = self.stats
        rate = s["computed"] / s["seconds"] if s.get("seconds") and s.get("computed") else None
        head = f"{self.name}: {len(self.records)} faces ({s['cached']} from cache, {s['computed']} prepared"
        head += f", {rate:.1f} img/s)" if rate else ")"
        if self.skipped:
            head += "; " + summarize_skipped(self.skipped, self._scan_total)
        return head

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            c = reason_category(reason)
            counts[c] = counts.get(c, 0) + 1
        return counts

    def _report(self, progress: bool) -> None:
        msg = self.report()
        if progress:
            print(msg, file=sys.stderr)
        logger.log(logging.WARNING if self.skipped else logging.INFO, msg)

    # ------------------------------------------------------------------------------- serving
    def __len__(self) -> int:
        return len(self.records)

    def image_array(self, index: int) -> np.ndarray:
        """The cached ``uint8`` (S, S, 3) crop of item ``index``."""
        return np.asarray(self._images[self._rows[index]])

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        arr = np.array(self._images[self._rows[index]])  # copy out of the memory map
        image = torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)
        pose = self.poses[index]
        return {
            "image": image,
            "identity": int(self.identities[index]),
            "expression": int(self.expressions[index]),
            "intensity": float(self.intensities[index]),
            "pose": torch.from_numpy(pose.copy()),
            "dataset": self.name,
        }

    def __getstate__(self):
        # DataLoader workers (spawn) get the file name, not a copy of the whole memory map.
        state = dict(self.__dict__)
        state["_images"] = None
        state["_cache"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._image_file is None:
            self._images = np.zeros((0, self.size, self.size, 3), np.uint8)
            return
        path = self.cache_folder / self._image_file
        try:
            self._images = np.load(path, mmap_mode="r")
        except OSError:
            raise RuntimeError(f"face cache file {path} was replaced since this dataset was built; rebuild it") from None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "faces"
