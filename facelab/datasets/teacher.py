"""The recogniser as a teacher: dlib's 128-d descriptor of every training image (issue 12).

:func:`teacher_descriptors` gives one row per item of a training set (a source dataset, a mix, a
``Subset`` of either), computed once per crop and cached (:func:`facelab.recogniser.cached_descriptors`),
NaN where the item gets no teacher. The swap method (``teacher_weight``) attaches the rows to its
items and masks the NaN ones out of its loss.

Each source is shown to the recogniser with the chip geometry of its crops
(:func:`geometry_of`, :func:`facelab.recogniser.chip_box`):

- photos aligned by MTCNN: the template they were aligned with (``Prep.align_config``: facelab's
  default template, or the model's ``scale``/``offset``), the geometry ``train.evaluate
  --recogniser`` uses; a photo kept as a centre crop because no face was found
  (``?fallback=center``; it has no landmarks) is not aligned: NaN;
- pre-cropped sets (FER2013, CK+48: ``Prep.aligned``): the measured box of
  :data:`facelab.recogniser.PRECROPPED_BOXES` (FER2013's), NaN for a set without one;
- generator faces: :data:`facelab.recogniser.GENERATOR_BOX`. dlib reads these cartoons weakly
  (41.5 % nearest-face identification against 4.5 % chance), and the generator's exact identity
  labels already drive the metric losses; the teacher is meant for photos, where most images
  (FER2013) have no person label at all. Generator faces get a descriptor anyway, so that a
  synthetic-only run exercises the teacher and a mix treats every image alike;
- anything else (a dataset type this module does not know): NaN.

Mirror and affine augmentation (``--hflip``, ``--affine``) leave the target as it is: who a face
is does not change under them.
"""

from __future__ import annotations

import numpy as np

from .. import recogniser as R

__all__ = ["NO_TEACHER", "geometry_of", "teacher_descriptors", "teacher_summary"]

NO_TEACHER = "no teacher"  # geometry_of's answer for a source whose crops have no known chip


def geometry_of(dataset):
    """The chip geometry (:func:`facelab.recogniser.chip_box`'s ``geometry``) of one source dataset's
    crops, or :data:`NO_TEACHER`. ``dataset``: a source (FaceImageDataset, SyntheticFaces), not a mix."""
    prep = getattr(dataset, "prep", None)
    if prep is not None:  # FaceImageDataset
        if prep.aligned:
            return R.PRECROPPED_BOXES.get(getattr(dataset, "name", ""), NO_TEACHER)
        return prep.align_config
    if getattr(dataset, "factors", None) is not None:  # the generator
        return R.GENERATOR_BOX
    return NO_TEACHER


def _sources(dataset, idx: np.ndarray, positions: np.ndarray, out: list) -> None:
    """Append (source dataset, its item indices, positions in the top-level dataset) under ``dataset``."""
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(dataset, Subset):
        _sources(dataset.dataset, np.asarray(dataset.indices, dtype=np.int64)[idx], positions, out)
    elif isinstance(dataset, ConcatDataset):  # MixedFaces: members are _Member wrappers of sources
        ends = np.asarray(dataset.cumulative_sizes, dtype=np.int64)
        part = np.searchsorted(ends, idx, side="right")
        for k in np.unique(part):
            sel = part == k
            local = idx[sel] - (ends[k - 1] if k > 0 else 0)
            member = dataset.datasets[int(k)]
            _sources(getattr(member, "dataset", member), local, positions[sel], out)
    else:
        out.append((dataset, idx, positions))


def _aligned_items(source, idx: np.ndarray) -> np.ndarray:
    """Which items of an MTCNN-aligned source really were aligned: centre-crop fallbacks have no landmarks."""
    prep = getattr(source, "prep", None)
    if prep is None or prep.aligned or prep.fallback != "center":
        return np.ones(len(idx), dtype=bool)
    return np.isfinite(np.asarray(source.landmarks)[idx]).all(axis=(1, 2))


def teacher_descriptors(dataset, cache_dir=None, progress: bool = False) -> np.ndarray:
    """dlib's descriptor of every item of ``dataset`` → (len(dataset), 128) float32, NaN rows for items
    without a teacher (module docstring). Computed once per crop and geometry, then read from the cache.
    Raises :class:`facelab.recogniser.RecogniserUnavailable` without dlib (unless nothing needs it)."""
    n = len(dataset)
    out = np.full((n, R.DESCRIPTOR_DIM), np.nan, dtype=np.float32)
    sources: list = []
    _sources(dataset, np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), sources)
    for source, idx, positions in sources:
        geometry = geometry_of(source)
        if isinstance(geometry, str) and geometry == NO_TEACHER:
            continue
        keep = _aligned_items(source, idx)
        if not keep.any():
            continue
        name = getattr(source, "name", None) or type(source).__name__
        out[positions[keep]] = R.dataset_descriptors(source, geometry, cache_dir, progress=progress,
                                                     indices=idx[keep], desc=f"teacher: {name}")
    return out


def teacher_summary(descriptors: np.ndarray) -> str:
    """``"teacher descriptors for 980 of 1,000 images"``."""
    known = int(np.isfinite(descriptors).all(1).sum())
    return f"teacher descriptors for {known:,} of {len(descriptors):,} images"
