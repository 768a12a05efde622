"""Attribute split of an adversarial autoencoder (after Browatzki & Wallraven): pose, identity,
expression and style — or whatever sub-codes ``config.latents`` names — read from one code.

- **Adversarial autoencoder** (stage ``autoencoder``): encoder E → z → generator G, ℓ1
  reconstruction; a latent critic D_z (three fully connected layers) pushes E's codes towards the
  prior (a standard normal by default), an image critic D_x (DCGAN-style) scores reconstructions
  and G(z*) of prior samples z*. The critics take their own optimizer step first, then E and G
  minimise λ_AE·ℓ1 + (1 − λ_AE)·(non-saturating adversarial terms).
- **Φ and Φ⁻¹** (stage ``mapping``, the autoencoder fixed): Φ maps z to f = (f_a for each sub-code),
  Φ⁻¹ maps f back (two fully connected layers each), with ℓ1 between Φ⁻¹(Φ(z)) and z. Supervised
  task losses on f: ℓ1 on pose (yaw, pitch, roll in degrees / ``pose_scale``); triplet losses for
  identity (same person), expression (distance between graded label vectors: class and, where
  known, intensity) and style (distance between the generator's background, light and noise);
  cross-entropy of the expression head on f_expression.
- **Attribute cycle-consistency**: one sub-code is permuted across the batch (f*), decoded
  G(Φ⁻¹(f*)) and re-encoded Φ(E(·)), with ℓ1 against f*; **cycle-augmentation**: the generated
  images carry the permuted labels under the task losses.
- Optional stage ``joint``: everything fine-tuned together (critics too).

Which label supervises which sub-code is :data:`SUPERVISION`, here and nowhere else; a sub-code
the table does not name is shaped by the cycle losses alone. Labels come from the batch:
``pose`` and ``style`` from the generator's factors (:func:`facelab.synthetic.factor_labels`,
added to the training set by :func:`prepare_data`), ``identity``/``expression``/``intensity``
from every dataset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from .. import losses as L
from ..config import ConfigError
from ..models.aae import AttributeSplitAAE
from . import register
from .base import Method, Stage, Step, trainable

#: sub-code → (batch keys of its labels, kind of supervision)
SUPERVISION = {
    "pose": (("pose",), "regression"),
    "identity": (("identity",), "triplet"),
    "expression": (("expression", "intensity"), "graded_triplet"),
    "style": (("style",), "distance_triplet"),
}
PRIORS = ("normal", "uniform")


@dataclass
class FourWayOptions:
    # stage 0 (optional, not in the paper): E and Φ trained on the task losses alone, no decoder. The
    # autoencoder's objective keeps expression and pose out of z when E starts from scratch
    # (bench/fourway_encoder_capacity.py: the same trunk, supervised, reads them well); starting E
    # from features that read them lets the later stages keep them
    warmup_epochs: int = 0
    # the code readouts (``code_readout_weight``, below) in stage 0 too, at this weight (0: stage 0 has the task
    # losses only). Stage 0 at encoder depth 1 left the pixel noise out of every sub-code and step 2's readout did not
    # bring it back, while a trunk of that depth supervised on the noise from the start reads it at 0.97
    # (synthetic-fourway's LIMITS)
    warmup_readout_weight: float = 0.0
    autoencoder_epochs: int = 10  # stage 1: the adversarial autoencoder
    mapping_epochs: int = 10  # stage 2: Φ/Φ⁻¹ (and the heads), the autoencoder fixed
    joint_epochs: int = 0  # stage 3 (optional): everything fine-tuned together
    z_dim: int = 0  # size of z; 0: the size of f (the sum of the sub-codes: 99 at 3 + 32 + 32 + 32, the paper's)
    map_hidden: int = 256  # hidden width of Φ and Φ⁻¹
    encoder_depth: int = 0  # extra 3×3 convs per stage in E
    # E's conv widths per stage, when E should be wider than G and D_x (which keep the model's ``channels``);
    # empty: the model's. Plain supervision of a 32-64-128-256 trunk at depth 1 reads expression, intensity and
    # the pixel noise at 0.97 / 0.93 / 0.97 on validation people, the bundled 16-32-64-128 at depth 0 at
    # 0.82 / 0.68 / 0.94 (bench/fourway_ceiling_grid.sh on a lent GPU; synthetic-fourway's LIMITS)
    encoder_channels: tuple[int, ...] = ()
    decoder_depth: int = 0  # extra 3×3 convs per stage in G
    # residual blocks at G's full resolution, before its output convolution (as the swap method's
    # decoder_refine): they start as the identity, so `train --init CKPT --decoder-refine N` grows a
    # trained generator without undoing it. One block changed nothing in 4 joint epochs from the
    # bundled weights, at 50 % more time (synthetic-fourway's LIMITS)
    decoder_refine: int = 0
    critic_hidden: int = 256  # hidden width of D_z
    prior: str = "normal"  # prior of z: "normal" (N(0, I)) or "uniform" (U[-1, 1])
    lambda_ae: float = 0.9  # the paper's weighting: λ·reconstruction + (1 − λ)·adversarial
    # ℓ1 is a mean over pixels (about 0.05 for a fair reconstruction); this brings it to the scale of
    # the adversarial cross-entropies (so 0.05 weighs 5 against their ~1)
    reconstruction_scale: float = 100.0
    latent_adversarial_weight: float = 1.0  # D_z's term (0: a plain autoencoder's code, no prior)
    image_adversarial_weight: float = 1.0  # D_x's terms on reconstructions and on G(prior samples)
    prior_fraction: float = 0.5  # prior samples z* per batch, as a fraction of the batch (each costs a decode)
    critic_lr_scale: float = 1.0
    # Squared error on the pixels where a face differs from its own neutral render (the generator's
    # ``target``; weighted by how much, as the swap method's detail term), added to the autoencoder's
    # reconstruction: an expression changes a few mouth and brow pixels that a mean ℓ1 barely sees,
    # and what z does not hold, Φ cannot split off. 0: the paper's autoencoder. Batches without a
    # neutral target (photos) skip it.
    expression_region_weight: float = 0.0
    # ℓ1 between Φ⁻¹(Φ(z)) and z: decode(f) = G(Φ⁻¹(f)) is only as good as this inverse. After 9
    # mapping epochs on 1,200 faces, weight 1 left ℓ1 0.23 (G(Φ⁻¹(Φ(z))) 29 dB from G(z)), weight 10
    # ℓ1 0.12 (36 dB) with the task losses unchanged
    z_reconstruction_weight: float = 10.0
    pose_weight: float = 1.0
    pose_scale: float = 30.0  # degrees per unit of f_pose: f_pose is (yaw, pitch, roll) / pose_scale
    identity_weight: float = 1.0
    expression_weight: float = 1.0
    style_weight: float = 1.0
    head_weight: float = 1.0  # cross-entropy of the expression head on f_expression
    margin: float = 0.2  # triplet margin (codes L2-normalised: squared distances in [0, 4])
    cycle_weight: float = 1.0  # attribute cycle-consistency
    augmentation_weight: float = 1.0  # task losses on the cycle's generated images (permuted labels)
    cycle_attributes: int = 1  # sub-codes permuted per batch, each one more decode + encode (0: none)
    per_person: int = 4  # images of one person per batch, for the identity triplets (1: plain shuffling)
    # Exact swap targets (the generator only; not in the paper, whose video frames have none): A's f
    # with a partner B's sub-code, decoded G(Φ⁻¹(f)), against the generator's render of A with B's
    # factors of that group (FaceFactors.with_group), ℓ1 on the reconstruction's scale. The cycle
    # only asks that a swap re-encodes consistently; this asks that it looks right. 0: off.
    swap_target_weight: float = 0.0
    swap_target_attributes: int = 1  # sub-codes swapped per batch, each one more decode
    # The same swaps judged by their change (losses.change_consistency, summed squared error): what the
    # partner's sub-code changes in the decoded face, against A's own decode G(Φ⁻¹(f)) (one more
    # decode), must be what the render changes. ℓ1 against the target cannot tell a blurry decoder's
    # error from a swap that draws nothing; in the swap method this lever lifted the swap gain
    # (swap-synthetic's LIMITS). Uses the same targets and sub-code draws; 0: off. On fourway 1
    # diverged and 0.1 helped a little (synthetic-fourway's LIMITS).
    swap_change_weight: float = 0.0
    # Each factor's labels kept out of the other sub-codes (not in the paper): the mean squared
    # correlation, over the batch, between every other sub-code's dimensions and the factor's labels
    # (losses.label_correlation) for pose, expression (graded vectors) and style; identity, a class
    # among hundreds, is left to the triplets. The task losses put a factor into its own sub-code but
    # nothing takes it out of the rest: the linear probe read pitch from z_style at 0.95 after the
    # swap targets x3 (synthetic-fourway's LIMITS), so a swapped-in z_pose was outvoted. 0: off.
    label_decorrelation_weight: float = 0.0
    # Linear probes between sub-codes, kept blind (not in the paper): for every ordered pair of
    # sub-codes (b, a), a ridge regression reading f_a from f_b, solved in closed form on running
    # moments of the codes (over ~50 batches: the evaluation's linear probe, during training), and E
    # and Φ trained to make its predictions uncorrelated with f_a (losses.prediction_correlation, this
    # weight). With the label term above at 30 for an epoch, the evaluation still read pitch from
    # z_style at R² 0.94 while each of its dimensions correlated with pose near the batch noise floor:
    # the factor sits in a low-variance direction, which a solved probe finds at once and gradient
    # steps on a regressor crawl along. Covers identity too and needs no labels. 0: off.
    code_probe_weight: float = 0.0
    # Each factor kept linearly readable from its own sub-code (not in the paper): for the sub-codes with
    # continuous or graded labels (pose; expression as graded label vectors, whose sum is the intensity;
    # style: background, light, noise), a ridge regression from the sub-code to its labels, solved on
    # running moments as the blind probes are, and E and Φ trained to raise the squared correlation of
    # its reading with the labels (losses.prediction_correlation). The triplets only ask that faces
    # with near labels sit near: the weights bundled before this term read intensity from z_expression at
    # R² 0.27 and the pixel noise from z_style at 0.02; two epochs with it ×10 took them to 0.45 and 0.23
    # on validation (synthetic-fourway's LIMITS). 0: off.
    code_readout_weight: float = 0.0
    # Each labelled factor kept out of the other sub-codes by a solved probe (not in the paper): for
    # every factor with continuous or graded labels (as above) and every other sub-code, a ridge
    # regression reading the labels from that sub-code, solved on running moments, and E and Φ
    # trained to make its reading uncorrelated with the labels; every (label column, sub-code) pair
    # weighs the same. The blind probes above average over every dimension of the sub-code they
    # read, so one leaked factor weighs little: with the readouts on, the pixel-noise level was
    # read from z_identity at 0.65 on held-out people, and blind probes ×30 did not move it
    # (synthetic-fourway's LIMITS). 0: off.
    factor_probe_weight: float = 0.0
    # Label columns the factor probes read (e.g. ``yaw pitch roll``; names from :func:`label_columns`;
    # empty: every column). The generator's light is fixed in the image while the head turns, so a face's
    # shading mixes the light with pitch and roll; with the wider encoder pitch was read from z_style at
    # 0.72 after the nulling (synthetic-fourway's LIMITS). Probes on every column moved the factors they
    # blinded into other sub-codes (the same LIMITS); on the pose columns alone, the pressure falls where
    # that leak is.
    factor_probe_columns: tuple[str, ...] = ()
    # Each person kept out of the other sub-codes (not in the paper): for every sub-code but the one with
    # the identity triplets, a table of each training person's running mean code (from the batches
    # before this one, held fixed; PersonMeans) and a running ridge regression reading that mean from
    # the sub-code, solved as the probes above; E and Φ trained to make its reading uncorrelated with
    # the mean. The factor probes cover the labels with continuous or graded values; the person, a
    # class among hundreds, had only the blind probes between sub-codes, and identity was still read
    # from z_style at 0.30 and from z_expression at 0.13 on held-out people (synthetic-fourway's
    # LIMITS). 0: off.
    person_probe_weight: float = 0.0
    # Each person kept apart from every other training person in the person's own sub-code (not in the
    # paper): the cross-entropy of an image's person among all training people seen so far, scored by
    # ``prototype_scale`` × the cosine between the image's code and each person's running mean code (the
    # batches before this one, held fixed; PersonMeans). The batch-hard triplets compare a code with the
    # ~16 people of its batch only: with the leak nulling's floor, the person was read from z_identity at
    # 0.875 on four sets of validation people; with this term ×1, 0.925 (synthetic-fourway's LIMITS). 0: off.
    person_prototype_weight: float = 0.0
    prototype_scale: float = 16.0
    # Label columns the readouts above leave out (e.g. ``noise``; names from :func:`label_columns`). The
    # readouts made the generator's pixel-noise level readable from z_style (−0.04 → 0.85) and it leaked
    # into z_identity (0.65) and z_expression (0.55) on held-out people; the bundled synthetic-fourway skips
    # ``noise`` and nothing reads it any more (its LIMITS).
    readout_skip: tuple[str, ...] = ()
    # With the readouts above, also each graded factor's magnitude (the sum of its label point: the
    # expression's intensity, whatever the class) read as a readout of its own (not in the paper). The
    # evaluation reads intensity with one linear probe across classes; the per-class columns above
    # are mostly which class it is, so intensity weighed little: the bundle read it at 0.51 on
    # validation while its trunk, supervised, reads it at 0.68 (synthetic-fourway's LIMITS).
    readout_magnitude: bool = False
    # The magnitude readout above also weighed on its own, at this weight on top of its share of the readouts'
    # mean (not in the paper; needs ``readout_magnitude``). That share is one shortfall among four: with the
    # readouts ×30 and this at 0, fw36 read intensity from z_expression at 0.866 on validation and 0.845 on held-out
    # people; the bundle of 2026-12-06 (22.5 in step 2, 60 in one more epoch) reads 0.895 and 0.875, and more weight
    # no longer lifts it (synthetic-fourway's LIMITS). 0: its share only.
    magnitude_readout_weight: float = 0.0
    # Leak nulling after training (not in the paper; facelab.leak_nulling): for each sub-code, a fixed
    # projection fitted in closed form on the training set takes out every direction from which a
    # linear reader (discriminant analysis for classes, ridge for continuous labels) reads another
    # sub-code's factor more than this far above chance on held-out training images, iterated as in
    # INLP; then ``nulling_refit`` epochs of Φ⁻¹ and the heads on the nulled codes. The losses above shape
    # each sub-code's main directions and leave traces in the rest: one more joint epoch from the
    # bundle raised the highest other-sub-code reading 0.33 → 0.49 on validation (synthetic-fourway's
    # LIMITS). 0: off.
    leak_threshold: float = 0.0
    nulling_rounds: int = 10  # rounds of removal at most
    nulling_keep: float = 0.5  # never keep less than this share of a sub-code's dimensions
    # a round that would cross that floor removes its strongest directions down to it (without: the round is
    # dropped; in runs/fw24 z_style stopped at 18 of 24 removable dimensions with expression still read at 0.41)
    nulling_fill: bool = False
    nulling_protect: bool = False  # leave the sub-code's own factors' reader directions out of every removal
    # with nulling_protect, also the readers of the sub-code's label points (graded expression vectors: each
    # class's intensity as its own column), which a head on the code may read beyond the class and intensity
    nulling_protect_points: bool = False
    # with nulling_protect, how many leading discriminant directions of each own class factor are left out of
    # every removal (a continuous column keeps its one regression direction). With 8, the leak left in z_identity
    # (0.09 on the nulling's held-out split, fw27) lay along the person's protected readers, so a lower floor
    # removed nothing more there (synthetic-fourway's LIMITS).
    nulling_protect_directions: int = 8
    # per-sub-code counts that override the one above, as ``sub-code=N`` (e.g. ``expression=8``). With 4 for
    # every sub-code the person's last leak went, but the expression head lost 6 points on validation against 8
    # protected readers (7 expressions: 6 discriminant directions; synthetic-fourway's LIMITS).
    nulling_protect_for: tuple[str, ...] = ()
    # a class factor with more classes than this (the training people) is read, each nulling round, among a
    # fresh random draw of this many of them (0: all). Among 2,000 training people a trace of identity in
    # z_expression scored 0.02 while a probe among 48 new people read it at 0.08 (synthetic-fourway's LIMITS).
    nulling_class_draw: int = 0
    # epochs of Φ⁻¹ and the heads refit on the nulled codes (not named *_epochs: stage-epoch fields are
    # split among a method's own stages by train.compare and k-fold evaluation, and this is not one)
    nulling_refit: int = 1
    # epochs of G and Φ⁻¹ fine-tuned on the nulled codes after the refit, E and Φ fixed (not in the paper): the
    # reconstruction, the exact swap targets (as ``swap_target_weight``) and the cycle through the fixed encoder, with
    # every code nulled. The nulling takes the linear traces of a factor out of the other sub-codes, but G was trained
    # on codes that held them: with a wider encoder the pose swap read 40.6 % before the nulling and 80.9 % after it
    # on validation people, G still drawing the pose from what stayed (synthetic-fourway's LIMITS). 0: off.
    nulling_generator: int = 0


def label_columns(config) -> dict[str, tuple[str, ...]]:
    """Sub-code → the names of the columns of its factor's label points (:func:`_factor_points`), for
    the sub-codes supervised with continuous or graded labels."""
    names = _column_names(config)
    return {a: names[kind] for a in config.latents for kind in [SUPERVISION.get(a, ((), None))[1]] if kind in names}


def protect_counts(o: FourWayOptions) -> dict[str, int]:
    """Sub-code → its protected-reader count from ``nulling_protect_for`` (``name=N`` entries, N >= 1);
    the sub-codes it does not name use ``nulling_protect_directions``."""
    counts = {}
    for entry in o.nulling_protect_for:
        name, _, value = str(entry).partition("=")
        if not name or not value.strip().isdigit() or int(value) < 1:
            raise ConfigError(f"nulling_protect_for takes sub-code=N entries with N >= 1, got {entry!r}")
        counts[name.strip()] = int(value)
    return counts


def _column_names(config) -> dict[str, tuple[str, ...]]:
    """Supervision kind → the names of its label columns."""
    from ..synthetic import STYLE_FIELDS

    return {"regression": ("yaw", "pitch", "roll"), "graded_triplet": tuple(config.expressions),
            "distance_triplet": STYLE_FIELDS}


def _validate(config) -> None:
    o = config.options
    # every column a factor can have, whatever the sub-codes: with ``--init`` the latents arrive later
    known = {c for cols in _column_names(config).values() for c in cols}
    for name in ("readout_skip", "factor_probe_columns"):
        if set(getattr(o, name)) - known:
            raise ConfigError(f"{name} takes label columns ({', '.join(sorted(known))}), "
                              f"got {', '.join(sorted(set(getattr(o, name)) - known))}")
    if o.prior not in PRIORS:
        raise ConfigError(f"prior must be one of {', '.join(PRIORS)}, got {o.prior!r}")
    if not 0.0 <= o.lambda_ae <= 1.0:
        raise ConfigError(f"lambda_ae must be in [0, 1], got {o.lambda_ae}")
    for name in ("warmup_epochs", "autoencoder_epochs", "mapping_epochs", "joint_epochs", "z_dim", "cycle_attributes",
                 "encoder_depth", "decoder_depth", "decoder_refine", "swap_target_weight",
                 "swap_target_attributes", "swap_change_weight", "label_decorrelation_weight",
                 "code_probe_weight", "code_readout_weight", "warmup_readout_weight", "factor_probe_weight",
                 "person_probe_weight", "person_prototype_weight", "magnitude_readout_weight",
                 "leak_threshold", "nulling_rounds", "nulling_keep", "nulling_refit", "nulling_class_draw",
                 "nulling_generator"):
        if getattr(o, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(o, name)}")
    if o.nulling_protect_directions < 1:
        raise ConfigError(f"nulling_protect_directions must be >= 1, got {o.nulling_protect_directions}")
    protect_counts(o)  # refuses a malformed entry
    readouts_on = o.code_readout_weight > 0 or o.warmup_readout_weight > 0
    if o.magnitude_readout_weight > 0 and not (o.readout_magnitude and readouts_on):
        raise ConfigError("magnitude_readout_weight weighs the magnitude readout: it needs readout_magnitude and "
                          "a code readout weight (code_readout_weight or warmup_readout_weight)")
    widths = tuple(o.encoder_channels)
    if any(c < 1 for c in widths) or (widths and len(widths) != len(config.channels)):
        raise ConfigError(f"encoder_channels takes one width >= 1 per stage of the model's channels "
                          f"({len(config.channels)}), got {' '.join(map(str, o.encoder_channels))}")
    if o.prototype_scale <= 0:
        raise ConfigError(f"prototype_scale must be > 0, got {o.prototype_scale}")
    if o.per_person < 1 or o.map_hidden < 1 or o.critic_hidden < 1 or o.pose_scale <= 0:
        raise ConfigError("per_person, map_hidden and critic_hidden must be >= 1 and pose_scale > 0")
    if o.nulling_keep > 1:
        raise ConfigError(f"nulling_keep is a share of a sub-code's dimensions (<= 1), got {o.nulling_keep}")
    if o.prior_fraction < 0:
        raise ConfigError(f"prior_fraction must be >= 0, got {o.prior_fraction}")


def build(config) -> AttributeSplitAAE:
    o = config.options
    return AttributeSplitAAE(config, z_dim=o.z_dim, map_hidden=o.map_hidden, encoder_depth=o.encoder_depth,
                             encoder_channels=tuple(o.encoder_channels), decoder_depth=o.decoder_depth,
                             critic_hidden=o.critic_hidden, decoder_refine=o.decoder_refine, nulling=o.leak_threshold > 0)


# ---- the adversarial autoencoder ---------------------------------------------------------------

def _n_prior(o: FourWayOptions, n: int) -> int:
    return max(1, round(o.prior_fraction * n)) if o.prior_fraction > 0 else 0


def _prior(o: FourWayOptions, n: int, net: AttributeSplitAAE, like: torch.Tensor) -> torch.Tensor:
    if o.prior == "uniform":
        return torch.rand(n, net.z_dim, device=like.device, dtype=like.dtype) * 2 - 1
    return torch.randn(n, net.z_dim, device=like.device, dtype=like.dtype)


def critic_loss(o: FourWayOptions):
    """D_z tells prior samples from E's codes; D_x tells real faces from reconstructions and from
    G(prior samples). The autoencoder's outputs are fixed here (no gradient reaches E or G)."""

    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        x = batch["image"]
        n = x.shape[0]
        with torch.no_grad():
            z = net.encode_z(x)
            prior = _prior(o, max(n, 1), net, z)
            fakes = net.decode_z(torch.cat([z, prior[:_n_prior(o, n)]])) if o.image_adversarial_weight > 0 else None
        total, terms = x.sum() * 0.0, {}
        if o.latent_adversarial_weight > 0:
            real, fake = net.latent_critic(prior), net.latent_critic(z)
            terms["latent"] = L.gan_loss(real, True) + L.gan_loss(fake, False)
            terms["latent_accuracy"] = ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
            total = total + o.latent_adversarial_weight * terms["latent"]
        if fakes is not None:
            real, fake = net.image_critic(x), net.image_critic(fakes)
            terms["image"] = L.gan_loss(real, True) + L.gan_loss(fake, False)
            terms["image_accuracy"] = ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
            total = total + o.image_adversarial_weight * terms["image"]
        return {"loss": total, **terms}

    return loss


def _autoencoder_terms(net: AttributeSplitAAE, x: torch.Tensor, z: torch.Tensor, o: FourWayOptions,
                       neutral: torch.Tensor | None = None) -> tuple:
    """λ·scale·ℓ1(G(z), x) + (1 − λ)·(fool D_z with z, fool D_x with G(z) and G(prior)), plus the
    expression-region term when ``expression_region_weight`` > 0 and the neutral renders are known."""
    n = x.shape[0]
    gen = o.image_adversarial_weight > 0
    out = net.decode_z(torch.cat([z, _prior(o, _n_prior(o, n), net, z)]) if gen else z)
    rec = L.l1(out[:n], x)
    adversarial, terms = x.sum() * 0.0, {"reconstruction_l1": rec}
    if o.latent_adversarial_weight > 0:
        terms["fool_latent"] = L.gan_loss(net.latent_critic(z), True)
        adversarial = adversarial + o.latent_adversarial_weight * terms["fool_latent"]
    if gen:
        scores = net.image_critic(out)
        terms["fool_image"] = L.gan_loss(scores[:n], True)
        if out.shape[0] > n:
            terms["fool_image"] = (terms["fool_image"] + L.gan_loss(scores[n:], True)) / 2
        adversarial = adversarial + o.image_adversarial_weight * terms["fool_image"]
    total = o.lambda_ae * o.reconstruction_scale * rec + (1 - o.lambda_ae) * adversarial
    if o.expression_region_weight > 0 and neutral is not None:
        terms["expression_region"] = L.change_weighted_reconstruction(out[:n], x, neutral)
        total = total + o.expression_region_weight * terms["expression_region"]
    return total, terms


def autoencoder_loss(o: FourWayOptions):
    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        x = batch["image"]
        total, terms = _autoencoder_terms(net, x, net.encode_z(x), o, batch.get("target"))
        return {"loss": total, **terms}

    return loss


# ---- Φ, Φ⁻¹, the task losses and the cycle -----------------------------------------------------

def _labels(batch: dict, attributes) -> dict[str, torch.Tensor]:
    """The batch's labels that supervise some sub-code, style standardised per batch."""
    out = {}
    for a in attributes:
        keys, kind = SUPERVISION.get(a, ((), None))
        for key in keys:
            if key in batch and torch.is_tensor(batch[key]):
                out[key] = batch[key]
        if kind == "distance_triplet" and keys[0] in out:  # put every style factor on one scale
            s = out[keys[0]].float()
            s = s if s.dim() == 2 else s[:, None]
            known = torch.isfinite(s).all(1)
            if int(known.sum()) > 1:
                mean, std = s[known].mean(0), s[known].std(0).clamp_min(1e-6)
                out[keys[0]] = (s - mean) / std
    return out


def _permuted(labels: dict[str, torch.Tensor], attribute: str, perm: torch.Tensor) -> dict[str, torch.Tensor]:
    keys = SUPERVISION.get(attribute, ((), None))[0]
    return {k: (v[perm] if k in keys else v) for k, v in labels.items()}


def task_losses(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """Weighted sum and terms of every supervised sub-code's loss (those whose labels the batch has)."""
    any_part = next(iter(parts.values()))
    total, terms = any_part.sum() * 0.0, {}
    for a, code in parts.items():
        keys, kind = SUPERVISION.get(a, ((), None))
        if kind is None or keys[0] not in labels:
            continue
        if kind == "regression":
            terms[f"{a}_l1"] = L.labelled_l1(code, labels[keys[0]].float() / o.pose_scale)
            total = total + o.pose_weight * terms[f"{a}_l1"]
        elif kind == "triplet":
            terms[f"{a}_triplet"] = L.batch_hard_triplet(code, labels[keys[0]].long(), o.margin)
            total = total + o.identity_weight * terms[f"{a}_triplet"]
        elif kind == "graded_triplet":
            target = L.graded_label_vectors(labels[keys[0]].long(), labels.get(keys[1]), len(net.config.expressions))
            terms[f"{a}_triplet"] = L.label_distance_triplet(code, target, o.margin)
            total = total + o.expression_weight * terms[f"{a}_triplet"]
            if a in net.heads:
                logits = net.classify(code, a)
                terms[f"{a}_cross_entropy"] = L.labelled_cross_entropy(logits, labels[keys[0]].long())
                terms[f"{a}_accuracy"] = L.labelled_accuracy(logits, labels[keys[0]].long())
                total = total + o.head_weight * terms[f"{a}_cross_entropy"]
        elif kind == "distance_triplet":
            terms[f"{a}_triplet"] = L.label_distance_triplet(code, labels[keys[0]], o.margin)
            total = total + o.style_weight * terms[f"{a}_triplet"]
    return total, terms


def _factor_points(net: AttributeSplitAAE, labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Sub-code → its factor's labels as points (B, k), for the supervised sub-codes whose labels are
    continuous or graded (pose, expression with intensity, style); class labels are left out."""
    out = {}
    for a in net.attributes:
        keys, kind = SUPERVISION.get(a, ((), None))
        if kind is None or kind == "triplet" or keys[0] not in labels:
            continue
        if kind == "graded_triplet":
            out[a] = L.graded_label_vectors(labels[keys[0]].long(), labels.get(keys[1]), len(net.config.expressions))
        else:
            out[a] = labels[keys[0]].float()
    return out


def decorrelation_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                        o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """``label_decorrelation_weight`` × the mean, over (factor, other sub-code) pairs, of the squared
    correlation between that sub-code and that factor's labels."""
    pairs = [L.label_correlation(parts[b], y) for a, y in _factor_points(net, labels).items()
             for b in parts if b != a]
    if not pairs:
        any_part = next(iter(parts.values()))
        return any_part.sum() * 0.0, {}
    term = torch.stack(pairs).mean()
    return o.label_decorrelation_weight * term, {"label_correlation": term}


class RunningProbes:
    """Ridge regressions reading each sub-code from each other one, solved in closed form from
    exponential running moments of f (features standardised, as the evaluation's probe). Why closed
    form: a factor held in a low-variance direction of a sub-code is read at once by a solved
    regression, while gradient steps on a regressor crawl along such directions. The moments live
    with the stage's loss, not the checkpoint: after ``--resume`` they refill within ~50 batches."""

    def __init__(self, decay: float = 0.98, ridge: float = 1e-3):
        self.decay, self.ridge = decay, ridge
        self.mean = self.moment = None

    def update(self, f: torch.Tensor) -> None:
        """Take a batch of codes into the moments (and their covariance, once per batch)."""
        f = f.detach().double()
        mean, moment = f.mean(0), f.T @ f / f.shape[0]
        if self.mean is None:
            self.mean, self.moment = mean, moment
        else:
            self.mean = self.decay * self.mean + (1 - self.decay) * mean
            self.moment = self.decay * self.moment + (1 - self.decay) * moment
        self.cov = self.moment - torch.outer(self.mean, self.mean)
        self.std = self.cov.diagonal().clamp_min(1e-12).sqrt()
        self.corr = self.cov / torch.outer(self.std, self.std)

    def weights(self, source: slice, target: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean, std of the source dims, ridge weights (d_source, d_target)) for predicting the
        centred target dims from the standardised source dims."""
        c_ss = self.corr[source, source]
        eye = torch.eye(c_ss.shape[0], dtype=c_ss.dtype, device=c_ss.device)
        w = torch.linalg.solve(c_ss + self.ridge * eye, self.cov[source, target] / self.std[source, None])
        return self.mean[source], self.std[source], w

    def read(self, x: torch.Tensor, source: slice, target: slice) -> torch.Tensor:
        """The regression's reading of the ``target`` dims from ``x``, rows of the ``source`` dims (in
        ``x``'s dtype; the gradient reaches ``x``, not the solved weights)."""
        mean, std, w = self.weights(source, target)
        return ((x - mean.to(x.dtype)) / std.to(x.dtype)) @ w.to(x.dtype)


def code_probe_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], probes: RunningProbes,
                     o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """``code_probe_weight`` × the mean, over ordered pairs of sub-codes (b, a), of the squared
    correlation between the running probe's reading of f_a from f_b and f_a itself (held fixed);
    the gradient reaches f_b. The probes' moments take this batch first."""
    f = net.join(parts)
    probes.update(f)
    bounds = net.config.slices()
    leaks = []
    for a in parts:
        for b in parts:
            if a == b:
                continue
            reading = probes.read(parts[b], bounds[b], bounds[a])
            leaks.append(L.prediction_correlation(reading, parts[a].detach()))
    term = torch.stack(leaks).mean()
    return o.code_probe_weight * term, {"code_probe": term}


def _labelled_reading(store: dict, key, code: torch.Tensor, y: torch.Tensor):
    """A running ridge regression's reading of the labels ``y`` (B, k) from ``code`` (B, d), its
    moments kept in ``store[key]``: (reading, labels), both over the rows with known labels and the
    label columns not constant over the batch, or None when too little is left."""
    known = torch.isfinite(y).all(1)
    if int(known.sum()) < 3 or y.shape[1] == 0:
        return None
    code = code[known]
    y = y[known].to(code.dtype)
    y = y[:, y.std(0) > 0]
    if y.shape[1] == 0:
        return None
    d = code.shape[1]
    probe = store.setdefault(key, RunningProbes())
    if probe.mean is not None and probe.mean.shape[0] != d + y.shape[1]:
        probe = store[key] = RunningProbes()  # another set of label columns: start the moments again
    probe.update(torch.cat([code, y], 1))
    return probe.read(code, slice(0, d), slice(d, d + y.shape[1])), y


def code_readout_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                       readouts: dict[str | tuple[str, str], RunningProbes],
                       o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """``code_readout_weight`` × the mean, over the sub-codes with continuous or graded labels, of
    1 − the squared correlation between a running ridge regression's reading of the labels from the
    sub-code and the labels (columns constant over the batch left out; rows with an unknown label sit
    out). ``readouts`` holds one :class:`RunningProbes` per sub-code, over (sub-code, labels), and with
    ``readout_magnitude`` one more per graded sub-code, keyed (sub-code, "magnitude"), over (sub-code,
    the label point's sum), each reading one more shortfall, weighed again by ``magnitude_readout_weight``; the
    gradient reaches the sub-code only."""
    shortfalls, magnitudes = [], []
    columns = label_columns(net.config)
    for a, y_all in _factor_points(net, labels).items():
        y = y_all
        if o.readout_skip:
            kept = [i for i, c in enumerate(columns[a]) if c not in o.readout_skip]
            y = y[:, kept]
        read = _labelled_reading(readouts, a, parts[a], y)
        if read is not None:
            shortfalls.append(1 - L.prediction_correlation(*read))
        if o.readout_magnitude and SUPERVISION[a][1] == "graded_triplet":
            read = _labelled_reading(readouts, (a, "magnitude"), parts[a], y_all.sum(1, keepdim=True))
            if read is not None:
                shortfalls.append(1 - L.prediction_correlation(*read))
                magnitudes.append(shortfalls[-1])
    if not shortfalls:
        return next(iter(parts.values())).sum() * 0.0, {}
    term = torch.stack(shortfalls).mean()
    total, terms = o.code_readout_weight * term, {"code_readout": term}
    if magnitudes and o.magnitude_readout_weight > 0:
        magnitude = torch.stack(magnitudes).mean()
        total, terms = total + o.magnitude_readout_weight * magnitude, {**terms, "magnitude_readout": magnitude}
    return total, terms


def factor_probe_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                       probes: dict[tuple[str, str], RunningProbes], o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """``factor_probe_weight`` × the mean, over every label column of the factors with continuous or
    graded labels and every sub-code other than the factor's own, of the squared correlation between
    a running ridge regression's reading of that column from the sub-code and the column. ``probes``
    holds one :class:`RunningProbes` per (factor, sub-code); the gradient reaches the sub-code."""
    leaks, columns = [], []
    names = label_columns(net.config) if o.factor_probe_columns else {}
    for a, y in _factor_points(net, labels).items():
        if o.factor_probe_columns:
            kept = [i for i, c in enumerate(names[a]) if c in o.factor_probe_columns]
            if not kept:
                continue
            y = y[:, kept]
        for b in parts:
            if b == a:
                continue
            read = _labelled_reading(probes, (a, b), parts[b], y)
            if read is not None:
                leaks.append(L.prediction_correlation(*read) * read[1].shape[1])
                columns.append(read[1].shape[1])
    if not leaks:
        return next(iter(parts.values())).sum() * 0.0, {}
    term = torch.stack(leaks).sum() / sum(columns)
    return o.factor_probe_weight * term, {"factor_probe": term}


class PersonMeans:
    """Each person's running mean of one sub-code: per batch, the mean of that person's codes is
    folded in with weight ``1 − keep`` (the first one taken as it is). A table grown as new person
    labels arrive; negative labels (unknown people) are neither read nor written."""

    def __init__(self, keep: float = 0.5):
        self.keep = keep
        self.table: torch.Tensor | None = None  # (people, d), float64
        self.seen: torch.Tensor | None = None  # (people,) bool

    def _grow(self, n: int, d: int, device) -> None:
        if self.table is None:
            self.table = torch.zeros(0, d, dtype=torch.float64, device=device)
            self.seen = torch.zeros(0, dtype=torch.bool, device=device)
        if n > self.table.shape[0]:
            extra = n - self.table.shape[0]
            self.table = torch.cat([self.table, self.table.new_zeros(extra, d)])
            self.seen = torch.cat([self.seen, self.seen.new_zeros(extra)])

    def read(self, people: torch.Tensor, d: int) -> torch.Tensor:
        """(B, d) running means of ``people`` (B,), NaN for people not seen yet or unknown."""
        self._grow(int(people.max().clamp_min(0)) + 1, d, people.device)
        known = (people >= 0) & self.seen[people.clamp_min(0)]
        means = self.table[people.clamp_min(0)]
        return torch.where(known[:, None], means, torch.full_like(means, float("nan")))

    def update(self, codes: torch.Tensor, people: torch.Tensor) -> None:
        codes, ok = codes.detach().double(), people >= 0
        if not bool(ok.any()):
            return
        codes, people = codes[ok], people[ok]
        self._grow(int(people.max()) + 1, codes.shape[1], codes.device)
        ids, slot = torch.unique(people, return_inverse=True)
        sums = codes.new_zeros(len(ids), codes.shape[1]).index_add_(0, slot, codes)
        batch_means = sums / torch.bincount(slot, minlength=len(ids))[:, None]
        old = self.seen[ids]
        self.table[ids] = torch.where(old[:, None], self.keep * self.table[ids] + (1 - self.keep) * batch_means,
                                      batch_means)
        self.seen[ids] = True


def _person_sub_code(parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]):
    """(the sub-code the person triplets supervise, the batch's person labels), or (None, None) when the
    batch has no person labels or the model no such sub-code."""
    owners = {keys[0]: a for a, (keys, kind) in SUPERVISION.items() if kind == "triplet" and a in parts}
    key = next((k for k in owners if k in labels), None)
    return (None, None) if key is None else (owners[key], labels[key].long())


def person_probe_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                       store: dict, o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """``person_probe_weight`` × the mean, over the sub-codes but the person's own (the identity
    triplets'), of the squared correlation between a running ridge regression's reading of each
    image's person's running mean code (:class:`PersonMeans`, from earlier batches: held fixed, and
    never this image's own code) from the sub-code and that mean. ``store`` keeps the means and the
    regressions; the batch is folded into the means after it is read. No person labels: no term."""
    owner, people = _person_sub_code(parts, labels)
    if owner is None:
        return next(iter(parts.values())).sum() * 0.0, {}
    leaks = []
    for b, code in parts.items():
        if b == owner:
            continue
        means = store.setdefault(("means", b), PersonMeans())
        read = _labelled_reading(store, ("probe", b), code, means.read(people, code.shape[1]).to(code.dtype))
        means.update(code, people)
        if read is not None:
            leaks.append(L.prediction_correlation(*read))
    term = torch.stack(leaks).mean() if leaks else next(iter(parts.values())).sum() * 0.0
    return o.person_probe_weight * term, {"person_probe": term}


def person_prototype_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                           store: dict, o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """``person_prototype_weight`` × the cross-entropy of each image's person among every person seen in
    earlier batches, with logits ``prototype_scale`` × cos(the image's code in the person's own sub-code
    (the identity triplets'), each person's running mean of it) (:class:`PersonMeans`, held fixed). Rows
    whose person has no mean yet sit out; the batch is folded into the means after it is scored. No
    person labels, or fewer than two people seen: no term."""
    owner, people = _person_sub_code(parts, labels)
    if owner is None:
        return next(iter(parts.values())).sum() * 0.0, {}
    code = parts[owner]
    means = store.setdefault("prototypes", PersonMeans())
    scored = None
    if means.seen is not None and int(means.seen.sum()) > 1:
        rows = ~torch.isnan(means.read(people, code.shape[1])[:, 0])  # known people with a mean
        if bool(rows.any()):
            slot = means.seen.long().cumsum(0) - 1  # each seen person's row among the seen
            prototypes = torch.nn.functional.normalize(means.table[means.seen].to(code.dtype), dim=1)
            logits = o.prototype_scale * torch.nn.functional.normalize(code[rows], dim=1) @ prototypes.T
            scored = torch.nn.functional.cross_entropy(logits, slot[people[rows]])
    means.update(code, people)
    if scored is None:
        return code.sum() * 0.0, {}
    return o.person_prototype_weight * scored, {"person_prototype": scored}


def cycle_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                o: FourWayOptions, attributes=None) -> tuple[torch.Tensor, dict]:
    """For each of ``attributes`` (default: ``o.cycle_attributes`` sub-codes drawn at random):
    permute that sub-code across the batch (f*), decode G(Φ⁻¹(f*)), re-encode Φ(E(·)), ℓ1 against
    f* (the target held fixed); the re-encoded codes then carry the permuted labels under the task
    losses (cycle-augmentation)."""
    names = list(parts)
    if attributes is None:
        k = min(o.cycle_attributes, len(names))
        attributes = [names[int(i)] for i in torch.randperm(len(names))[:k]] if k else []
    n = next(iter(parts.values())).shape[0]
    total, terms = next(iter(parts.values())).sum() * 0.0, {}
    for a in attributes:
        perm = torch.randperm(n, device=parts[a].device)
        star = {**parts, a: parts[a][perm]}
        joined = net.join(star)
        again = net.split(net.phi(net.encode_z(net.decode_z(net.phi_inv(joined)))))
        cycle = L.l1(net.join(again), joined.detach())
        aug, aug_terms = task_losses(net, again, _permuted(labels, a, perm), o)
        # the same keys every step (whichever sub-code was drawn), each a mean over the drawn ones,
        # so that the trainer's per-epoch means are means
        for k, v in {"cycle": cycle, **{f"augmented_{k}": v for k, v in aug_terms.items()}}.items():
            terms[k] = terms.get(k, 0.0) + v / len(attributes)
        total = total + (o.cycle_weight * cycle + o.augmentation_weight * aug) / len(attributes)
    return total, terms


def _swap_targets(o: FourWayOptions, batch: dict, attributes) -> list[str]:
    """The sub-codes whose exact swap target the batch holds (``<name>_swap_target``)."""
    if (o.swap_target_weight <= 0 and o.swap_change_weight <= 0) or "partner" not in batch:
        return []
    return [a for a in attributes if f"{a}_swap_target" in batch]


def swap_target_terms(net: AttributeSplitAAE, parts: dict[str, torch.Tensor], partner: dict[str, torch.Tensor],
                      batch: dict, o: FourWayOptions) -> tuple[torch.Tensor, dict]:
    """For ``o.swap_target_attributes`` of the sub-codes with a target (drawn at random): A's parts
    with the partner's sub-code, decoded G(Φ⁻¹(·)), ℓ1 against the render of A with the partner's
    factors of that group, scaled like the reconstruction; with ``o.swap_change_weight`` also the
    swap's change against A's own decode compared with the render's change."""
    names = _swap_targets(o, batch, parts)
    k = min(o.swap_target_attributes, len(names))
    chosen = [names[int(i)] for i in torch.randperm(len(names))[:k]]
    total, terms = next(iter(parts.values())).sum() * 0.0, {}
    own = net.decode_z(net.phi_inv(net.join(parts))) if chosen and o.swap_change_weight > 0 else None
    for a in chosen:
        out = net.decode_z(net.phi_inv(net.join({**parts, a: partner[a]})))
        target = batch[f"{a}_swap_target"]
        if o.swap_target_weight > 0:
            term = L.l1(out, target)
            terms["swap_target_l1"] = terms.get("swap_target_l1", 0.0) + term / len(chosen)
            total = total + o.swap_target_weight * o.reconstruction_scale * term / len(chosen)
        if own is not None:
            change = L.change_consistency(out, own, target, batch["image"])
            terms["swap_change"] = terms.get("swap_change", 0.0) + change / len(chosen)
            total = total + o.swap_change_weight * change / len(chosen)
    return total, terms


def _mapping_terms(net: AttributeSplitAAE, batch: dict, z: torch.Tensor, o: FourWayOptions,
                   z_partner: torch.Tensor | None = None, probes: RunningProbes | None = None,
                   readouts: dict[str, RunningProbes] | None = None,
                   factor_probes: dict[tuple[str, str], RunningProbes] | None = None,
                   person_probes: dict | None = None) -> tuple:
    f = net.phi(z)
    z_rec = L.l1(net.phi_inv(f), z.detach())
    parts = net.split(f)
    labels = _labels(batch, net.attributes)
    task, terms = task_losses(net, parts, labels, o)
    cycle, c_terms = cycle_terms(net, parts, labels, o)
    total = o.z_reconstruction_weight * z_rec + task + cycle
    if o.label_decorrelation_weight > 0:
        decorrelation, d_terms = decorrelation_terms(net, parts, labels, o)
        total, terms = total + decorrelation, {**terms, **d_terms}
    if o.code_probe_weight > 0 and probes is not None:
        probe, p_terms = code_probe_terms(net, parts, probes, o)
        total, terms = total + probe, {**terms, **p_terms}
    if o.code_readout_weight > 0 and readouts is not None:
        readout, r_terms = code_readout_terms(net, parts, labels, readouts, o)
        total, terms = total + readout, {**terms, **r_terms}
    if o.factor_probe_weight > 0 and factor_probes is not None:
        leak, f_terms = factor_probe_terms(net, parts, labels, factor_probes, o)
        total, terms = total + leak, {**terms, **f_terms}
    if o.person_probe_weight > 0 and person_probes is not None:
        leak, p_terms = person_probe_terms(net, parts, labels, person_probes, o)
        total, terms = total + leak, {**terms, **p_terms}
    if o.person_prototype_weight > 0 and person_probes is not None:
        apart, a_terms = person_prototype_terms(net, parts, labels, person_probes, o)
        total, terms = total + apart, {**terms, **a_terms}
    if z_partner is not None:
        swap, s_terms = swap_target_terms(net, parts, net.split(net.phi(z_partner)), batch, o)
        total, terms = total + swap, {**terms, **s_terms}
    return total, {"z_reconstruction": z_rec, **terms, **c_terms}


def warmup_loss(o: FourWayOptions):
    """Stage 0: the task losses on Φ(E(x)) alone, training E, Φ and the heads (no decoder, no cycle); with
    ``warmup_readout_weight``, the code readouts at that weight too."""
    readouts: dict[str, RunningProbes] = {}
    with_readouts = dataclasses.replace(o, code_readout_weight=o.warmup_readout_weight)

    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        parts = net.split(net.phi(net.encode_z(batch["image"])))
        labels = _labels(batch, net.attributes)
        total, terms = task_losses(net, parts, labels, o)
        if o.warmup_readout_weight > 0:
            readout, r_terms = code_readout_terms(net, parts, labels, readouts, with_readouts)
            total, terms = total + readout, {**terms, **r_terms}
        return {"loss": total, **terms}

    return loss


def mapping_loss(o: FourWayOptions):
    """Stage 2: Φ, Φ⁻¹ and the heads; E and G are fixed (gradients pass through them, unused)."""
    probes = RunningProbes() if o.code_probe_weight > 0 else None
    readouts: dict[str, RunningProbes] = {}
    factor_probes: dict[tuple[str, str], RunningProbes] = {}
    person_probes: dict = {}

    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        with torch.no_grad():
            z = net.encode_z(batch["image"])
            z_partner = net.encode_z(batch["partner"]) if _swap_targets(o, batch, net.attributes) else None
        total, terms = _mapping_terms(net, batch, z, o, z_partner, probes, readouts, factor_probes, person_probes)
        return {"loss": total, **terms}

    return loss


def joint_loss(o: FourWayOptions):
    """Stage 3: the autoencoder's and the mapping's losses on everything at once."""
    probes = RunningProbes() if o.code_probe_weight > 0 else None
    readouts: dict[str, RunningProbes] = {}
    factor_probes: dict[tuple[str, str], RunningProbes] = {}
    person_probes: dict = {}

    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        x = batch["image"]
        z = net.encode_z(x)
        ae, ae_terms = _autoencoder_terms(net, x, z, o, batch.get("target"))
        z_partner = net.encode_z(batch["partner"]) if _swap_targets(o, batch, net.attributes) else None
        mapping, m_terms = _mapping_terms(net, batch, z, o, z_partner, probes, readouts, factor_probes, person_probes)
        return {"loss": ae + mapping, **ae_terms, **m_terms}

    return loss


def nulling_fit(net: AttributeSplitAAE, o: FourWayOptions):
    """Stage 4 (optional): per sub-code, the leak-nulling projection of the other sub-codes' labels
    (:func:`facelab.leak_nulling.nulling_projection`), fitted on Φ(E(x)) of the training set and
    installed after Φ. Returns, per sub-code, the dimensions removed and the highest other-factor
    reading on held-out training images before and after."""
    from ..leak_nulling import nulling_projection

    def fit(batches) -> dict[str, float]:
        keys = {k for a in net.attributes for k in SUPERVISION.get(a, ((), None))[0]}
        codes, labels = [], {}
        for batch in batches:
            codes.append(net.phi(net.encode_z(batch["image"])).double().cpu())
            for k in keys:
                if torch.is_tensor(batch.get(k)):
                    labels.setdefault(k, []).append(batch[k].cpu())
        f = torch.cat(codes).numpy()
        labels = {k: torch.cat(v) for k, v in labels.items()}
        points = {a: p.numpy() for a, p in _factor_points(net, labels).items()} if o.nulling_protect_points else {}
        labels = {k: v.numpy() for k, v in labels.items()}
        bounds, fitted, out = net.config.slices(), {}, {}
        counts = protect_counts(o)
        unknown = sorted(set(counts) - set(net.attributes))
        if unknown:
            raise ConfigError(f"nulling_protect_for names no sub-code of this model: {', '.join(unknown)}")
        for a in net.attributes:
            own = set(SUPERVISION.get(a, ((), None))[0])
            foreign = {k: v for k, v in labels.items() if k not in own}
            if not foreign:
                continue
            n = fitted[a] = nulling_projection(f[:, bounds[a]], foreign, threshold=o.leak_threshold,
                                               max_rounds=o.nulling_rounds, keep_at_least=o.nulling_keep,
                                               class_draw=o.nulling_class_draw, fill_to_floor=o.nulling_fill,
                                               protect_directions=counts.get(a, o.nulling_protect_directions),
                                               protect=({k: v for k, v in labels.items() if k in own}
                                                        | ({"points": points[a]} if a in points else {}))
                                               if o.nulling_protect else None)
            out[f"{a}_removed"] = n.removed
            if n.readings and n.readings[0]:
                out[f"{a}_leak_before"] = max(n.readings[0].values())
                out[f"{a}_leak_after"] = max(n.readings[-1].values())
        net.set_nulling(fitted)
        return out

    return fit


def nulled_mapping_loss(o: FourWayOptions):
    """Stage 5 (after nulling): Φ⁻¹ and the heads learn the nulled codes (ℓ1 of z through
    Φ⁻¹(nulled Φ(z)), the task losses' cross-entropy); E, Φ and G fixed."""

    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        with torch.no_grad():
            z = net.encode_z(batch["image"])
            f = net.nulled(net.phi(z))
        z_rec = L.l1(net.phi_inv(f), z)
        task, terms = task_losses(net, net.split(f), _labels(batch, net.attributes), o)
        return {"loss": o.z_reconstruction_weight * z_rec + task, "z_reconstruction": z_rec, **terms}

    return loss


def nulled_generator_loss(o: FourWayOptions):
    """Stage 6 (after nulling): G and Φ⁻¹ learn to draw from the nulled codes alone (E and Φ fixed, so the
    fitted nulling stays valid): ℓ1 of z through Φ⁻¹, the reconstruction G(Φ⁻¹(f)) (and the expression-region
    term), and for each sub-code with an exact swap target (``swap_target_attributes`` of them) the swap
    decoded, against the render (×``swap_target_weight``) and re-encoded through the fixed, nulled encoder
    against the swapped code (×``cycle_weight``). No critic: D_x and D_z stay as they were."""

    def loss(net: AttributeSplitAAE, batch: dict) -> dict:
        x = batch["image"]
        names = _swap_targets(o, batch, net.attributes)
        with torch.no_grad():
            z = net.encode_z(x)
            f = net.nulled(net.phi(z))
            partner = net.split(net.nulled(net.phi(net.encode_z(batch["partner"])))) if names else {}
        z_hat = net.phi_inv(f)
        z_rec = L.l1(z_hat, z)
        out = net.decode_z(z_hat)
        rec = L.l1(out, x)
        total = o.z_reconstruction_weight * z_rec + o.reconstruction_scale * rec
        terms = {"z_reconstruction": z_rec, "reconstruction_l1": rec}
        if o.expression_region_weight > 0 and batch.get("target") is not None:
            terms["expression_region"] = L.change_weighted_reconstruction(out, x, batch["target"])
            total = total + o.expression_region_weight * terms["expression_region"]
        k = min(o.swap_target_attributes, len(names))
        chosen = [names[int(i)] for i in torch.randperm(len(names))[:k]]
        parts = net.split(f)
        swap, cycle = x.sum() * 0.0, x.sum() * 0.0
        for a in chosen:
            star = net.join({**parts, a: partner[a]})
            drawn = net.decode_z(net.phi_inv(star))
            swap = swap + L.l1(drawn, batch[f"{a}_swap_target"]) / k
            cycle = cycle + L.l1(net.nulled(net.phi(net.encode_z(drawn))), star) / k
        if chosen:
            terms.update(swap_target_l1=swap, cycle=cycle)
            total = total + o.swap_target_weight * o.reconstruction_scale * swap + o.cycle_weight * cycle
        return {"loss": total, **terms}

    return loss


def _only(net: AttributeSplitAAE, modules) -> None:
    net.requires_grad_(False)
    for m in modules:
        m.requires_grad_(True)


def stages(net: AttributeSplitAAE, config, train_config, fine_tune: bool = False):
    o = config.options

    def with_critics(model_step: Step) -> dict[str, Step]:
        # both adversarial weights 0 (a plain autoencoder): no critic step, nothing would train it
        if o.latent_adversarial_weight <= 0 and o.image_adversarial_weight <= 0:
            return {"model": model_step}
        return {"critics": Step(trainable(*net.critics()), critic_loss(o), lr_scale=o.critic_lr_scale),
                "model": model_step}

    if o.warmup_epochs:
        warm = [net.encoder, net.phi, net.heads]
        yield Stage("warmup", o.warmup_epochs, setup=lambda: _only(net, warm),
                    steps={"model": Step(trainable(*warm), warmup_loss(o))})
    if o.autoencoder_epochs:
        yield Stage("autoencoder", o.autoencoder_epochs,
                    setup=lambda: _only(net, net.autoencoder() + net.critics()),
                    steps=with_critics(Step(trainable(*net.autoencoder()), autoencoder_loss(o))))
    if o.mapping_epochs:
        yield Stage("mapping", o.mapping_epochs, setup=lambda: _only(net, net.mapping()),
                    steps={"model": Step(trainable(*net.mapping()), mapping_loss(o))})
    if o.joint_epochs:
        yield Stage("joint", o.joint_epochs, setup=lambda: net.requires_grad_(True),
                    steps=with_critics(Step(trainable(*net.autoencoder(), *net.mapping()), joint_loss(o))))
    if o.leak_threshold > 0:
        yield Stage("nulling", 1, steps={}, setup=lambda: net.requires_grad_(False), fit=nulling_fit(net, o))
        if o.nulling_refit:
            tail = [net.phi_inv, net.heads]
            yield Stage("nulled-mapping", o.nulling_refit, setup=lambda: _only(net, tail),
                        steps={"model": Step(trainable(*tail), nulled_mapping_loss(o))})
        if o.nulling_generator:
            drawing = [net.phi_inv, net.generator]
            yield Stage("nulled-generator", o.nulling_generator, setup=lambda: _only(net, drawing),
                        steps={"model": Step(trainable(*drawing), nulled_generator_loss(o))})


# ---- data --------------------------------------------------------------------------------------

class FactorLabels(Dataset):
    """``dataset``'s items (or ``items``', a wrapper of it such as
    :class:`~facelab.datasets.pairs.SwapPairs`) plus the generator's ``pose`` and ``style`` labels
    (:func:`facelab.synthetic.factor_labels`) where ``dataset`` is the generator, or a Subset of it,
    and its items lack them."""

    def __init__(self, dataset, items=None):
        from ..synthetic import factor_labels

        self.dataset = dataset
        self.items = dataset if items is None else items
        base, idx = dataset, None
        while isinstance(base, torch.utils.data.Subset):
            idx = base.indices if idx is None else [base.indices[i] for i in idx]
            base = base.dataset
        factors = getattr(base, "factors", None)
        self.labels = None
        if factors is not None and not getattr(base, "factor_labels", False):
            fs = factors if idx is None else [factors[int(i)] for i in idx]
            self.labels = {k: factor_labels(fs)[k] for k in ("pose", "style")}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.items[i])
        if self.labels is not None:
            for k, v in self.labels.items():
                item[k] = torch.from_numpy(v[i])
        return item


def prepare_data(dataset, config):
    items = dataset
    if config.options.swap_target_weight > 0 or config.options.swap_change_weight > 0:
        from ..datasets.pairs import SwapPairs
        from ..synthetic import FACTOR_GROUPS

        items = SwapPairs(dataset, attribute_targets=[a for a in config.latents if a in FACTOR_GROUPS])
    return FactorLabels(dataset, items)


def batch_sampler(dataset, config, train_config, generator):
    if config.options.per_person <= 1 or not any(SUPERVISION.get(a, ((), ""))[1] == "triplet" for a in config.latents):
        return None
    from ..datasets.pairs import person_batch_sampler

    base = dataset.dataset if isinstance(dataset, FactorLabels) else dataset
    return person_batch_sampler(base, train_config.batch_size, config.options.per_person, generator)


def _critic_weights(o: FourWayOptions) -> str:
    """The critics' weights inside the adversarial term, where they are not the paper's 1."""
    if o.latent_adversarial_weight == 1 and o.image_adversarial_weight == 1:
        return ""
    return f", the adversarial term D_z's ×{o.latent_adversarial_weight:g} + D_x's ×{o.image_adversarial_weight:g}"


def summary(config) -> str:
    o = config.options
    sizes = ", ".join(f"{a} {d}" for a, d in config.latents.items())
    z = o.z_dim or config.latent_dim
    supervised = [a for a in config.latents if a in SUPERVISION]
    encoder = "-".join(map(str, o.encoder_channels or config.channels))
    encoder += f", {o.encoder_depth} extra 3×3 conv(s) per stage" if o.encoder_depth else ""
    stages_text = (f"(1) an adversarial autoencoder, {o.autoencoder_epochs} epochs: conv encoder E "
                   f"({encoder}) → z ({z}-d) → generator G, ℓ1 reconstruction, a latent "
                   f"critic D_z (3 fully connected layers) imposing a {o.prior} prior on z and a DCGAN-style image critic "
                   f"D_x on reconstructions and on G(prior samples; {o.prior_fraction:g} per image), weighted λ_AE = {o.lambda_ae} "
                   f"(λ·{o.reconstruction_scale}·ℓ1 + (1 − λ)·adversarial{_critic_weights(o)}); (2) with the autoencoder fixed, "
                   f"{o.mapping_epochs} epochs: Φ: z → f = ({sizes}) and Φ⁻¹: f → z (two fully connected layers each), "
                   f"ℓ1 of z through Φ⁻¹(Φ(z)) (×{o.z_reconstruction_weight})")
    tasks = []
    if "pose" in supervised:
        tasks.append(f"ℓ1 on pose (yaw, pitch, roll / {o.pose_scale}°, ×{o.pose_weight})")
    if "identity" in supervised:
        tasks.append(f"a batch-hard identity triplet loss (×{o.identity_weight}, {o.per_person} images per person "
                     f"per batch)")
    if "expression" in supervised:
        tasks.append(f"an expression triplet loss on distances between graded label vectors (class and intensity, "
                     f"×{o.expression_weight}) and the expression head's cross-entropy (×{o.head_weight})")
    if "style" in supervised:
        tasks.append(f"a style triplet loss on distances between the generator's background, light and noise "
                     f"(×{o.style_weight})")
    if o.warmup_epochs:
        alone = (f"and the code readouts (×{o.warmup_readout_weight:g})" if o.warmup_readout_weight > 0 else "alone")
        stages_text = (f"(0, not in the paper) {o.warmup_epochs} epochs of E and Φ trained on the task losses below "
                       f"{alone}, no decoder; {stages_text}")
    text = (f"Attribute split of an adversarial autoencoder (after Browatzki & Wallraven): {stages_text}; "
            f"task losses: {'; '.join(tasks) or 'none'} (triplet margin {o.margin}); attribute cycle-consistency "
            f"(×{o.cycle_weight}): {o.cycle_attributes} sub-code(s) per batch permuted across the batch, decoded "
            f"G(Φ⁻¹(f*)) and re-encoded Φ(E(·)) with ℓ1 against f*, the generated images carrying the permuted "
            f"labels under the task losses (cycle-augmentation, ×{o.augmentation_weight}).")
    if o.swap_target_weight > 0:
        text += (f" Exact swap targets (×{o.swap_target_weight}, {o.swap_target_attributes} sub-code(s) per batch; "
                 f"not in the paper): A's code with a partner's sub-code, decoded, against the generator's render "
                 f"of A with the partner's factors of that group (ℓ1).")
    if o.swap_change_weight > 0:
        text += (f" Swap changes (×{o.swap_change_weight}): what the partner's sub-code changes in the decoded "
                 f"face, against A's own decode, must equal what it changes in the generator's render.")
    if o.label_decorrelation_weight > 0:
        text += (f" Each factor kept out of the other sub-codes (×{o.label_decorrelation_weight:g}; not in the "
                 f"paper): the mean squared batch correlation between every other sub-code's dimensions and the "
                 f"pose, expression and style labels.")
    if o.code_probe_weight > 0:
        text += (f" Blind probes between sub-codes (×{o.code_probe_weight:g}; not in the paper): a ridge "
                 f"regression per ordered pair of sub-codes, solved on running moments of the codes, reads one "
                 f"from the other, and E and Φ are trained to make its readings uncorrelated with what they read.")
    if o.code_readout_weight > 0:
        text += (f" Readable factors (×{o.code_readout_weight:g}; not in the paper): a ridge regression per "
                 f"sub-code with continuous or graded labels (pose, expression with intensity, style), solved on "
                 f"running moments, reads them from it, and E and Φ are trained to raise its correlation with them"
                 + (f" ({', '.join(o.readout_skip)} left out)" if o.readout_skip else "")
                 + ("; each graded factor's magnitude (the expression's intensity) is read as a readout of its own"
                    + (f", weighed again ×{o.magnitude_readout_weight:g}." if o.magnitude_readout_weight > 0 else ".")
                    if o.readout_magnitude else "."))
    if o.factor_probe_weight > 0:
        text += (f" Blind factor probes (×{o.factor_probe_weight:g}; not in the paper): a ridge regression per "
                 f"labelled factor (pose, expression with intensity, style) and other sub-code, solved on running "
                 f"moments, reads the factor from it, and E and Φ are trained to make its readings uncorrelated "
                 f"with the labels"
                 + (f" (only {', '.join(o.factor_probe_columns)})." if o.factor_probe_columns else "."))
    if o.person_probe_weight > 0:
        text += (f" Blind person probes (×{o.person_probe_weight:g}; not in the paper): each training person's running "
                 f"mean of every other sub-code, read from that sub-code by a ridge regression solved on running "
                 f"moments, and E and Φ trained to make the reading uncorrelated with the person's mean.")
    if o.person_prototype_weight > 0:
        text += (f" Person prototypes (×{o.person_prototype_weight:g}; not in the paper): the cross-entropy of each "
                 f"image's person among all training people, scored by {o.prototype_scale:g}× the cosine between its "
                 f"identity code and each person's running mean code.")
    if o.joint_epochs:
        text += f" (3) {o.joint_epochs} epochs of joint fine-tuning of everything together."
    if o.leak_threshold > 0:
        text += (f" (4, not in the paper) Leak nulling: per sub-code, a fixed projection fitted on the training set "
                 f"takes out every direction from which a linear reader (discriminant analysis for classes, ridge "
                 f"for continuous labels) reads another sub-code's factor more than {o.leak_threshold:g} above chance "
                 f"on held-out training images, iterated as in INLP (Ravfogel et al., 2020; at most {o.nulling_rounds} "
                 f"rounds, keeping at least {o.nulling_keep:.0%} of each sub-code"
                 + (", the last round filled to that floor with its strongest directions" if o.nulling_fill else "")
                 + (f"; a factor of more than {o.nulling_class_draw} classes read among a fresh random draw of "
                    f"{o.nulling_class_draw} of them each round" if o.nulling_class_draw else "")
                 + ("; the directions that read a sub-code's own factors" + (" and label points"
                    if o.nulling_protect_points else "") + " left out of every removal"
                    + (f" ({o.nulling_protect_directions} per class factor"
                       + "".join(f"; {v} for {k}" for k, v in protect_counts(o).items()) + ")"
                       if o.nulling_protect_directions != 8 or o.nulling_protect_for else "")
                    if o.nulling_protect else "") + f"); then "
                 f"{o.nulling_refit} epoch(s) of Φ⁻¹ and the heads on the nulled codes"
                 + (f"; then {o.nulling_generator} epoch(s) of G and Φ⁻¹ on the nulled codes alone, E and Φ fixed "
                    f"(the reconstruction, the exact swap targets and the swaps re-encoded through the fixed, "
                    f"nulled encoder)." if o.nulling_generator else "."))
    if o.decoder_refine > 0:
        text += (f" G ends in {o.decoder_refine} residual block(s) at full resolution (added to a trained "
                 f"generator, starting as the identity).")
    return text


register(Method("fourway", FourWayOptions, build, stages, summary,
                follows="Browatzki & Wallraven, disentangled face embeddings from an adversarial autoencoder split "
                        "by attribute with cycle-consistency",
                validate=_validate, prepare_data=prepare_data, batch_sampler=batch_sampler))
