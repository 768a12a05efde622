"""Face datasets behind one registry: ``--data NAME:PATH[?options]``.

Names: ``synthetic london fer2013 ckplus ckplus48 jaffe kdef rafd faces yale oulu mug csv``
(see :data:`REGISTRY` and each layout module's docstring for naming schemes, label mappings and
options). Typical use::

    from facelab import datasets
    res = datasets.scan("london", "../shared/data/london")          # records only, no decoding
    ds = datasets.load(["london:../shared/data/london", "fer2013:../shared/data/fer2013"])
    train_idx, test_idx = datasets.identity_split(ds, test_size=0.2, seed=0)

Modules: :mod:`.core` (Record, ScanResult, frame selection), :mod:`.london`, :mod:`.fer`,
:mod:`.ckplus`, :mod:`.posed` (JAFFE, KDEF, RaFD, FACES, Yale), :mod:`.sequences` (Oulu-CASIA,
MUG), :mod:`.manifest` (CSV), :mod:`.build` (FaceImageDataset, crop cache), :mod:`.registry`
(parse_data_arg, scan, load), :mod:`.splits` (identity_split, validation_split, training_splits,
identity_folds).
"""

from .core import Record, ScanResult, select_frames, summarize_skipped
from .registry import LOAD_OPTIONS, REGISTRY, DataSpec, MixedFaces, describe_registry, load, parse_data_arg, scan
from .splits import identity_folds, identity_split, sample_groups, training_splits, validation_split


def __getattr__(name):  # FaceImageDataset pulls in torch + align; import it on first use
    if name in ("FaceImageDataset", "prepare_face", "Prep", "default_cache_dir"):
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Record",
    "ScanResult",
    "DataSpec",
    "REGISTRY",
    "LOAD_OPTIONS",
    "MixedFaces",
    "FaceImageDataset",
    "Prep",
    "prepare_face",
    "default_cache_dir",
    "parse_data_arg",
    "scan",
    "load",
    "identity_split",
    "validation_split",
    "training_splits",
    "identity_folds",
    "sample_groups",
    "select_frames",
    "summarize_skipped",
    "describe_registry",
]
