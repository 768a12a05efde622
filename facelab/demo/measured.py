"""Measured edits: what the model reads back from every edited, swapped and interpolated face
(:func:`facelab.readback.read_back`), as the app shows it (one line each) and returns it (JSON).

Each function decodes through :func:`~facelab.readback.read_back`, whose :class:`~facelab.readback.Readback`
carries the decoded picture, so a tab shows the faces and their figures from one decode + one encode pass.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..face_model import Code, FaceModel
from ..photo_layer import combine
from ..readback import Readback, read_back
from .common import strip
from .swap import _check_attribute, swap_labels

YOUR_FACE = "your face"
AVERAGE_FACE = "the average face"


def slider_readback(model: FaceModel, source: Code, edited: Code, source_name: str = YOUR_FACE,
                    layer=None) -> Readback:
    """What the model reads from ``edited`` (the slider-edited code; shown on the source's photo with
    its ``layer``), measured against ``source`` (the face the sliders started from): did the other
    sub-codes stay the source's?"""
    return read_back(model, edited, {source_name: source}, layers=layer)


def swap_readback(model: FaceModel, a: Code, b: Code, attribute: str = "expression", layers=(None, None)
                  ) -> tuple[list[Image.Image], dict[str, Readback]]:
    """As :func:`facelab.demo.swap_faces` — [A's reconstruction, B's, A with B's ``attribute``, B with A's]
    — and the read-back of the two swapped faces against A and B, keyed by their captions. ``layers``:
    A's and B's photo layers (or None), under which each swapped face is shown on its own photo; the
    reconstructions are always the decoder's."""
    _check_attribute(model, attribute)
    layer_a, layer_b = layers
    found = read_back(model, [a, b, model.swap(a, b, attribute), model.swap(b, a, attribute)], {"A": a, "B": b},
                      layers=[None, None, layer_a, layer_b])
    return [r.image for r in found], dict(zip(swap_labels(attribute), found[2:]))


def interpolation_readback(model: FaceModel, a: Code, b: Code, steps: int = 8, attribute: str | None = "expression",
                           layers=(None, None)) -> tuple[Image.Image, dict[str, Readback]]:
    """As :func:`facelab.demo.interpolation_strip` (A → B in ``steps`` frames, one strip), and every
    frame's read-back against A and B, keyed ``"t=0.00"`` … ``"t=1.00"``. ``layers``: A's and B's
    photo layers (or None): each frame is shown on whichever photo it still is
    (:func:`facelab.photo_layer.combine`), so the ends are the two photos themselves."""
    steps = int(steps)
    if attribute is not None:
        _check_attribute(model, attribute)
    if not 2 <= steps <= 64:
        raise ValueError(f"steps must be between 2 and 64, got {steps}")
    found = read_back(model, model.interpolate(a, b, steps=steps, attribute=attribute), {"A": a, "B": b},
                      layers=combine(*layers))
    keys = [f"t={t:.2f}" for t in np.linspace(0.0, 1.0, steps)]
    return strip([r.image for r in found]), dict(zip(keys, found))


def readback_markdown(readbacks: dict[str, Readback] | Readback, title: str = "What the model reads back") -> str:
    """One line per result (its name, then :meth:`Readback.summary`), for the UI."""
    if isinstance(readbacks, Readback):
        return f"**{title}:** {readbacks.summary()}"
    lines = [f"**{name}:** {r.summary()}" for name, r in readbacks.items()]
    return f"*{title}:*  \n" + "  \n".join(lines)


def readback_json(readbacks: dict[str, Readback] | Readback) -> dict:
    """:meth:`Readback.to_dict` of each result, keyed as given (one result: its dict alone), for the API."""
    if isinstance(readbacks, Readback):
        return readbacks.to_dict()
    return {name: r.to_dict() for name, r in readbacks.items()}
