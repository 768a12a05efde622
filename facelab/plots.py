"""Evaluation plots (plotly): confusion matrix, latent traversal grids, DCI importance heatmap.

The figure builders return ``plotly.graph_objects.Figure`` objects (the app can show them as
they are); :func:`save_figure` / :func:`save_figures` write each as a self-contained-offline
``.html`` and a ``.png``:

* HTML uses ``include_plotlyjs="directory"``: every page loads ``plotly.min.js`` from its own
  folder, and plotly copies that one file there once (no CDN, so the pages work offline, and a
  folder of plots holds the 4.6 MB library once rather than once per page).
* PNG goes through kaleido (``kaleido>=1``, which drives a local Chrome/Chromium — the Debian
  ``chromium`` package is found on ``PATH``; ``plotly_get_chrome`` installs one otherwise). All
  PNGs of one :func:`save_figures` call share one browser start. Without kaleido or a browser the
  PNG is skipped with a printed note and the HTML is still written; other errors are raised.

Traversal grids are images: :func:`traversal_grid` returns a ``PIL.Image`` (saved as PNG with
PIL by :func:`save_image`, pixel-exact and needing no browser), :func:`traversal_figure` wraps it
with labelled axes for the HTML page (save that one with ``png=False``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

__all__ = [
    "confusion_figure",
    "importance_figure",
    "traversal_grid",
    "traversal_values",
    "traversal_figure",
    "save_figure",
    "save_figures",
    "save_image",
]


def _go():
    import plotly.graph_objects as go

    return go


def confusion_figure(matrix, class_names: Sequence[str], title: str | None = None, counts=None):
    """Heatmap of a (true × predicted) confusion matrix; rows are true classes, top to bottom.

    ``matrix`` is shown as given (``z`` is exactly it; row-normalised rates in [0, 1] get a fixed
    0–1 colour scale and percentage labels); ``counts`` (same shape) adds raw counts to the hover.
    """
    go = _go()
    z = np.asarray(matrix, dtype=np.float64)
    names = list(class_names)
    if z.shape != (len(names), len(names)):
        raise ValueError(f"confusion matrix of shape {z.shape} for {len(names)} class names")
    rates = z.size > 0 and np.nanmin(z) >= 0 and np.nanmax(z) <= 1
    text = [[(f"{v:.0%}" if rates else f"{v:g}") for v in row] for row in z]
    custom = np.asarray(counts) if counts is not None else None
    hover = "true %{y}<br>predicted %{x}<br>%{text}" + ("<br>%{customdata} images" if custom is not None else "")
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, text=text, texttemplate="%{text}", customdata=custom,
        hovertemplate=hover + "<extra></extra>", colorscale="Blues",
        zmin=0 if rates else None, zmax=1 if rates else None,
        colorbar=dict(title="rate" if rates else "count"),
    ))
    fig.update_layout(
        title=title or "Expression confusion matrix",
        xaxis=dict(title="predicted", side="bottom", tickangle=-30),
        yaxis=dict(title="true", autorange="reversed"),
        width=140 + 70 * len(names), height=160 + 60 * len(names),
    )
    return fig


def _dimension_labels(code_names, n: int) -> list[str]:
    if isinstance(code_names, Mapping):  # {"identity": 16, "expression": 8}
        labels = [f"{name}[{i}]" for name, size in code_names.items() for i in range(int(size))]
    else:
        labels = [str(c) for c in code_names]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} dimension labels for {n} importance rows")
    return labels


def importance_figure(importance, code_names, factor_names: Sequence[str], title: str | None = None):
    """Heatmap of a DCI importance matrix: one row per code dimension, one column per factor.

    ``code_names`` is either one label per dimension (``"expression[3]"``, as
    :func:`facelab.evaluate.disentanglement_scores` returns in ``dimensions``) or the latent
    sizes ``{"identity": 16, "expression": 8}``. A disentangled code has one bright cell per row.
    """
    go = _go()
    z = np.asarray(importance, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != len(factor_names):
        raise ValueError(f"importance of shape {z.shape} for {len(factor_names)} factors")
    rows = _dimension_labels(code_names, z.shape[0])
    fig = go.Figure(go.Heatmap(
        z=z, x=list(factor_names), y=rows, colorscale="Viridis", zmin=0,
        hovertemplate="%{y} → %{x}<br>importance %{z:.3f}<extra></extra>",
        colorbar=dict(title="importance"),
    ))
    fig.update_layout(
        title=title or "DCI importance: code dimension × generator factor",
        xaxis=dict(title="factor", side="bottom"),
        yaxis=dict(title="code dimension", autorange="reversed", dtick=1),
        width=260 + 90 * z.shape[1], height=160 + 18 * z.shape[0],
    )
    return fig


def probe_figure(matrix, factors: Sequence[str], codes: Sequence[str], title: str | None = None):
    """Heatmap of the attribute × sub-code probe matrix (:func:`facelab.evaluate.attribute_probe_scores`):
    how well each factor is read from each sub-code, 0 = chance, 1 = perfect. A disentangled model
    has one bright cell per row, in its own sub-code's column."""
    go = _go()
    z = np.asarray(matrix, dtype=np.float64)
    if z.shape != (len(factors), len(codes)):
        raise ValueError(f"probe matrix of shape {z.shape} for {len(factors)} factors × {len(codes)} codes")
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"z_{c}" for c in codes], y=list(factors), colorscale="Viridis", zmin=0, zmax=1,
        text=np.round(z, 2), texttemplate="%{text}",
        hovertemplate="%{y} from %{x}<br>%{z:.3f} (0 chance, 1 perfect)<extra></extra>",
        colorbar=dict(title="read"),
    ))
    fig.update_layout(title=title or "Each factor read from each sub-code (0 = chance, 1 = perfect)",
                      xaxis=dict(title="sub-code"), yaxis=dict(title="factor", autorange="reversed"),
                      width=320 + 110 * z.shape[1], height=180 + 34 * z.shape[0])
    return fig


def traversal_values(model, attribute: str, dim: int, n: int = 7) -> np.ndarray:
    """``n`` values of one dimension over its range (``model.code_bounds``, as the app's sliders):
    the low end, evenly up to the training mean, evenly on to the high end (odd ``n``: the middle
    value is the mean)."""
    return model.range_values(attribute, dim, np.linspace(-1.0, 1.0, n))


def traversal_grid(model, code, attribute: str, dims: Sequence[int], values) -> Image.Image:
    """Decoded latent traversals as one image: row ``r`` sets dimension ``dims[r]`` of
    ``attribute`` to each of ``values`` in turn (columns), everything else fixed at ``code``.

    ``code`` is a :class:`~facelab.face_model.Code` (or anything ``model.encode`` takes);
    ``values`` is one sequence for every row or one row of values per dimension
    (``len(dims) × columns``). The grid is ``columns·S`` wide and ``len(dims)·S`` high for the
    model's image size ``S``, decoded with ``model.decode(model.traverse(...))``.
    """
    dims = [int(d) for d in dims]
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = np.tile(vals, (len(dims), 1))
    if vals.ndim != 2 or vals.shape[0] != len(dims):
        raise ValueError(f"values must be (columns,) or ({len(dims)}, columns), got shape {vals.shape}")
    if not dims or vals.shape[1] == 0:
        raise ValueError("need at least one dimension and one value")
    size = model.config.image_size
    code = code if hasattr(code, "parts") else model.encode(code)
    codes = [c for r, d in enumerate(dims) for c in model.traverse(code, attribute, d, vals[r].tolist())]
    tiles = model.decode(codes)  # one batch
    cols = vals.shape[1]
    grid = Image.new("RGB", (cols * size, len(dims) * size))
    for n, tile in enumerate(tiles):
        grid.paste(tile.convert("RGB").resize((size, size)), ((n % cols) * size, (n // cols) * size))
    return grid


def traversal_figure(grid: Image.Image, row_labels: Sequence[str], col_labels: Sequence[str],
                     title: str | None = None, scale: int = 2):
    """A traversal grid with labelled rows (dimensions) and columns (values), for the HTML page."""
    go = _go()
    img = np.asarray(grid.convert("RGB"))
    h, w = img.shape[:2]
    th, tw = h / len(row_labels), w / len(col_labels)
    fig = go.Figure(go.Image(z=img, hoverinfo="skip"))
    fig.update_layout(
        title=title,
        xaxis=dict(tickmode="array", tickvals=[(i + 0.5) * tw for i in range(len(col_labels))],
                   ticktext=list(col_labels), showgrid=False, side="top"),
        yaxis=dict(tickmode="array", tickvals=[(i + 0.5) * th for i in range(len(row_labels))],
                   ticktext=list(row_labels), showgrid=False),
        width=w * scale + 160, height=h * scale + 120, margin=dict(l=120, r=20, t=90, b=20),
    )
    return fig


def save_image(image: Image.Image, path_stem: str | Path) -> Path:
    """Write a PIL image as ``<path_stem>.png`` (creating the folder)."""
    path = Path(f"{path_stem}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


_png_note_shown = False


def _png_note(reason: str) -> None:
    global _png_note_shown
    if not _png_note_shown:
        print(f"note: plot PNGs skipped ({reason}); the HTML files are written. PNG export needs "
              "kaleido>=1 (pip install kaleido) and a Chrome/Chromium (e.g. Debian's chromium).")
        _png_note_shown = True


# How plotly says kaleido>=1 or its Chrome is missing: the one case in which PNGs are skipped.
_UNAVAILABLE = ("requires Google Chrome", "requires the Kaleido package", "requires Chrome to be installed")


def _png_unavailable(error: Exception) -> bool:
    return type(error).__name__ == "ChromeNotFoundError" or (
        isinstance(error, RuntimeError) and any(s in str(error) for s in _UNAVAILABLE))


def save_figures(items: Sequence[tuple], png: bool = True, scale: float = 2.0) -> list[dict]:
    """Write each ``(figure, path_stem)`` as ``<path_stem>.html`` and, with ``png``, ``.png``.

    Returns ``[{"html": Path, "png": Path or None}, ...]`` in order. PNGs are rendered in one
    kaleido call (one browser start); without kaleido>=1 or a Chrome the PNGs are ``None`` and a
    note is printed once per process; any other export error is raised.
    """
    out = []
    for fig, stem in items:
        html = Path(f"{stem}.html")
        html.parent.mkdir(parents=True, exist_ok=True)
        fig.write_html(str(html), include_plotlyjs="directory", full_html=True)
        out.append({"html": html, "png": None})
    if png and items:
        pngs = [Path(f"{stem}.png") for _, stem in items]
        import plotly.io as pio

        figs = [fig for fig, _ in items]
        try:
            pio.write_images(figs, pngs, format="png", scale=scale,
                             width=[f.layout.width or 700 for f in figs], height=[f.layout.height or 500 for f in figs])
        except Exception as e:
            if not _png_unavailable(e):  # a real failure (bad figure, full disk, browser crash) must surface
                raise
            _png_note(f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300])
        else:
            for row, path in zip(out, pngs):
                row["png"] = path if path.is_file() else None
    return out


def save_figure(fig, path_stem: str | Path, png: bool = True, scale: float = 2.0) -> dict:
    """Write one figure as ``<path_stem>.html`` (+ ``.png`` where possible); see :func:`save_figures`."""
    return save_figures([(fig, path_stem)], png=png, scale=scale)[0]
