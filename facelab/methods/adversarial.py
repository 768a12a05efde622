"""Adversarial disentangling (after Halawa et al.): a shared encoder with an expression branch and a
branch per other sub-code; a classifier C_exp on z_exp; an adversary per other sub-code (C_adv)
trained, on its own optimizer step, to recognise the expression from that code, while the encoder
is trained to make C_adv's output uniform (to maximise its entropy).

Loss of the model step: β1·reconstruction + β2·CE(C_exp(z_exp)) − β3·entropy(C_adv(z_other)) (+ an
optional KL). The paper found β1 = 0 best for recognition alone; the app needs a decoder, so it
defaults to 1 here. C_adv's accuracy near chance while training is the sign of success.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .. import losses as L
from ..config import ConfigError
from ..models import reparameterize
from ..models.network import SharedTrunkAutoencoder
from . import register
from .base import Method, Stage, Step

TARGET = "expression"  # the labelled sub-code; every other sub-code gets an adversary


@dataclass
class AdversarialOptions:
    epochs: int = 20
    depth: int = 0  # extra 3×3 convs per stage in the shared trunk
    branch_dim: int = 256  # hidden width of each sub-code's fully connected branch
    adversary_hidden: int = 64  # hidden width of each adversary (an MLP: a linear one is easy to fool)
    decoder_depth: int = 0
    beta1: float = 1.0  # reconstruction (summed over pixels)
    beta2: float = 100.0  # expression cross-entropy of C_exp on z_exp
    beta3: float = 100.0  # entropy of C_adv on the other codes (maximised)
    beta_kl: float = 0.0  # optional KL of every code to N(0, I) (0: a plain autoencoder)
    adversary_lr_scale: float = 1.0


def _validate(config) -> None:
    if TARGET not in config.latents or len(config.latents) < 2:
        raise ConfigError(f"adversarial needs an 'expression' sub-code and at least one other, got {config.latents}")
    if config.options.epochs < 0:
        raise ConfigError("epochs must be >= 0")


def build(config) -> SharedTrunkAutoencoder:
    o = config.options
    net = SharedTrunkAutoencoder(config, depth=o.depth, branch_dim=o.branch_dim, decoder_depth=o.decoder_depth)
    n_classes = len(config.expressions)
    net.adversaries = nn.ModuleDict({
        a: nn.Sequential(nn.Linear(d, o.adversary_hidden), nn.SiLU(), nn.Linear(o.adversary_hidden, n_classes))
        for a, d in config.latents.items() if a != TARGET
    })
    return net


def _codes(net, x, beta_kl):
    mu, logvar = net.encode(x)
    z = {a: reparameterize(mu[a], logvar[a]) if beta_kl > 0 else mu[a] for a in mu}
    return z, mu, logvar


def adversary_loss(net, batch: dict) -> dict:
    """C_adv learns to read the expression from each other sub-code (the codes are held fixed)."""
    mu, _ = net.encode(batch["image"])
    terms, total = {}, 0.0
    for a, critic in net.adversaries.items():
        logits = critic(mu[a].detach())
        ce = L.labelled_cross_entropy(logits, batch[TARGET])
        total = total + ce
        terms[f"{a}_cross_entropy"] = ce
        terms[f"{a}_accuracy"] = L.labelled_accuracy(logits, batch[TARGET])
    return {"loss": total, **terms}


def model_loss(o: AdversarialOptions):
    def loss(net, batch: dict) -> dict:
        x = batch["image"]
        z, mu, logvar = _codes(net, x, o.beta_kl)
        rec = L.reconstruction(net.decode(net.join(z)), x)
        logits = net.classify(z[TARGET])
        ce = L.labelled_cross_entropy(logits, batch[TARGET])
        terms = {"reconstruction": rec, "cross_entropy": ce, "accuracy": L.labelled_accuracy(logits, batch[TARGET])}
        known = batch[TARGET] != L.MISSING
        entropy = 0.0
        for a, critic in net.adversaries.items():
            # only the encoder is stepped here: the critic's weights take no part in this optimizer
            h = L.mean_entropy(critic(z[a])[known]) if known.any() else z[a].sum() * 0.0
            terms[f"{a}_adversary_entropy"] = h
            entropy = entropy + h
        total = o.beta1 * rec + o.beta2 * ce - o.beta3 * entropy
        if o.beta_kl > 0:
            terms["kl"] = L.total_kl(mu, logvar)
            total = total + o.beta_kl * terms["kl"]
        return {"loss": total, **terms}

    return loss


def stages(net, config, train_config, fine_tune: bool = False):
    o = config.options
    adversary = list(net.adversaries.parameters())
    ids = {id(p) for p in adversary}
    yield Stage("adversarial", o.epochs, steps={
        "adversary": Step(lambda: adversary, adversary_loss, lr_scale=o.adversary_lr_scale),
        "model": Step(lambda: [p for p in net.parameters() if id(p) not in ids and p.requires_grad], model_loss(o)),
    })


def summary(config) -> str:
    o = config.options
    others = ", ".join(a for a in config.latents if a != TARGET)
    return (f"Adversarial disentangling (after Halawa et al.): a shared conv encoder "
            f"({'-'.join(map(str, config.channels))}{f', +{o.depth} conv(s) per stage' if o.depth else ''}) with one "
            f"fully connected branch per sub-code; a linear classifier C_exp on z_expression; an MLP adversary C_adv "
            f"on each other code ({others}) trained on its own optimizer step to recognise the expression, while the "
            f"encoder maximises C_adv's output entropy. Model loss: {o.beta1}·reconstruction + {o.beta2}·CE(C_exp) − "
            f"{o.beta3}·entropy(C_adv){f' + {o.beta_kl}·KL' if o.beta_kl else ''}; the codes are "
            f"fused (FC + ReLU) and decoded.")


register(Method("adversarial", AdversarialOptions, build, stages, summary,
                follows="Halawa et al., adversarial disentangling of expression", validate=_validate))
