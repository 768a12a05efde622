"""Model and training configurations: dataclasses that round-trip through JSON.

A checkpoint's ``config.json`` is exactly ``{"model": ModelConfig, "training": TrainConfig}``,
so a model can be rebuilt without unpickling anything and a run can be repeated from its card.
Named latent sub-vectors live here, so adding an attribute (pose, style) is a config change.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .labels import EXPRESSIONS

FORMAT_VERSION = 1


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


@dataclass
class ModelConfig:
    """Architecture of a DisVAE-style model.

    ``latents`` is ordered: the concatenated code is ``[identity | expression | ...]`` and
    :meth:`slices` gives each attribute's position in it.
    """

    method: str = "disvae"
    image_size: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 128)
    # The expression encoder may be wider/deeper than the identity encoder and decoder
    # (None: same channels as they have; depth: extra 3×3 convs per stage).
    expression_channels: tuple[int, ...] | None = None
    expression_depth: int = 0
    # z_exp is the mean of the encoder's posteriors for the face and its mirror image: an expression
    # reads the same in a mirror, so asking twice steadies the reading (flip test-time augmentation,
    # inside the model so training, evaluation and the app read expressions the same way).
    mirror_expression: bool = False
    latents: dict[str, int] = field(default_factory=lambda: {"identity": 16, "expression": 8})
    fusion_dim: int = 256
    expressions: tuple[str, ...] = EXPRESSIONS[:7]
    alignment: str = "center"  # "center": images are already face crops; "mtcnn": detect + align
    align: dict[str, Any] | None = None  # facelab.align.AlignConfig as a dict, when alignment="mtcnn"
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        self.channels = tuple(self.channels)
        if self.expression_channels is not None:
            self.expression_channels = tuple(self.expression_channels)
        self.expressions = tuple(self.expressions)
        n_down = math.log2(self.image_size / 4)
        if n_down != int(n_down) or n_down < 1:
            raise ConfigError(f"image_size must be 4·2^k (e.g. 64, 128), got {self.image_size}")
        if len(self.channels) != int(n_down):
            raise ConfigError(
                f"image_size {self.image_size} needs {int(n_down)} conv stages, got channels={self.channels}"
            )
        if self.expression_channels is not None and len(self.expression_channels) != len(self.channels):
            raise ConfigError(
                f"expression_channels needs {len(self.channels)} stages like channels, got {self.expression_channels}"
            )
        if self.expression_depth < 0:
            raise ConfigError(f"expression_depth must be >= 0, got {self.expression_depth}")
        for name in self.expressions:
            if name not in EXPRESSIONS:
                raise ConfigError(f"unknown expression {name!r} (vocabulary: {', '.join(EXPRESSIONS)})")
        if self.alignment not in ("center", "mtcnn"):
            raise ConfigError(f"alignment must be 'center' or 'mtcnn', got {self.alignment!r}")
        if self.format_version > FORMAT_VERSION:
            raise ConfigError(
                f"config format {self.format_version} is newer than this facelab ({FORMAT_VERSION}); upgrade facelab"
            )

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
        return _from_dict(cls, data)


@dataclass
class TrainConfig:
    """Everything a training run needs besides the data, stored in the checkpoint card.

    DisVAE trains in two stages: an identity VAE, then the expression branch with the identity
    encoder frozen. ``identity_target="neutral"`` reconstructs the same person's neutral face in
    stage 1 where the dataset has one, so z_id has no reason to hold expression.
    """

    data: tuple[str, ...] = ("synthetic",)
    identity_epochs: int = 10
    disvae_epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    beta_identity: float = 1.0  # KL weight of z_id in stage 1
    beta_expression: float = 1.0  # KL weight of z_exp in stage 2
    classifier_weight: float = 100.0  # cross-entropy weight (reconstruction is summed over pixels)
    identity_target: str = "neutral"  # "neutral" | "input"
    holdout: float = 0.0  # fraction of identities held out for evaluation (datasets with an official split keep it)
    # Fraction of the rest kept out of training for choices made before the test split is looked at
    # (identity-disjoint; FER2013's unlabelled-identity images one by one). See datasets.training_splits.
    validation: float = 0.0
    hflip: bool = False  # mirror a random half of each batch (real photos; the generator is symmetric enough)
    affine: float = 0.0  # random rotation/shift/zoom per image, strength in [0, 1] (1: ±10°, ±10 %, ×0.9–1.1)
    lr_schedule: str = "constant"  # "constant" | "onecycle" (warm up to lr, then anneal; per stage)
    seed: int = 0
    num_workers: int = 0
    max_steps: int | None = None  # per stage; for smoke tests
    device: str = "auto"

    def __post_init__(self):
        self.data = tuple(self.data)
        if self.identity_target not in ("neutral", "input"):
            raise ConfigError(f"identity_target must be 'neutral' or 'input', got {self.identity_target!r}")
        if self.lr_schedule not in ("constant", "onecycle"):
            raise ConfigError(f"lr_schedule must be 'constant' or 'onecycle', got {self.lr_schedule!r}")
        if not 0.0 <= self.validation < 1.0:
            raise ConfigError(f"validation must be in [0, 1), got {self.validation}")
        if not 0.0 <= self.affine <= 1.0:
            raise ConfigError(f"affine must be in [0, 1], got {self.affine}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)


def save_config(path: str | Path, model: ModelConfig, training: TrainConfig | None = None) -> None:
    payload = {"model": model.to_dict()}
    if training is not None:
        payload["training"] = training.to_dict()
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")


def load_config(path: str | Path) -> tuple[ModelConfig, TrainConfig | None]:
    try:
        payload = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if "model" not in payload:
        raise ConfigError(f"{path}: no 'model' section")
    training = payload.get("training")
    return ModelConfig.from_dict(payload["model"]), (TrainConfig.from_dict(training) if training else None)
