"""Latent topology: UMAP maps of each sub-vector over a held-out gallery, fitted once and stored with the codes.

umap-learn's numba JIT costs tens of seconds on first use, so the app never fits or imports it:
:func:`build_topology` runs at build time (``python -m train.topology``) and writes
``topology.npz`` (plain arrays, no pickled reducer) beside the checkpoint. A new face is placed
deterministically at the distance-weighted mean of its nearest gallery neighbours' positions;
the plot labels that point as approximate.

A gallery is either generator faces, labelled with their factors so they can be re-rendered, or
photos the checkpoint never trained on (:func:`held_out_photos`), labelled with expression,
identity (where the dataset has one), intensity, dataset and the file's path inside its dataset
folder. The file holds no pixels: dataset images may not be committed, so pictures of photo items
are read back from the data folder (:func:`source_crops`) or decoded from their codes.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .labels import EXPRESSIONS, MISSING

FILENAME = "topology.npz"
FACTOR_FIELDS = ("identity", "expression", "intensity", "yaw", "pitch", "light", "noise", "seed")
CREDITS = {  # shown under a map whose gallery holds the dataset
    "london": "London faces: Face Research Lab London Set (DeBruine & Jones 2017), CC-BY 4.0",
    "fer2013": "FER2013 faces: Goodfellow et al. 2013",
}


class TopologyError(ValueError):
    """A topology file that is corrupt or inconsistent (the reason is the message)."""


@dataclass(eq=False)  # hashed by identity, so per-process caches of a gallery's pictures can key on it
class Topology:
    """Gallery codes, their 2-D UMAP embedding per attribute, and the gallery's labels/factors."""

    codes: dict[str, np.ndarray]  # attribute → (N, d)
    embedding: dict[str, np.ndarray]  # attribute → (N, 2)
    labels: dict[str, np.ndarray]  # identity, expression, intensity, ... → (N,) ; background → (N, 3)
    params: dict = field(default_factory=dict)
    # The FaceModel the codes were checked against (facelab.demo.load_topology); never saved. It
    # pictures photo items whose files are absent by decoding their codes.
    model: Any = field(default=None, repr=False)

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.codes)

    @property
    def rendered(self) -> bool:
        """Generator faces (re-rendered from their factors), rather than photos from a data folder."""
        return all(f in self.labels for f in FACTOR_FIELDS)

    def __len__(self) -> int:
        return len(next(iter(self.codes.values())))

    def save(self, path: str | Path) -> None:
        arrays = {f"code_{k}": v for k, v in self.codes.items()}
        arrays |= {f"embedding_{k}": v for k, v in self.embedding.items()}
        arrays |= {f"label_{k}": v for k, v in self.labels.items()}
        arrays["params"] = np.array(json.dumps(self.params))
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Topology":
        """Read a ``topology.npz``; :class:`TopologyError` says why a file cannot be used (OSError: unreadable)."""
        if not zipfile.is_zipfile(path):  # np.load would suggest unpickling it: never for this file
            raise TopologyError("not an .npz file (no zip archive: truncated, or another format)")
        try:
            with np.load(path, allow_pickle=False) as data:
                def group(prefix):
                    return {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix)}

                if "params" not in data.files:
                    raise TopologyError("no 'params' array (not a facelab topology file)")
                topology = cls(group("code_"), group("embedding_"), group("label_"), json.loads(str(data["params"])))
        except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # damaged members, pickled, bad JSON
            if isinstance(e, TopologyError):
                raise
            raise TopologyError(f"not a readable .npz topology ({type(e).__name__}: {e})") from None
        topology.check()
        return topology

    def check(self) -> None:
        """Raise :class:`TopologyError` unless every attribute has codes and a 2-D embedding of one length."""
        if not self.codes:
            raise TopologyError("no codes")
        n = len(self)
        for attribute, codes in self.codes.items():
            emb = self.embedding.get(attribute)
            if codes.ndim != 2 or len(codes) != n:
                raise TopologyError(f"{attribute} codes have shape {codes.shape}, expected ({n}, d)")
            if emb is None or emb.shape != (n, 2):
                raise TopologyError(f"{attribute} embedding has shape {None if emb is None else emb.shape}, "
                                    f"expected ({n}, 2)")

    def neighbours(self, attribute: str, vector: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Indices and Euclidean distances of the ``k`` gallery codes nearest to ``vector``."""
        from .retrieval import nearest

        return nearest(self.codes[attribute], np.asarray(vector), k)

    def place(self, attribute: str, vector: np.ndarray, k: int = 10) -> np.ndarray:
        """Approximate 2-D position of a new code: inverse-distance weighted mean of its k neighbours."""
        idx, dist = self.neighbours(attribute, vector, k)
        w = 1.0 / (dist + 1e-6)
        return (self.embedding[attribute][idx] * w[:, None]).sum(0) / w.sum()

    def caption(self, i: int) -> str:
        """Who item ``i`` is and its expression: ``"#20009 sadness"`` (generator), ``"london/001 happiness"``
        or ``"fer2013 fear"`` (a photo without a known identity)."""
        lab = self.labels
        e = int(lab["expression"][i])
        expression = EXPRESSIONS[e] if e != MISSING else "unlabelled"
        if self.rendered:
            return f"#{int(lab['identity'][i])} {expression}"
        return f"{lab['identity'][i] or lab['dataset'][i]} {expression}"

    def credits(self) -> list[str]:
        """Credit lines for the datasets in the gallery (the London set is CC-BY: it must be credited)."""
        present = set(self.labels["dataset"].tolist()) if "dataset" in self.labels else set()
        return [text for name, text in CREDITS.items() if name in present]


# --------------------------------------------------------------------------------------------
# Building (train.topology)


def encode_gallery(model, dataset, progress: bool = True) -> dict[str, np.ndarray]:
    """Posterior means of every item's ``image`` (any dataset of facelab items), per attribute."""
    import torch
    from tqdm.auto import tqdm

    loader = torch.utils.data.DataLoader(dataset, batch_size=256,
                                         collate_fn=lambda items: torch.stack([x["image"] for x in items]))
    batches = [model.encode_tensor(x) for x in tqdm(loader, desc="encode gallery", disable=not progress)]
    return {k: np.concatenate([b[k] for b in batches]) for k in model.attributes}


def build_topology(
    model,
    dataset,
    labels: dict[str, np.ndarray] | None = None,
    params: dict | None = None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Topology:
    """Encode ``dataset`` with ``model`` and fit one UMAP per attribute.

    ``labels`` default to the generator factors of a ``SyntheticFaces`` gallery; photo galleries
    pass theirs (and their description in ``params``) from :func:`held_out_photos`."""
    import umap  # slow first import (numba); only at build time
    from tqdm.auto import tqdm

    codes = encode_gallery(model, dataset, progress)
    embedding = {}
    for attribute in tqdm(model.attributes, desc="fit UMAP", disable=not progress):
        reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, verbose=False)
        embedding[attribute] = reducer.fit_transform(codes[attribute]).astype(np.float32)
    if labels is None:
        labels = {f: np.array([getattr(fac, f) for fac in dataset.factors]) for f in FACTOR_FIELDS}
        labels["background"] = np.array([fac.background for fac in dataset.factors], dtype=np.float32)
    params = {**(params or {}), "n_neighbors": n_neighbors, "min_dist": min_dist, "seed": seed, "n": len(dataset),
              "umap": getattr(umap, "__version__", "unknown")}
    return Topology(codes, embedding, labels, params)


def _spec_key(spec: str) -> tuple:
    from .datasets import parse_data_arg

    name, path, options = parse_data_arg(spec)
    return name, os.path.realpath(path) if path else None, tuple(sorted(options.items()))


def _trained_on(model, load) -> tuple[set[str], dict[tuple, Any]]:
    """The real paths of the images ``model`` was fitted on, and its loaded photo datasets by spec key."""
    from . import datasets

    training = model.training
    if training is None or not any(datasets.parse_data_arg(s).path for s in training.data):
        return set(), {}
    mix = load(list(training.data))
    parts = mix.parts if isinstance(mix, datasets.MixedFaces) else [mix]
    paths = []
    for part in parts:
        records = getattr(part, "records", None)  # generator parts have none (and no files to exclude)
        paths += [os.path.realpath(r.path) for r in records] if records is not None else [None] * len(part)
    split = datasets.training_splits(mix, training.holdout, training.validation, seed=training.seed)
    return {paths[i] for i in split["train"]}, {_spec_key(s): part for s, part in zip(training.data, parts)}


def _balanced(held: np.ndarray, expressions: np.ndarray, per_class: int, rng) -> np.ndarray:
    """At most ``per_class`` random items of ``held`` per expression, in index order."""
    picks = [rng.choice(held[expressions == e], min(per_class, int((expressions == e).sum())), replace=False)
             for e in np.unique(expressions)]
    return np.sort(np.concatenate(picks)) if picks else held


def held_out_photos(model, specs: Sequence[str], per_class: int | None = 150, seed: int = 0, progress: bool = True):
    """A gallery of the photos in ``specs`` that ``model`` never trained on: ``(dataset, labels, params)``.

    The checkpoint's own split is drawn again exactly as training drew it (its data loaded with the
    same alignment, :func:`facelab.datasets.training_splits` with its holdout, validation and seed),
    so what is left is its held-out people, FER2013's official test split, and every image of a
    dataset it never saw. ``per_class`` caps each dataset's images per expression (a balanced random
    subset). ``params`` records how to read each item back (dataset folder name, preparation) and
    one line per dataset saying what the gallery holds of it — including when nothing was held out.
    """
    import torch

    from . import datasets

    size = model.config.image_size
    align = model.align_config(size=size)

    def load(spec):
        return datasets.load(spec, size=size, align_config=align, progress=progress)

    trained, loaded = _trained_on(model, load)
    rng = np.random.default_rng(seed)
    subsets, rows, sources, gallery = [], [], {}, []
    for spec in specs:
        name, root, _ = datasets.parse_data_arg(spec)
        if name in sources:
            raise ValueError(f"{name} is given twice: a gallery names each dataset once")
        key = _spec_key(spec)
        ds = loaded[key] if key in loaded else load(spec)
        seen = np.array([os.path.realpath(r.path) in trained for r in ds.records], dtype=bool)
        held = np.flatnonzero(~seen)
        keep = held if per_class is None else _balanced(held, ds.expressions[held], per_class, rng)
        subsets.append(torch.utils.data.Subset(ds, keep.tolist()))
        rows += [(name, root, ds.records[i]) for i in keep]
        sources[name] = {"folder": Path(root).name, "aligned": ds.prep.aligned, "fallback": ds.prep.fallback}
        gallery.append(_describe(name, [ds.records[i] for i in held], len(keep), len(ds), seen.any()))
    labels = {
        "expression": np.array([r.expression for _, _, r in rows], dtype=np.int64),
        "identity": np.array([r.identity or "" for _, _, r in rows], dtype=str),
        "intensity": np.array([r.intensity for _, _, r in rows], dtype=np.float32),
        "dataset": np.array([name for name, _, _ in rows], dtype=str),
        "path": np.array([Path(os.path.relpath(r.path, root)).as_posix() for _, root, r in rows], dtype=str),
    }
    params = {"gallery": gallery, "sources": sources, "align": align.to_dict(), "size": size, "per_class": per_class}
    return torch.utils.data.ConcatDataset(subsets), labels, params


def _describe(name: str, held: list, kept: int, total: int, trained_on: bool) -> str:
    """One line of the map's note: what the gallery holds of dataset ``name`` and why it is held out."""
    if not held:
        return f"{name}: none of its {total} images — the model trained on every one"
    if not trained_on:
        why = "not used in training"
    else:
        from .datasets.splits import TRAIN_SPLITS

        people = {r.identity for r in held} - {None}
        unnamed = [(r.split or "").lower() for r in held if r.identity is None]  # split one by one, not by person
        official = sorted(set(unnamed) - TRAIN_SPLITS - {""})
        others = sum(s in TRAIN_SPLITS or not s for s in unnamed)  # validation, or drawn with the people
        why = " and ".join(filter(None, [f"{len(people)} people kept out of training" if people else "",
                                         f"its own {'/'.join(official)} split" if official else "",
                                         f"{others} more images kept out of training" if others else ""]))
    subset = f", a random {kept} balanced by expression" if kept < len(held) else ""
    return f"{name}: {len(held)} of its {total} images are held out ({why}){subset}"


# --------------------------------------------------------------------------------------------
# Reading gallery items back


def gallery_factors(topology: Topology, indices: Sequence[int]):
    """The generator factors of gallery faces, so they can be re-rendered instead of stored."""
    from .synthetic import FaceFactors

    lab = topology.labels
    return [
        FaceFactors(
            identity=int(lab["identity"][i]),
            expression=int(lab["expression"][i]),
            intensity=float(lab["intensity"][i]),
            yaw=float(lab["yaw"][i]),
            pitch=float(lab["pitch"][i]),
            background=tuple(float(c) for c in lab["background"][i]),
            light=float(lab["light"][i]),
            noise=float(lab["noise"][i]),
            seed=int(lab["seed"][i]),
        )
        for i in indices
    ]


def source_crops(topology: Topology, root: str | Path, progress: bool = False) -> dict[int, np.ndarray]:
    """Photo items read from the data folder ``root`` and prepared as at build time (aligned or
    centre-cropped, model resolution): index → uint8 (S, S, 3). Items whose file is absent or
    unreadable are left out. Crops go through the datasets' disk cache, so only the first call aligns."""
    from .align import AlignConfig
    from .datasets import FaceImageDataset, Record

    lab, crops = topology.labels, {}
    for name, source in topology.params.get("sources", {}).items():
        folder = Path(root) / source["folder"]
        items = [int(i) for i in np.flatnonzero(lab["dataset"] == name) if (folder / lab["path"][i]).is_file()]
        if not items:
            continue
        records = [Record(str(folder / lab["path"][i]), None, dataset=name) for i in items]
        ds = FaceImageDataset(records, topology.params["size"], name=name, aligned=source["aligned"],
                              align_config=AlignConfig.from_dict(topology.params["align"]),
                              fallback=source["fallback"], progress=progress)
        row = {r.path: k for k, r in enumerate(ds.records)}
        crops |= {i: ds.image_array(row[r.path]) for i, r in zip(items, records) if r.path in row}
    return crops


# --------------------------------------------------------------------------------------------
# The map


def _known(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isfinite(values)
    if values.dtype.kind in "US":
        return values != ""
    return values != MISSING


def colourings(topology: Topology, candidates: Sequence[str]) -> list[str]:
    """The ``candidates`` a gallery can be coloured by: 1-D labels with at least two known values
    (expression whenever it is labelled at all)."""
    out = []
    for name in candidates:
        values = topology.labels.get(name)
        if values is None or values.ndim != 1 or not _known(values).any():
            continue
        if name == "expression" or len(np.unique(values[_known(values)])) >= 2:
            out.append(name)
    return out


def figure(
    topology: Topology,
    attribute: str,
    color_by: str = "expression",
    marks: Sequence[tuple[np.ndarray, str]] = (),
    images: Sequence[str] | None = None,
):
    """A plotly scatter of one attribute's embedding, coloured by a label, with marked faces.

    Each point's hover text is its caption (and file, for photos); ``images`` (one image URL per
    item, e.g. a data: URI) ride along as the points' ``customdata`` for a hover-thumbnail script.
    Credits for the gallery's datasets are written under the map."""
    import plotly.graph_objects as go

    emb = topology.embedding[attribute]
    values = topology.labels[color_by]
    known = _known(values)

    def hover(i):  # a photo's file, or the value coloured by when the caption lacks it
        if "path" in topology.labels:
            return f"{topology.caption(i)} · {topology.labels['path'][i]}"
        return topology.caption(i) + (f" · {color_by} {values[i]:.2f}" if values.dtype.kind == "f" else "")

    text = [hover(i) for i in range(len(topology))]
    custom = np.asarray(images, dtype=object) if images is not None else None

    def points(sel, name, **marker):
        return go.Scattergl(x=emb[sel, 0], y=emb[sel, 1], mode="markers", name=name, hoverinfo="text",
                            text=[text[i] for i in np.flatnonzero(sel)],
                            customdata=None if custom is None else custom[sel],
                            marker=dict(size=5, opacity=0.75, **marker))

    fig = go.Figure()
    if color_by in ("expression", "dataset"):
        for c in np.unique(values):
            name = (EXPRESSIONS[int(c)] if c != MISSING else "unlabelled") if color_by == "expression" else str(c)
            fig.add_trace(points(values == c, name))
    elif color_by == "identity":
        _, people = np.unique(values[known], return_inverse=True)
        fig.add_trace(points(known, "identity", color=people % 20, colorscale="Turbo"))
    else:
        fig.add_trace(points(known, color_by, color=values[known], colorscale="Viridis", showscale=True))
    if not known.all() and color_by not in ("expression", "dataset"):
        fig.add_trace(points(~known, f"no {color_by}", color="lightgrey"))
    for position, label in marks:
        fig.add_trace(go.Scatter(x=[position[0]], y=[position[1]], mode="markers+text", name=label,
                                 text=[label], textposition="top center",
                                 marker=dict(size=16, symbol="star", color="black", line=dict(width=1, color="white"))))
    credits = topology.credits()
    if credits:
        fig.add_annotation(text="<br>".join(credits), xref="paper", yref="paper", x=0, y=0, xanchor="left",
                           yanchor="top", yshift=-6, showarrow=False, align="left", font=dict(size=10))
    fig.update_layout(
        title=f"UMAP of the {attribute} code, coloured by {color_by}",
        margin=dict(l=10, r=10, t=40, b=10 + 16 * len(credits)), height=480, legend=dict(itemsizing="constant"),
        xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False),
    )
    return fig
