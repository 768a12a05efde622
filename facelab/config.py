"""Model and training configurations: dataclasses that round-trip through JSON.

A checkpoint's ``config.json`` is exactly ``{"model": ModelConfig, "training": TrainConfig}``,
so a model can be rebuilt without unpickling anything and a run can be repeated from its card.
Named latent sub-vectors live here, so adding an attribute (pose, style) is a config change; a
method's own settings are its options dataclass, nested as ``model.options``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .labels import EXPRESSIONS

FORMAT_VERSION = 2  # 2: method options nested under "options" (1 still loads)


class ConfigError(ValueError):
    """A config file or dict that cannot describe a valid model or run."""


def _from_dict(cls, data: dict[str, Any]):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            # JSON has no tuples; restore the declared container type.
            if isinstance(value, list) and "tuple" in str(f.type):
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


REFINE_LR = 0.01  # Adam's step on a refined code (facelab.code_refinement) when a refine setting names none


def _checked_refine(refine: dict, latents: dict[str, int]) -> dict[str, Any]:
    """``ModelConfig.refine`` with its keys and sub-code names checked (a typo would silently refine nothing)."""
    unknown = sorted(set(refine) - {"steps", "free", "lr"})
    if unknown:
        raise ConfigError(f"refine takes steps, free and lr, not {', '.join(unknown)}")
    steps, free = int(refine.get("steps", 0)), [str(a) for a in refine.get("free", ())]
    if steps < 0:
        raise ConfigError(f"refine steps must be >= 0, got {steps}")
    strangers = sorted(set(free) - set(latents))
    if strangers:
        raise ConfigError(f"refine frees {', '.join(strangers)}, not sub-codes of this model ({', '.join(latents)})")
    lr = float(refine.get("lr", REFINE_LR))
    if not lr > 0:
        raise ConfigError(f"refine lr must be > 0, got {lr}")
    return {"steps": steps, "free": free, "lr": lr}


@dataclass
class ModelConfig:
    """Architecture shared by every method, plus the method's own ``options`` dataclass.

    ``latents`` is ordered: the concatenated code is ``[identity | expression | ...]`` (any names,
    any number) and :meth:`slices` gives each attribute's position in it. ``options`` is the
    registered method's options dataclass (a nested dict in JSON); see :mod:`facelab.methods`.
    """

    method: str = "disvae"
    image_size: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 128)
    latents: dict[str, int] = field(default_factory=lambda: {"identity": 16, "expression": 8})
    fusion_dim: int = 256
    expressions: tuple[str, ...] = EXPRESSIONS[:7]
    alignment: str = "center"  # "center": images are already face crops; "mtcnn": detect + align
    align: dict[str, Any] | None = None  # facelab.align.AlignConfig as a dict, when alignment="mtcnn"
    options: Any = None  # the method's options dataclass (None: its defaults)
    # codes refined against the image after encoding (facelab.code_refinement): {"steps": N, "free":
    # [sub-code, ...], "lr": Adam's step}; None: the encoders' codes as they are
    refine: dict[str, Any] | None = None
    # how edits are drawn on a face's own picture (facelab.photo_layer.LayerSetting: tolerance, sigma,
    # falloff); None: the layer's defaults, chosen for photo models
    photo_layer: dict[str, float] | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        from .methods import get_method  # the registry imports this module

        self.channels = tuple(self.channels)
        self.expressions = tuple(self.expressions)
        self.latents = {str(k): int(v) for k, v in dict(self.latents).items()}
        n_down = math.log2(self.image_size / 4)
        if n_down != int(n_down) or n_down < 1:
            raise ConfigError(f"image_size must be 4·2^k (e.g. 64, 128), got {self.image_size}")
        if len(self.channels) != int(n_down):
            raise ConfigError(
                f"image_size {self.image_size} needs {int(n_down)} conv stages, got channels={self.channels}"
            )
        if not self.latents or any(v < 1 for v in self.latents.values()):
            raise ConfigError(f"latents must name at least one sub-code, each of size >= 1, got {self.latents}")
        for name in self.expressions:
            if name not in EXPRESSIONS:
                raise ConfigError(f"unknown expression {name!r} (vocabulary: {', '.join(EXPRESSIONS)})")
        if self.alignment not in ("center", "mtcnn"):
            raise ConfigError(f"alignment must be 'center' or 'mtcnn', got {self.alignment!r}")
        if self.format_version > FORMAT_VERSION:
            raise ConfigError(
                f"config format {self.format_version} is newer than this facelab ({FORMAT_VERSION}); upgrade facelab"
            )
        try:
            method = get_method(self.method)
        except KeyError as e:
            raise ConfigError(str(e.args[0])) from None
        if self.options is None:
            self.options = method.options()
        elif isinstance(self.options, dict):
            self.options = _from_dict(method.options, self.options)
        elif not isinstance(self.options, method.options):
            raise ConfigError(f"options for {self.method!r} must be {method.options.__name__}, "
                              f"got {type(self.options).__name__}")
        method.validate(self)
        if self.refine is not None:
            self.refine = _checked_refine(self.refine, self.latents)
        if self.photo_layer is not None:
            from .photo_layer import LayerSetting

            try:
                self.photo_layer = LayerSetting.of(self.photo_layer).to_dict()
            except ValueError as e:
                raise ConfigError(str(e)) from None

    @property
    def latent_dim(self) -> int:
        return sum(self.latents.values())

    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, size in self.latents.items():
            out[name] = slice(start, start + size)
            start += size
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, _upgrade_model(dict(data)))


# Format 1 (one method, DisVAE) kept these DisVAE settings at the top level of the model and
# training sections; format 2 moves them into the method's options.
_V1_MODEL_OPTIONS = ("expression_channels", "expression_depth", "mirror_expression")
_V1_TRAINING_OPTIONS = ("identity_epochs", "disvae_epochs", "beta_identity", "beta_expression",
                        "classifier_weight", "identity_target")


def _upgrade_model(data: dict[str, Any], training: dict[str, Any] | None = None) -> dict[str, Any]:
    if data.get("format_version", 1) >= 2 and "options" in data:
        return data
    options = dict(data.get("options") or {})
    for key in _V1_MODEL_OPTIONS:
        if key in data:
            options[key] = data.pop(key)
    for key in _V1_TRAINING_OPTIONS:
        if training and key in training:
            options[key] = training.pop(key)
    data["options"] = options
    data["format_version"] = FORMAT_VERSION
    return data


@dataclass
class TrainConfig:
    """What every method's training needs besides the data and its own options; stored in the card.

    Method-specific settings (stage epochs, loss weights) live in the method's options
    (``ModelConfig.options``), so one trainer serves every method.
    """

    data: tuple[str, ...] = ("synthetic",)
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    holdout: float = 0.0  # fraction of identities held out for evaluation (datasets with an official split keep it)
    # Fraction of the rest kept out of training for choices made before the test split is looked at
    # (identity-disjoint; FER2013's unlabelled-identity images one by one). See datasets.training_splits.
    validation: float = 0.0
    hflip: bool = False  # mirror a random half of each batch (real photos; the generator is symmetric enough)
    affine: float = 0.0  # random rotation/shift/zoom per image, strength in [0, 1] (1: ±10°, ±10 %, ×0.9–1.1)
    lr_schedule: str = "constant"  # "constant" | "onecycle" (warm up to lr, then anneal; per stage)
    seed: int = 0
    num_workers: int = 0
    max_steps: int | None = None  # per stage, the schedule fitted to them: smoke tests, or part of an epoch
    device: str = "auto"
    save_every: int = 200  # steps between saved training states (--resume continues from the last); 0: never
    log_every: int = 20  # steps between reading losses back for TensorBoard/progress (each read syncs the device)
    precision: str = "auto"  # "auto" (bf16 autocast on a GPU that has it, else fp32) | "fp32" | "bf16"
    channels_last: bool = False  # NHWC memory layout for convolutions (see bench/train_throughput.py)

    def __post_init__(self):
        self.data = tuple(self.data)
        if self.lr_schedule not in ("constant", "onecycle"):
            raise ConfigError(f"lr_schedule must be 'constant' or 'onecycle', got {self.lr_schedule!r}")
        if not 0.0 <= self.validation < 1.0:
            raise ConfigError(f"validation must be in [0, 1), got {self.validation}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be 'auto', 'fp32' or 'bf16', got {self.precision!r}")
        if self.save_every < 0 or self.log_every < 1:
            raise ConfigError(f"save_every must be >= 0 and log_every >= 1, got {self.save_every}, {self.log_every}")
        if not 0.0 <= self.affine <= 1.0:
            raise ConfigError(f"affine must be in [0, 1], got {self.affine}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)


def save_config(path: str | Path, model: ModelConfig, training: TrainConfig | None = None,
                weights_sha256: str | None = None) -> None:
    """Write ``config.json`` atomically (temp file + rename: a crash never leaves half a file).

    ``weights_sha256`` is the checksum of the weights beside it; rewriting a config without one
    (``train.configure``) keeps the checksum already there."""
    path = Path(path)
    payload = {"model": model.to_dict()}
    if training is not None:
        payload["training"] = training.to_dict()
    if weights_sha256 is None and path.is_file():
        try:
            weights_sha256 = json.loads(path.read_text()).get("weights_sha256")
        except (OSError, ValueError, AttributeError):
            weights_sha256 = None
    if weights_sha256:
        payload["weights_sha256"] = weights_sha256
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def weights_checksum(path: str | Path) -> str | None:
    """The ``weights_sha256`` recorded in a ``config.json`` (None for checkpoints saved before it)."""
    try:
        value = json.loads(Path(path).read_text()).get("weights_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def load_config(path: str | Path) -> tuple[ModelConfig, TrainConfig | None]:
    try:
        payload = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if "model" not in payload:
        raise ConfigError(f"{path}: no 'model' section")
    training = dict(payload["training"]) if payload.get("training") else None
    try:
        model = ModelConfig.from_dict(_upgrade_model(dict(payload["model"]), training))
        return model, (TrainConfig.from_dict(training) if training else None)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
