"""Swap and Interpolate tabs: exchange one sub-code between two faces, or walk from one to the other."""

from __future__ import annotations

from PIL import Image

from ..face_model import Code, FaceModel
from ..photo_layer import combine
from .common import strip

EVERYTHING = "everything"  # the interpolation choice that moves every sub-code at once


def _check_attribute(model: FaceModel, attribute: str) -> None:
    if attribute not in model.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(model.attributes)}")


def default_attribute(model: FaceModel) -> str:
    """The sub-code the Swap and Interpolate tabs start with: expression, else the first one."""
    return "expression" if "expression" in model.attributes else model.attributes[0]


def swap_labels(attribute: str) -> tuple[str, str]:
    """Captions of the two swapped faces: ``("A with B's expression", "B with A's expression")``."""
    return f"A with B's {attribute}", f"B with A's {attribute}"


def swap_faces(model: FaceModel, a: Code, b: Code, attribute: str = "expression") -> list[Image.Image]:
    """[A's reconstruction, B's reconstruction, A with B's ``attribute``, B with A's ``attribute``].

    All four are decoded as one batch; every other sub-code of each face stays its own.
    """
    _check_attribute(model, attribute)
    return model.decode([a, b, model.swap(a, b, attribute), model.swap(b, a, attribute)])


def interpolation_choices(model: FaceModel) -> list[tuple[str, str]]:
    """(label, value) of the Interpolate tab's "what moves": each sub-code alone, then everything."""
    return [(f"{a} only (rest of A fixed)", a) for a in model.attributes] + [("everything (A → B)", EVERYTHING)]


def interpolation_strip(model: FaceModel, a: Code, b: Code, steps: int = 8,
                        attribute: str | None = "expression", layers=(None, None)) -> Image.Image:
    """A → B in ``steps`` decoded frames (only ``attribute`` moves; None moves everything) as one strip;
    ``layers``: A's and B's photo layers (or None), as :func:`facelab.demo.interpolation_readback`."""
    steps = int(steps)
    if attribute is not None:
        _check_attribute(model, attribute)
    if not 2 <= steps <= 64:
        raise ValueError(f"steps must be between 2 and 64, got {steps}")
    return strip(model.decode(model.interpolate(a, b, steps=steps, attribute=attribute), layer=combine(*layers)))
