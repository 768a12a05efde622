"""DisVAE: a frozen, pre-trained identity encoder plus an expression encoder, recoupled by a
fully connected fusion layer before a shared decoder.

Stage 1 trains :class:`IdentityVAE` (identity encoder → z_id → decoder). Stage 2 builds
:class:`DisVAE` from it: the identity encoder is copied and frozen, the decoder's conv part is
initialised from stage 1, and a new expression encoder (with a classifier on z_exp) is learned.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import Decoder, Encoder, reparameterize


class IdentityVAE(nn.Module):
    """Stage 1: x → z_id → image. The fusion-sized layer keeps its decoder shape-compatible with DisVAE."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        z_id = config.latents["identity"]
        self.identity_encoder = Encoder(config.channels, z_id)
        self.fusion = nn.Sequential(nn.Linear(z_id, config.fusion_dim), nn.ReLU())
        self.decoder = Decoder(config.channels, config.fusion_dim)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.identity_encoder(x)
        z = reparameterize(mu, logvar)
        return {"recon": self.decoder(self.fusion(z)), "mu": {"identity": mu}, "logvar": {"identity": logvar}}


class DisVAE(nn.Module):
    """Stage 2 and the inference model: x → (z_id, z_exp) → fusion (FC + ReLU) → image.

    ``code_mean``/``code_std`` are per-dimension statistics of the training codes, saved with the
    weights so the app can range its sliders and rank dimensions by variance.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        z_id, z_exp = config.latents["identity"], config.latents["expression"]
        self.identity_encoder = Encoder(config.channels, z_id)
        self.expression_encoder = Encoder(
            config.expression_channels or config.channels, z_exp, depth=config.expression_depth
        )
        self.classifier = nn.Linear(z_exp, len(config.expressions))
        self.fusion = nn.Sequential(nn.Linear(z_id + z_exp, config.fusion_dim), nn.ReLU())
        self.decoder = Decoder(config.channels, config.fusion_dim)
        self.register_buffer("code_mean", torch.zeros(config.latent_dim))
        self.register_buffer("code_std", torch.ones(config.latent_dim))

    @classmethod
    def from_identity_vae(cls, stage1: IdentityVAE, config: ModelConfig) -> "DisVAE":
        model = cls(config)
        model.identity_encoder.load_state_dict(stage1.identity_encoder.state_dict())
        model.decoder.load_state_dict(stage1.decoder.state_dict())
        model.identity_encoder.requires_grad_(False)
        return model

    def encode(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(B,3,S,S) → per-attribute posterior means and log-variances (z_exp's averaged over the
        face and its mirror image when ``config.mirror_expression``)."""
        mu_id, lv_id = self.identity_encoder(x)
        mu_exp, lv_exp = self.expression_encoder(x)
        if self.config.mirror_expression:
            mu_m, lv_m = self.expression_encoder(x.flip(-1))
            mu_exp, lv_exp = (mu_exp + mu_m) / 2, (lv_exp + lv_m) / 2
        return {"identity": mu_id, "expression": mu_exp}, {"identity": lv_id, "expression": lv_exp}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) concatenated code, ordered as ``config.latents`` → (B,3,S,S)."""
        return self.decoder(self.fusion(z))

    def join(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([parts[name] for name in self.config.latents], dim=1)

    def classify(self, z_exp: torch.Tensor) -> torch.Tensor:
        """Expression logits from the expression code alone."""
        return self.classifier(z_exp)

    def forward(self, x: torch.Tensor) -> dict:
        mu, logvar = self.encode(x)
        # The identity encoder is frozen: use its mean, as the paper feeds a fixed identity code.
        z = {"identity": mu["identity"], "expression": reparameterize(mu["expression"], logvar["expression"])}
        return {
            "recon": self.decode(self.join(z)),
            "logits": self.classify(z["expression"]),
            "mu": mu,
            "logvar": logvar,
        }
