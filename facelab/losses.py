"""Losses, one small class per training objective, picked by name from :data:`LOSSES`.

Call contract: ``loss(model, batch) -> dict`` with a scalar ``"loss"`` to back-propagate and
the named terms (floats-as-tensors) to log. A term whose label is missing for every sample in a
batch contributes zero, so mixed datasets can share batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .labels import MISSING


def reconstruction(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error summed over pixels, averaged over the batch (a Gaussian decoder's NLL up to scale)."""
    return F.mse_loss(x_hat, x, reduction="sum") / x.shape[0]


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, σ²) ‖ N(0, I)) summed over dimensions, averaged over the batch."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]


def labelled_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over samples whose label is known (label != MISSING); 0 when none are."""
    known = labels != MISSING
    if not known.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known], labels[known])


class IdentityVAELoss:
    """Stage 1 of DisVAE: reconstruct (the neutral face of) the input from z_id, plus β·KL."""

    def __init__(self, beta: float = 1.0, target: str = "neutral"):
        self.beta, self.target = beta, target

    def __call__(self, model, batch) -> dict[str, torch.Tensor]:
        x = batch["image"]
        target = batch.get("target", x) if self.target == "neutral" else x
        out = model(x)
        rec = reconstruction(out["recon"], target)
        kl = kl_divergence(out["mu"]["identity"], out["logvar"]["identity"])
        return {"loss": rec + self.beta * kl, "reconstruction": rec, "kl_identity": kl}


class DisVAELoss:
    """Stage 2 of DisVAE: reconstruction + β·KL(z_exp) + λ·cross-entropy of the classifier on z_exp."""

    def __init__(self, beta: float = 1.0, classifier_weight: float = 100.0):
        self.beta, self.classifier_weight = beta, classifier_weight

    def __call__(self, model, batch) -> dict[str, torch.Tensor]:
        x = batch["image"]
        out = model(x)
        rec = reconstruction(out["recon"], x)
        kl = kl_divergence(out["mu"]["expression"], out["logvar"]["expression"])
        ce = labelled_cross_entropy(out["logits"], batch["expression"])
        known = batch["expression"] != MISSING
        acc = (out["logits"].argmax(1) == batch["expression"])[known].float().mean() if known.any() else ce * 0
        return {
            "loss": rec + self.beta * kl + self.classifier_weight * ce,
            "reconstruction": rec,
            "kl_expression": kl,
            "cross_entropy": ce,
            "accuracy": acc,
        }


LOSSES = {"identity_vae": IdentityVAELoss, "disvae": DisVAELoss}
