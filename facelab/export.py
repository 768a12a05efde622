"""Exports for slides: any result as a PNG at a presentable size, an interpolation strip or a slider
sweep ("animate this dimension") as an animated GIF and an MP4.

Faces are upscaled with nearest-neighbour: at the usual 8× (64 → 512 px) every model pixel
becomes an 8×8 block, so the audience sees exactly what the model made — no smoothing it did not
do, no ringing — and the caption states the native size. Blocks also suit the formats: a GIF
keeps the face's few colours (Lanczos would invent in-between ones for the 256-colour palette),
and H.264 codes 8-aligned flat blocks cheaply.
"""

from __future__ import annotations

import io
import os
import secrets
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from .face_model import Code, FaceModel
from .photo_layer import combine

DISPLAY_SIZE = 512  # px, height of exported images and animations
FPS = 10


def upscale(image: Image.Image, size: int = DISPLAY_SIZE) -> Image.Image:
    """``image`` at height ``size`` (width in proportion), nearest-neighbour (see the module docstring)."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    width = max(1, round(image.width * size / image.height))
    return image.convert("RGB").resize((width, size), Image.Resampling.NEAREST)


def caption(native: Image.Image, shown: Image.Image) -> str:
    """What an export states about its size, e.g. "native 64 px, shown at 512 px"."""
    return f"native {native.height} px, shown at {shown.height} px"


def pingpong(frames: Sequence) -> list:
    """``frames`` forwards then backwards without repeating either end: a loop with no jump."""
    frames = list(frames)
    return frames + frames[-2:0:-1]


def sweep_frames(model: FaceModel, code: Code, attribute: str, dim: int, steps: int = 24,
                 layer=None) -> list[Image.Image]:
    """``code`` decoded with one dimension of one sub-code swept evenly over its range, the Sliders
    tab's (``model.code_bounds``), low to high: "animate this dimension". ``layer``: the face's photo
    layer, to show the sweep on the photo (``FaceModel.decode``)."""
    low, high = model.code_bounds(attribute)
    if not 0 <= dim < len(low):
        raise ValueError(f"{attribute} has dimensions 0–{len(low) - 1}, got {dim}")
    values = np.linspace(low[dim], high[dim], int(steps))
    return model.decode(model.traverse(code, attribute, dim, values), layer=layer)


def strip_frames(model: FaceModel, a: Code, b: Code, steps: int = 8, attribute: str | None = None,
                 layers=(None, None)) -> list[Image.Image]:
    """A → B in ``steps`` decoded faces (only ``attribute`` moves; None moves every sub-code);
    ``layers``: A's and B's photo layers or None (:func:`facelab.photo_layer.combine`)."""
    return model.decode(model.interpolate(a, b, steps=int(steps), attribute=attribute), layer=combine(*layers))


def _shared_palette(frames: Sequence[Image.Image]) -> Image.Image:
    """One 256-colour palette for a whole animation (median cut over every frame, each subsampled to
    at most 128 px high), so colours do not flicker from frame to frame as per-frame palettes do."""
    small = [f.resize((max(1, f.width * 128 // f.height), 128), Image.Resampling.NEAREST) if f.height > 128 else f
             for f in frames]
    sheet = Image.new("RGB", (max(f.width for f in small), sum(f.height for f in small)))
    top = 0
    for f in small:
        sheet.paste(f, (0, top))
        top += f.height
    return sheet.quantize(256, method=Image.Quantize.MEDIANCUT)


def to_gif(frames: Sequence[Image.Image], path: str | os.PathLike | None = None, fps: float = FPS,
           loop: bool = True) -> bytes | str:
    """An animated GIF of ``frames``: written to ``path`` (returned as a string), or its bytes when
    ``path`` is None. ``loop=False`` plays once. GIF stores delays in 1/100 s, so ``fps`` is rounded
    to that; identical consecutive frames are merged into one longer frame (Pillow)."""
    if not frames:
        raise ValueError("no frames to animate")
    rgb = [f.convert("RGB") for f in frames]
    palette = _shared_palette(rgb)
    first, *rest = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in rgb]
    options = {"save_all": True, "append_images": rest, "duration": max(10, round(1000 / fps, -1))}
    if loop:
        options["loop"] = 0  # forever
    if path is None:
        buffer = io.BytesIO()
        first.save(buffer, format="GIF", **options)
        return buffer.getvalue()
    first.save(path, format="GIF", **options)
    return str(path)


def video_codec() -> str:
    """The MP4 encoder this PyAV build has: ``libx264`` (H.264, plays everywhere), else ``mpeg4``."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except ValueError:  # UnknownCodecError: an ffmpeg built without it
        return "mpeg4"


def _even(frame: Image.Image) -> np.ndarray:
    """RGB array with even width and height (yuv420p halves both), odd sides padded by their edge pixels."""
    a = np.asarray(frame.convert("RGB"))
    return np.pad(a, ((0, a.shape[0] % 2), (0, a.shape[1] % 2), (0, 0)), mode="edge")


def to_mp4(frames: Sequence[Image.Image], path: str | os.PathLike, fps: float = FPS, codec: str | None = None) -> str:
    """An MP4 (yuv420p, ``codec`` default :func:`video_codec`) of ``frames`` at ``path``; returns the path.

    Frames of odd width or height gain one edge-pixel row or column; all take the first one's size.
    """
    import av

    if not frames:
        raise ValueError("no frames to encode")
    arrays = [_even(f) for f in frames]
    height, width = arrays[0].shape[:2]
    if any(a.shape[:2] != (height, width) for a in arrays):
        raise ValueError("all frames must have the same size")
    codec = codec or video_codec()
    # faststart: the index goes first, so a browser starts playing before the whole file has arrived
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        # crf 18: visually lossless for these flat faces; mpeg4 has no crf, so a generous bit rate
        options = {"crf": "18"} if codec == "libx264" else {}
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000), options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec != "libx264":
            stream.bit_rate = 8_000_000
        for a in arrays:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")))
        container.mux(stream.encode())  # flush
    return str(path)


def _new_path(directory: str | os.PathLike, suffix: str) -> Path:
    """A new, empty file of its own in ``directory`` (exclusive create: never one already handed out)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{secrets.token_hex(8)}{suffix}"
    path.open("xb").close()
    return path


def _written(path: Path, write) -> str:
    """Run ``write(path)``; on failure remove the half-written file."""
    try:
        write(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return str(path)


def save_png(image: Image.Image, directory: str | os.PathLike, size: int = DISPLAY_SIZE) -> dict[str, str]:
    """``image`` upscaled to height ``size`` as a new PNG in ``directory``: ``{"png": path, "caption": ...}``."""
    shown = upscale(image, size)
    path = _written(_new_path(directory, ".png"), lambda p: shown.save(p, format="PNG"))
    return {"png": path, "caption": caption(image, shown)}


def save_animation(frames: Sequence[Image.Image], directory: str | os.PathLike, fps: float = FPS,
                   size: int = DISPLAY_SIZE, loop: bool = True) -> dict[str, str]:
    """``frames`` upscaled to height ``size`` as a new GIF and a new MP4 in ``directory``:
    ``{"gif": path, "mp4": path, "caption": ...}``. ``loop`` plays them forwards then backwards
    (:func:`pingpong`), and the GIF forever; a sweep or a strip then loops with no jump."""
    shown = [upscale(f, size) for f in frames]
    if loop:
        shown = pingpong(shown)
    gif = _written(_new_path(directory, ".gif"), lambda p: to_gif(shown, p, fps=fps, loop=loop))
    mp4 = _written(_new_path(directory, ".mp4"), lambda p: to_mp4(shown, p, fps=fps))
    return {"gif": gif, "mp4": mp4, "caption": caption(frames[0], shown[0])}
