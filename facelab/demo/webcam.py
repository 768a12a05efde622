"""Live webcam mode: each streamed frame → the model's view, its reconstruction and class bars.

The app streams webcam frames to :func:`live_frame` (Gradio streaming, a few frames a second per
viewer). :class:`Throttle` drops a viewer's frames that arrive faster than the server can afford,
so one phone pointed at a face cannot starve everyone else's requests. A frame without a face is
not an error here: it says so and the previous result stays on screen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..face_model import FaceModel
from ..imageio import ImageError
from .common import labelled_attribute

NO_FACE = "No face in view: look at the camera, with your face lit from the front."
# A face in front of a webcam fills a good part of the frame: a coarser search (fewer MTCNN pyramid
# levels, on a smaller copy) finds it in a fraction of an upload's time (bench/webcam_rate.py).
LIVE_DETECTION = {"min_face_size": 60, "max_detect_side": 320}


@dataclass
class LiveResult:
    """One processed frame: the aligned view, its reconstruction, class probabilities and a status line."""

    view: Image.Image | None
    reconstruction: Image.Image | None
    probabilities: dict[str, float]
    message: str

    @property
    def found(self) -> bool:
        return self.view is not None


def live_frame(model: FaceModel, frame) -> LiveResult:
    """Align, encode, decode and classify one webcam frame (a HxWx3 array or PIL image).

    Photo models look for the largest face (MTCNN); no face → ``found`` False with a plain message."""
    if frame is None:
        return LiveResult(None, None, {}, "Waiting for the camera…")
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8)) if not isinstance(frame, Image.Image) else frame
    try:
        view = _live_view(model, image)
    except (ImageError, ValueError):
        return LiveResult(None, None, {}, NO_FACE)
    code = model.encode(view, align=False, refine=False)  # live: the encoders' code, no refinement steps
    attribute = labelled_attribute(model)
    probabilities = model.classify(code, attribute) if attribute else {}
    top = max(probabilities, key=probabilities.get) if probabilities else None
    message = f"reads as {top} ({probabilities[top]:.0%})" if top else "encoded"
    return LiveResult(view, model.decode(code), probabilities, message)


def _live_view(model: FaceModel, image: Image.Image) -> Image.Image:
    if model.config.alignment != "mtcnn":
        return model.prepare(image)
    from ..align import align_largest

    return align_largest(image, model.align_config(**LIVE_DETECTION)).crop


class Throttle:
    """At most one processed frame per ``interval`` seconds per session; later ones are dropped.

    Gradio already sends a viewer's next frame only after the last one was answered (and its
    ``stream_every`` spaces them); this also bounds the work when a client sends faster."""

    def __init__(self, interval: float = 0.15, clock=time.monotonic):
        self.interval, self.clock = float(interval), clock
        self.last: dict[str, float] = {}

    def ready(self, session: str) -> bool:
        now = self.clock()
        if now - self.last.get(session, -np.inf) < self.interval:
            return False
        self.last[session] = now
        if len(self.last) > 1024:  # forget sessions idle for a minute
            self.last = {k: t for k, t in self.last.items() if now - t < 60}
        return True
