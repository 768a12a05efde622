"""Latent-metric swap autoencoder (after Li, Shu & Samaras): expression and identity codes learned
with metric losses and a swapping loss.

- Codes that should match are pulled together: same person → identity codes, same expression →
  expression codes, with cosine-embedding, triplet (batch-hard) and L1 losses; batches are grouped
  by person and expression (:class:`~facelab.datasets.pairs.PersonBatchSampler`).
- The expression head is trained with binary cross-entropy on expression label vectors whose
  values are intensities (0…1), so graded expressions are graded targets.
- Swapping loss: decode (this face's other codes + the partner's expression code) and compare it
  with the image that should result — the generator renders it exactly (same factors, the
  partner's expression); on real data the partner is the same person, so the target is the
  partner's own photo (:class:`~facelab.datasets.pairs.SwapPairs`).
- The recogniser as a teacher (``teacher_weight`` > 0; off by default): dlib's 128-d descriptor of
  every training image (:mod:`facelab.datasets.teacher`, computed once and cached) is a target for
  a linear head on z_identity (``teacher_head``, kept in the network so checkpoints round-trip), so
  z_identity is supervised on every image, not only on the people with identity labels.
  ``teacher_cycle_weight`` > 0 (needs the teacher) also asks the *decoded* faces, own and swapped, to
  carry the input's descriptor as z_identity's encoder and the head read them, both held fixed for
  that term: dlib is not differentiable, so the encoder and head act as a recogniser distilled from
  it, and the decoder is trained to draw what identifies the person, not only what lowers pixel error.
- A PatchGAN critic (``critic_weight`` / ``feature_matching_weight`` > 0; off by default):
  ``image_critic`` scores patches of the decoded faces, own and swapped, against real ones on its
  own optimizer step, and the model is trained to pass it and to match its features of the real
  image, for the detail a squared-error decoder blurs.
- SSIM next to the squared error (``ssim_weight`` > 0; off by default), for the same detail.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from torch import nn

from .. import losses as L
from ..config import ConfigError
from ..models import PatchDiscriminator, SplitAutoencoder, reparameterize
from ..models.blocks import norm_group_size
from . import register
from .base import Method, Stage, Step, trainable

TARGET = "expression"
IDENTITY = "identity"
TEACHER_HEAD = "teacher_head"  # the network's attribute (and state-dict prefix) of the teacher's head
TEACHER_WARMUP_LR_SCALE = 10.0  # a linear head alone takes a larger step than the whole network
IMAGE_CRITIC = "image_critic"  # the same for the PatchGAN critic
OPTIONAL_MODULES = (TEACHER_HEAD, IMAGE_CRITIC)  # present only when their option is on


@dataclass
class SwapOptions:
    # (declared first: stage-epoch fields are in stage order, train.evaluate.epoch_fields)
    # epochs before the main stage in which only the teacher's head learns (encoders and decoder fixed,
    # at lr × TEACHER_WARMUP_LR_SCALE). A head that starts fresh in the joint stage learns slowly
    # (photo-swap's teacher check: 1 − cosine 0.50 at step 220 of 609), so the teacher cycle spent its
    # first epoch pulling the decoder towards a head that did not yet know the descriptors. 0: none
    teacher_warmup_epochs: int = 0
    epochs: int = 20
    encoder_depth: int = 0  # extra 3×3 convs per stage in each encoder
    # residual blocks after each encoder stage (models.blocks.Encoder's refine), starting as the
    # identity, so `train --init CKPT --encoder-refine N` grows trained encoders: codes optimised per
    # image through a trained decoder reconstruct 1.3 dB better than the plain encoders' (LIMITS)
    encoder_refine: int = 0
    decoder_depth: int = 0  # extra 3×3 convs per stage in the decoder
    # residual blocks at full resolution before the decoder's output (models.blocks.ResidualBlock):
    # they start as the identity, so `train --init CKPT --decoder-refine N` grows a trained decoder
    decoder_refine: int = 0
    # the same blocks after each lower-resolution upsampling stage (models.blocks.Decoder's mid_refine):
    # a swap's error left is mostly blurred eyes and mouths (bench/swap_gain_ceiling.py --checkpoint)
    decoder_mid_refine: int = 0
    # widen every decoder stage thinner than this (the 32- and 64-px stages have 32 channels of a
    # 32…256 model, yet draw the eyes, where most of a swap's error lies); `--init CKPT` widens a
    # trained decoder, whose new channels start silent (training.load_grown). 0: as configured
    decoder_min_channels: int = 0
    per_person: int = 4  # images of one person per batch (PersonBatchSampler)
    reconstruction_weight: float = 1.0  # both reconstructions are summed over pixels
    swap_weight: float = 1.0
    bce_weight: float = 100.0  # graded expression BCE on the head of z_exp
    # plain cross-entropy on the same head: with BCE alone the head learns far more slowly (after 5
    # epochs 17.4 % against 31.3 % training accuracy, chance 14.3 %: bench/expression_head_losses.py);
    # both rank the right class first
    ce_weight: float = 100.0
    # metric weights: at 10/10/1 the expression codes collapsed to one direction on the generator
    # before they carried any expression (training log: expression_cosine ≈ 0, head at chance)
    cosine_weight: float = 1.0
    triplet_weight: float = 5.0
    l1_weight: float = 0.1
    margin: float = 0.2
    beta: float = 0.0  # KL weight (0: a plain autoencoder, as in the paper)
    # extra weight on the swap target's pixels that differ from this face (mouth, brows): in a plain
    # pixel loss the swapped expression weighs too little for the decoder to listen to z_exp
    detail_weight: float = 10.0
    # the swap's change against the true change (losses.change_consistency; generator only, where the
    # target is exact): swap-synthetic's step-5 swaps moved pixels the expression does not touch
    # (bench/swap_gain_ceiling.py --checkpoint: MSE there 1.71e-3 swapped against 1.37e-3 unchanged);
    # step 6 trained with 4. 0: off
    change_weight: float = 0.0
    # re-encode the swapped face: its expression head must read the partner's expression (CE) and
    # its identity code stay this face's (1 − cosine); 0 switches the extra encoder pass off
    cycle_weight: float = 10.0
    # the recogniser as a teacher: 1 − cosine between a linear head on z_identity and dlib's descriptor
    # of the image, on every image that has one (facelab.datasets.teacher); 0: off, no head, no dlib
    teacher_weight: float = 0.0
    # the decoded faces (own and expression-swapped) re-encoded by z_identity's encoder and read by the
    # teacher's head, both fixed for this term, against this face's descriptor (1 − cosine): the decoder
    # learns to draw what the distilled recogniser reads as this person. Needs teacher_weight > 0; 0: off
    teacher_cycle_weight: float = 0.0
    # identity swapping loss (generator only: it renders the exact answer): this face decoded with the
    # partner's identity code against the render of this face with the partner's person, everything
    # else kept. It tells z_identity to hold the person and nothing else (pose, background, light go
    # to the other sub-codes: give the model a free one, e.g. --latents ... nuisance=16); 0: off
    identity_swap_weight: float = 0.0
    # draw every face's swap partner (and render its targets) again each epoch instead of once per run
    # (SwapPairs.set_epoch): more pairs seen, at one render pass per epoch (about 1 min for 18,000 faces)
    redraw_partners: bool = False
    # a PatchGAN critic on the decoded faces (own and swapped; models.PatchDiscriminator, its own
    # optimizer step first): the model is trained to make each patch pass as real (non-saturating GAN
    # loss, ×critic_weight) and to match the critic's features of the image each decode should be
    # (ℓ1 per layer, ×feature_matching_weight). Squared error draws the mean of what the decoder is
    # unsure of, i.e. blur; this asks for the detail. Both 0: no critic in the network
    critic_weight: float = 0.0
    feature_matching_weight: float = 0.0
    # 1 − SSIM of the own decode and the swapped one against their targets (losses.structural_distance),
    # next to the squared error, which draws a blur where the decoder is unsure. 0: off
    ssim_weight: float = 0.0
    critic_lr_scale: float = 1.0


def _validate(config) -> None:
    missing = {TARGET, IDENTITY} - set(config.latents)
    if missing:
        raise ConfigError(f"swap needs latents 'identity' and 'expression' (missing: {', '.join(sorted(missing))})")
    if config.options.per_person < 1:
        raise ConfigError("per_person must be >= 1")
    if not config.options.identity_swap_weight >= 0:
        raise ConfigError(f"identity_swap_weight must be >= 0, got {config.options.identity_swap_weight}")
    if config.options.teacher_cycle_weight > 0 and not config.options.teacher_weight > 0:
        raise ConfigError("teacher_cycle_weight needs the teacher (teacher_weight > 0): its head reads the decoded faces")
    if config.options.teacher_warmup_epochs > 0 and not config.options.teacher_weight > 0:
        raise ConfigError("teacher_warmup_epochs needs the teacher (teacher_weight > 0): it trains the teacher's head")
    for name in ("teacher_weight", "teacher_cycle_weight", "change_weight", "critic_weight", "feature_matching_weight", "ssim_weight"):
        if not getattr(config.options, name) >= 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(config.options, name)}")
    for name in ("teacher_warmup_epochs", "encoder_depth", "encoder_refine", "decoder_depth", "decoder_refine",
                 "decoder_mid_refine", "decoder_min_channels"):
        if getattr(config.options, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(config.options, name)}")
    wide = config.options.decoder_min_channels
    for c in config.channels:
        if c < wide and wide % norm_group_size(c):
            raise ConfigError(f"decoder_min_channels {wide} must be a multiple of {norm_group_size(c)} "
                              f"(the norm group size of its {c}-channel stage)")


def _preflight(config) -> None:
    """Training with the teacher needs dlib; loading a teacher-trained model does not."""
    from .. import recogniser as R

    if config.options.teacher_weight > 0 and not R.available():
        raise ConfigError(f"teacher_weight {config.options.teacher_weight} needs the face recogniser, dlib and its "
                          f"model files, which are not installed: {R.INSTALL_HINT} (or train with --teacher-weight 0)")


def _optional_keys(net: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """A load pre-hook for the modules that only serve a loss (the teacher's head, the critic):
    weights saved without one (older checkpoints, or a run with it off) load strictly into a network
    that has one, which keeps its fresh initialisation; one saved by such a run is dropped by a
    network without it."""
    for attribute in OPTIONAL_MODULES:
        own = getattr(net, attribute, None)
        head = prefix + attribute + "."
        if own is None:
            for key in [k for k in state_dict if k.startswith(head)]:
                del state_dict[key]
            continue
        for name, value in own.state_dict().items():
            state_dict.setdefault(head + name, value.detach().clone())


def _has_critic(o: SwapOptions) -> bool:
    return o.critic_weight > 0 or o.feature_matching_weight > 0


def build(config) -> SplitAutoencoder:
    o = config.options
    encoders = {a: (config.channels, o.encoder_depth, o.encoder_refine) for a in config.latents}
    net = SplitAutoencoder(config, encoders=encoders,
                           decoder_depth=o.decoder_depth, decoder_refine=o.decoder_refine,
                           decoder_mid_refine=o.decoder_mid_refine, decoder_min_channels=o.decoder_min_channels)
    if o.teacher_weight > 0:  # built last: every other weight starts exactly as without the teacher
        from ..recogniser import DESCRIPTOR_DIM

        setattr(net, TEACHER_HEAD, nn.Linear(config.latents[IDENTITY], DESCRIPTOR_DIM))
    if _has_critic(o):  # built last, as the teacher's head
        setattr(net, IMAGE_CRITIC, PatchDiscriminator(tuple(config.channels[:3])))
    net.register_load_state_dict_pre_hook(_optional_keys)
    return net


def _metric(z: torch.Tensor, labels: torch.Tensor, o: SwapOptions) -> dict:
    return {"cosine": L.cosine_pull(z, labels), "triplet": L.batch_hard_triplet(z, labels, o.margin),
            "l1": L.l1_pull(z, labels)}


def swap_loss(o: SwapOptions):
    def loss(net: SplitAutoencoder, batch: dict) -> dict:
        x, partner = batch["image"], batch["partner"]
        both = torch.cat([x, partner])
        mu, logvar = net.encode(both)
        z = {a: reparameterize(mu[a], logvar[a]) if o.beta > 0 else mu[a] for a in mu}
        n = x.shape[0]
        mine = {a: v[:n] for a, v in z.items()}
        swapped = {**mine, TARGET: z[TARGET][n:]}
        decoded = [net.join(mine), net.join(swapped)]
        identity_swap = o.identity_swap_weight > 0 and "identity_swap_target" in batch
        if identity_swap:
            decoded.append(net.join({**mine, IDENTITY: z[IDENTITY][n:]}))
        out = net.decode(torch.cat(decoded))
        # what out[:2 * n], the own and swapped decodes, should be: for the critic and the SSIM term
        sources = torch.cat([x, batch["swap_target"]]) if _has_critic(o) or o.ssim_weight > 0 else None
        critic_terms, critic_total = {}, 0.0
        if _has_critic(o):
            critic = getattr(net, IMAGE_CRITIC)
            scores, fake = critic(L.like_source(out[:2 * n], sources))
            with torch.no_grad():
                _, real = critic(sources)
            critic_terms = {"fool_critic": L.gan_loss(scores, True), "feature_matching": L.feature_matching(fake, real)}
            critic_total = o.critic_weight * critic_terms["fool_critic"] + o.feature_matching_weight * critic_terms["feature_matching"]
        rec = L.reconstruction(out[:n], x)
        swap = L.reconstruction(out[n:2 * n], batch["swap_target"])
        if o.detail_weight > 0:
            detail = L.change_weighted_reconstruction(out[n:2 * n], batch["swap_target"], x)
            swap_terms = {"swap_detail": detail}
        else:
            detail, swap_terms = 0.0, {}
        exact = batch.get("swap_target_exact")
        change = 0.0
        if o.change_weight > 0 and exact is not None and exact.any():
            change = L.change_consistency(out[n:2 * n][exact], out[:n][exact], batch["swap_target"][exact], x[exact])
            swap_terms["swap_change"] = change
        if o.cycle_weight > 0:
            again, _ = net.encode(out[n:2 * n])
            cycle_ce = L.labelled_cross_entropy(net.classify(again[TARGET]), batch["partner_expression"])
            cycle_id = 1 - torch.nn.functional.cosine_similarity(again[IDENTITY], mine[IDENTITY].detach(), dim=1).mean()
            cycle = cycle_ce + cycle_id
            swap_terms.update(cycle_cross_entropy=cycle_ce, cycle_identity=cycle_id)
        else:
            cycle = 0.0
        logits = net.classify(mine[TARGET])
        bce = L.graded_bce(logits, batch[TARGET], batch.get("intensity"))
        ce = L.labelled_cross_entropy(logits, batch[TARGET])
        ids = batch[IDENTITY].long()
        m_id = _metric(mine[IDENTITY], ids, o)
        m_exp = _metric(mine[TARGET], batch[TARGET], o)
        metric = (o.cosine_weight * (m_id["cosine"] + m_exp["cosine"])
                  + o.triplet_weight * (m_id["triplet"] + m_exp["triplet"])
                  + o.l1_weight * (m_id["l1"] + m_exp["l1"]))
        total = (o.reconstruction_weight * rec + o.swap_weight * swap + o.detail_weight * detail
                 + o.change_weight * change + o.cycle_weight * cycle + o.bce_weight * bce + o.ce_weight * ce + metric
                 + critic_total)
        terms = {"reconstruction": rec, "swap": swap, **swap_terms, "bce": bce, "cross_entropy": ce,
                 "accuracy": L.labelled_accuracy(logits, batch[TARGET]),
                 "identity_triplet": m_id["triplet"], "expression_triplet": m_exp["triplet"],
                 "identity_cosine": m_id["cosine"], "expression_cosine": m_exp["cosine"], **critic_terms}
        if o.ssim_weight > 0:
            terms["structure"] = L.structural_distance(out[:2 * n], sources)
            total = total + o.ssim_weight * terms["structure"]
        if identity_swap:
            terms["identity_swap"] = L.reconstruction(out[2 * n:], batch["identity_swap_target"])
            total = total + o.identity_swap_weight * terms["identity_swap"]
        if o.teacher_weight > 0:
            # per image, not relational (matching z_id's within-batch similarities to the descriptors'):
            # batches are a few people × per_person images, so in-batch pairs would mostly be same-person
            teacher = L.masked_cosine_distance(getattr(net, TEACHER_HEAD)(mu[IDENTITY][:n]), batch["teacher"])
            terms["teacher"] = teacher
            total = total + o.teacher_weight * teacher
            if o.teacher_cycle_weight > 0:
                terms["teacher_cycle"] = teacher_cycle(net, out[:2 * n], batch["teacher"].repeat(2, 1))
                total = total + o.teacher_cycle_weight * terms["teacher_cycle"]
        if o.beta > 0:
            terms["kl"] = L.total_kl(mu, logvar)
            total = total + o.beta * terms["kl"]
        return {"loss": total, **terms}

    return loss


def teacher_cycle(net: SplitAutoencoder, decoded: torch.Tensor, descriptors: torch.Tensor) -> torch.Tensor:
    """1 − cosine between the teacher's head on the decoded faces' z_identity and their descriptors, with
    the identity encoder and the head detached: the gradient reaches the decoded pixels only, so the
    decoder draws to the distilled recogniser and the recogniser is not bent towards the decoder."""
    from torch.func import functional_call

    encoder, head = net.encoders[IDENTITY], getattr(net, TEACHER_HEAD)

    def fixed(module: nn.Module) -> dict:
        return {k: v.detach() for k, v in [*module.named_parameters(), *module.named_buffers()]}

    mu, _ = functional_call(encoder, fixed(encoder), (decoded,))
    return L.masked_cosine_distance(functional_call(head, fixed(head), (mu,)), descriptors)


def teacher_head_loss(net: SplitAutoencoder, batch: dict) -> dict:
    """The teacher's term alone, for the head-only warm-up: z_identity is computed without a gradient
    (nothing but the head learns, and no encoder backward pass is paid for)."""
    with torch.no_grad():
        mu, _ = net.encode(batch["image"])
    teacher = L.masked_cosine_distance(getattr(net, TEACHER_HEAD)(mu[IDENTITY]), batch["teacher"])
    return {"loss": teacher, "teacher": teacher}


def critic_loss(o: SwapOptions):
    """The PatchGAN critic tells real faces (this one and its partner) from their decodes, own and
    swapped; the model's outputs are fixed here (no gradient reaches the encoders or the decoder)."""

    def loss(net: SplitAutoencoder, batch: dict) -> dict:
        x, partner = batch["image"], batch["partner"]
        n = x.shape[0]
        with torch.no_grad():
            mu, _ = net.encode(torch.cat([x, partner]))
            mine = {a: v[:n] for a, v in mu.items()}
            fakes = net.decode(torch.cat([net.join(mine), net.join({**mine, TARGET: mu[TARGET][n:]})]))
            fakes = L.like_source(fakes, torch.cat([x, batch["swap_target"]]))  # grey sources: judged grey
        critic = getattr(net, IMAGE_CRITIC)
        real, _ = critic(torch.cat([x, partner]))
        fake, _ = critic(fakes)
        accuracy = ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
        return {"loss": L.gan_loss(real, True) + L.gan_loss(fake, False), "accuracy": accuracy}

    return loss


def stages(net, config, train_config, fine_tune: bool = False):
    o = config.options
    if o.teacher_warmup_epochs > 0:
        head = getattr(net, TEACHER_HEAD)

        def head_only() -> None:
            net.requires_grad_(False)
            head.requires_grad_(True)

        yield Stage("teacher_head", o.teacher_warmup_epochs, setup=head_only,
                    steps={"model": Step(trainable(head), teacher_head_loss, lr_scale=TEACHER_WARMUP_LR_SCALE)})

    def every() -> None:  # after a head-only warm-up, every weight learns again
        net.requires_grad_(True)

    if not _has_critic(o):
        yield Stage("swap", o.epochs, setup=every, steps={"model": Step(trainable(net), swap_loss(o))})
        return
    critic = getattr(net, IMAGE_CRITIC)
    model = [m for name, m in net.named_children() if name != IMAGE_CRITIC]
    yield Stage("swap", o.epochs, setup=every,
                steps={"critic": Step(trainable(critic), critic_loss(o), lr_scale=o.critic_lr_scale),
                       "model": Step(trainable(*model), swap_loss(o))})


def prepare_data(dataset, config):
    from ..datasets.pairs import SwapPairs

    teacher = None
    if config.options.teacher_weight > 0:
        from .. import distributed
        from ..datasets.teacher import teacher_descriptors, teacher_summary

        _preflight(config)
        # under torchrun every rank computes the same rows (one first run's time, no barrier to time out)
        teacher = teacher_descriptors(dataset, progress=distributed.is_main())
        if distributed.is_main():
            print(teacher_summary(teacher), file=sys.stderr)
    return SwapPairs(dataset, teacher=teacher, identity_targets=config.options.identity_swap_weight > 0,
                     redraw=config.options.redraw_partners)


def batch_sampler(dataset, config, train_config, generator):
    from ..datasets.pairs import person_batch_sampler

    return person_batch_sampler(dataset, train_config.batch_size, config.options.per_person, generator)


def summary(config) -> str:
    o = config.options
    free = {a: d for a, d in config.latents.items() if a not in (TARGET, IDENTITY)}
    return (f"Latent-metric swap autoencoder (after Li, Shu & Samaras): separate expression and identity encoders "
            f"({'-'.join(map(str, config.channels))}), fusion (FC + ReLU) and decoder. Codes that should match are "
            f"pulled together (same person → z_identity, same expression → z_expression) by cosine-embedding "
            f"(×{o.cosine_weight}), batch-hard triplet (×{o.triplet_weight}, margin {o.margin}) and L1 (×{o.l1_weight}) "
            f"losses on batches of {o.per_person} images per person; binary cross-entropy on intensity-valued "
            f"expression vectors (×{o.bce_weight}) and cross-entropy on the same head (×{o.ce_weight}); and a swapping loss (×{o.swap_weight}): this face decoded with "
            f"another face's expression code against the generator's true render of that combination (on real "
            f"data: a same-person partner's photo), with extra weight ×{o.detail_weight} on the pixels the swap "
            f"changes; cycle-consistency (×{o.cycle_weight}): the swapped face re-encoded must read as the partner's "
            f"expression and keep this face's identity code."
            + (f" Other sub-codes ({', '.join(f'{a}: {d}' for a, d in free.items())}) have no loss of their own: "
               f"they carry what reconstruction needs besides identity and expression (on the generator: any of "
               f"pose, background and light), so z_identity need not, and a swap keeps this face's values."
               if free else "")
            + (f" The recogniser as a teacher (×{o.teacher_weight}): a linear head on z_identity is pulled "
               f"towards dlib's 128-d ResNet face descriptor of each training image whose crop geometry is known "
               f"(1 − cosine), so z_identity is supervised on images without person labels too."
               if o.teacher_weight > 0 else "")
            + (f" The decoded faces, own and swapped, re-encoded by the identity encoder and read by that head "
               f"(both held fixed for this term) must give the input's descriptor (×{o.teacher_cycle_weight}), so "
               f"the decoder draws what the distilled recogniser reads as the person." if o.teacher_cycle_weight > 0 else "")
            + (f" The teacher's head was first trained alone for {o.teacher_warmup_epochs} epoch(s), everything else "
               f"fixed." if o.teacher_warmup_epochs > 0 else "")
            + (f" An identity swapping loss (×{o.identity_swap_weight}): this face decoded with another face's "
               f"identity code against the generator's render of this face with that person (everything else "
               f"kept), so z_identity holds the person only." if o.identity_swap_weight > 0 else "")
            + (f" A change loss (×{o.change_weight}): what the swap changes in the decoded face (against this "
               f"face's own decode) must equal what the true render changes, so nothing the expression does not "
               f"touch moves." if o.change_weight > 0 else "")
            + (f" Each encoder has {o.encoder_refine} residual block(s) after each downsampling stage (added to "
               f"trained encoders, starting as the identity)." if o.encoder_refine > 0 else "")
            + (f" The decoder ends in {o.decoder_refine} residual block(s) at full resolution (added to a "
               f"trained decoder, starting as the identity)." if o.decoder_refine > 0 else "")
            + (f" {o.decoder_mid_refine} more after each lower-resolution upsampling stage (added the same way)."
               if o.decoder_mid_refine > 0 else "")
            + (f" Decoder stages have at least {o.decoder_min_channels} channels." if o.decoder_min_channels > 0 else "")
            + (" Swap partners are drawn again each epoch." if o.redraw_partners else "")
            + (f" A PatchGAN critic scores patches of the decoded faces, own and swapped, against real ones on its own "
               f"step; the model is trained to pass it (×{o.critic_weight}) and to match its features of the real "
               f"image (×{o.feature_matching_weight})." if _has_critic(o) else "")
            + (f" 1 − SSIM of both decodes against their targets (×{o.ssim_weight}) next to the squared error."
               if o.ssim_weight > 0 else ""))


register(Method("swap", SwapOptions, build, stages, summary, follows="Li, Shu & Samaras, latent metric learning "
                "for expression and identity disentanglement", validate=_validate,
                prepare_data=prepare_data, batch_sampler=batch_sampler, preflight=_preflight))
