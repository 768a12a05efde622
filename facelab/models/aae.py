"""An adversarial autoencoder whose code z is split into named attribute sub-codes by a small
invertible-by-training map (after Browatzki & Wallraven).

    image ──E──▶ z ──Φ──▶ f = (f_a for a in config.latents) ──Φ⁻¹──▶ z ──G──▶ image

E and G are the conv trunk and decoder every facelab model uses; Φ and Φ⁻¹ are two fully connected
layers each; D_z (three fully connected layers on z) and D_x (a DCGAN-style conv discriminator on
images) are the two critics of adversarial training. Towards the rest of facelab the network is a
:class:`~facelab.models.network.FaceNetwork` whose sub-codes are f's parts: ``encode`` is
Φ(E(x)) split by name, ``decode(join(f))`` is G(Φ⁻¹(f)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import ConvTrunk, Decoder, critic_layers
from .network import CodePlumbing

if TYPE_CHECKING:
    from ..leak_nulling import Nulling

#: ``encode``'s log-variance: the codes are point estimates (σ ≈ 5e-5), not posteriors.
POINT_LOGVAR = -20.0


def mlp(sizes: list[int], activation=nn.LeakyReLU, slope: float | None = 0.2) -> nn.Sequential:
    """Fully connected layers of ``sizes`` (in, hidden…, out) with an activation between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation(slope) if slope is not None else activation())
    return nn.Sequential(*layers)


class LatentDiscriminator(nn.Module):
    """D_z: three fully connected layers, z → one logit (is this z a prior sample?)."""

    def __init__(self, dim: int, hidden: int = 256):
        super().__init__()
        self.net = mlp([dim, hidden, hidden, 1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


class ImageDiscriminator(nn.Module):
    """D_x, DCGAN-style: strided 4×4 convolutions with leaky ReLUs halve the resolution per stage
    (normalised after the first), then one logit (is this image a real face?). GroupNorm, as in
    the rest of facelab, instead of DCGAN's BatchNorm: real and fake batches are scored apart."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        self.conv = nn.Sequential(*critic_layers(channels))
        self.out = nn.Linear(channels[-1] * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv(x).flatten(1)).squeeze(1)


class AttributeSplitAAE(CodePlumbing, nn.Module):
    """E, G, Φ, Φ⁻¹, the heads and both critics; see the module docstring.

    ``z_dim`` 0 means the size of f (the sum of ``config.latents``: 99 at 3 + 32 + 32 + 32, the
    paper's size). ``map_hidden`` is the hidden width of Φ and Φ⁻¹.
    """

    def __init__(self, config: ModelConfig, z_dim: int = 0, map_hidden: int = 256, encoder_depth: int = 0,
                 decoder_depth: int = 0, critic_hidden: int = 256, decoder_refine: int = 0, nulling: bool = False,
                 encoder_channels: tuple[int, ...] = ()):
        super().__init__()
        self.config = config
        self.z_dim = int(z_dim) or config.latent_dim
        trunk = ConvTrunk(tuple(encoder_channels) or config.channels, encoder_depth)
        self.encoder = nn.Sequential(trunk, nn.Linear(trunk.out_features, self.z_dim))
        self.generator = Decoder(config.channels, self.z_dim, depth=decoder_depth, refine=decoder_refine)
        self.phi = mlp([self.z_dim, map_hidden, config.latent_dim])
        self.phi_inv = mlp([config.latent_dim, map_hidden, self.z_dim])
        self.add_code_heads(config)
        self.latent_critic = LatentDiscriminator(self.z_dim, critic_hidden)
        self.image_critic = ImageDiscriminator(config.channels)
        if nulling:  # f ← f @ null_weight + null_bias after Φ (facelab.leak_nulling); the identity until fitted
            self.register_buffer("null_weight", torch.eye(config.latent_dim))
            self.register_buffer("null_bias", torch.zeros(config.latent_dim))

    # ---- the FaceNetwork interface (join, split, classify: CodePlumbing) ------------------
    def encode(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        f = self.split(self.nulled(self.phi(self.encoder(x))))
        return f, {a: torch.full_like(v, POINT_LOGVAR) for a, v in f.items()}

    def nulled(self, f: torch.Tensor) -> torch.Tensor:
        """Φ's output with the fitted leak nulling applied (unchanged without one)."""
        if not hasattr(self, "null_weight"):
            return f
        return f @ self.null_weight.to(f.dtype) + self.null_bias.to(f.dtype)

    def set_nulling(self, projections: dict[str, "Nulling"]) -> None:
        """Install per-sub-code :class:`facelab.leak_nulling.Nulling` results as one block-diagonal map
        (sub-codes without one stay as they are)."""
        bounds = self.config.slices()
        weight = torch.eye(self.config.latent_dim, dtype=torch.float64)
        bias = torch.zeros(self.config.latent_dim, dtype=torch.float64)
        for a, n in projections.items():
            p, m = torch.as_tensor(n.projection), torch.as_tensor(n.mean)
            weight[bounds[a], bounds[a]] = p
            bias[bounds[a]] = m - m @ p
        self.null_weight.copy_(weight.to(self.null_weight))
        self.null_bias.copy_(bias.to(self.null_bias))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        # Φ⁻¹ learnt the nulled codes only: an edit along a removed direction (a slider) is taken out first
        return self.generator(self.phi_inv(self.nulled(f)))

    # ---- the autoencoder's own code z -----------------------------------------------------
    def encode_z(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode_z(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def autoencoder(self) -> list[nn.Module]:
        return [self.encoder, self.generator]

    def mapping(self) -> list[nn.Module]:
        return [self.phi, self.phi_inv, self.heads]

    def critics(self) -> list[nn.Module]:
        return [self.latent_critic, self.image_critic]
