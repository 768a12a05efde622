"""Identity-disjoint splits: nobody appears on both sides.

Samples come from a :class:`~facelab.datasets.build.FaceImageDataset`, a mix
(:class:`~facelab.datasets.registry.MixedFaces` / any ``ConcatDataset``), ``SyntheticFaces``,
a :class:`~facelab.datasets.core.ScanResult` or a plain list of :class:`Record`. Identities are
compared as namespaced strings, so ``london/001`` and ``canada/001f`` are different people.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from torch.utils.data import ConcatDataset

from ..labels import MISSING
from .core import Record, ScanResult

__all__ = ["sample_groups", "identity_split", "validation_split", "training_splits", "identity_folds"]

TRAIN_SPLITS = {"train", "training"}
TEST_SPLITS = {"test", "val", "valid", "validation", "publictest", "privatetest"}


def sample_groups(obj: Any) -> tuple[list[str | None], list[str | None]]:
    """Per-sample ``(identity strings, split fields)``; ``None`` where missing."""
    from .build import FaceImageDataset
    from .registry import _Member

    if isinstance(obj, ScanResult):
        obj = obj.records
    if isinstance(obj, (list, tuple)) and all(isinstance(r, Record) for r in obj):
        return [r.identity for r in obj], [r.split for r in obj]
    if isinstance(obj, FaceImageDataset):
        return [r.identity for r in obj.records], [r.split for r in obj.records]
    if isinstance(obj, _Member):
        ids, splits = sample_groups(obj.dataset)
        if not isinstance(obj.dataset, FaceImageDataset):  # synthetic ints → namespaced strings
            ids = [f"{obj.name}/{i.split('/', 1)[1]}" if i is not None else None for i in ids]
        return ids, splits
    if isinstance(obj, ConcatDataset):
        ids, splits = [], []
        for part in obj.datasets:
            a, b = sample_groups(part)
            ids += a
            splits += b
        return ids, splits
    labels = obj.labels() if callable(getattr(obj, "labels", None)) else None  # SyntheticFaces
    if labels is not None and "identity" in labels:
        raw = np.asarray(labels["identity"])
    else:  # any dataset of SyntheticFaces-style items
        raw = np.asarray([int(obj[i]["identity"]) for i in range(len(obj))])
    ids = [f"synthetic/{int(i)}" if int(i) != MISSING else None for i in raw]
    return ids, [None] * len(ids)


def _groups_for(ids: list[str | None]) -> np.ndarray:
    # samples without identity are their own group
    return np.asarray([i if i is not None else f"\0sample{k}" for k, i in enumerate(ids)], dtype=object)


def identity_split(dataset_or_records: Any, test_size: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, test_idx)`` with no identity on both sides (scikit-learn
    ``GroupShuffleSplit``; ``test_size`` is the fraction of *identities* held out).

    Samples without an identity follow their own ``split`` field when they have one (``train``
    → train; ``test``/``val``/... → test) — FER2013 keeps its official split — and are
    otherwise split at random like one-sample identities.
    """
    ids, splits = sample_groups(dataset_or_records)
    n = len(ids)
    train, test, free = [], [], []
    for k, (ident, split) in enumerate(zip(ids, splits)):
        s = (split or "").lower()
        if ident is None and s in TRAIN_SPLITS:
            train.append(k)
        elif ident is None and s in TEST_SPLITS:
            test.append(k)
        else:
            free.append(k)
    if free:
        free_idx = np.asarray(free)
        groups = _groups_for([ids[k] for k in free])
        if len(set(groups)) >= 2:
            splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
            tr, te = next(splitter.split(free_idx, groups=groups))
            train += free_idx[tr].tolist()
            test += free_idx[te].tolist()
        else:
            train += free
    assert len(train) + len(test) == n
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64))


def validation_split(dataset_or_records: Any, train_idx: np.ndarray, fraction: float,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation part out of ``train_idx``: ``(fit_idx, val_idx)``, identity-disjoint.

    Model choices (which epoch, which inference setting) are made on this part, so the test split
    is looked at once. Unlike :func:`identity_split`, split fields are ignored — every sample here
    is already on the training side — and samples without identity (FER2013) are drawn one by one.
    ``fraction`` is the share of *groups* (identities; single unlabelled images) held out.
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    ids, _ = sample_groups(dataset_or_records)
    groups = _groups_for([ids[k] for k in train_idx])
    if len(set(groups)) < 2:
        raise ValueError("validation_split: the training part has fewer than 2 identities or images")
    # Another random stream than the holdout's (same seed), so the two draws are not correlated.
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed + 1)
    fit, val = next(splitter.split(train_idx, groups=groups))
    return np.sort(train_idx[fit]), np.sort(train_idx[val])


def training_splits(dataset_or_records: Any, holdout: float, validation: float = 0.0,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """The ``train`` / ``val`` / ``test`` indices a run with these settings uses.

    ``test`` is :func:`identity_split`'s held-out part (empty with ``holdout=0``); ``val`` is
    :func:`validation_split` of the rest (empty with ``validation=0``); ``train`` is what the model
    is fitted on. Training and evaluation both call this, so they agree on every index.
    """
    if holdout > 0:
        train, test = identity_split(dataset_or_records, test_size=holdout, seed=seed)
    else:
        n = len(sample_groups(dataset_or_records)[0])
        train, test = np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    val = np.zeros(0, dtype=np.int64)
    if validation > 0:
        train, val = validation_split(dataset_or_records, train, validation, seed=seed)
    return {"train": train, "val": val, "test": test}


def identity_folds(dataset_or_records: Any, k: int = 10, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` folds ``[(train_idx, test_idx), ...]`` with identities disjoint within each fold
    (scikit-learn ``GroupKFold``, shuffled with ``seed``). Samples without identity are their
    own group; split fields are ignored (cross-validation replaces the official split)."""
    ids, _ = sample_groups(dataset_or_records)
    groups = _groups_for(ids)
    if len(set(groups)) < k:
        raise ValueError(f"identity_folds: {len(set(groups))} identities cannot make {k} folds")
    folds = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    idx = np.arange(len(ids))
    return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in folds.split(idx, groups=groups)]
