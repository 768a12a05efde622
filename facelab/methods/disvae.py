"""DisVAE: an identity encoder and an expression encoder recoupled by a fully connected fusion
layer before a shared decoder, a linear expression classifier on z_exp.

``disvae`` trains in two stages as the paper does: (1) an identity VAE (identity encoder → z_id →
decoder), by default reconstructing the same person's neutral face; (2) the identity encoder
frozen, the expression branch, fusion and decoder. ``disvae-e2e`` is the same architecture trained
in one stage, both encoders together, with no identity pre-training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import losses as L
from ..config import ConfigError
from ..models import SplitAutoencoder, reparameterize
from . import register
from .base import Method, Stage, Step, trainable

LEGACY_KEYS = {"identity_encoder.": "encoders.identity.", "expression_encoder.": "encoders.expression.",
               "classifier.": "heads.expression."}


@dataclass
class DisVAEOptions:
    expression_channels: tuple[int, ...] | None = None  # None: same channels as the identity encoder
    expression_depth: int = 0  # extra 3×3 convs per stage in the expression encoder
    # z_exp is the mean of the encoder's posteriors for the face and its mirror image (flip test-time
    # augmentation inside the model, so training, evaluation and the app read expressions alike)
    mirror_expression: bool = False
    identity_epochs: int = 10  # stage 1
    disvae_epochs: int = 10  # stage 2
    # KL weights of z_id (stage 1) and z_exp (stage 2); 0.05/0.1 are the bundled synthetic-disvae's
    beta_identity: float = 0.05
    beta_expression: float = 0.1
    classifier_weight: float = 100.0  # cross-entropy weight (reconstruction is summed over pixels)
    identity_target: str = "neutral"  # "neutral": stage 1 reconstructs the neutral face where known; "input"


@dataclass
class DisVAEEndToEndOptions:
    expression_channels: tuple[int, ...] | None = None
    expression_depth: int = 0
    mirror_expression: bool = False
    epochs: int = 20
    beta_identity: float = 0.05
    beta_expression: float = 0.1
    classifier_weight: float = 100.0


def _validate(config) -> None:
    o = config.options
    missing = {"identity", "expression"} - set(config.latents)
    if missing:
        raise ConfigError(f"{config.method} needs latents 'identity' and 'expression' (missing: {', '.join(missing)})")
    extra = set(config.latents) - {"identity", "expression"}
    if extra:  # its losses and two-stage schedule are written for exactly these two sub-codes
        raise ConfigError(f"{config.method} has exactly the sub-codes 'identity' and 'expression' "
                          f"(remove {', '.join(sorted(extra))}; the swap and adversarial methods take more)")
    if o.expression_channels is not None:
        o.expression_channels = tuple(o.expression_channels)
        if len(o.expression_channels) != len(config.channels):
            raise ConfigError(f"expression_channels needs {len(config.channels)} stages like channels, "
                              f"got {o.expression_channels}")
    if o.expression_depth < 0:
        raise ConfigError(f"expression_depth must be >= 0, got {o.expression_depth}")
    if getattr(o, "identity_target", "input") not in ("neutral", "input"):
        raise ConfigError(f"identity_target must be 'neutral' or 'input', got {o.identity_target!r}")


def build(config) -> SplitAutoencoder:
    o = config.options
    return SplitAutoencoder(config, encoders={"expression": (o.expression_channels or config.channels,
                                                             o.expression_depth)},
                            mirrored=("expression",) if o.mirror_expression else ())


class IdentityVAE(nn.Module):
    """Stage 1: x → z_id → image, sharing the network's identity encoder and decoder (its own
    fusion layer is discarded after the stage, as the paper learns a new one in stage 2)."""

    def __init__(self, network: SplitAutoencoder):
        super().__init__()
        self.encoder, self.decoder = network.encoders["identity"], network.decoder
        self.fusion = nn.Sequential(nn.Linear(network.config.latents["identity"], network.config.fusion_dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> dict:
        mu, logvar = self.encoder(x)
        return {"recon": self.decoder(self.fusion(reparameterize(mu, logvar))), "mu": mu, "logvar": logvar}


def identity_vae_loss(beta: float, target: str):
    def loss(module: IdentityVAE, batch: dict) -> dict:
        x = batch["image"]
        out = module(x)
        rec = L.reconstruction(out["recon"], batch.get("target", x) if target == "neutral" else x)
        kl = L.kl_divergence(out["mu"], out["logvar"])
        return {"loss": rec + beta * kl, "reconstruction": rec, "kl_identity": kl}

    return loss


def disvae_loss(beta_identity: float | None, beta_expression: float, classifier_weight: float):
    """Reconstruction + β·KL per trained sub-code + λ·cross-entropy of the head on z_exp.
    ``beta_identity=None``: z_id is frozen (its mean is used, as the paper feeds a fixed identity)."""

    def loss(net: SplitAutoencoder, batch: dict) -> dict:
        x = batch["image"]
        mu, logvar = net.encode(x)
        z = {"identity": mu["identity"] if beta_identity is None else reparameterize(mu["identity"], logvar["identity"]),
             "expression": reparameterize(mu["expression"], logvar["expression"])}
        rec = L.reconstruction(net.decode(net.join(z)), x)
        kl_exp = L.kl_divergence(mu["expression"], logvar["expression"])
        logits = net.classify(z["expression"])
        ce = L.labelled_cross_entropy(logits, batch["expression"])
        terms = {"reconstruction": rec, "kl_expression": kl_exp, "cross_entropy": ce,
                 "accuracy": L.labelled_accuracy(logits, batch["expression"])}
        total = rec + beta_expression * kl_exp + classifier_weight * ce
        if beta_identity is not None:
            terms["kl_identity"] = L.kl_divergence(mu["identity"], logvar["identity"])
            total = total + beta_identity * terms["kl_identity"]
        return {"loss": total, **terms}

    return loss


def two_stage(net: SplitAutoencoder, config, train_config, fine_tune: bool = False):
    o = config.options
    if not fine_tune:  # a fine-tune starts from trained weights: no identity pre-training
        stage1 = IdentityVAE(net)
        yield Stage("identity_vae", o.identity_epochs, module=stage1,
                    steps={"model": Step(trainable(stage1), identity_vae_loss(o.beta_identity, o.identity_target))})
    yield Stage("disvae", o.disvae_epochs, setup=lambda: net.encoders["identity"].requires_grad_(False),
                steps={"model": Step(trainable(net), disvae_loss(None, o.beta_expression, o.classifier_weight))})


def end_to_end(net: SplitAutoencoder, config, train_config, fine_tune: bool = False):
    o = config.options
    yield Stage("disvae_e2e", o.epochs,
                steps={"model": Step(trainable(net), disvae_loss(o.beta_identity, o.beta_expression,
                                                                 o.classifier_weight))})


def _architecture(config) -> str:
    o = config.options
    text = (f"Identity encoder and decoder conv channels {'-'.join(map(str, config.channels))}; expression encoder "
            f"{'-'.join(map(str, o.expression_channels or config.channels))}")
    if o.expression_depth:
        text += f" with {o.expression_depth} extra 3×3 conv(s) per stage"
    if o.mirror_expression:
        text += "; z_exp is the mean of the expression encoder's outputs for the face and its mirror image"
    return text + "."


def summary_two_stage(config) -> str:
    o = config.options
    neutral = " with the same face at neutral expression as its reconstruction target" \
        if o.identity_target == "neutral" else ""
    return (f"DisVAE in two stages: (1) an identity VAE (identity encoder → z_id → decoder) pre-trained on all "
            f"training images{neutral} (KL weight β={o.beta_identity}); (2) the identity "
            f"encoder frozen, an expression encoder → z_exp trained with a linear expression classifier on z_exp "
            f"(cross-entropy × {o.classifier_weight}) and a KL term (β={o.beta_expression}); z_id and z_exp are recoupled by a fully connected fusion layer + ReLU and decoded to "
            f"reconstruct the input. {_architecture(config)}")


def summary_end_to_end(config) -> str:
    o = config.options
    return (f"DisVAE trained end to end: identity and expression encoders, fusion layer (FC + ReLU) and decoder "
            f"learned together in one stage, with no identity pre-training: reconstruction + "
            f"KL on z_id (β={o.beta_identity}) and z_exp (β={o.beta_expression}) + a linear expression classifier "
            f"on z_exp (cross-entropy × {o.classifier_weight}). {_architecture(config)}")


PAPER = "DisVAE (disentangled VAE with a pre-trained identity encoder and fusion-layer recoupling)"

register(Method("disvae", DisVAEOptions, build, two_stage, summary_two_stage, follows=PAPER,
                validate=_validate, legacy_keys=LEGACY_KEYS))
register(Method("disvae-e2e", DisVAEEndToEndOptions, build, end_to_end, summary_end_to_end, follows=PAPER,
                validate=_validate))
