"""Evaluation tab (card figures, plots, label debugging) and the labelled sets of the data folder,
including the photo gallery that photo models retrieve from (the repository holds no photos)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..face_model import Code, FaceModel
from ..imageio import to_pil
from .common import data_root, read_json, strip


def evaluation_sections(model: FaceModel) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per evaluation JSON of the checkpoint: (markdown with its command and figures, [(png path, caption)]).

    A file that cannot be read or parsed gets a section of its own saying so ("could not read ...")."""
    from ..card import figures_table

    sections = []
    directory = Path(model.directory or ".")
    for path in sorted(directory.glob("evaluation*.json")) if model.directory else []:
        figures, problem = read_json(path)
        if not problem and not isinstance(figures, dict):
            problem = f"could not read {path.name}: not a JSON object"
        if problem:
            sections.append((f"### {path.name}\n{problem}", []))
            continue
        text = (f"### {figures.get('title', path.stem)}\n{figures.get('description', '')}\n\n"
                f"`{figures.get('command', '')}`\n\n{figures_table(figures)}")
        plots = [(str(directory / p["png"]), p.get("caption", name))
                 for name, p in (figures.get("plots") or {}).items()
                 if p.get("png") and (directory / p["png"]).is_file()]
        sections.append((text, plots))
    return sections


# --------------------------------------------------------------------------------------------
# Label debugging


def debug_sources(model: FaceModel) -> list[str]:
    """Labelled sets the label-debugging view can use with this model (real ones only when present)."""
    trained_on = model.training.data if model.training else ("synthetic",)
    if all(spec.startswith("synthetic") for spec in trained_on):
        return ["synthetic (held-out people)"]
    root, sources = data_root(), []
    if (root / "fer2013" / "test").is_dir():
        sources.append("fer2013 (test split)")
    if (root / "london" / "neutral_front").is_dir():
        sources.append("london")
    return sources


def debug_dataset(model: FaceModel, source: str, limit: int = 600):
    """The first ``limit`` items of a labelled set, prepared at the model's resolution."""
    import torch

    from .. import datasets
    from ..synthetic import SyntheticFaces

    size = model.config.image_size
    if source.startswith("synthetic"):
        return SyntheticFaces(identities=24, per_identity=limit // 24, size=size, seed=2, identity_seed=1,
                              with_neutral=False, min_intensity=0.25, progress=False)
    root = data_root()
    if source.startswith("fer2013"):
        ds = datasets.load(f"fer2013:{root / 'fer2013'}", size=size, progress=False)
        _, test = datasets.identity_split(ds, seed=0)
        return torch.utils.data.Subset(ds, test[:limit])
    if source == "london":
        ds = datasets.load(f"london:{root / 'london'}", size=size, align_config=model.align_config(size=size),
                           progress=False)
        return torch.utils.data.Subset(ds, list(range(min(limit, len(ds)))))
    raise ValueError(f"unknown source {source!r}; choose from {', '.join(debug_sources(model))}")


def label_disagreements(model: FaceModel, dataset, k: int = 12) -> list[tuple[Image.Image, str]]:
    """The ``k`` samples whose expression label the model finds least likely, as (input | reconstruction, caption).

    Sorted by the classifier's negative log-likelihood of the given label, so the top of the list
    is where either the label or the model is most likely wrong — a person can judge which.
    """
    from ..evaluate import encode_dataset
    from ..labels import MISSING

    names = model.class_names().get("expression")
    if names is None:
        raise ValueError("this model has no expression classifier to compare labels with")
    enc = encode_dataset(model, dataset, progress=False)
    labels = enc.labels.get("expression")
    if labels is None or not (labels != MISSING).any():
        raise ValueError("this set has no expression labels to compare with")
    logits = enc.logits - enc.logits.max(1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    known = np.flatnonzero(labels != MISSING)
    surprise = -log_probs[known, labels[known]]
    out = []
    for i in known[np.argsort(-surprise, kind="stable")[:k]]:
        label, predicted = names[labels[i]], names[int(log_probs[i].argmax())]
        pair = strip([to_pil(enc.images[i]), to_pil(enc.recon[i])], gap=2)
        out.append((pair, f"label {label} · predicted {predicted} "
                          f"({np.exp(log_probs[i].max()):.0%}; label {np.exp(log_probs[i, labels[i]]):.0%})"))
    return out


# --------------------------------------------------------------------------------------------
# Retrieval from a dataset folder (photo models: the repository holds no photos to render)


class PhotoGallery(NamedTuple):
    codes: dict[str, np.ndarray]  # attribute → (N, d)
    images: list[np.ndarray]  # aligned crops, uint8 (S, S, 3)
    captions: list[str]


def photo_gallery(model: FaceModel, source: str = "london") -> PhotoGallery | None:
    """Every face of a dataset folder, aligned as the model aligns and encoded; None when absent.

    The first call aligns and caches the photos (about a minute for London on a CPU); later
    calls read the crop cache."""
    from .. import datasets
    from ..labels import EXPRESSIONS

    root = data_root() / source
    if not root.is_dir():
        return None
    size = model.config.image_size
    ds = datasets.load(f"{source}:{root}", size=size, align_config=model.align_config(size=size), progress=False)
    images = [ds.image_array(i) for i in range(len(ds))]
    codes = model.encode_tensor(model.images_to_tensor([Image.fromarray(im) for im in images]))
    captions = [f"{r.identity} · {EXPRESSIONS[r.expression] if r.expression >= 0 else '?'}" for r in ds.records]
    return PhotoGallery(codes, images, captions)


def retrieve_photos(gallery: PhotoGallery, code: Code, attribute: str, k: int = 8) -> list[tuple[Image.Image, str]]:
    """The ``k`` gallery photos nearest to ``code`` by its ``attribute`` sub-vector (:func:`facelab.retrieval.nearest`)."""
    from ..retrieval import nearest

    idx, dist = nearest(gallery.codes[attribute], getattr(code, attribute), k)
    return [(Image.fromarray(gallery.images[i]), f"{gallery.captions[i]} · d={d:.2f}") for i, d in zip(idx, dist)]
