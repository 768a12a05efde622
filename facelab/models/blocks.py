"""Convolutional encoder and decoder shared by every model.

Shapes: images are (B, 3, S, S) in [0, 1] with S = 4·2^k; each conv stage halves (encoder) or
doubles (decoder) the resolution, so ``len(channels)`` stages map S×S to 4×4.
GroupNorm rather than BatchNorm keeps single-image inference identical to batch inference.
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(channels: int, per_group: int | None = None) -> nn.GroupNorm:
    """GroupNorm with 8 groups (fewer for thin layers), or groups of ``per_group`` channels: a layer
    widened from a trained one keeps its old channels' groups, so its old channels normalise as before."""
    if per_group is None:
        return nn.GroupNorm(min(8, channels), channels)
    return nn.GroupNorm(channels // per_group, channels)


def norm_group_size(base: int) -> int:
    """Channels per group of ``_norm(base)``, the group size a widened copy of that layer keeps."""
    return base // min(8, base)


def critic_layers(channels: tuple[int, ...]) -> list[nn.Module]:
    """An image critic's trunk: strided 4×4 convolutions with leaky ReLUs, one stage per entry of
    ``channels``, each halving the resolution, normalised after the first (DCGAN's layout, with
    GroupNorm as everywhere in facelab: real and fake batches are scored apart)."""
    layers, c_in = [], 3
    for i, c_out in enumerate(channels):
        layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
        if i > 0:
            layers.append(_norm(c_out))
        layers.append(nn.LeakyReLU(0.2))
        c_in = c_out
    return layers


class ConvTrunk(nn.Module):
    """(B, 3, S, S) → (B, channels[-1]·4·4) features: strided 4×4 convs halve the resolution per stage.

    ``depth`` adds that many 3×3 convolutions after each downsampling stage: recognising
    expressions in real photos needs more depth than reconstructing them does.
    """

    def __init__(self, channels: tuple[int, ...], depth: int = 0):
        super().__init__()
        layers, c_in = [], 3
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), _norm(c_out), nn.SiLU()]
            for _ in range(depth):
                layers += [nn.Conv2d(c_out, c_out, 3, padding=1), _norm(c_out), nn.SiLU()]
            c_in = c_out
        self.conv = nn.Sequential(*layers)
        self.out_features = c_in * 4 * 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).flatten(1)


class Encoder(nn.Module):
    """(B, 3, S, S) → a Gaussian posterior's mean and log-variance, each (B, latent).

    Depth 0 is the original DisVAE encoder, layer for layer (its ``conv``/``head`` names are kept).
    ``refine`` adds that many :class:`ResidualBlock` after each downsampling stage, kept apart from
    ``conv`` (whose indices are the checkpoints' names). They start as the identity, so they can be
    added to a trained encoder (``train --init``): a trained swap model's codes, optimised per image
    with its decoder fixed, reconstruct 1.3 dB better than its 4-conv encoders' (swap-synthetic's
    LIMITS; one block per stage for 2 epochs closed little of that).
    """

    def __init__(self, channels: tuple[int, ...], latent: int, depth: int = 0, refine: int = 0):
        super().__init__()
        trunk = ConvTrunk(channels, depth)
        self.conv = trunk.conv
        self.head = nn.Linear(trunk.out_features, 2 * latent)
        # no parameters (and no state-dict keys) unless asked for, so older checkpoints load strictly
        self.refine = nn.ModuleList(nn.Sequential(*(ResidualBlock(c) for _ in range(refine))) for c in channels) \
            if refine > 0 else nn.ModuleList()
        self.stage_layers = len(self.conv) // len(channels)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.refine):
            return self.conv(x)
        for i, layer in enumerate(self.conv):
            x = layer(x)
            if (i + 1) % self.stage_layers == 0:
                x = self.refine[i // self.stage_layers](x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.features(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)


class ResidualBlock(nn.Module):
    """x + conv(SiLU(norm(conv(x)))), its last convolution zero-initialised.

    Why zero: a block added to a trained decoder then starts as the identity, so the grown decoder
    draws exactly what the trained one drew and fine-tuning only adds detail (``train --init``).
    """

    def __init__(self, channels: int, per_group: int | None = None):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), _norm(channels, per_group), nn.SiLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Decoder(nn.Module):
    """(B, in_dim) → (B, 3, S, S) in [0, 1]; mirrors :class:`ConvTrunk`.

    ``depth`` adds that many 3×3 convolutions after each upsampling stage (depth 0 is the original
    DisVAE decoder, layer for layer): sharper eyes and mouths cost decoder capacity. ``refine`` adds
    that many :class:`ResidualBlock` at full resolution before the output convolution, where the
    detail is drawn; they start as the identity, so they can be added to a trained decoder.
    ``mid_refine`` adds that many after each lower-resolution upsampling stage (8, 16, 32 px of a
    64-px decoder), also starting as the identity: where the eyes' and mouth's layout is formed.
    ``min_channels`` widens every stage thinner than that (the last, full-resolution stages have
    the fewest channels, yet draw the eyes); a widened stage keeps the group size of its norm, so
    ``training.load_grown`` can widen a trained decoder without changing what it draws.
    """

    def __init__(self, channels: tuple[int, ...], in_dim: int, depth: int = 0, refine: int = 0, mid_refine: int = 0,
                 min_channels: int = 0):
        super().__init__()
        base = tuple(reversed(channels))
        rev = tuple(max(c, min_channels) for c in base)
        groups = [norm_group_size(b) if c != b else None for b, c in zip(base, rev)]  # per stage: widened keeps its groups
        self.start = rev[0]
        self.fc = nn.Sequential(nn.Linear(in_dim, rev[0] * 4 * 4), nn.SiLU())
        layers, stage_ends, mid = [], [], []
        outs = rev[1:] + (rev[-1],)
        for k, (c_in, c_out, g) in enumerate(zip(rev, outs, groups[1:] + groups[-1:])):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), _norm(c_out, g), nn.SiLU()]
            for _ in range(depth):
                layers += [nn.Conv2d(c_out, c_out, 3, padding=1), _norm(c_out, g), nn.SiLU()]
            if k < len(outs) - 1 and mid_refine > 0:
                stage_ends.append(len(layers))
                mid.append(nn.Sequential(*(ResidualBlock(c_out, g) for _ in range(mid_refine))))
        layers += [nn.Conv2d(rev[-1], 3, 3, padding=1), nn.Sigmoid()]
        self.deconv = nn.Sequential(*layers)  # its indices are the checkpoints' names: refine lives apart
        self.refine = nn.Sequential(*(ResidualBlock(rev[-1], groups[-1]) for _ in range(refine)))  # empty: the identity
        self.refine_at = len(layers) - 2  # before the output convolution and its sigmoid
        # no parameters (and no state-dict keys) unless asked for, so older checkpoints load strictly
        self.mid_refine = nn.ModuleList(mid)
        self.mid_at = dict(zip(stage_ends, range(len(mid))))  # layer index that follows a stage → its blocks

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.fc(h).view(-1, self.start, 4, 4)
        for i, layer in enumerate(self.deconv):
            if i in self.mid_at:
                h = self.mid_refine[self.mid_at[i]](h)
            if i == self.refine_at:
                h = self.refine(h)
            h = layer(h)
        return h


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Sample z ~ N(mu, exp(logvar)) in training; the mean at evaluation, so inference is deterministic."""
    if not torch.is_grad_enabled():
        return mu
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
