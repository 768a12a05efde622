"""Evaluation of a loaded model on a labelled dataset: the figures that go in model cards.

Everything here encodes data once (:func:`encode_dataset`) and hands plain arrays to the pure
functions in :mod:`facelab.metrics`, so a figure can be recomputed from saved codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from . import metrics
from .labels import EXPRESSIONS, MISSING


@dataclass
class EncodedSet:
    codes: dict[str, np.ndarray]  # attribute → (N, d)
    logits: np.ndarray  # (N, n_classes) of the model's own classifier
    images: np.ndarray  # (N, 3, S, S) float inputs
    recon: np.ndarray  # (N, 3, S, S) float reconstructions
    labels: dict[str, np.ndarray]  # identity, expression (model class index or MISSING), intensity, ...


def encode_dataset(model, dataset, batch_size: int = 256, progress: bool = True) -> EncodedSet:
    """Encode, classify and reconstruct every item of ``dataset`` with a :class:`FaceModel`."""
    from .training import label_remap

    remap = label_remap(model.expressions).numpy()
    codes, logits, images, recon, labels = [], [], [], [], {}
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    for batch in tqdm(loader, desc="encode", disable=not progress):
        x = batch["image"]
        parts = model.encode_tensor(x)
        codes.append(parts)
        with torch.no_grad():
            z = torch.as_tensor(np.concatenate([parts[n] for n in model.config.latents], axis=1))
            logits.append(model.network.classify(torch.as_tensor(parts["expression"])).numpy())
            recon.append(model.decode_tensor(z).numpy())
        images.append(x.numpy())
        for key in ("identity", "expression", "intensity", "yaw", "pitch"):
            if key in batch:
                labels.setdefault(key, []).append(np.asarray(batch[key]))
    labels = {k: np.concatenate(v) for k, v in labels.items()}
    if "expression" in labels:
        known = labels["expression"] != MISSING
        mapped = np.full_like(labels["expression"], MISSING)
        mapped[known] = remap[labels["expression"][known]]
        labels["expression"] = mapped
    return EncodedSet(
        codes={k: np.concatenate([c[k] for c in codes]) for k in model.attributes},
        logits=np.concatenate(logits),
        images=np.concatenate(images),
        recon=np.concatenate(recon),
        labels=labels,
    )


def representation_scores(model, enc: EncodedSet, seed: int = 0) -> dict[str, float]:
    """Expression accuracy, leakage, identity verification and reconstruction, as a flat dict."""
    y = enc.labels.get("expression")
    groups = enc.labels.get("identity")
    groups = groups if groups is not None and (groups != MISSING).all() else None
    out: dict[str, float] = {"n_images": int(len(enc.images))}
    if y is not None and (y != MISSING).any():
        known = y != MISSING
        report = metrics.classifier_report(y[known], enc.logits[known].argmax(1), list(model.expressions))
        out["expression_accuracy"] = report["accuracy"]
        out["expression_balanced_accuracy"] = report["balanced_accuracy"]
        probe = metrics.probe_accuracy(enc.codes["expression"], y, groups=groups, seed=seed)
        out["expression_probe_accuracy"] = probe["accuracy"]
        for kind in ("linear", "mlp"):
            leak = metrics.probe_accuracy(enc.codes["identity"], y, groups=groups, kind=kind, seed=seed)
            out[f"leakage_{kind}_accuracy" if kind == "mlp" else "leakage_accuracy"] = leak["accuracy"]
        out["majority_rate"] = leak["majority_rate"]
        out["confusion"] = report["confusion"]
    if groups is not None and len(np.unique(groups)) > 1:
        out["identity_auc"] = metrics.verification_auc(enc.codes["identity"], groups, seed=seed)["auc"]
        out["identity_auc_expression_code"] = metrics.verification_auc(enc.codes["expression"], groups, seed=seed)["auc"]
    rec = metrics.reconstruction_scores(enc.images, enc.recon)
    out.update({k: rec[k] for k in ("rmse", "psnr", "ssim")})
    return out


def swap_fidelity(model, dataset, n_pairs: int = 256, seed: int = 0) -> dict[str, float]:
    """On the synthetic generator: decode(A's identity + B's expression) vs the true render of A
    with B's expression and intensity. ``swap_*`` should approach ``recon_*`` (the model's own
    reconstruction error) and beat ``noswap_*`` (A unchanged vs the same target)."""
    from .synthetic import render_batch

    rng = np.random.default_rng(seed)
    size = model.config.image_size
    a_idx = rng.integers(0, len(dataset), n_pairs)
    b_idx = rng.integers(0, len(dataset), n_pairs)
    fa = [dataset.factors[i] for i in a_idx]
    fb = [dataset.factors[i] for i in b_idx]
    truth = render_batch([a.replace(expression=b.expression, intensity=b.intensity) for a, b in zip(fa, fb)], size)
    truth = truth.transpose(0, 3, 1, 2).astype(np.float32) / 255
    xa = torch.as_tensor(render_batch(fa, size).transpose(0, 3, 1, 2).astype(np.float32) / 255)
    xb = torch.as_tensor(render_batch(fb, size).transpose(0, 3, 1, 2).astype(np.float32) / 255)
    ca, cb = model.encode_tensor(xa), model.encode_tensor(xb)
    swapped = {**ca, "expression": cb["expression"]}
    order = list(model.config.latents)
    z_swap = np.concatenate([swapped[n] for n in order], 1)
    z_a = np.concatenate([ca[n] for n in order], 1)
    out_swap = model.decode_tensor(z_swap).numpy()
    out_a = model.decode_tensor(z_a).numpy()
    changed = np.array([a.expression != b.expression or abs(a.intensity - b.intensity) > 0.3 for a, b in zip(fa, fb)])
    s = metrics.reconstruction_scores(truth[changed], out_swap[changed])
    n = metrics.reconstruction_scores(truth[changed], out_a[changed])
    r = metrics.reconstruction_scores(xa.numpy(), out_a)
    return {
        "swap_rmse": s["rmse"], "swap_psnr": s["psnr"],
        "noswap_rmse": n["rmse"], "noswap_psnr": n["psnr"],
        "recon_rmse": r["rmse"], "recon_psnr": r["psnr"],
        "swap_pairs": int(changed.sum()),
    }


def disentanglement_scores(enc: EncodedSet, seed: int = 0) -> dict[str, float]:
    """MIG, SAP and DCI of the full code against the generator's factors."""
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
    }
