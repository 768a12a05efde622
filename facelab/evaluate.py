"""Evaluation of a loaded model on a labelled dataset: the figures that go in model cards.

Everything here encodes data once (:func:`encode_dataset`) and hands plain arrays to the pure
functions in :mod:`facelab.metrics`, so a figure can be recomputed from saved codes.
:func:`cross_validate` runs the subject-independent K-fold protocol (train per fold, score the
held-out people) and reports every figure as a per-fold list plus mean and std.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import metrics
from .labels import MISSING


@dataclass
class EncodedSet:
    codes: dict[str, np.ndarray]  # attribute → (N, d)
    logits: np.ndarray | None  # (N, n_classes) of the model's expression head (None without one)
    images: np.ndarray  # (N, 3, S, S) float inputs
    recon: np.ndarray  # (N, 3, S, S) float reconstructions
    labels: dict[str, np.ndarray]  # identity, expression (model class index or MISSING), intensity, ...
    head_logits: dict[str, np.ndarray] = field(default_factory=dict)  # labelled attribute → (N, n_classes)


def encode_dataset(model, dataset, batch_size: int = 256, progress: bool = True) -> EncodedSet:
    """Encode, classify (every labelled attribute from its own sub-code) and reconstruct every
    item of ``dataset`` with a :class:`FaceModel`."""
    from .face_model import join_codes
    from .training import label_remap, remap_labels

    labelled = list(model.class_names())
    codes, heads, images, recon, labels = [], {a: [] for a in labelled}, [], [], {}
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    for batch in tqdm(loader, desc="encode", disable=not progress):
        x = batch["image"]
        parts = model.encode_tensor(x)
        codes.append(parts)
        with torch.no_grad():
            for a in labelled:
                heads[a].append(model.network.classify(torch.as_tensor(parts[a]).to(model.device), a).cpu().numpy())
        recon.append(model.decode_tensor(join_codes(parts, model.config.latents)).numpy())
        images.append(x.numpy())
        for key in ("identity", "expression", "intensity", "yaw", "pitch", "pose"):
            if key in batch:
                labels.setdefault(key, []).append(np.asarray(batch[key]))
    labels = {k: np.concatenate(v) for k, v in labels.items()}
    if "expression" in labels:
        labels["expression"] = remap_labels(labels["expression"].astype(np.int64), label_remap(model.expressions))
    head_logits = {a: np.concatenate(v) for a, v in heads.items()}
    return EncodedSet(
        codes={k: np.concatenate([c[k] for c in codes]) for k in model.attributes},
        logits=head_logits.get("expression"),
        images=np.concatenate(images),
        recon=np.concatenate(recon),
        labels=labels,
        head_logits=head_logits,
    )


def representation_scores(model, enc: EncodedSet, seed: int = 0) -> dict[str, float]:
    """Expression accuracy, leakage, identity verification and retrieval, reconstruction, as a flat dict.

    Leakage is the expression read off *every* other sub-code (``leakage_<attr>_accuracy``);
    ``leakage_accuracy`` is the worst of them, so a method cannot hide expression in a third code.
    """
    y = enc.labels.get("expression")
    groups = enc.labels.get("identity")
    groups = groups if groups is not None and (groups != MISSING).all() else None
    others = [a for a in model.attributes if a != "expression"]
    out: dict[str, float] = {"n_images": int(len(enc.images))}
    if y is not None and (y != MISSING).any() and "expression" in enc.codes:
        known = y != MISSING
        if enc.logits is not None:
            report = metrics.classifier_report(y[known], enc.logits[known].argmax(1), list(model.expressions))
            out["expression_accuracy"] = report["accuracy"]
            out["expression_balanced_accuracy"] = report["balanced_accuracy"]
            out["confusion"] = report["confusion"]
            out["confusion_counts"] = report["confusion_counts"]
        probe = metrics.probe_accuracy(enc.codes["expression"], y, groups=groups, seed=seed)
        out["expression_probe_accuracy"] = probe["accuracy"]
        for kind, suffix in (("linear", "accuracy"), ("mlp", "mlp_accuracy")):
            leaks = {a: metrics.probe_accuracy(enc.codes[a], y, groups=groups, kind=kind, seed=seed)["accuracy"]
                     for a in others}
            out.update({f"leakage_{a}_{suffix}": v for a, v in leaks.items()})
            if leaks:
                out[f"leakage_{suffix}"] = max(leaks.values())
        out["majority_rate"] = probe["majority_rate"]  # every probe uses the same split
    if groups is not None and len(np.unique(groups)) > 1:
        if "identity" in enc.codes:
            out["identity_auc"] = metrics.verification_auc(enc.codes["identity"], groups, seed=seed)["auc"]
            top = metrics.identity_top1(enc.codes["identity"], groups)
            out["identity_top1"], out["identity_top1_chance"] = top["top1"], top["chance"]
        for a in model.attributes:
            if a != "identity":
                out[f"identity_auc_{a}_code"] = metrics.verification_auc(enc.codes[a], groups, seed=seed)["auc"]
    rec = metrics.reconstruction_scores(enc.images, enc.recon)
    out.update({k: rec[k] for k in ("rmse", "psnr", "ssim")})
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def swap_pair_indices(factors, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) indices with B a different person from A (any person when the set has only one):
    an identity swap between two images of one person would test nothing."""
    _, person = np.unique(np.array([(f.seed, f.identity) for f in factors]), axis=0, return_inverse=True)
    person = person.ravel()
    a_idx = rng.integers(0, len(factors), n_pairs)
    b_idx = np.empty_like(a_idx)
    for n, a in enumerate(a_idx):
        others = np.flatnonzero(person != person[a])
        b_idx[n] = rng.choice(others) if len(others) else rng.integers(0, len(factors))
    return a_idx, b_idx


def swap_fidelity(model, dataset, n_pairs: int = 256, seed: int = 0) -> dict[str, float]:
    """On the synthetic generator: decode(A's other codes + B's expression) vs the true render of A
    with B's expression and intensity, A and B different people. ``swap_*`` should approach
    ``recon_*`` (the model's own reconstruction error) and beat ``noswap_*`` (A's reconstruction,
    unchanged, vs the same target; ``render_noswap_psnr``: A's render itself). Re-encoding the swap
    asks whether it *reads* as B's expression (``swap_expression_accuracy``) and still as A's person
    (``swap_identity_kept``: its identity code is closer, by cosine, to A's than to B's).
    ``photo_swap_*`` score the same swaps as the app draws them with *Show edits on the photo* on
    (:mod:`facelab.photo_layer`, under the model's own setting: the decoder's change on A's own render,
    which keeps A's pixels wherever the swap changed little); its gain is over A's render unchanged, the
    photo a user started from. ``photo_swap_read_as_b`` and ``photo_swap_identity_kept`` re-encode that
    drawn swap as the decoded one is, so every swap figure can be read for the picture the user is shown."""
    case = SwapCase.draw(model, dataset, n_pairs, seed)
    s = metrics.reconstruction_scores(case.truth[case.changed], case.out_swap[case.changed])
    n = metrics.reconstruction_scores(case.truth[case.changed], case.out_a[case.changed])
    r = metrics.reconstruction_scores(case.xa, case.out_a)
    re_swap, re_a = model.encode_tensor(torch.as_tensor(case.out_swap)), model.encode_tensor(torch.as_tensor(case.out_a))
    return {
        "swap_expression_accuracy": case.reads_as_target(re_swap),
        "noswap_expression_accuracy": case.reads_as_target(re_a),
        "swap_identity_kept": case.identity_kept(re_swap),
        "noswap_identity_kept": case.identity_kept(re_a),
        "swap_rmse": s["rmse"], "swap_psnr": s["psnr"],
        "noswap_rmse": n["rmse"], "noswap_psnr": n["psnr"],
        "swap_psnr_gain": s["psnr"] - n["psnr"],
        **drawn_swap_scores(case, model.photo_layer_setting()),
        "recon_rmse": r["rmse"], "recon_psnr": r["psnr"],
        "swap_pairs": int(case.changed.sum()),
    }


def drawn_swap_scores(case: "SwapCase", setting) -> dict[str, float]:
    """:func:`swap_fidelity`'s ``photo_swap_*`` figures for one photo-layer setting
    (:class:`facelab.photo_layer.LayerSetting`): the decoded swaps of ``case`` drawn on A's render."""
    from .photo_layer import with_detail

    # an expression swap keeps z_identity, so the whole of the photo layer's pixel test applies
    drawn = np.asarray(with_detail(case.out_swap, case.xa, case.out_a, setting.tolerance, setting.sigma),
                       dtype=np.float32)
    shown = metrics.reconstruction_scores(case.truth[case.changed], drawn[case.changed])
    as_is = metrics.reconstruction_scores(case.truth[case.changed], case.xa[case.changed])
    re_drawn = case.model.encode_tensor(torch.as_tensor(drawn))
    return {"render_noswap_psnr": as_is["psnr"],
            "photo_swap_psnr": shown["psnr"], "photo_swap_psnr_gain": shown["psnr"] - as_is["psnr"],
            "photo_swap_read_as_b": case.reads_as_target(re_drawn),
            "photo_swap_identity_kept": case.identity_kept(re_drawn)}


@dataclass
class SwapCase:
    """Expression swaps between generator people, with what scoring them needs: A's and B's renders
    (``xa``; (N, 3, S, S) in [0, 1]) and codes, the true render of A with B's expression and intensity
    (``truth``), A's decoded reconstruction (``out_a``) and decoded swap (``out_swap``), and which pairs
    changed the picture (``changed``)."""

    model: Any
    xa: np.ndarray
    truth: np.ndarray
    ca: dict
    cb: dict
    out_a: np.ndarray
    out_swap: np.ndarray
    changed: np.ndarray
    target: np.ndarray
    different: np.ndarray
    other_person: np.ndarray

    @classmethod
    def draw(cls, model, dataset, n_pairs: int, seed: int) -> "SwapCase":
        from .face_model import join_codes
        from .synthetic import render_batch
        from .training import label_remap, remap_labels

        rng = np.random.default_rng(seed)
        size = model.config.image_size
        a_idx, b_idx = swap_pair_indices(dataset.factors, n_pairs, rng)
        fa = [dataset.factors[i] for i in a_idx]
        fb = [dataset.factors[i] for i in b_idx]
        truth = render_batch([a.replace(expression=b.expression, intensity=b.intensity) for a, b in zip(fa, fb)], size)
        truth = truth.transpose(0, 3, 1, 2).astype(np.float32) / 255
        xa = torch.as_tensor(render_batch(fa, size).transpose(0, 3, 1, 2).astype(np.float32) / 255)
        xb = torch.as_tensor(render_batch(fb, size).transpose(0, 3, 1, 2).astype(np.float32) / 255)
        ca, cb = model.encode_tensor(xa), model.encode_tensor(xb)
        order = model.config.latents
        out_swap = model.decode_tensor(join_codes({**ca, "expression": cb["expression"]}, order)).numpy()
        out_a = model.decode_tensor(join_codes(ca, order)).numpy()
        changed = np.array([a.expression != b.expression or abs(a.intensity - b.intensity) > 0.3 for a, b in zip(fa, fb)])
        target = remap_labels(np.array([b.expression for b in fb], dtype=np.int64), label_remap(model.expressions))
        different = changed & (np.array([a.expression for a in fa]) != np.array([b.expression for b in fb])) \
            & (target != MISSING)
        other_person = np.array([(a.seed, a.identity) != (b.seed, b.identity) for a, b in zip(fa, fb)])
        return cls(model, xa.numpy(), truth, ca, cb, out_a, out_swap, changed, target, different, other_person)

    def reads_as_target(self, codes: dict) -> float:
        """Share of the pairs with different expressions whose ``codes`` classify as B's expression."""
        if not self.different.any():
            return float("nan")
        with torch.no_grad():
            logits = self.model.network.classify(
                torch.as_tensor(codes["expression"][self.different]).to(self.model.device))
        return float((logits.argmax(1).cpu().numpy() == self.target[self.different]).mean())

    def identity_kept(self, codes: dict) -> float:
        """Share of the two-person pairs whose ``codes``' identity is closer (cosine) to A's than to B's."""
        if "identity" not in codes or not self.other_person.any():
            return float("nan")
        z, za, zb = (_unit(c["identity"][self.other_person]) for c in (codes, self.ca, self.cb))
        return float(((z * za).sum(1) > (z * zb).sum(1)).mean())


def disentanglement_scores(enc: EncodedSet, seed: int = 0) -> dict[str, float]:
    """MIG, SAP and DCI of the full code against the generator's factors.

    Also ``dci_importance``, the (code dimensions × factors) DCI importance matrix (each column
    sums to 1), with ``dimensions`` (row labels such as ``expression[3]``) and ``factors``
    (column labels), for :func:`facelab.plots.importance_figure`."""
    names = [k for k in ("identity", "expression", "intensity", "yaw", "pitch") if k in enc.labels]
    factors, names = metrics.factor_table(enc.labels, names)
    # constant factors (nuisance switched off) carry no information; drop them
    keep = [i for i in range(factors.shape[1]) if np.nanstd(factors[:, i]) > 0]
    factors, names = factors[:, keep], [names[i] for i in keep]
    codes = np.concatenate(list(enc.codes.values()), axis=1)
    mig = metrics.compute_mig(codes, factors)
    sap = metrics.compute_sap(codes, factors, seed=seed)
    dci = metrics.compute_dci(codes, factors, seed=seed)
    return {
        "mig": mig["mig"], "sap": sap["sap"],
        "dci_disentanglement": dci["disentanglement"],
        "dci_completeness": dci["completeness"],
        "dci_informativeness": dci["informativeness"],
        "factors": names,
        "dci_importance": dci["importance"],
        "dimensions": dimension_labels({k: v.shape[1] for k, v in enc.codes.items()}),
    }


def dimension_labels(latents) -> list[str]:
    """``{"identity": 2, "expression": 1}`` → ``["identity[0]", "identity[1]", "expression[0]"]``:
    one label per dimension of the concatenated code, in code order."""
    return [f"{name}[{i}]" for name, size in dict(latents).items() for i in range(int(size))]


class SyntheticView:
    """The generator factors of some samples of a ``SyntheticFaces`` set (``.factors`` and
    ``len``): what :func:`swap_fidelity` needs, for a subset or a cross-validation fold."""

    def __init__(self, factors):
        self.factors = list(factors)

    def __len__(self) -> int:
        return len(self.factors)


def synthetic_view(dataset, indices=None) -> SyntheticView | None:
    """Factors of ``dataset`` (a ``SyntheticFaces`` or a ``Subset`` of one, optionally only at
    ``indices``), or ``None`` when it is not the synthetic generator (no ground truth)."""
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    while isinstance(dataset, torch.utils.data.Subset):
        idx = np.asarray(dataset.indices, dtype=np.int64)[idx]
        dataset = dataset.dataset
    factors = getattr(dataset, "factors", None)
    if factors is None:
        return None
    return SyntheticView(factors[int(i)] for i in idx)


# Per-fold keys that are counts, not figures: reported per fold but not averaged.
_COUNT_KEYS = {"n_images", "swap_pairs"}
_SHOWN = ("expression_accuracy", "leakage_accuracy", "identity_auc", "psnr")  # in the per-fold line


def _is_figure(key: str, value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            and key not in _COUNT_KEYS)


def cross_validate(model_config, train_config, dataset, k: int = 10, seed: int = 0, init=None,
                   progress: bool = True, synthetic_figures: bool = True, swap_pairs: int = 256) -> dict:
    """Subject-independent K-fold cross-validation: no person is in both train and test.

    Folds come from :func:`facelab.datasets.identity_folds` (``GroupKFold`` by identity, shuffled
    with ``seed``). For each fold :func:`facelab.training.train` trains ``model_config.method``
    with ``train_config`` on the other folds — from scratch, or fine-tuned from ``init`` (a
    :class:`~facelab.face_model.FaceModel`, network or state dict of ``model_config``'s
    architecture) — and :func:`representation_scores`
    scores it on the held-out people. On the synthetic generator (``synthetic_figures``) each fold
    also gets :func:`swap_fidelity` (``swap_pairs`` pairs of its test people) and
    :func:`disentanglement_scores`.

    Returns a dict with, for every figure ``F`` of the folds (expression_accuracy, leakage_accuracy,
    majority_rate, identity_auc, psnr, ...): ``F_mean`` and ``F_std`` (sample std, ddof=1, over the
    folds where ``F`` is finite); ``folds`` (one dict per fold: ``fold``, ``n_train``, ``n_test``,
    ``n_train_identities``, ``n_test_identities``, ``test_identities`` (the held-out people's
    identity strings), ``train_time_s``,
    ``eval_time_s`` and its figures); ``confusion_counts`` summed over folds and ``confusion``
    (its row-normalised form: every image is tested exactly once); on synthetic data
    ``dci_importance`` with ``dimensions`` and ``factors`` — of the first fold's model only
    (``dci_importance_fold``), as separately trained models' dimensions do not correspond; and ``k``,
    ``fold_seed``, ``n_images``, ``n_identities``, ``init``, ``fold_time_s_mean``,
    ``wall_time_s``. Prints one line per fold (and a bar over folds with ``progress``).
    """
    from .datasets import identity_folds, sample_groups
    from .face_model import FaceModel
    from .training import train

    t_start = time.perf_counter()
    ids, _ = sample_groups(dataset)
    ids = np.asarray([str(i) if i is not None else f"<sample {n}>" for n, i in enumerate(ids)], dtype=object)
    folds = identity_folds(dataset, k=k, seed=seed)
    extra = {} if init is None else {"init": init}
    per_fold, confusion_counts, importance = [], None, None
    bar = tqdm(folds, desc=f"{k}-fold cross-validation", unit="fold", disable=not progress, dynamic_ncols=True)
    for n, (tr, te) in enumerate(bar, start=1):
        t0 = time.perf_counter()
        network, _ = train(torch.utils.data.Subset(dataset, tr), model_config, train_config, progress=progress, **extra)
        t1 = time.perf_counter()
        model = FaceModel(network, model_config, train_config)
        test = torch.utils.data.Subset(dataset, te)
        enc = encode_dataset(model, test, progress=False)
        scores = representation_scores(model, enc, seed=seed)
        view = synthetic_view(dataset, te) if synthetic_figures else None
        if view is not None:
            scores.update(swap_fidelity(model, view, n_pairs=swap_pairs, seed=seed))
            scores.update(disentanglement_scores(enc, seed=seed))
        t2 = time.perf_counter()
        if "confusion_counts" in scores:
            c = np.asarray(scores["confusion_counts"])
            confusion_counts = c if confusion_counts is None else confusion_counts + c
        if "dci_importance" in scores and importance is None:
            importance = (n, np.asarray(scores["dci_importance"]), scores["dimensions"], scores["factors"])
        row = {"fold": n, "n_train": len(tr), "n_test": len(te),
               "n_train_identities": int(len(set(ids[tr]))), "n_test_identities": int(len(set(ids[te]))),
               "test_identities": sorted(set(ids[te])),
               "train_time_s": round(t1 - t0, 2), "eval_time_s": round(t2 - t1, 2)}
        row.update({key: float(v) if _is_figure(key, v) else int(v)
                    for key, v in scores.items() if _is_figure(key, v) or key in _COUNT_KEYS})
        per_fold.append(row)
        shown = ", ".join(f"{key} {row[key]:.3f}" for key in _SHOWN if key in row)
        tqdm.write(f"fold {n}/{k}: train {len(tr)} images ({row['n_train_identities']} people) {t1 - t0:.1f} s, "
                   f"test {len(te)} images ({row['n_test_identities']} people) {t2 - t1:.1f} s; {shown}")
    bar.close()

    out: dict = {"k": k, "fold_seed": seed, "n_images": len(dataset), "n_identities": int(len(set(ids))),
                 "init": init is not None}
    bookkeeping = {"fold", "n_train", "n_test", "n_train_identities", "n_test_identities", "train_time_s", "eval_time_s"}
    keys = list(dict.fromkeys(key for f in per_fold for key, v in f.items()
                              if key not in bookkeeping and _is_figure(key, v)))
    for key in keys:
        values = np.asarray([f.get(key, np.nan) for f in per_fold], dtype=np.float64)
        finite = values[np.isfinite(values)]
        out[f"{key}_mean"] = float(finite.mean()) if len(finite) else float("nan")
        out[f"{key}_std"] = float(finite.std(ddof=1)) if len(finite) > 1 else (0.0 if len(finite) else float("nan"))
    if confusion_counts is not None:
        support = confusion_counts.sum(1, keepdims=True)
        out["confusion_counts"] = confusion_counts
        with np.errstate(invalid="ignore", divide="ignore"):
            out["confusion"] = np.where(support > 0, confusion_counts / np.maximum(support, 1), 0.0)
    if importance is not None:  # per-fold models' dimensions do not correspond: one fold's, not a mean
        out["dci_importance_fold"], out["dci_importance"], out["dimensions"], out["factors"] = importance
    out["folds"] = per_fold
    out["fold_time_s_mean"] = round(float(np.mean([f["train_time_s"] + f["eval_time_s"] for f in per_fold])), 2)
    out["wall_time_s"] = round(time.perf_counter() - t_start, 1)
    tqdm.write(f"{k}-fold cross-validation: {len(dataset)} images, {out['n_identities']} people, "
               f"wall time {out['wall_time_s']} s ({out['fold_time_s_mean']} s per fold)")
    return out


# ---- every sub-code against every factor: probes, pose error, per-attribute swaps ------------------

PROBE_FACTORS = ("identity", "expression", "intensity", "yaw", "pitch", "roll", "background", "light", "noise")


def factor_labels_of(enc: EncodedSet, dataset=None) -> dict[str, np.ndarray]:
    """The factors to probe for: the generator's (:func:`facelab.synthetic.factor_labels`: pose in
    degrees, background, light, noise…) when ``dataset`` is the generator or a Subset of it, else
    what the encoded batches carried (identity, expression, intensity, yaw, pitch; a photo's
    landmark-estimated ``pose`` gives yaw and pitch in degrees). Expressions
    are the model's class indices (MISSING where the model lacks the class)."""
    view = synthetic_view(dataset) if dataset is not None else None
    if view is not None and len(view) == len(enc.images):
        from .synthetic import factor_labels

        labels = factor_labels(view.factors)
        out = {k: labels[k] for k in PROBE_FACTORS}
    else:
        out = {k: np.asarray(enc.labels[k]) for k in PROBE_FACTORS if k in enc.labels}
        pose = enc.labels.get("pose")
        if pose is not None and "yaw" not in out and np.isfinite(pose).any():
            # photos: yaw and pitch in degrees estimated from MTCNN's landmarks (datasets.build);
            # roll is left out: alignment levels the eyes, so it is ~0 by construction
            out["yaw"], out["pitch"] = (np.asarray(pose[:, i], dtype=np.float64) for i in (0, 1))
    if "expression" in enc.labels:
        out["expression"] = np.asarray(enc.labels["expression"], dtype=np.int64)
    if "identity" in out:
        out["identity"] = np.asarray(out["identity"], dtype=np.int64)
    return out


def attribute_probe_scores(model, enc: EncodedSet, dataset=None, seed: int = 0, test_size: float = 0.3) -> dict:
    """The attribute × sub-code probe matrix (:func:`facelab.metrics.probe_matrix`: each factor read
    from each sub-code by a linear probe, normalised so chance = 0 and perfect = 1) and, for every
    factor whose group (:data:`facelab.synthetic.FACTOR_GROUPS`) has a sub-code of that name, how
    well its own sub-code and the best other one read it.

    Keys: ``probe_matrix`` (factors × sub-codes, normalised), ``probe_raw`` (accuracy or R²),
    ``probe_chance`` (raw chance per factor), ``probe_kinds``, ``probe_factors``, ``probe_codes``,
    ``probe_mae`` (continuous factors' mean absolute error, in their units: degrees for pose);
    ``probe_<factor>_own`` and ``probe_<factor>_other_max`` (normalised); ``<group>_mae_<factor>``
    for continuous factors read from their own sub-code (``pose_mae_yaw``: degrees);
    ``probe_own_min`` and ``probe_other_max`` over those factors (the issue's bars: ≥ 0.9, and
    within 0.05 of chance, i.e. ≤ 0.05)."""
    from .synthetic import GROUP_OF_FACTOR

    factors = factor_labels_of(enc, dataset)
    m = metrics.probe_matrix({a: enc.codes[a] for a in model.attributes}, factors, test_size=test_size, seed=seed)
    out: dict = {"probe_matrix": m["normalised"], "probe_raw": m["raw"], "probe_chance": m["chance"],
                 "probe_kinds": m["kinds"], "probe_factors": m["factors"], "probe_codes": m["codes"],
                 "probe_mae": m["mae"]}
    own, other = [], []
    for i, factor in enumerate(m["factors"]):
        group = GROUP_OF_FACTOR.get(factor)
        if group not in m["codes"]:
            continue
        j = m["codes"].index(group)
        row = m["normalised"][i]
        out[f"probe_{factor}_own"] = float(row[j])
        own.append(float(row[j]))
        rest = [float(row[k]) for k in range(len(row)) if k != j]
        if rest:
            out[f"probe_{factor}_other_max"] = max(rest)
            other.append(max(rest))
        if m["kinds"][i] == "r2":
            out[f"{group}_mae_{factor}"] = float(m["mae"][i, j])
    if own:
        out["probe_own_min"] = min(own)
    if other:
        out["probe_other_max"] = max(other)
    return out


def _different_people(identities, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(identities) if identities is not None else None
    n = len(ids) if ids is not None else 0
    a_idx = rng.integers(0, n, n_pairs)
    b_idx = np.empty_like(a_idx)
    for k, a in enumerate(a_idx):
        others = np.flatnonzero((ids != ids[a]) & (ids >= 0)) if ids[a] >= 0 else np.flatnonzero(np.arange(n) != a)
        b_idx[k] = rng.choice(others) if len(others) else rng.integers(0, n)
    return a_idx, b_idx


def _closer(u: np.ndarray, p: np.ndarray, q: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Per row: is ``u`` closer to ``p`` than to ``q`` by cosine, all three centred on ``centre``?"""
    u, p, q = (_unit(v - centre) for v in (u, p, q))
    return (u * p).sum(1) > (u * q).sum(1)


def _moved_by_label(attribute: str, moved: np.ndarray, labels, a_idx: np.ndarray, b_idx: np.ndarray) -> dict:
    """``moved`` split by whether A and B share the class label named like the sub-code: a pair that
    shares it (two smiles) leaves only within-class detail to move towards, so a sub-code that holds
    the class and little else moves less there, not less well."""
    if labels is None:
        return {}
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        return {}
    known = (y[a_idx] >= 0) & (y[b_idx] >= 0)
    same, other = known & (y[a_idx] == y[b_idx]), known & (y[a_idx] != y[b_idx])
    out = {}
    for name, rows in (("same_label", same), ("other_label", other)):
        if rows.any():
            out[f"attribute_swap_{attribute}_moved_{name}"] = float(moved[rows].mean())
            out[f"attribute_swap_{attribute}_pairs_{name}"] = int(rows.sum())
    return out


def attribute_swap_scores(model, enc: EncodedSet, n_pairs: int = 256, seed: int = 0) -> dict:
    """For every sub-code: A's code with B's sub-code swapped in (A and B different people),
    decoded and re-encoded. ``attribute_swap_<a>_moved``: share of swaps whose re-encoded sub-code
    is closer (cosine, codes centred on the evaluated set's mean) to B's than to A's (``_moved_l2``:
    by Euclidean distance); ``attribute_swap_<a>_identity_kept``: share whose re-encoded identity
    code stays closer to A's than to B's (for the identity swap itself: ``_others_kept``, every
    other sub-code closer to A's); ``attribute_swap_<a>_kept_<b>``: share whose re-encoded sub-code ``b``
    stays closer to A's, for every other ``b`` (which sub-code a swap disturbs: on a wider encoder the
    pose followed the identity and style swaps, synthetic-fourway's LIMITS);
    ``attribute_swap_<a>_success``: both at once, the issue's bar (≥ 0.9 for every sub-code);
    ``attribute_swap_success_min`` the lowest over sub-codes.
    ``attribute_swap_<a>_moved_same_label`` / ``_moved_other_label``: ``_moved`` over the pairs whose
    class label of the sub-code's name (e.g. the expression) is the same / differs, where there is one."""
    from .face_model import join_codes

    rng = np.random.default_rng(seed)
    a_idx, b_idx = _different_people(enc.labels.get("identity", np.zeros(len(enc.images), np.int64) - 1),
                                     n_pairs, rng)
    order = model.config.latents
    ca = {a: enc.codes[a][a_idx] for a in order}
    cb = {a: enc.codes[a][b_idx] for a in order}
    centre = {a: enc.codes[a].mean(0) for a in order}
    identity = "identity" if "identity" in order else None
    out: dict = {}
    successes = []
    for a in order:
        swapped = join_codes({**ca, a: cb[a]}, order)
        again = model.encode_tensor(model.decode_tensor(swapped))
        moved = _closer(again[a], cb[a], ca[a], centre[a])
        moved_l2 = np.linalg.norm(again[a] - cb[a], axis=1) < np.linalg.norm(again[a] - ca[a], axis=1)
        out[f"attribute_swap_{a}_moved"] = float(moved.mean())
        out[f"attribute_swap_{a}_moved_l2"] = float(moved_l2.mean())
        if a != identity:  # A and B are always different people: the identity split would repeat _moved
            out.update(_moved_by_label(a, moved, enc.labels.get(a), a_idx, b_idx))
        stays = {other: _closer(again[other], ca[other], cb[other], centre[other]) for other in order if other != a}
        for other, held in stays.items():
            out[f"attribute_swap_{a}_kept_{other}"] = float(held.mean())
        if identity is not None and a != identity:
            kept = stays[identity]
            out[f"attribute_swap_{a}_identity_kept"] = float(kept.mean())
        else:
            kept = np.logical_and.reduce(list(stays.values())) if stays else np.ones(len(a_idx), dtype=bool)
            out[f"attribute_swap_{a}_others_kept"] = float(kept.mean())
        out[f"attribute_swap_{a}_success"] = float((moved & kept).mean())
        successes.append(out[f"attribute_swap_{a}_success"])
    out["attribute_swap_success_min"] = min(successes)
    out["attribute_swap_pairs"] = int(len(a_idx))
    return out


def attribute_scores(model, enc: EncodedSet, dataset=None, seed: int = 0, n_pairs: int = 256) -> dict:
    """:func:`attribute_probe_scores` and :func:`attribute_swap_scores` together: the figures of a
    model with several sub-codes (any names), one call for ``train.evaluate``."""
    return {**attribute_probe_scores(model, enc, dataset, seed=seed),
            **attribute_swap_scores(model, enc, n_pairs=n_pairs, seed=seed)}
