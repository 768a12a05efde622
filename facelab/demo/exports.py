"""Exports for slides, as the app offers them: any result as a PNG at a presentable size, the
interpolation strip and a slider sweep ("animate this dimension") as a GIF and an MP4.

:mod:`facelab.export` writes each file new and exclusive into the app's result folder (a
:class:`~facelab.demo.ResultFolder`), which then counts it among its results: deleted an hour later
like every other result, or at exit.
"""

from __future__ import annotations

from PIL import Image

from .. import export
from ..face_model import Code, FaceModel
from .common import ResultFolder
from .swap import _check_attribute

SWEEP_STEPS = 24  # frames from one end of a sweep to the other (then back: a loop)
MAX_FRAMES = 64


def _steps(steps, low: int = 2) -> int:
    steps = int(steps)
    if not low <= steps <= MAX_FRAMES:
        raise ValueError(f"steps must be between {low} and {MAX_FRAMES}, got {steps}")
    return steps


def export_png(image: Image.Image, folder: ResultFolder, size: int = export.DISPLAY_SIZE) -> tuple[str, str]:
    """``image`` upscaled (nearest-neighbour) to ``size`` px high as a new PNG: ``(path, caption)``;
    the caption states the native size."""
    saved = export.save_png(image, folder.directory, size=size)
    return folder.adopt(saved["png"]), saved["caption"]


def _animation(frames, folder: ResultFolder, what: str) -> tuple[str, str, str]:
    saved = export.save_animation(frames, folder.directory)
    frames_text = f"{len(frames)} frames, forwards then back, {export.FPS} fps"
    return folder.adopt(saved["gif"]), folder.adopt(saved["mp4"]), f"{what}: {frames_text}; {saved['caption']}"


def export_strip(model: FaceModel, a: Code, b: Code, folder: ResultFolder, steps: int = 8,
                 attribute: str | None = None, layers=(None, None)) -> tuple[str, str, str]:
    """A → B (only ``attribute`` moving; None: everything) as a looping GIF and an MP4:
    ``(gif path, mp4 path, caption)``; ``layers``: A's and B's photo layers, to show it on the photos."""
    if attribute is not None:
        _check_attribute(model, attribute)
    frames = export.strip_frames(model, a, b, steps=_steps(steps), attribute=attribute, layers=layers)
    return _animation(frames, folder, f"A → B ({attribute or 'everything'})")


def export_sweep(model: FaceModel, code: Code, attribute: str, dim: int, folder: ResultFolder,
                 steps: int = SWEEP_STEPS, layer=None) -> tuple[str, str, str]:
    """One dimension of one sub-code swept over its slider range (``model.code_bounds``), the rest of
    ``code`` fixed, as a looping GIF and an MP4: ``(gif path, mp4 path, caption)``; ``layer``: the
    face's photo layer, to show the sweep on the photo."""
    _check_attribute(model, attribute)
    frames = export.sweep_frames(model, code, attribute, int(dim), steps=_steps(steps), layer=layer)
    return _animation(frames, folder, f"{attribute} · dim {int(dim)} swept over the {model.bounds_source}")


def dimension_choices(model: FaceModel, attribute: str) -> list[tuple[str, int]]:
    """(label, dim) of every dimension of ``attribute``, highest training variance first (as the sliders)."""
    _check_attribute(model, attribute)
    _, std = model.code_range(attribute)
    return [(f"dim {d} (std {std[d]:.2f})", d) for d in model.top_dimensions(attribute, k=len(std))]
