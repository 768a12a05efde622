"""Linear leak nulling: take out of a sub-code the directions from which *other* factors can be read.

Training losses shape what a sub-code carries in its main directions, but a linear probe also finds
a factor held in low-variance ones (a trace of the person's skin colour in the style code, of the
expression in the identity code). In the manner of iterative nullspace projection (INLP; Ravfogel
et al., ACL 2020), :func:`nulling_projection` fits a linear reader of each foreign factor on part of
a training set, scores it on the rest, removes the directions of every reader that scores above a
threshold, and repeats on what is left. The result is a fixed orthogonal projection: it costs the
sub-code only the few dimensions it removes, and it never needs the labels again.

Readers: linear discriminant analysis for class factors (its leading discriminant directions;
scored by accuracy, chance the majority rate), ridge regression for each continuous column (scored
by R², chance 0), both from scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Nulling", "nulling_projection"]


@dataclass
class Nulling:
    """``apply(x) = mean + (x − mean) @ projection``: the sub-code with the removed directions
    flattened to the training mean. ``readings`` holds each factor's held-out score (0 chance,
    1 perfect) per round, before that round's removal."""

    projection: np.ndarray  # (d, d), symmetric, idempotent
    mean: np.ndarray  # (d,)
    readings: list[dict[str, float]] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return int(round(self.projection.shape[0] - np.trace(self.projection)))

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self.mean + (np.asarray(x, dtype=np.float64) - self.mean) @ self.projection


def _is_class(values: np.ndarray) -> bool:
    return values.ndim == 1 and values.dtype.kind in "iu"


def _reader(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
            per_round: int) -> tuple[float, np.ndarray]:
    """(held-out score normalised so chance is 0, reader directions (k, d)) for one factor column."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    sd = x_train.std(0) + 1e-9  # standardised, as a probe reads: a factor in a low-variance direction counts
    if _is_class(y_train):
        _, counts = np.unique(y_test, return_counts=True)
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=1e-3).fit(x_train / sd, y_train)
        majority = counts.max() / counts.sum()
        score = (float((lda.predict(x_test / sd) == y_test).mean()) - majority) / max(1 - majority, 1e-9)
        k = min(per_round, lda.scalings_.shape[1])
        return score, (lda.scalings_[:, :k] / sd[:, None]).T
    ridge = Ridge(alpha=1e-3).fit(x_train / sd, y_train)
    score = float(r2_score(y_test, ridge.predict(x_test / sd)))
    return score, (ridge.coef_ / sd)[None]


def _columns(factors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each factor as columns: a class factor stays one; a continuous (N, k) factor gives k."""
    out = {}
    for name, values in factors.items():
        v = np.asarray(values)
        if _is_class(v) or v.ndim == 1:
            out[name] = v
        else:
            for j in range(v.shape[1]):
                out[f"{name}[{j}]"] = v[:, j]
    return out


def _halves(y: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows of known labels on each side of the split (fit, score), or None when a side is too
    small or the labels do not vary."""
    known = y >= 0 if _is_class(y) else np.isfinite(y)
    tr, te = known & ~test, known & test
    if tr.sum() < 10 or te.sum() < 10 or len(np.unique(y[tr])) < 2:
        return None
    return tr, te


def _drawn(y: np.ndarray, draw: int, rng: np.random.Generator) -> np.ndarray:
    """``y`` with every class outside a random draw of ``draw`` classes marked unknown (−1), when it
    is a class factor with more classes than that; else ``y`` unchanged."""
    if draw <= 0 or not _is_class(y):
        return y
    classes = np.unique(y[y >= 0])
    if len(classes) <= draw:
        return y
    return np.where(np.isin(y, rng.choice(classes, draw, replace=False)), y, -1)


def _readers_basis(centred: np.ndarray, factors: dict[str, np.ndarray], test: np.ndarray,
                   per_factor: int) -> np.ndarray | None:
    """An orthonormal basis (d, r) of the readers' directions of ``factors`` in ``centred``."""
    found = []
    for y in _columns(factors).values():
        if (halves := _halves(y, test)) is None:
            continue
        tr, te = halves
        found.append(_reader(centred[tr], y[tr], centred[te], y[te], per_factor)[1])
    if not found:
        return None
    u, s, _ = np.linalg.svd(np.concatenate(found).T, full_matrices=False)
    return u[:, s > s.max() * 1e-6]


def nulling_projection(codes: np.ndarray, factors: dict[str, np.ndarray], threshold: float = 0.02,
                       max_rounds: int = 10, per_round: int = 4, keep_at_least: float = 0.5,
                       protect: dict[str, np.ndarray] | None = None, protect_directions: int = 8,
                       class_draw: int = 0, test_size: float = 0.3, seed: int = 0,
                       fill_to_floor: bool = False) -> Nulling:
    """The projection that leaves no factor of ``factors`` readable from ``codes`` (N, d) above
    ``threshold`` (held-out, 0 = chance) by a linear reader, as far as ``max_rounds`` rounds allow.

    ``factors``: name → (N,) integer classes (< 0 unknown) or (N,) / (N, k) floats (NaN unknown).
    Each round removes up to ``per_round`` discriminant directions of every class factor read above
    the threshold and the regression direction of every such continuous column; it stops before
    the sub-code would keep fewer than ``keep_at_least`` of its dimensions.

    ``protect`` (the code's own factors, as ``factors``) keeps their readers intact: the leading
    ``protect_directions`` discriminant directions of each class factor and the regression direction
    of each continuous column, fitted once, are left out of every removal, so a linear read of them
    is the same after the projection. A leak that lies along them stays.

    ``class_draw`` (0: off): a class factor with more classes than this is read, each round, among a
    fresh random draw of this many of its classes. Accuracy among thousands of training people is
    near chance for a trace that a probe among a few dozen new people reads well above it (the
    evaluation's reading), so the threshold would miss it.

    ``fill_to_floor``: a round that would cross the ``keep_at_least`` floor removes its strongest
    directions down to the floor, then stops. Without it the whole round is dropped: a round removes
    every leaking factor's directions at once (up to ``per_round`` each), so several leaks together
    stopped the nulling with a quarter of its allowance unused (synthetic-fourway's LIMITS).
    """
    x = np.asarray(codes, dtype=np.float64)
    n, d = x.shape
    mean = x.mean(0)
    centred = x - mean
    rng = np.random.default_rng(seed)
    test = rng.random(n) < test_size
    projection = np.eye(d)
    readings: list[dict[str, float]] = []
    columns = _columns(factors)
    guard = _readers_basis(centred, protect, test, protect_directions) if protect else None
    at_floor = False
    for round_ in range(max_rounds + 1):  # the last round only scores what is left
        xp = centred @ projection
        scores, directions = {}, []
        for name, y in columns.items():
            if (halves := _halves(_drawn(y, class_draw, rng), test)) is None:
                continue
            tr, te = halves
            score, w = _reader(xp[tr], y[tr], xp[te], y[te], per_round)
            scores[name] = score
            if score > threshold:
                directions.append(w)
        readings.append(scores)
        if not directions or round_ == max_rounds or at_floor:
            break
        removal = projection @ np.concatenate(directions).T
        if guard is not None:
            removal = removal - guard @ (guard.T @ removal)
        u, s, _ = np.linalg.svd(removal, full_matrices=False)
        if s.max() < 1e-9:  # every leak left lies along a protected reader
            break
        q = u[:, s > s.max() * 1e-6]
        kept = round(np.trace(projection))
        if kept - q.shape[1] < keep_at_least * d:
            room = int(np.floor(kept - keep_at_least * d + 1e-9))
            if not fill_to_floor or room < 1:
                break
            q, at_floor = q[:, :room], True  # the SVD's order: the strongest directions first
        projection = projection - q @ q.T
        w, v = np.linalg.eigh((projection + projection.T) / 2)  # stay an exact orthogonal projector
        v = v[:, w > 0.5]
        projection = v @ v.T
    return Nulling(projection=projection, mean=mean, readings=readings)
