"""Latent topology: UMAP maps of each sub-vector, fitted once and stored with the codes.

umap-learn's numba JIT costs tens of seconds on first use, so the app never fits or imports it:
:func:`build_topology` runs at build time (``python -m train.topology``) and writes
``topology.npz`` (plain arrays, no pickled reducer) beside the checkpoint. A new face is placed
deterministically at the distance-weighted mean of its nearest gallery neighbours' positions;
the plot labels that point as approximate.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

FILENAME = "topology.npz"
FACTOR_FIELDS = ("identity", "expression", "intensity", "yaw", "pitch", "light", "noise", "seed")


class TopologyError(ValueError):
    """A topology file that is corrupt or inconsistent (the reason is the message)."""


@dataclass
class Topology:
    """Gallery codes, their 2-D UMAP embedding per attribute, and the gallery's labels/factors."""

    codes: dict[str, np.ndarray]  # attribute → (N, d)
    embedding: dict[str, np.ndarray]  # attribute → (N, 2)
    labels: dict[str, np.ndarray]  # identity, expression, intensity, ... → (N,) ; background → (N, 3)
    params: dict = field(default_factory=dict)

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.codes)

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
        d = np.linalg.norm(self.codes[attribute] - np.asarray(vector)[None], axis=1)
        idx = np.argsort(d, kind="stable")[:k]
        return idx, d[idx]

    def place(self, attribute: str, vector: np.ndarray, k: int = 10) -> np.ndarray:
        """Approximate 2-D position of a new code: inverse-distance weighted mean of its k neighbours."""
        idx, dist = self.neighbours(attribute, vector, k)
        w = 1.0 / (dist + 1e-6)
        return (self.embedding[attribute][idx] * w[:, None]).sum(0) / w.sum()


def build_topology(
    model,
    dataset,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Topology:
    """Encode ``dataset`` (a SyntheticFaces) with ``model`` and fit one UMAP per attribute."""
    import torch
    import umap  # slow first import (numba); only at build time
    from tqdm.auto import tqdm

    batches = []
    loader = torch.utils.data.DataLoader(dataset, batch_size=256)
    for batch in tqdm(loader, desc="encode gallery", disable=not progress):
        batches.append(model.encode_tensor(batch["image"]))
    codes = {k: np.concatenate([b[k] for b in batches]) for k in model.attributes}
    embedding = {}
    for attribute in tqdm(model.attributes, desc="fit UMAP", disable=not progress):
        reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, verbose=False)
        embedding[attribute] = reducer.fit_transform(codes[attribute]).astype(np.float32)
    labels = {f: np.array([getattr(fac, f) for fac in dataset.factors]) for f in FACTOR_FIELDS}
    labels["background"] = np.array([fac.background for fac in dataset.factors], dtype=np.float32)
    params = {"n_neighbors": n_neighbors, "min_dist": min_dist, "seed": seed, "n": len(dataset),
              "umap": umap.__version__ if hasattr(umap, "__version__") else "unknown"}
    return Topology(codes, embedding, labels, params)


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


def figure(
    topology: Topology,
    attribute: str,
    color_by: str = "expression",
    marks: Sequence[tuple[np.ndarray, str]] = (),
    class_names: Sequence[str] | None = None,
):
    """A plotly scatter of one attribute's embedding, coloured by a label, with marked faces."""
    import plotly.graph_objects as go

    emb = topology.embedding[attribute]
    values = topology.labels[color_by]
    fig = go.Figure()
    if color_by == "expression" and class_names is not None:
        for c in np.unique(values):
            sel = values == c
            fig.add_trace(go.Scattergl(x=emb[sel, 0], y=emb[sel, 1], mode="markers", name=class_names[int(c)],
                                       marker=dict(size=4, opacity=0.7)))
    else:
        categorical = color_by == "identity"
        fig.add_trace(go.Scattergl(
            x=emb[:, 0], y=emb[:, 1], mode="markers", name=color_by,
            marker=dict(size=4, opacity=0.7, color=values % 20 if categorical else values,
                        colorscale="Turbo" if categorical else "Viridis", showscale=not categorical),
            text=[f"{color_by} {v}" for v in values], hoverinfo="text",
        ))
    for position, label in marks:
        fig.add_trace(go.Scatter(x=[position[0]], y=[position[1]], mode="markers+text", name=label,
                                 text=[label], textposition="top center",
                                 marker=dict(size=16, symbol="star", color="black", line=dict(width=1, color="white"))))
    fig.update_layout(
        title=f"UMAP of the {attribute} code, coloured by {color_by}",
        margin=dict(l=10, r=10, t=40, b=10), height=480, legend=dict(itemsizing="constant"),
        xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False),
    )
    return fig
