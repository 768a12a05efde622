"""Scores for learned face representations (after google-research/disentanglement_lib).

Every metric is a pure function of arrays that returns a ``dict`` of named scores; none of
them samples data, so each works on whatever labelled subset a caller has (no full factor
grid is assumed). Results are deterministic given ``seed``.

Conventions
-----------
* ``codes``: ``(N, D)`` float array (torch tensors are accepted and moved to numpy).
* ``labels`` / ``identities``: ``(N,)`` integer arrays; a value < 0 (``labels.MISSING``)
  means "unknown" and that sample is dropped.
* ``factors``: ``(N, K)`` array, typically from :func:`factor_table`; ``NaN`` marks a
  missing value and that sample is dropped for that factor only. Integer-valued columns are
  categorical, columns with non-integer values continuous (override with ``continuous``).
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage
from scipy.stats import entropy
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, mutual_info_score, r2_score, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

__all__ = [
    "split_indices",
    "probe_accuracy",
    "classifier_report",
    "verification_auc",
    "identity_top1",
    "reconstruction_scores",
    "ssim",
    "discretize",
    "compute_mig",
    "compute_sap",
    "compute_dci",
    "factor_table",
    "regression_probe",
    "probe_matrix",
]


# --------------------------------------------------------------------------- helpers


def _np(a, dtype=None) -> np.ndarray:
    """``a`` as a numpy array (detaching / moving torch tensors to the CPU)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def _codes_2d(codes) -> np.ndarray:
    c = _np(codes, np.float64)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2:
        raise ValueError(f"codes must be (N, D), got shape {c.shape}")
    return c


def _factors_2d(factors) -> np.ndarray:
    f = _np(factors, np.float64)
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2:
        raise ValueError(f"factors must be (N, K), got shape {f.shape}")
    return f


def _check_len(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{what}: length mismatch ({len(a)} vs {len(b)})")


def _stratifiable(y: np.ndarray, test_size: float) -> bool:
    _, counts = np.unique(y, return_counts=True)
    n_test = int(np.ceil(test_size * len(y)))
    return counts.min() >= 2 and len(counts) <= n_test and len(counts) <= len(y) - n_test


def _split(y: np.ndarray, groups, test_size: float, seed: int, stratify: bool = True):
    """Positions (train, test) into ``y``; group-disjoint if ``groups`` is given."""
    n = len(y)
    idx = np.arange(n)
    if groups is not None:
        groups = _np(groups)
        if len(np.unique(groups)) < 2:
            raise ValueError("need at least 2 groups for a group-disjoint split")
        gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        tr, te = next(gss.split(idx, y, groups))
        return tr, te
    strat = y if (stratify and _stratifiable(y, test_size)) else None
    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(te)


def split_indices(labels, groups=None, test_size: float = 0.3, seed: int = 0):
    """The (train, test) split :func:`probe_accuracy` uses, as indices into ``labels``.

    Samples with a label < 0 are in neither part. With ``groups`` (e.g. identity ids) the
    split is a ``GroupShuffleSplit``: no group appears in both parts (``test_size`` is then
    the fraction of groups). Otherwise a stratified ``train_test_split`` when every class
    has >= 2 samples.
    """
    y = _np(labels).astype(np.int64)
    keep = np.flatnonzero(y >= 0)
    g = None if groups is None else _np(groups)[keep]
    if groups is not None:
        _check_len(y, _np(groups), "labels/groups")
    tr, te = _split(y[keep], g, test_size, seed)
    return keep[tr], keep[te]


# --------------------------------------------------------------------------- probes


def probe_accuracy(codes, labels, groups=None, kind: str = "linear", test_size: float = 0.3,
                   seed: int = 0) -> dict:
    """Test accuracy of a classifier that reads ``labels`` off ``codes``.

    ``kind="linear"``: standardised features + ``LogisticRegression``; ``"mlp"``: one
    hidden layer of 64 with early stopping. With ``groups`` (identity ids) the split is
    subject-independent. ``accuracy`` is in [0, 1] and should be compared with
    ``majority_rate`` (share of the most frequent class in the test part), the score of
    always guessing that class.
    """
    x = _codes_2d(codes)
    y = _np(labels).astype(np.int64)
    _check_len(x, y, "codes/labels")
    tr, te = split_indices(y, groups, test_size, seed)
    if len(tr) == 0 or len(te) == 0:
        raise ValueError("split left an empty train or test part")
    xtr, ytr, xte, yte = x[tr], y[tr], x[te], y[te]
    if len(np.unique(ytr)) < 2:  # nothing to learn: predict the only class seen
        pred = np.full_like(yte, ytr[0])
    else:
        if kind == "linear":
            clf = LogisticRegression(max_iter=2000)
        elif kind == "mlp":
            _, counts = np.unique(ytr, return_counts=True)
            clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=seed,
                                early_stopping=bool(counts.min() >= 2 and len(ytr) >= 20))
        else:
            raise ValueError(f"kind must be 'linear' or 'mlp', got {kind!r}")
        model = make_pipeline(StandardScaler(), clf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings on tiny / random data
            model.fit(xtr, ytr)
        pred = model.predict(xte)
    _, counts = np.unique(yte, return_counts=True)
    return {
        "accuracy": float(np.mean(pred == yte)),
        "majority_rate": float(counts.max() / len(yte)),
        "n_train": len(tr),
        "n_test": len(te),
    }


def classifier_report(y_true, y_pred, class_names: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy and confusion matrices for class indices 0..C-1.

    Samples with ``y_true < 0`` are dropped; a prediction outside 0..C-1 counts as wrong.
    ``confusion`` is row-normalised (row = true class, so the diagonal is per-class recall;
    rows of absent classes are 0), ``confusion_counts`` holds the raw counts.
    ``per_class_recall`` is ``NaN`` for classes absent from ``y_true``;
    ``balanced_accuracy`` is its mean over the present classes. All rates are in [0, 1].
    """
    yt = _np(y_true).astype(np.int64).ravel()
    yp = _np(y_pred).astype(np.int64).ravel()
    _check_len(yt, yp, "y_true/y_pred")
    keep = yt >= 0
    yt, yp = yt[keep], yp[keep]
    c = len(class_names)
    if yt.size and yt.max() >= c:
        raise ValueError(f"y_true has class {yt.max()} but only {c} class names")
    counts = np.zeros((c, c), dtype=np.int64)
    ok = (yp >= 0) & (yp < c)
    np.add.at(counts, (yt[ok], yp[ok]), 1)
    support = np.bincount(yt, minlength=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        confusion = np.where(support[:, None] > 0, counts / np.maximum(support, 1)[:, None], 0.0)
        recall = np.where(support > 0, np.diag(counts) / support, np.nan)
    present = support > 0
    return {
        "accuracy": float(np.mean(yt == yp)) if yt.size else float("nan"),
        "balanced_accuracy": float(np.mean(recall[present])) if present.any() else float("nan"),
        "confusion": confusion,
        "confusion_counts": counts,
        "per_class_recall": recall,
        "support": support,
        "n": int(yt.size),
    }


def _sample_pairs(ids: np.ndarray, n_each: int, rng: np.random.Generator):
    """Up to ``n_each`` same-identity and ``n_each`` different-identity index pairs."""
    n = len(ids)
    if n * (n - 1) // 2 <= 4 * n_each + 1000:  # small: enumerate every pair, then subsample
        i, j = np.triu_indices(n, k=1)
        same = ids[i] == ids[j]
        pos = np.flatnonzero(same)
        neg = np.flatnonzero(~same)
        pos = rng.choice(pos, size=min(n_each, len(pos)), replace=False) if len(pos) else pos
        neg = rng.choice(neg, size=min(n_each, len(neg)), replace=False) if len(neg) else neg
        return (i[pos], j[pos]), (i[neg], j[neg])
    # large: sample with replacement. Positives: an anchor with a same-id partner, then a
    # different member of its identity. Negatives: random pairs, rejecting same identity.
    order = np.argsort(ids, kind="stable")
    sids = ids[order]
    uniq, start, count = np.unique(sids, return_index=True, return_counts=True)
    grp = np.searchsorted(uniq, sids)
    eligible = np.flatnonzero(count[grp] >= 2)
    if len(eligible):
        a = rng.choice(eligible, size=n_each)
        c, s = count[grp[a]], start[grp[a]]
        b = s + (a - s + 1 + rng.integers(0, c - 1)) % c
        pos = (order[a], order[b])
    else:
        pos = (np.zeros(0, int), np.zeros(0, int))
    if len(uniq) < 2:
        return pos, (np.zeros(0, int), np.zeros(0, int))
    ni, nj = [], []
    need = n_each
    while need > 0:
        i = rng.integers(0, n, size=2 * need)
        j = rng.integers(0, n, size=2 * need)
        d = ids[i] != ids[j]
        ni.append(i[d][:need])
        nj.append(j[d][:need])
        need -= len(ni[-1])
    return pos, (np.concatenate(ni), np.concatenate(nj))


def _unit_codes(codes, identities) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised codes and their identities, samples of unknown identity (< 0) dropped."""
    x = _codes_2d(codes)
    ids = _np(identities).astype(np.int64).ravel()
    _check_len(x, ids, "codes/identities")
    keep = ids >= 0
    x, ids = x[keep], ids[keep]
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), ids


def verification_auc(codes, identities, max_pairs: int = 20000, seed: int = 0) -> dict:
    """ROC AUC of cosine similarity at telling same-identity from different-identity pairs.

    About ``max_pairs / 2`` positive and as many negative pairs are sampled (all pairs when
    the set is small). ``auc`` is in [0, 1]: 0.5 is chance, 1 means every same-identity
    pair is more similar than every different-identity pair. Samples with identity < 0 are
    dropped; ``auc`` is ``NaN`` when either kind of pair does not exist.
    """
    x, ids = _unit_codes(codes, identities)
    rng = np.random.default_rng(seed)
    (pi, pj), (ni, nj) = _sample_pairs(ids, max(1, max_pairs // 2), rng)
    pos = np.einsum("ij,ij->i", x[pi], x[pj])
    neg = np.einsum("ij,ij->i", x[ni], x[nj])
    out = {"n_pairs": int(len(pos) + len(neg)), "n_pos": int(len(pos)), "n_neg": int(len(neg)),
           "pos_similarity": float(pos.mean()) if len(pos) else float("nan"),
           "neg_similarity": float(neg.mean()) if len(neg) else float("nan")}
    if len(pos) == 0 or len(neg) == 0:
        out["auc"] = float("nan")
    else:
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        out["auc"] = float(roc_auc_score(y, np.r_[pos, neg]))
    return out


def identity_top1(codes, identities, chunk: int = 1024) -> dict:
    """Leave-one-out rank-1 identification: is each image's nearest *other* image (by cosine) the
    same person? A retrieval reading of the code, unlike :func:`verification_auc`'s pairwise one.

    Every image is in the gallery; only images whose person has another image are queries (the
    others cannot be right). ``top1`` is the share of queries answered right, ``chance`` what a
    random neighbour would score. Samples with identity < 0 are dropped; ``NaN`` without queries.
    """
    x, ids = _unit_codes(codes, identities)
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    queries = np.flatnonzero(counts[inverse] >= 2)
    hits = np.zeros(len(queries), dtype=bool)
    for start in range(0, len(queries), chunk):  # (chunk × N) similarities at a time
        q = queries[start:start + chunk]
        sim = x[q] @ x.T
        sim[np.arange(len(q)), q] = -np.inf  # not itself
        hits[start:start + chunk] = ids[sim.argmax(1)] == ids[q]
    n = len(ids)
    chance = float(np.mean((counts[inverse[queries]] - 1) / (n - 1))) if len(queries) else float("nan")
    return {"top1": float(hits.mean()) if len(queries) else float("nan"), "chance": chance,
            "n_queries": int(len(queries))}


# --------------------------------------------------------------------------- reconstruction


def _images_nhwc(a) -> np.ndarray:
    x = _np(a, np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must be (N,H,W,C) or (N,C,H,W), got shape {x.shape}")
    if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = np.moveaxis(x, 1, -1)
    return x


def ssim(x, x_hat, data_range: float = 1.0, sigma: float = 1.5) -> np.ndarray:
    """Per-image SSIM (Wang et al. 2004) with an 11x11 gaussian window (sigma 1.5).

    Computed per channel and averaged, borders (5 px) excluded as in scikit-image. 1 for
    identical images, lower for worse matches (range [-1, 1]). Returns shape ``(N,)``.
    """
    a, b = _images_nhwc(x), _images_nhwc(x_hat)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    truncate = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5 -> 11 taps
    sig = (0, sigma, sigma, 0)

    def filt(z):
        return ndimage.gaussian_filter(z, sig, mode="reflect", truncate=truncate)

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a ** 2
    var_b = filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    pad = int(truncate * sigma + 0.5)
    if a.shape[1] > 2 * pad and a.shape[2] > 2 * pad:
        s = s[:, pad:-pad, pad:-pad, :]
    return s.mean(axis=(1, 2, 3))


def reconstruction_scores(x, x_hat) -> dict:
    """Pixel scores for images in [0, 1], (N,H,W,C) or (N,C,H,W).

    ``rmse`` over all pixels (lower is better, 0 = identical); ``psnr`` in dB (data range
    1), the mean over images of ``10 log10(1 / mse_image)``, with the per-image MSE floored
    at 1e-10 so identical images give 100 dB, not inf; ``ssim`` the mean per-image SSIM
    (1 = identical).
    """
    a, b = _images_nhwc(x), _images_nhwc(x_hat)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    mse_img = np.mean((a - b) ** 2, axis=(1, 2, 3))
    psnr_img = 10.0 * np.log10(1.0 / np.maximum(mse_img, 1e-10))
    return {
        "rmse": float(np.sqrt(np.mean(mse_img))),
        "mse": float(np.mean(mse_img)),
        "psnr": float(np.mean(psnr_img)),
        "ssim": float(np.mean(ssim(a, b))),
    }


# --------------------------------------------------------------------------- disentanglement


def discretize(factors, n_bins: int = 20) -> np.ndarray:
    """Integer codes per column for mutual-information estimates.

    A column with at most ``n_bins`` distinct values is categorical and is mapped to its
    category index (0..k-1, sorted values; not binned); other columns are cut into
    ``n_bins`` equal-width histogram bins (0..n_bins-1). ``NaN`` becomes -1. Returns an
    int64 array of the input's shape ((N,) or (N, K)).
    """
    f = _np(factors, np.float64)
    flat = f.ndim == 1
    f = f[:, None] if flat else f
    out = np.full(f.shape, -1, dtype=np.int64)
    for k in range(f.shape[1]):
        col = f[:, k]
        ok = np.isfinite(col)
        if not ok.any():
            continue
        v = col[ok]
        uniq, inv = np.unique(v, return_inverse=True)
        if len(uniq) <= n_bins:
            out[ok, k] = inv
        else:
            edges = np.histogram(v, n_bins)[1]
            out[ok, k] = np.clip(np.digitize(v, edges[1:-1]), 0, n_bins - 1)
    return out[:, 0] if flat else out


def _is_continuous(factors: np.ndarray, continuous) -> np.ndarray:
    k = factors.shape[1]
    if continuous is None:
        res = []
        for j in range(k):
            v = factors[:, j][np.isfinite(factors[:, j])]
            res.append(bool(v.size) and not np.all(v == np.round(v)))
        return np.array(res, dtype=bool)
    c = np.atleast_1d(np.asarray(continuous, dtype=bool))
    if c.size == 1:
        c = np.repeat(c, k)
    if c.size != k:
        raise ValueError(f"continuous has {c.size} entries for {k} factors")
    return c


def compute_mig(codes, factors, n_bins: int = 20) -> dict:
    """Mutual Information Gap (Chen et al. 2018).

    Per factor: the gap between the largest and second largest mutual information of a
    (histogram-discretised) code dimension with the factor, divided by the factor entropy.
    In [0, 1]: 1 means exactly one dimension captures the factor, 0 that none does or that
    two do equally. ``mig`` is the mean over factors (constant factors, entropy 0, are
    ``NaN`` and skipped); ``mutual_info`` is the (D, K) matrix in nats.
    """
    c = _codes_2d(codes)
    f = _factors_2d(factors)
    _check_len(c, f, "codes/factors")
    dc, df = discretize(c, n_bins), discretize(f, n_bins)
    d, k = c.shape[1], f.shape[1]
    mi = np.zeros((d, k))
    per = np.full(k, np.nan)
    for j in range(k):
        ok = df[:, j] >= 0
        if not ok.any():
            continue
        y = df[ok, j]
        h = mutual_info_score(y, y)
        for i in range(d):
            mi[i, j] = mutual_info_score(y, dc[ok, i])
        if h > 0:
            top = np.sort(mi[:, j])[::-1]
            per[j] = (top[0] - (top[1] if d > 1 else 0.0)) / h
    return {
        "mig": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
        "mig_per_factor": per,
        "mutual_info": mi,
    }


def compute_sap(codes, factors, continuous=None, test_size: float = 0.3, seed: int = 0) -> dict:
    """Separated Attribute Predictability (Kumar et al. 2018).

    For each factor, every code dimension alone predicts it: a categorical factor with k
    classes by a 1-D decision tree with k leaves (k-1 thresholds), scored on a held-out
    part by chance-adjusted balanced accuracy clipped to [0, 1] (0 = chance, 1 = perfect);
    a continuous factor by a linear fit, scored by R^2. The factor's score is the gap
    between the best and second best dimension; ``sap`` is the mean over factors, in [0, 1]
    (1: each factor predictable from exactly one dimension). ``scores`` is the (D, K)
    matrix.
    """
    c = _codes_2d(codes)
    f = _factors_2d(factors)
    _check_len(c, f, "codes/factors")
    cont = _is_continuous(f, continuous)
    d, k = c.shape[1], f.shape[1]
    scores = np.zeros((d, k))
    per = np.full(k, np.nan)
    for j in range(k):
        ok = np.isfinite(f[:, j])
        x, y = c[ok], f[ok, j]
        if len(y) < 4 or len(np.unique(y)) < 2:
            continue
        if cont[j]:
            yc = y - y.mean()
            xc = x - x.mean(0)
            den = np.sqrt((xc ** 2).sum(0) * (yc ** 2).sum())
            r = np.divide(xc.T @ yc, den, out=np.zeros(d), where=den > 0)
            scores[:, j] = r ** 2
        else:
            y = np.unique(y, return_inverse=True)[1]
            tr, te = _split(y, None, test_size, seed)
            n_cls = len(np.unique(y[tr]))
            for i in range(d):
                xi = x[:, i:i + 1]
                if n_cls < 2 or np.ptp(xi[tr]) == 0:
                    continue  # constant dimension: chance level, adjusted score 0
                tree = DecisionTreeClassifier(max_leaf_nodes=max(2, n_cls), random_state=seed)
                tree.fit(xi[tr], y[tr])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s = balanced_accuracy_score(y[te], tree.predict(xi[te]), adjusted=True)
                scores[i, j] = float(np.clip(s, 0.0, 1.0))
        top = np.sort(scores[:, j])[::-1]
        per[j] = top[0] - (top[1] if d > 1 else 0.0)
    return {
        "sap": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
        "sap_per_factor": per,
        "scores": scores,
    }


_GBT_TREE_BUDGET = 400  # trees per factor; multi-class boosting fits one tree per class per stage


def _dci_model(model: str, continuous: bool, seed: int, n_estimators: int, n_classes: int):
    if model == "gbt":
        per_stage = 1 if continuous or n_classes <= 2 else n_classes
        n_stages = max(5, min(n_estimators, _GBT_TREE_BUDGET // per_stage))
        kw = dict(n_estimators=n_stages, max_depth=3, learning_rate=0.2, subsample=0.8,
                  random_state=seed)
        return GradientBoostingRegressor(**kw) if continuous else GradientBoostingClassifier(**kw)
    if model == "rf":
        kw = dict(n_estimators=max(n_estimators, 50), min_samples_leaf=2, random_state=seed,
                  n_jobs=1)
        return RandomForestRegressor(**kw) if continuous else RandomForestClassifier(**kw)
    if model == "lasso":
        if continuous:
            return Lasso(alpha=0.02, random_state=seed, max_iter=5000)
        return LogisticRegression(l1_ratio=1.0, C=0.5, solver="saga", max_iter=2000,
                                  random_state=seed)
    raise ValueError(f"model must be 'gbt', 'lasso' or 'rf', got {model!r}")


def _importance(est, model: str) -> np.ndarray:
    if model == "lasso":
        coef = np.abs(np.atleast_2d(est.coef_))
        return coef.sum(0)
    return np.asarray(est.feature_importances_, dtype=np.float64)


def compute_dci(codes, factors, seed: int = 0, model: str = "gbt", continuous=None,
                test_size: float = 0.3, n_estimators: int = 20) -> dict:
    """Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018).

    One model per factor predicts it from all code dimensions (``"gbt"``: gradient boosted
    trees, the disentanglement_lib default; ``"rf"``: random forest; ``"lasso"``: Lasso /
    L1 logistic regression on standardised codes); its feature importances, normalised to
    sum to 1, form column j of ``importance`` (D, K). ``disentanglement`` (in [0, 1]): how
    much each dimension is about a single factor (1 - entropy of its row, base K),
    weighted by the dimension's total importance; ``completeness`` (in [0, 1]): how much
    each factor is captured by a single dimension (1 - entropy of its column, base D).
    ``informativeness``: mean held-out accuracy (categorical) or R^2 (continuous) over
    factors (``informativeness_train`` on the training part).

    For speed, ``"gbt"`` uses ``n_estimators`` boosting stages of depth-3 trees, fewer
    (at least 5) for a factor with many classes, so that it fits at most ~400 trees.
    """
    c = _codes_2d(codes)
    f = _factors_2d(factors)
    _check_len(c, f, "codes/factors")
    cont = _is_continuous(f, continuous)
    d, k = c.shape[1], f.shape[1]
    imp = np.zeros((d, k))
    info_te = np.full(k, np.nan)
    info_tr = np.full(k, np.nan)
    for j in range(k):
        ok = np.isfinite(f[:, j])
        x, y = c[ok], f[ok, j]
        if len(y) < 4:
            continue
        if not cont[j]:
            y = np.unique(y, return_inverse=True)[1]
        tr, te = _split(y, None, test_size, seed, stratify=not cont[j])
        xtr, xte = x[tr], x[te]
        ytr, yte = y[tr], y[te]
        if model == "lasso":
            sc = StandardScaler().fit(xtr)
            xtr, xte = sc.transform(xtr), sc.transform(xte)
            if cont[j]:
                mu, sd = ytr.mean(), ytr.std() or 1.0
                ytr, yte = (ytr - mu) / sd, (yte - mu) / sd
        if len(np.unique(ytr)) < 2:  # nothing to learn from a constant target
            info_tr[j] = 1.0 if not cont[j] else 0.0
            info_te[j] = float(np.mean(yte == ytr[0])) if not cont[j] else 0.0
            continue
        est = _dci_model(model, bool(cont[j]), seed, n_estimators, len(np.unique(ytr)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(xtr, ytr)
        w = _importance(est, model)
        if w.sum() > 0:
            imp[:, j] = w / w.sum()
        if cont[j]:
            info_tr[j] = r2_score(ytr, est.predict(xtr))
            info_te[j] = r2_score(yte, est.predict(xte)) if len(yte) > 1 else np.nan
        else:
            info_tr[j] = float(np.mean(est.predict(xtr) == ytr))
            info_te[j] = float(np.mean(est.predict(xte) == yte))

    # disentanglement: per code, distribution over factors
    if k > 1:
        dis_code = 1.0 - entropy(imp.T + 1e-11, base=k)
    else:
        dis_code = np.ones(d)
    total = imp.sum()
    code_w = imp.sum(1) / total if total > 0 else np.ones(d) / d
    # completeness: per factor, distribution over codes
    if d > 1:
        com_factor = 1.0 - entropy(imp + 1e-11, base=d)
    else:
        com_factor = np.ones(k)
    factor_w = imp.sum(0) / total if total > 0 else np.ones(k) / k
    return {
        "disentanglement": float(np.sum(dis_code * code_w)),
        "completeness": float(np.sum(com_factor * factor_w)),
        "informativeness": float(np.nanmean(info_te)) if np.isfinite(info_te).any() else float("nan"),
        "informativeness_train": float(np.nanmean(info_tr)) if np.isfinite(info_tr).any() else float("nan"),
        "informativeness_per_factor": info_te,
        "disentanglement_per_code": dis_code,
        "completeness_per_factor": com_factor,
        "importance": imp,
    }


def factor_table(labels: Mapping[str, np.ndarray], names: Sequence[str] | None = None):
    """Stack named label columns into an (N, K) float array for the metrics above.

    ``names`` picks and orders the columns (default: all keys, in order). Integer / bool
    columns are categorical and a value < 0 (``labels.MISSING``) becomes ``NaN``; float
    columns (yaw, pitch, intensity...) are kept as they are, ``NaN`` meaning missing.
    Returns ``(table, names)``.
    """
    names = list(labels.keys()) if names is None else list(names)
    if not names:
        raise ValueError("no factor names given")
    cols = []
    for name in names:
        if name not in labels:
            raise KeyError(f"no labels named {name!r}; have: {', '.join(labels)}")
        v = _np(labels[name])
        if v.ndim != 1:
            v = v.reshape(len(v), -1)
            if v.shape[1] != 1:
                raise ValueError(f"labels[{name!r}] must be one column, got shape {v.shape}")
            v = v[:, 0]
        col = v.astype(np.float64)
        if v.dtype.kind in "iub":
            col[v.astype(np.int64) < 0] = np.nan
        cols.append(col)
    n = {len(col) for col in cols}
    if len(n) != 1:
        raise ValueError(f"label columns differ in length: {dict(zip(names, map(len, cols)))}")
    return np.stack(cols, axis=1), names


# --------------------------------------------------------------------------- factor × sub-code probes


def regression_probe(codes, targets, test_size: float = 0.3, seed: int = 0, alpha: float = 1.0) -> dict:
    """Held-out fit of a linear regression (standardised features + ``Ridge(alpha)``) that reads a
    continuous factor (N,) or several (N, k) off ``codes``.

    Rows with a NaN target are dropped; the split is a plain random one (``test_size`` of the
    rows). ``r2`` is the mean over target columns of the test R² (0: no better than predicting the
    training mean, the chance level; 1: perfect); ``mae`` the test mean absolute error per column
    (in the targets' units), ``mae_mean`` their mean.
    """
    x = _codes_2d(codes)
    y = _factors_2d(targets)
    _check_len(x, y, "codes/targets")
    keep = np.isfinite(y).all(1)
    x, y = x[keep], y[keep]
    if len(y) < 4:
        raise ValueError("regression_probe needs at least 4 labelled rows")
    tr, te = train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed)
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    model.fit(x[tr], y[tr])
    pred = model.predict(x[te]).reshape(len(te), -1)
    r2 = []
    for j in range(y.shape[1]):
        var = np.var(y[te, j])
        r2.append(float(1.0 - np.mean((pred[:, j] - y[te, j]) ** 2) / var) if var > 0 else float("nan"))
    mae = np.abs(pred - y[te]).mean(0)
    return {"r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan"), "r2_per_column": np.array(r2),
            "mae": mae, "mae_mean": float(mae.mean()), "n_train": len(tr), "n_test": len(te)}


def _categorical(v: np.ndarray) -> bool:
    return v.ndim == 1 and v.dtype.kind in "iub"


def probe_matrix(codes: Mapping[str, np.ndarray], factors: Mapping[str, np.ndarray], test_size: float = 0.3,
                 seed: int = 0) -> dict:
    """Every factor read from every sub-code by a simple probe, normalised so chance is 0 and a
    perfect read 1.

    ``codes``: sub-code name → (N, d); ``factors``: factor name → (N,) integer labels (a class;
    < 0 unknown: logistic regression, :func:`probe_accuracy`) or (N,) / (N, k) floats (continuous;
    NaN unknown: linear regression, :func:`regression_probe`). Factors that do not vary are left
    out. Each factor uses one train/test split (random, stratified for classes: identities are
    read as classes, so the same people are on both sides) for every sub-code.

    Returns ``factors`` (row names), ``codes`` (column names), ``kinds`` (``"accuracy"`` or
    ``"r2"`` per row), ``raw`` (F, C) test accuracy or R², ``chance`` (F,) the raw score of
    guessing (the test part's majority rate; 0 for R²: predicting the mean), ``normalised``
    (F, C) = (raw − chance) / (1 − chance), and ``mae`` (F, C): the continuous factors' mean
    absolute error in their units (NaN for classes).
    """
    names = list(codes)
    rows, kinds, raw, chance, mae = [], [], [], [], []
    for fname, values in factors.items():
        v = _np(values)
        if _categorical(v):
            known = v >= 0
            if len(np.unique(v[known])) < 2:
                continue
            results = [probe_accuracy(codes[c], v, kind="linear", test_size=test_size, seed=seed) for c in names]
            rows.append(fname)
            kinds.append("accuracy")
            raw.append([r["accuracy"] for r in results])
            chance.append(results[0]["majority_rate"])
            mae.append([float("nan")] * len(names))
        else:
            f = _factors_2d(v)
            ok = np.isfinite(f).all(1)
            if ok.sum() < 4 or not (np.nanstd(f[ok], axis=0) > 0).any():
                continue
            f = f[:, np.nanstd(f[ok], axis=0) > 0]
            results = [regression_probe(codes[c], f, test_size=test_size, seed=seed) for c in names]
            rows.append(fname)
            kinds.append("r2")
            raw.append([r["r2"] for r in results])
            chance.append(0.0)
            mae.append([r["mae_mean"] for r in results])
    raw_a = np.asarray(raw, dtype=np.float64).reshape(len(rows), len(names))
    chance_a = np.asarray(chance, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = (raw_a - chance_a[:, None]) / np.maximum(1.0 - chance_a[:, None], 1e-12)
    return {"factors": rows, "codes": names, "kinds": kinds, "raw": raw_a, "chance": chance_a,
            "normalised": normalised, "mae": np.asarray(mae, dtype=np.float64).reshape(len(rows), len(names))}
