"""Presenter view: one face and its edit large, side by side, for a projector; a random face drawn
from the code prior; one face through every loaded checkpoint side by side ("compare models")."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from ..export import upscale
from ..face_model import Code, FaceModel
from .common import encode_face, labelled_attribute, model_name
from .swap import _check_attribute

PRESENTER_RANGE = 1.0  # the presenter's slider: −1 the low end of a dimension's range, 0 the mean, +1 the high end
COMPARE_HEIGHT = 256  # px, each model's reconstruction in the comparison, nearest-neighbour


def random_code(model: FaceModel, seed: int | None = None) -> Code:
    """A sample from the code prior: each dimension of each sub-code drawn from a normal with the
    training codes' mean and std (``model.code_range``), kept within its range (``model.code_bounds``,
    as the sliders) so that a random face stays among the codes training faces have."""
    rng = np.random.default_rng(seed)
    parts = {}
    for attribute in model.attributes:
        mean, std = model.code_range(attribute)
        low, high = model.code_bounds(attribute)
        parts[attribute] = np.clip(mean + std * rng.standard_normal(len(mean)), low, high).astype(np.float32)
    return Code(parts)


def random_face(model: FaceModel, seed: int | None = None) -> Image.Image:
    """A new face: :func:`random_code` decoded (the model's resolution)."""
    return model.decode(random_code(model, seed))


def _check_dim(model: FaceModel, attribute: str, dim: int) -> int:
    _check_attribute(model, attribute)
    size, dim = model.config.latents[attribute], int(dim)
    if not 0 <= dim < size:
        raise ValueError(f"{attribute} has dimensions 0–{size - 1}, got {dim}")
    return dim


def dimension_value(model: FaceModel, code: Code, attribute: str, dim: int) -> float:
    """Where ``code`` is on one dimension's range, the presenter slider's position: −1 the low end
    (``model.code_bounds``), 0 the training mean, +1 the high end; clipped to the range."""
    dim = _check_dim(model, attribute, dim)
    return round(model.range_position(attribute, dim, float(getattr(code, attribute)[dim])), 2)


def set_dimension(model: FaceModel, code: Code, attribute: str, dim: int, value: float) -> Code:
    """``code`` with one dimension at slider position ``value`` on its range (−1 the low end, 0 the
    training mean, +1 the high end; clipped to ± :data:`PRESENTER_RANGE`)."""
    dim = _check_dim(model, attribute, dim)
    value = float(value) if value is not None and np.isfinite(float(value)) else 0.0
    part = getattr(code, attribute).copy()
    part[dim] = model.range_values(attribute, dim, np.clip(value, -PRESENTER_RANGE, PRESENTER_RANGE))
    return code.replace(**{attribute: part})


def compare_models(models: Sequence[FaceModel], image: Image.Image) -> list[tuple[Image.Image, str]]:
    """``image`` through every model: its reconstruction (``COMPARE_HEIGHT`` px, nearest-neighbour) and a
    caption naming the model, its resolution and what it reads. Photo models use the centre crop where
    they find no face (e.g. a generator face), and say so."""
    from ..align import NoFaceError

    out = []
    for model in models:
        try:
            _, code = encode_face(model, image)
            note = ""
        except NoFaceError:  # photo models: compare on the centre crop rather than not at all
            _, code = encode_face(model, image, center_fallback=True)
            note = " (no face found: centre crop)"
        attribute = labelled_attribute(model)
        reads = ""
        if attribute:
            probabilities = model.classify(code, attribute)
            top = next(iter(probabilities))
            reads = f" · reads as {top} {probabilities[top]:.0%}"
        size = model.config.image_size
        out.append((upscale(model.decode(code), COMPARE_HEIGHT),
                    f"{model_name(model)} ({size} px){reads}{note}"))
    return out
