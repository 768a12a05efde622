"""The dataset registry behind ``--data NAME[:PATH][?OPTIONS]`` and :func:`load`."""

from __future__ import annotations

import dataclasses
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np
from torch.utils.data import ConcatDataset, Dataset

from ..labels import MISSING
from .ckplus import scan_ckplus, scan_ckplus48
from .core import ScanResult
from .fer import scan_fer2013
from .london import scan_london
from .manifest import scan_csv
from .posed import scan_faces, scan_jaffe, scan_kdef, scan_rafd, scan_yale
from .sequences import scan_mug, scan_oulu

__all__ = [
    "DatasetInfo",
    "DataSpec",
    "REGISTRY",
    "LOAD_OPTIONS",
    "parse_data_arg",
    "scan",
    "load",
    "MixedFaces",
    "describe_registry",
]


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry: how to scan a layout and whether its images are pre-aligned crops."""

    scan: Callable[..., ScanResult] | None  # None: generated, not scanned (synthetic)
    aligned: bool  # True: centre crop + resize (already face crops); False: MTCNN alignment
    summary: str


REGISTRY: dict[str, DatasetInfo] = {
    "synthetic": DatasetInfo(None, True, "rendered faces with full labels (options: SyntheticFaces arguments)"),
    "london": DatasetInfo(scan_london, False, "Face Research Lab London set: neutral_front/, smiling_front/, canada/"),
    "fer2013": DatasetInfo(scan_fer2013, True, "FER2013: train|test/<emotion>/*.jpg or fer2013.csv (source=)"),
    "ckplus": DatasetInfo(scan_ckplus, False, "CK+: cohn-kanade-images/ + Emotion/ (peak_frames=, onset=, ramp=, unlabeled=)"),
    "ckplus48": DatasetInfo(scan_ckplus48, True, "CK+48 crops: <emotion>/S###_###_########.png"),
    "jaffe": DatasetInfo(scan_jaffe, False, "JAFFE: KA.AN1.39.tiff"),
    "kdef": DatasetInfo(scan_kdef, False, "KDEF: AF01ANS.JPG (poses=S+HL+...)"),
    "rafd": DatasetInfo(scan_rafd, False, "RaFD: Rafd090_01_Caucasian_female_angry_frontal.jpg (poses=, gaze=)"),
    "faces": DatasetInfo(scan_faces, False, "FACES: 004_o_m_a_a.jpg"),
    "yale": DatasetInfo(scan_yale, False, "Yale faces: subject01.happy (GIF, no extension)"),
    "oulu": DatasetInfo(scan_oulu, False, "Oulu-CASIA: VL/Strong/P001/Anger/000.jpeg (channel=, lighting=, peak_frames=, onset=, ramp=)"),
    "mug": DatasetInfo(scan_mug, False, "MUG: subjects3/001/happiness/take000/img_0000.jpg (profile=, peak_frames=, onset=, ramp=)"),
    "csv": DatasetInfo(scan_csv, False, "CSV manifest: path,identity,expression,intensity[,split] (namespace=)"),
}

#: Options every scanned dataset accepts; they steer image preparation, not scanning.
LOAD_OPTIONS = {"aligned": bool, "fallback": str, "refresh": bool}


class DataSpec(NamedTuple):
    name: str
    path: str | None
    options: dict


def describe_registry() -> str:
    """One line per dataset, for ``--help`` texts."""
    return "\n".join(f"  {name:<10} {info.summary}" for name, info in REGISTRY.items())


def _value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def _options(text: str, spec: str) -> dict:
    out = {}
    for part in text.replace("&", ",").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"--data {spec!r}: option {part!r} is not key=value")
        k, v = part.split("=", 1)
        out[k.strip().replace("-", "_")] = v.strip()
    return out


def parse_data_arg(spec: str) -> DataSpec:
    """Parse ``NAME[:PATH][?k=v&k2=v2]`` into ``(name, path, options)``.

    Options are separated by ``&`` or ``,``; values stay strings here and are converted to the
    type of the option's default when the dataset is scanned/built (``onset=1`` → True). For ``synthetic`` the part after the colon is options (``synthetic:identities=64,
    per_identity=28``). Examples: ``"fer2013:../shared/data/fer2013"``,
    ``"ckplus:/data/CK+?onset=1&ramp=1"``, ``"kdef:/data/KDEF?poses=S"``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("empty --data value; expected NAME[:PATH][?options]")
    head, _, query = spec.strip().partition("?")
    name, _, path = head.partition(":")
    name = name.strip().lower()
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r} in --data {spec!r}; known: {', '.join(REGISTRY)}")
    options = _options(query, spec) if query else {}
    path = path.strip() or None
    if REGISTRY[name].scan is None:
        if path:
            options = {**_options(path, spec), **options}
        path = None
    elif path is None:
        raise ValueError(f"--data {spec!r}: {name} needs a path, e.g. {name}:/data/{name}")
    else:
        path = os.path.expanduser(path)
    return DataSpec(name, path, options)


def _coerce(name: str, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool) or default is bool:
        if isinstance(value, str):
            low = value.lower()
            if low not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(f"{name}: option {key} expects a boolean, got {value!r}")
            return low in ("1", "true", "yes", "on")
        return bool(value)
    try:
        if isinstance(default, int) or default is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if isinstance(default, float) or default is float:
            return float(value)
    except ValueError:
        kind = "an integer" if isinstance(default, int) or default is int else "a number"
        raise ValueError(f"{name}: option {key} expects {kind}, got {value!r}") from None
    if isinstance(default, str) or default is str:
        return str(value)
    return _value(value) if isinstance(value, str) else value


def _check_options(name: str, fn: Callable, options: dict, skip: Iterable[str] = ()) -> dict:
    params = {
        p.name: p.default
        for i, p in enumerate(inspect.signature(fn).parameters.values())
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in skip
    }
    unknown = sorted(set(options) - set(params))
    if unknown:
        known = ", ".join(params) or "none"
        raise ValueError(f"{name}: unknown option(s) {', '.join(unknown)} (known: {known})")
    return {k: _coerce(name, k, v, params[k]) for k, v in options.items()}


def scan(name: str, root: str | Path, **options) -> ScanResult:
    """Scan ``root`` with the ``name`` layout; no image is decoded.

    Returns a :class:`ScanResult` whose records carry ``dataset=name``. Files that do not follow
    the naming scheme land in ``skipped`` with a reason; only a missing root or an empty layout
    raises. Load-level options (``aligned``, ``fallback``, ``refresh``) are accepted and ignored.
    """
    name = name.lower()
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}")
    info = REGISTRY[name]
    if info.scan is None:
        raise ValueError(f"{name} is generated, not scanned; use load({name!r})")
    scan_opts = {k: v for k, v in options.items() if k not in LOAD_OPTIONS}
    scan_opts = _check_options(name, info.scan, scan_opts, skip=("root",))
    result = info.scan(Path(root), **scan_opts)
    result.records = [dataclasses.replace(r, dataset=name) for r in result.records]
    result.name, result.root = name, str(root)
    if not result.records and not result.skipped and not result.excluded:
        raise FileNotFoundError(f"{name}: no files of this layout under {root}")
    return result


# -------------------------------------------------------------------------------------- mixing
_COMMON_KEYS = ("image", "identity", "expression", "intensity")


class _Member(Dataset):
    """A dataset inside a mix: global identity ids, the common item keys only (so batches of
    mixed items collate), and the ``dataset`` name."""

    def __init__(self, dataset: Dataset, name: str, local_to_global: dict[int, int] | None):
        self.dataset, self.name, self.local_to_global = dataset, name, local_to_global

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index]
        out = {k: item[k] for k in _COMMON_KEYS}
        if self.local_to_global is not None and int(out["identity"]) != MISSING:
            out["identity"] = self.local_to_global[int(out["identity"])]
        out["identity"] = int(out["identity"])
        out["dataset"] = self.name
        return out


class MixedFaces(ConcatDataset):
    """Several datasets as one. Identity ids are dense over the whole mix and disjoint across
    datasets (each identity string is namespaced: ``london/001``, ``canada/003f``,
    ``synthetic/7``); ``identity_names[i]`` is the string of id ``i``. Items carry only the
    keys every member has: image, identity, expression, intensity, dataset (synthetic's
    ``target``/``yaw``/``pitch``, or ``pose`` when not every member has it, are dropped so mixed
    batches collate)."""

    def __init__(self, members: Sequence[_Member], identity_names: list[str]):
        super().__init__(members)
        self.members = list(members)
        self.identity_names = identity_names

    @property
    def parts(self) -> list[Dataset]:
        """The underlying datasets, in order."""
        return [m.dataset for m in self.members]


def _synthetic(options: dict, size: int, cache_dir, progress: bool):
    from ..synthetic import SyntheticFaces

    opts = _check_options("synthetic", SyntheticFaces.__init__, options, skip=("self",))
    if "size" in opts and opts["size"] != size:
        raise ValueError(f"synthetic: size={opts['size']} conflicts with load(size={size})")
    opts.update(size=size, progress=progress)
    if cache_dir is not None:
        opts.setdefault("cache_dir", cache_dir)
    return SyntheticFaces(**opts)


def load(
    spec_or_specs: str | DataSpec | Sequence[str | DataSpec],
    size: int = 64,
    align_config=None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    detector=None,
):
    """Load one dataset (``"london:../shared/data/london"``) or a mix (a list of specs).

    One spec gives the dataset itself (:class:`FaceImageDataset`, or ``SyntheticFaces`` for
    ``synthetic``); several give a :class:`MixedFaces` with identities disjoint across
    datasets. Scanned datasets are aligned with MTCNN (``align_config``; ``detector`` replaces
    MTCNN, e.g. a fake in tests) unless pre-aligned (FER2013, CK+48; override per spec with
    ``?aligned=0|1``). ``?fallback=center`` keeps no-face photos as centre crops;
    ``?refresh=1`` ignores the crop cache.
    """
    from .build import FaceImageDataset

    specs = [spec_or_specs] if isinstance(spec_or_specs, (str, DataSpec)) else list(spec_or_specs)
    if not specs:
        raise ValueError("load() needs at least one dataset spec")
    parsed = [parse_data_arg(s) if isinstance(s, str) else DataSpec(*s) for s in specs]

    datasets: list[tuple[str, Dataset]] = []
    for name, path, options in parsed:
        info = REGISTRY[name]
        if info.scan is None:
            datasets.append((name, _synthetic(dict(options), size, cache_dir, progress)))
            continue
        load_opts = {k: _coerce(name, k, v, LOAD_OPTIONS[k]) for k, v in options.items() if k in LOAD_OPTIONS}
        result = scan(name, path, **options)
        ds = FaceImageDataset(
            result.records,
            size,
            name=name,
            aligned=load_opts.get("aligned", info.aligned),
            align_config=align_config,
            fallback=load_opts.get("fallback", "error"),
            detector=detector,
            cache_dir=cache_dir,
            progress=progress,
            scan_skipped=result.skipped,
            refresh=load_opts.get("refresh", False),
        )
        datasets.append((name, ds))

    if len(datasets) == 1:
        return datasets[0][1]

    # one identity map over the mix: namespaced strings → dense ids
    names: set[str] = set()
    for name, ds in datasets:
        if isinstance(ds, FaceImageDataset):
            names.update(r.identity for r in ds.records if r.identity is not None)
        else:
            names.update(f"{name}/{int(i)}" for i in _synthetic_ids(ds))
    identity_names = sorted(names)
    global_ids = {n: i for i, n in enumerate(identity_names)}
    members = []
    for name, ds in datasets:
        if isinstance(ds, FaceImageDataset):
            ds.set_identity_map(global_ids)
            members.append(_Member(ds, name, None))
        else:
            lookup = {int(i): global_ids[f"{name}/{int(i)}"] for i in _synthetic_ids(ds)}
            members.append(_Member(ds, name, lookup))
    return MixedFaces(members, identity_names)


def _synthetic_ids(ds) -> np.ndarray:
    return np.unique(ds.labels()["identity"])
