"""Per-sub-code retrieval: the gallery faces nearest a face by one sub-code alone, and how often they share a factor.

Browatzki & Wallraven's retrieval figure (issue 11): for a few query faces, the k nearest other
gallery faces by each sub-code (rows = queries, column groups = sub-codes). If the code is
disentangled, the identity neighbours are the same person in other expressions and poses, the
expression neighbours other people with the same expression, and so on. :func:`retrieval_table`
puts numbers on it: for every sub-code × labelled factor, how much more the top-k neighbours
share the factor than random gallery faces do.

Distances are Euclidean, as the app's Retrieval tab ranks and shows them (``d=`` in its
captions), so the figure shows what the app shows. Nothing here names an attribute: every
function loops over the sub-codes it is given (``model.attributes``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .metrics import _categorical

__all__ = ["CAPTION_H", "GAP", "LABEL_H", "nearest", "retrieval_grid", "retrieval_table", "retrieve"]

LABEL_H = 14  # px of the header (sub-code names) and of the optional note under the grid
CAPTION_H = 12  # px of a caption line under each tile (only when captions are given)
GAP = 8  # px between column groups


def nearest(gallery, queries, k: int, exclude=None, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices and Euclidean distances of the ``k`` gallery rows nearest each query row, nearest first.

    ``gallery`` (N, d); ``queries`` (Q, d) gives (Q, k) arrays, one vector (d,) gives (k,) ones.
    ``exclude`` (Q,) is a gallery index per query left out (the query itself, for "the k nearest
    *other* faces"). Ties keep gallery order (a stable sort), as the app has always ranked them.
    """
    from scipy.spatial.distance import cdist

    g = np.asarray(gallery, dtype=np.float64)
    q = np.asarray(queries, dtype=np.float64)
    single = q.ndim == 1
    q = q.reshape(-1, g.shape[1])
    k = max(0, min(int(k), len(g) - (exclude is not None)))
    idx, dist = np.empty((len(q), k), dtype=np.int64), np.empty((len(q), k))
    for start in range(0, len(q), chunk):  # (chunk × N) distances at a time
        d = cdist(q[start:start + chunk], g)
        if exclude is not None:
            d[np.arange(len(d)), np.asarray(exclude)[start:start + chunk]] = np.inf
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        idx[start:start + chunk], dist[start:start + chunk] = order, np.take_along_axis(d, order, 1)
    return (idx[0], dist[0]) if single else (idx, dist)


def retrieve(codes: Mapping[str, np.ndarray], queries: Sequence[int], k: int = 5) -> dict[str, np.ndarray]:
    """Per sub-code, the (Q, k) gallery indices nearest each query item by that sub-code alone (never itself)."""
    q = np.asarray(queries, dtype=np.int64)
    return {a: nearest(c, c[q], k, exclude=q)[0] for a, c in codes.items()}


def _mean_pair_gap(x: np.ndarray) -> float:
    """Mean |x_i − x_j| over all pairs i ≠ j, per column then averaged: what random faces differ by.
    Exact and O(N log N): with x sorted, Σ_{i<j} (x_j − x_i) = Σ_j x_j (2j − N + 1)."""
    n = len(x)
    s = np.sort(x, axis=0)
    w = 2 * np.arange(n) - n + 1
    return float(np.mean((s * w[:, None]).sum(0) * 2 / (n * (n - 1))))


def retrieval_table(codes: Mapping[str, np.ndarray], factors: Mapping[str, np.ndarray], k: int = 5) -> dict:
    """How often each sub-code's top-``k`` neighbours share each factor, next to random gallery faces.

    Leave-one-out over the whole gallery: every item with a known label is a query, the rest of
    the gallery its candidates. ``factors`` follow :func:`facelab.metrics.probe_matrix`: (N,)
    integers are classes (< 0 unknown), floats (N,) or (N, m) continuous (NaN unknown); factors
    that do not vary are left out.

    * classes (``kind`` ``"precision"``): precision@k, the share of the k neighbours with the
      query's label (an unlabelled neighbour counts as a miss); ``chance`` is what a random other
      gallery face scores, (faces with the label − 1) / (N − 1), and ``best`` what a perfect code
      scores, min(k, faces with the label − 1) / k — below 1 where a label has fewer than k other
      faces (a London person has two photos: p@5 ≤ 0.2), both averaged over the queries.
    * continuous (``"mean_abs_diff"``, in the factor's units, averaged over its columns): how far the
      neighbours' value is from the query's; ``chance`` is the same over all pairs of gallery faces,
      ``best`` 0.

    ``score`` puts every row on one scale, 0 = chance and 1 = best: (value − chance) / (best −
    chance). Returns ``codes``, ``factors``, ``kinds``, ``value`` (F, C), ``chance``, ``best`` (F,),
    ``score`` (F, C), ``k`` and ``n``.
    """
    names = list(codes)
    n = len(next(iter(codes.values())))
    q = np.arange(n)
    hoods = {a: nearest(codes[a], codes[a], k, exclude=q)[0] for a in names}
    k = hoods[names[0]].shape[1]  # at most N − 1
    rows, kinds, value, chance, best = [], [], [], [], []
    for fname, raw in factors.items():
        v = np.asarray(raw)
        if _categorical(v):
            known = np.flatnonzero(v >= 0)
            if len(np.unique(v[known])) < 2:
                continue
            _, inverse, counts = np.unique(v[known], return_inverse=True, return_counts=True)
            chance.append(float(np.mean((counts[inverse] - 1) / (n - 1))))
            best.append(float(np.mean(np.minimum(k, counts[inverse] - 1) / k)))
            value.append([float(np.mean(v[hoods[a][known]] == v[known, None])) for a in names])
            kinds.append("precision")
        else:
            f = np.asarray(v, dtype=np.float64).reshape(n, -1)
            ok = np.isfinite(f).all(1)
            if ok.sum() < 2 or not (f[ok].std(0) > 0).any():
                continue
            with np.errstate(invalid="ignore"):  # unlabelled neighbours are NaN and left out of the mean
                value.append([float(np.nanmean(np.abs(f[hoods[a][ok]] - f[ok][:, None]))) for a in names])
            chance.append(_mean_pair_gap(f[ok]))
            best.append(0.0)
            kinds.append("mean_abs_diff")
        rows.append(fname)
    value_a = np.asarray(value, dtype=np.float64).reshape(len(rows), len(names))
    chance_a, best_a = np.asarray(chance, dtype=np.float64), np.asarray(best, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (value_a - chance_a[:, None]) / (best_a - chance_a)[:, None]
    return {"codes": names, "factors": rows, "kinds": kinds, "value": value_a, "chance": chance_a, "best": best_a,
            "score": score, "k": int(k), "n": int(n)}


def retrieval_grid(images: Sequence, queries: Sequence[int], neighbours: Mapping[str, np.ndarray],
                   captions: Sequence[str] | None = None, scale: int = 2, note: str | None = None) -> Image.Image:
    """The figure: one row per query, its face then, per sub-code, its neighbours (``neighbours[a][r]``).

    ``images`` are the gallery's faces (anything :func:`facelab.imageio.to_pil` takes, all one
    size S), upscaled ``scale``× nearest-neighbour so the model's own pixels show. Sub-code names
    head the column groups, ``GAP`` px apart; ``captions`` (one per gallery item) go under each
    tile, ``note`` (e.g. a dataset's credit line) under the grid. The image is
    ``T·(1 + A·k) + GAP·A`` wide and ``LABEL_H + Q·(T + CAPTION_H)`` (+ ``LABEL_H`` with a note)
    high, for tile size T = S·scale, A sub-codes, k neighbours and Q queries.
    """
    from .imageio import to_pil

    tiles = {}

    def tile(i: int) -> Image.Image:
        if i not in tiles:
            im = to_pil(images[i]).convert("RGB")
            tiles[i] = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
        return tiles[i]

    attributes = list(neighbours)
    k = next(iter(neighbours.values())).shape[1] if attributes else 0
    t = tile(int(queries[0])).width
    cap = CAPTION_H if captions is not None else 0
    width = t * (1 + len(attributes) * k) + GAP * len(attributes)
    sheet = Image.new("RGB", (width, LABEL_H + len(queries) * (t + cap) + (LABEL_H if note else 0)), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()

    def text(x: float, y: float, s: str, room: float) -> None:  # centred in ``room`` px from x
        draw.text((x + max(0.0, (room - font.getlength(s)) / 2), y), s, fill=(20, 20, 20), font=font)

    starts = [t + GAP + g * (k * t + GAP) for g in range(len(attributes))]
    text(0, 1, "query", t)
    for a, x in zip(attributes, starts):
        text(x, 1, a, k * t)
    for r, qi in enumerate(queries):
        y = LABEL_H + r * (t + cap)
        row = [(0, int(qi))] + [(x + j * t, int(neighbours[a][r, j])) for a, x in zip(attributes, starts)
                                for j in range(k)]
        for x, i in row:
            sheet.paste(tile(i), (x, y))
            if captions is not None:
                text(x, y + t, captions[i], t)
    if note:
        draw.text((2, sheet.height - LABEL_H + 1), note, fill=(20, 20, 20), font=font)
    return sheet
