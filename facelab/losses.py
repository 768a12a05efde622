"""Loss terms: small pure functions of tensors, composed by each method's own loss (``facelab.methods``).

A term whose label is missing for every sample in a batch contributes zero (with a gradient
path, so ``backward`` still works), so mixed datasets can share batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .labels import MISSING


_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what PIL's convert("L") uses


def is_grey(x: torch.Tensor, tolerance: float = 1e-3) -> torch.Tensor:
    """Per image of a (B, 3, H, W) batch: are its three channels the same everywhere (a grey photo
    loaded as RGB)? Bool (B,)."""
    spread = x.amax(1) - x.amin(1)
    return spread.flatten(1).amax(1) <= tolerance


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) → (B, 1, H, W) BT.601 luma."""
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def like_source(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x_hat`` with every image whose source ``x`` is grey replaced by its luminance (in all three
    channels): what a critic may compare with ``x``. Otherwise colour alone tells a grey photo from
    its decode, and a critic would teach the decoder to paint grey (as :func:`reconstruction` avoids)."""
    if x.shape[1] != 3 or x.shape != x_hat.shape:
        return x_hat
    return torch.where(is_grey(x)[:, None, None, None], luminance(x_hat).expand_as(x_hat), x_hat)


def structural_distance(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """1 − SSIM (Wang et al. 2004; torchmetrics' differentiable one: 11-px Gaussian window, σ 1.5)
    per image, averaged over the batch. A grey source is compared with the luminance of its decode
    (:func:`like_source`), as in :func:`reconstruction`.

    Why next to squared error: squared error is minimised by the mean of what the decoder is unsure
    of, a blur; SSIM scores local contrast and structure (the edges of eyes, lids and mouths).
    """
    from torchmetrics.functional.image import structural_similarity_index_measure  # training only

    similarity = structural_similarity_index_measure(like_source(x_hat, x).float(), x.float(), data_range=1.0,
                                                     reduction="none")
    return (1.0 - similarity).mean()


def reconstruction(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error summed over pixels, averaged over the batch (a Gaussian decoder's NLL up to scale).

    A grey target (FER2013 and other greyscale sets) is compared with the *luminance* of the
    reconstruction only (×3, the weight of its three equal channels): a grey photo says nothing
    about colour, so it must not teach the decoder to paint faces grey; colour is learned from
    the colour sources in the same batches.
    """
    if x.shape[1] != 3 or x.shape != x_hat.shape:
        return F.mse_loss(x_hat, x, reduction="sum") / x.shape[0]
    colour = (x_hat - x).pow(2).flatten(1).sum(1)
    luma = 3.0 * (luminance(x_hat) - luminance(x)).pow(2).flatten(1).sum(1)
    return torch.where(is_grey(x), luma, colour).sum() / x.shape[0]  # no host sync: both computed


def change_weighted_reconstruction(x_hat: torch.Tensor, target: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Squared error summed over the pixels where ``target`` differs from ``reference`` (weighted
    by how much, 0…1 per image, widened by a 3×3 neighbourhood), averaged over the batch.

    A swapped expression changes a few mouth and brow pixels: in a plain pixel loss that change
    weighs almost nothing next to the reconstruction error, so a decoder can ignore the swapped code.
    """
    change = (target - reference).abs().mean(1, keepdim=True)
    change = F.max_pool2d(change, 3, stride=1, padding=1)
    weight = change / change.flatten(1).max(1).values.clamp_min(1e-6)[:, None, None, None]
    return (weight * (x_hat - target) ** 2).sum() / x_hat.shape[0]


def change_consistency(x_swap: torch.Tensor, x_own: torch.Tensor, target: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Squared error between what a swap changed in the decoder's output (``x_swap − x_own``, the
    swapped decode against this face's own, which gets no gradient here) and what it should change
    (``target − reference``, the true render's change), summed over pixels, averaged over the batch.

    The swap and the face's own reconstruction share the decoder's blur, so a loss against the
    target alone cannot tell blur from a wrong change; this one asks for the change only: nothing
    outside the swapped attribute's pixels may move, and inside them the move must be the true one.
    """
    return F.mse_loss(x_swap - x_own.detach(), target - reference, reduction="sum") / x_swap.shape[0]


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, σ²) ‖ N(0, I)) summed over dimensions, averaged over the batch."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]


def total_kl(mu: dict[str, torch.Tensor], logvar: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`kl_divergence` summed over every sub-code of named posteriors."""
    return sum(kl_divergence(mu[a], logvar[a]) for a in mu)


def labelled_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over samples whose label is known (label != MISSING); 0 when none are."""
    known = labels != MISSING
    if not known.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known], labels[known])


def labelled_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Share of known labels the logits get right (a logged figure, not a loss); 0 when none are known."""
    known = labels != MISSING
    if not known.any():
        return logits.new_zeros(())
    return (logits.detach().argmax(1) == labels)[known].float().mean()


def mean_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the softmax of ``logits``: log(classes) when the output is uniform."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(1).mean()


def graded_targets(labels: torch.Tensor, intensity: torch.Tensor | None, n_classes: int) -> torch.Tensor:
    """Expression label vectors whose value is the intensity (0…1) instead of one-hot ones.

    Class ``e`` at intensity ``t`` → ``t`` at e, 0 elsewhere, so the sigmoid of a class's logit
    learns how strongly it shows; a missing intensity (NaN) counts as 1, and so does intensity 0
    (the neutral face is fully neutral). Rows of unknown labels are zero (mask them with
    ``labels != MISSING``).
    """
    known = labels != MISSING
    out = torch.zeros(labels.shape[0], n_classes, device=labels.device)
    t = torch.ones(labels.shape[0], device=labels.device) if intensity is None \
        else torch.nan_to_num(intensity.float(), nan=1.0).clamp(0, 1)
    t = torch.where(t > 0, t, torch.ones_like(t))
    out[torch.arange(labels.shape[0]), labels.clamp_min(0)] = t
    return out * known[:, None]


def graded_bce(logits: torch.Tensor, labels: torch.Tensor, intensity: torch.Tensor | None) -> torch.Tensor:
    """Binary cross-entropy of each class's logit against :func:`graded_targets`, summed over
    classes and averaged over the known labels."""
    known = labels != MISSING
    if not known.any():
        return logits.sum() * 0.0
    target = graded_targets(labels, intensity, logits.shape[1])
    return F.binary_cross_entropy_with_logits(logits[known], target[known], reduction="sum") / int(known.sum())


def _same(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, B) masks of pairs with the same known label (self excluded) and with different known labels."""
    known = labels != MISSING
    both = known[:, None] & known[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    same = (labels[:, None] == labels[None, :]) & both & ~eye
    return same, both & ~same & ~eye


def cosine_pull(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cosine-embedding loss with target +1: mean (1 − cos) over pairs that share a known label."""
    same, _ = _same(labels)
    if not same.any():
        return z.sum() * 0.0
    zn = F.normalize(z, dim=1)
    return (1 - zn @ zn.T)[same].mean()


def l1_pull(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between codes of pairs that share a known label."""
    same, _ = _same(labels)
    if not same.any():
        return z.sum() * 0.0
    i, j = same.nonzero(as_tuple=True)
    return (z[i] - z[j]).abs().mean()


def batch_hard_triplet(z: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """Triplet loss on L2-normalised codes, hardest positive and negative per anchor within the batch."""
    same, different = _same(labels)
    anchors = same.any(1) & different.any(1)
    if not anchors.any():
        return z.sum() * 0.0
    zn = F.normalize(z, dim=1)
    d = (2 - 2 * zn @ zn.T).clamp_min(0)
    hardest_pos = torch.where(same, d, torch.zeros_like(d)).max(1).values
    hardest_neg = torch.where(different, d, torch.full_like(d, 4.0)).min(1).values
    return F.relu(hardest_pos - hardest_neg + margin)[anchors].mean()


def l1(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over every element (a per-pixel or per-dimension ℓ1)."""
    return (x_hat - x).abs().mean()


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean absolute difference between a critic's features of decoded faces and of the images they
    should be (per layer, averaged over layers); the real side gets no gradient. A learned perceptual
    distance: it rewards drawing the edges and textures the critic looks at, where a pixel loss
    settles for their blurred mean."""
    return torch.stack([F.l1_loss(f, r.detach()) for f, r in zip(fake, real)]).mean()


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of a critic's logits against "real" (1) or "fake" (0) for every sample:
    a critic minimises it with the true answers, a generator with ``real=True`` on its fakes (the
    non-saturating GAN loss)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def labelled_l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over rows of ``target`` (B, k) with no NaN (NaN marks an unknown label); 0
    when none are known. ``prediction`` may have more columns than ``target``: the first k are compared."""
    target = target.to(prediction.dtype)
    if target.dim() == 1:
        target = target[:, None]
    known = torch.isfinite(target).all(1)
    if not known.any():
        return prediction.sum() * 0.0
    return (prediction[known, : target.shape[1]] - target[known]).abs().mean()


def _unit_columns(x: torch.Tensor) -> torch.Tensor:
    """Columns centred and scaled to unit length: their dot products are Pearson correlations."""
    x = x - x.mean(0)
    return x / x.pow(2).sum(0).sqrt().clamp_min(1e-6)


def label_correlation(code: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared Pearson correlation, over the batch, between every column of ``code`` (B, d) and
    every column of ``labels`` (B, k) (the XCov idea of Cheung et al. 2014, against known factors).
    When every column of a code is uncorrelated with a label, a linear probe fitted on the code reads
    nothing of it (its least-squares weights are 0). Rows with a NaN label take no part; 0 with fewer
    than 3 known rows, or for a constant label column."""
    labels = labels.to(code.dtype)
    labels = labels[:, None] if labels.dim() == 1 else labels
    known = torch.isfinite(labels).all(1)
    if int(known.sum()) < 3:
        return code.sum() * 0.0
    return (_unit_columns(code[known]).T @ _unit_columns(labels[known])).pow(2).mean()


def prediction_correlation(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over columns of the squared Pearson correlation, over the batch, between ``prediction``
    (B, k) and ``target`` (B, k), column by column: 0 when a regressor's outputs carry nothing
    linear of what it predicts, 1 when they are exact up to scale. Bounded, so an encoder can be
    trained to drive it to 0 against an adversary without running off (as maximising the
    adversary's squared error would)."""
    return (_unit_columns(prediction) * _unit_columns(target.to(prediction.dtype))).sum(0).pow(2).mean()


def masked_cosine_distance(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean ``1 − cos(prediction, target)`` over the rows of ``target`` (B, k) with no NaN (NaN marks a
    missing target, e.g. an image the recogniser has no descriptor of); 0 when none has one, with a
    gradient path. Never syncs with the host, and no NaN reaches the gradient."""
    prediction, target = prediction.float(), target.float()
    known = torch.isfinite(target).all(1)
    cos = F.cosine_similarity(prediction, torch.where(known[:, None], target, torch.zeros_like(target)), dim=1)
    return ((1 - cos) * known).sum() / known.sum().clamp_min(1)


def graded_label_vectors(labels: torch.Tensor, intensity: torch.Tensor | None, n_classes: int) -> torch.Tensor:
    """Expressions as points (B, n_classes) whose distances mean something: class ``e`` at intensity
    ``t`` is ``t`` at e and 0 elsewhere, so every class starts from the neutral face (intensity 0,
    the origin) and two intensities of one class lie on one ray. A missing intensity (NaN) counts
    as 1; rows of unknown labels (MISSING) are NaN."""
    known = labels != MISSING
    t = torch.ones(labels.shape[0], device=labels.device) if intensity is None \
        else torch.nan_to_num(intensity.float(), nan=1.0).clamp(0, 1)
    out = torch.zeros(labels.shape[0], n_classes, device=labels.device)
    out[torch.arange(labels.shape[0]), labels.clamp_min(0)] = t
    return torch.where(known[:, None], out, torch.full_like(out, float("nan")))


def label_distance_triplet(z: torch.Tensor, targets: torch.Tensor, margin: float = 0.2,
                           tolerance: float = 1e-6) -> torch.Tensor:
    """Triplet loss on L2-normalised codes for labels that are points (continuous factors, graded
    expressions) rather than classes.

    For each anchor the positives are its nearest samples in label space (ties within
    ``tolerance``: every same-class sample for class labels), the hardest of them (furthest in
    code space) is used, and every sample further away in label space is a negative:
    ``relu(d(a, p) − d(a, n) + margin · min(1, (L(a, n) − L(a, p)) / s))`` averaged over
    (anchor, negative) pairs, where L is the label distance, s its batch median and d the
    squared code distance. The margin so grows with how much further the negative's label is;
    with one-hot labels this is the batch-hard triplet loss with every negative. Rows of
    ``targets`` (B, k) containing NaN are unknown and take no part."""
    targets = targets.float()
    if targets.dim() == 1:
        targets = targets[:, None]
    known = torch.isfinite(targets).all(1)
    if int(known.sum()) < 3:
        return z.sum() * 0.0
    zk, tk = F.normalize(z[known], dim=1), targets[known]
    n = zk.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    label = torch.cdist(tk, tk)
    d = (2 - 2 * zk @ zk.T).clamp_min(0)
    off = label.masked_fill(eye, float("inf"))
    nearest = off.min(1, keepdim=True).values
    positive = (off <= nearest + tolerance) & ~eye
    negative = (label > nearest + tolerance) & ~eye
    anchors = positive.any(1) & negative.any(1)
    if not anchors.any():
        return z.sum() * 0.0
    hardest = torch.where(positive, d, torch.zeros_like(d)).max(1, keepdim=True).values
    scale = label[~eye].median().clamp_min(tolerance)
    m = margin * ((label - nearest) / scale).clamp(0, 1)
    hinge = F.relu(hardest - d + m)
    pairs = negative & anchors[:, None]
    return hinge[pairs].mean()
