"""The model interface every method implements, and the split autoencoder most of them share.

A network maps images to *named* posteriors (one per sub-code in ``config.latents``, any names,
any number), decodes the concatenated code, and has one head per labelled attribute (today the
expression classifier). Evaluation, the card, the demo and the app use only this interface.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import ConvTrunk, Decoder, Encoder


@runtime_checkable
class FaceNetwork(Protocol):
    """What a method's network offers to the rest of facelab.

    Shapes: images ``x`` are (B, 3, S, S) in [0, 1]; codes are (B, d_attribute) per attribute, and
    the concatenated code ``z`` is (B, sum of d) in ``config.latents`` order.
    """

    config: ModelConfig
    heads: nn.ModuleDict  # labelled attribute → logits over its classes (e.g. "expression")
    code_mean: torch.Tensor  # per-dimension statistics of the training codes (slider defaults and ranges)
    code_std: torch.Tensor
    code_low: torch.Tensor  # per-dimension low / high quantile of the training codes (NaN: not measured)
    code_high: torch.Tensor
    code_quantiles: torch.Tensor  # the two quantile levels of code_low / code_high, e.g. (0.01, 0.99)

    @property
    def attributes(self) -> tuple[str, ...]: ...

    def encode(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Posterior means and log-variances per attribute."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Concatenated code → image."""

    def join(self, parts: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def split(self, z: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def classify(self, z: torch.Tensor, attribute: str = "expression") -> torch.Tensor:
        """Logits of ``attribute``'s head from that sub-code alone."""


def class_names(config: ModelConfig) -> dict[str, tuple[str, ...]]:
    """Labelled attributes of a config and their classes: the sub-codes that get a head."""
    return {"expression": config.expressions} if "expression" in config.latents else {}


QUANTILE_BUFFERS = ("code_low", "code_high", "code_quantiles")  # absent from checkpoints saved before them


class CodePlumbing:
    """What every network does with its code: named sub-codes (join/split), a head per labelled
    attribute and the training codes' statistics. A mixin, so each network keeps its own layer order."""

    def add_code_heads(self, config: ModelConfig) -> None:
        """Register the heads and the code-statistics buffers (call from ``__init__``); the quantile
        buffers start unmeasured (NaN) until :func:`facelab.training.code_statistics` fills them."""
        self.heads = nn.ModuleDict({a: nn.Linear(config.latents[a], len(names))
                                    for a, names in class_names(config).items()})
        self.register_buffer("code_mean", torch.zeros(config.latent_dim))
        self.register_buffer("code_std", torch.ones(config.latent_dim))
        self.register_buffer("code_low", torch.full((config.latent_dim,), float("nan")))
        self.register_buffer("code_high", torch.full((config.latent_dim,), float("nan")))
        self.register_buffer("code_quantiles", torch.full((2,), float("nan")))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Weights saved before the quantile buffers existed load as "not measured" (NaN), so every
        # strict load (checkpoints, resumed runs, fine-tuning) accepts them and the code ranges fall
        # back to mean ± 3 std (FaceModel.code_bounds says which it uses).
        for name in QUANTILE_BUFFERS:
            if prefix + name not in state_dict:
                state_dict[prefix + name] = torch.full_like(getattr(self, name), float("nan"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.config.latents)

    def join(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([parts[name] for name in self.config.latents], dim=1)

    def split(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: z[:, s] for name, s in self.config.slices().items()}

    def classify(self, z: torch.Tensor, attribute: str = "expression") -> torch.Tensor:
        return self.heads[attribute](z)


class CodeBase(CodePlumbing, nn.Module):
    """The code plumbing plus a fusion layer (FC + ReLU) and a decoder."""

    def __init__(self, config: ModelConfig, decoder_depth: int = 0, decoder_refine: int = 0,
                 decoder_mid_refine: int = 0, decoder_min_channels: int = 0):
        super().__init__()
        self.config = config
        self.add_code_heads(config)
        self.fusion = nn.Sequential(nn.Linear(config.latent_dim, config.fusion_dim), nn.ReLU())
        self.decoder = Decoder(config.channels, config.fusion_dim, depth=decoder_depth, refine=decoder_refine,
                               mid_refine=decoder_mid_refine, min_channels=decoder_min_channels)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.fusion(z))


class SplitAutoencoder(CodeBase):
    """One conv encoder per sub-code → concatenated code → fusion (FC + ReLU) → decoder.

    ``encoders`` gives each attribute's (channels, extra depth[, residual blocks per stage]); by default all use
    ``config.channels``. Attributes in ``mirrored`` read the mean posterior of the face and its
    mirror image (an expression reads the same in a mirror).
    """

    def __init__(self, config: ModelConfig, encoders: dict[str, tuple] | None = None,
                 mirrored: tuple[str, ...] = (), decoder_depth: int = 0, decoder_refine: int = 0,
                 decoder_mid_refine: int = 0, decoder_min_channels: int = 0):
        super().__init__(config, decoder_depth, decoder_refine, decoder_mid_refine, decoder_min_channels)
        encoders = encoders or {}
        self.encoders = nn.ModuleDict({
            a: Encoder(*((encoders[a][0], d, *encoders[a][1:]) if a in encoders else (config.channels, d)))
            for a, d in config.latents.items()
        })
        self.mirrored = tuple(mirrored)

    def encode(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        mu, logvar = {}, {}
        for a, encoder in self.encoders.items():
            mu[a], logvar[a] = encoder(x)
            if a in self.mirrored:
                mu_m, lv_m = encoder(x.flip(-1))
                mu[a], logvar[a] = (mu[a] + mu_m) / 2, (logvar[a] + lv_m) / 2
        return mu, logvar


class SharedTrunkAutoencoder(CodeBase):
    """One shared conv trunk, then a fully connected branch per sub-code (Halawa et al.'s layout)."""

    def __init__(self, config: ModelConfig, depth: int = 0, branch_dim: int = 256, decoder_depth: int = 0):
        super().__init__(config, decoder_depth)
        self.trunk = ConvTrunk(config.channels, depth)
        self.branches = nn.ModuleDict({
            a: nn.Sequential(nn.Linear(self.trunk.out_features, branch_dim), nn.SiLU(), nn.Linear(branch_dim, 2 * d))
            for a, d in config.latents.items()
        })

    def encode(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        h = self.trunk(x)
        mu, logvar = {}, {}
        for a, branch in self.branches.items():
            m, lv = branch(h).chunk(2, dim=1)
            mu[a], logvar[a] = m, lv.clamp(-10, 10)
        return mu, logvar
