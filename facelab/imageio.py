"""Robust image input shared by the app, training and evaluation.

Every reader of user or dataset images goes through :func:`read_image`, so bad input fails the
same way everywhere: one exception type, :class:`ImageError`, whose message says what is wrong in
words a user understands (not an image, truncated, too large, empty). Callers catch it and carry
on -- the app shows the message, a dataset loader skips the file and logs it.

Nothing here touches global PIL state (``LOAD_TRUNCATED_IMAGES``, ``MAX_IMAGE_PIXELS``), because
the app, the training loop and the tests share one process. torch is imported lazily so scanning
a dataset folder does not pay for it.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "ImageError",
    "HARD_MAX_PIXELS",
    "DEFAULT_MAX_PIXELS",
    "read_image",
    "center_crop",
    "to_tensor",
    "to_pil",
]

#: Refuse outright above this many pixels: decoding would need gigabytes of memory. PIL itself
#: refuses above ``2 * Image.MAX_IMAGE_PIXELS`` (about 179 MP) whatever this says.
HARD_MAX_PIXELS = 150_000_000
#: Default working resolution: plenty for face detection, cheap to hold in memory.
DEFAULT_MAX_PIXELS = 4_000_000

_FLOAT_EPS = 1e-3  # float arrays a hair above 1.0 (rounding) still count as [0, 1]


class ImageError(ValueError):
    """The one exception for input that cannot be used as an image.

    The message is meant for the end user ("image file is truncated or corrupt"); ``source`` names
    the file when there is one, so a dataset loader can log and skip it.
    """

    def __init__(self, message: str, source: str | None = None):
        self.reason = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


# --------------------------------------------------------------------------------------------
# Reading


def read_image(
    src: Any,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    *,
    hard_max_pixels: int = HARD_MAX_PIXELS,
) -> Image.Image:
    """Load ``src`` as a fully decoded RGB image of at most ``max_pixels`` pixels.

    ``src`` may be a path (str / Path), bytes, a binary file-like object, a PIL image, a numpy
    array (uint8 / uint16 / bool / float in [0, 1]; HxW, HxWx1/3/4 or 3xHxW) or anything with a
    ``.numpy()`` method (a CPU torch tensor). EXIF orientation is applied, transparency is
    composited on white and 16-bit data is scaled to 8 bits. Pixels are decoded here, so a
    truncated file fails now rather than later in a data loader. Images above
    ``hard_max_pixels`` are refused; smaller ones above ``max_pixels`` are downscaled (JPEGs are
    decoded at reduced size straight away).

    Raises :class:`ImageError` for anything that cannot be read as an image.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if isinstance(src, Image.Image):
        return _from_pil(src, max_pixels, hard_max_pixels, source=None)
    if isinstance(src, np.ndarray) or (hasattr(src, "numpy") and hasattr(src, "shape")):
        return _from_array(src, max_pixels, hard_max_pixels)

    source: str | None = None
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        source = str(path)
        try:
            if path.is_dir():
                raise ImageError("is a folder, not an image file", source)
            size = path.stat().st_size
        except FileNotFoundError:
            raise ImageError("file not found", source) from None
        except PermissionError:
            raise ImageError("permission denied", source) from None
        except OSError as e:
            raise ImageError(f"cannot read file ({e.strerror or e})", source) from None
        if size == 0:
            raise ImageError("empty file", source)
        try:
            with open(path, "rb") as f:
                return _from_stream(f, max_pixels, hard_max_pixels, source)
        except PermissionError:
            raise ImageError("permission denied", source) from None
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        if not data:
            raise ImageError("empty file")
        return _from_stream(io.BytesIO(data), max_pixels, hard_max_pixels, None)
    if hasattr(src, "read"):
        source = getattr(src, "name", None)
        source = str(source) if isinstance(source, (str, os.PathLike)) else None
        stream = src
        if not (hasattr(src, "seekable") and src.seekable()):
            stream = io.BytesIO(src.read())
        start = stream.tell()
        head = stream.read(1)
        if not head:
            raise ImageError("empty file", source)
        if isinstance(head, str):
            raise TypeError("read_image needs a binary file object (open the file with 'rb')")
        stream.seek(start)
        return _from_stream(stream, max_pixels, hard_max_pixels, source)
    raise TypeError(
        f"read_image cannot read a {type(src).__name__}; pass a path, bytes, a binary file, "
        "a PIL image or a numpy array"
    )


def _from_stream(stream, max_pixels: int, hard_max: int, source: str | None) -> Image.Image:
    start = stream.tell()
    try:
        im = Image.open(stream)
    except UnidentifiedImageError:
        stream.seek(start)
        raise ImageError(_describe_unreadable(stream.read(512)), source) from None
    except Image.DecompressionBombError as e:
        raise ImageError(_bomb_message(e, hard_max), source) from None
    except Image.DecompressionBombWarning as e:  # only raised when warnings are errors
        raise ImageError(_bomb_message(e, hard_max), source) from None
    except MemoryError:
        raise ImageError("image is too large to decode in memory", source) from None
    except Exception as e:  # any decoder failure on a file means a corrupt file
        raise ImageError(_corrupt(e), source) from None
    with im:
        _check_size(im.size, hard_max, source)
        if im.format == "JPEG" and im.size[0] * im.size[1] > max_pixels:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 50 MP phone photo never gets
            # decoded at full size. draft() keeps the result >= the requested size.
            s = math.sqrt(max_pixels / (im.size[0] * im.size[1]))
            im.draft(None, (max(1, math.ceil(im.size[0] * s)), max(1, math.ceil(im.size[1] * s))))
        _load(im, source)
        return _finish(im, max_pixels, source)


def _from_pil(im: Image.Image, max_pixels: int, hard_max: int, source: str | None) -> Image.Image:
    _check_size(im.size, hard_max, source)
    _load(im, source)
    return _finish(im, max_pixels, source)


def _load(im: Image.Image, source: str | None) -> None:
    try:
        im.load()
    except Image.DecompressionBombError as e:
        raise ImageError(_bomb_message(e, None), source) from None
    except MemoryError:
        raise ImageError("image is too large to decode in memory", source) from None
    except Exception as e:  # OSError, SyntaxError, EOFError, struct.error, ... from decoders
        raise ImageError(_corrupt(e), source) from None


def _finish(im: Image.Image, max_pixels: int, source: str | None) -> Image.Image:
    """EXIF-rotate, convert to RGB, downscale. Never returns the caller's object."""
    out = im
    if _orientation(im) != 1:
        try:
            out = ImageOps.exif_transpose(im)
        except Exception:  # a broken EXIF block must not cost us the picture
            out = im
    # Shrink before the mode conversion where PIL can resize the mode directly: converting a
    # huge RGBA scan to RGB first would cost several full-size copies.
    if out.mode in ("RGB", "L", "RGBA", "LA") and out.size[0] * out.size[1] > max_pixels:
        out = _downscale(out, max_pixels)
    out = _to_rgb(out, source)
    if out.size[0] * out.size[1] > max_pixels:
        out = _downscale(out, max_pixels)
    if out is im:
        out = im.copy()
    out.info.pop("transparency", None)
    return out


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:
        return 1


def _downscale(im: Image.Image, max_pixels: int) -> Image.Image:
    w, h = im.size
    s = math.sqrt(max_pixels / (w * h))
    nw, nh = max(1, math.floor(w * s)), max(1, math.floor(h * s))
    while nw * nh > max_pixels:  # floor rounding can still overshoot by a row for tiny limits
        if nw >= nh:
            nw -= 1
        else:
            nh -= 1
    # Bicubic (antialiased in PIL) costs ~25% less than Lanczos; detection and the alignment
    # warp filter again anyway.
    return im.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)


def _to_rgb(im: Image.Image, source: str | None) -> Image.Image:
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(im), mode)).convert("RGB")
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as e:
        raise ImageError(f"unsupported colour mode {mode} ({_short(e)})", source) from None


def _scale_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """Map high-bit-depth pixels to 0..255 by their nominal range, not their min/max.

    Nominal scaling keeps a dark 16-bit photo dark; min/max stretching is only the last resort
    for data with no nominal range (negative or out-of-range int32 / float).
    """
    if mode.startswith("I;16") or a.dtype == np.uint16:
        return np.round(a.astype(np.float32) / 257.0).astype(np.uint8)
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode == "F" and lo >= 0.0 and hi <= 1.0 + _FLOAT_EPS:
        a = a * 255.0
    elif lo >= 0 and hi <= 255:
        pass
    elif lo >= 0 and hi <= 65535:
        a = a / 257.0
    elif hi > lo:
        a = (a - lo) * (255.0 / (hi - lo))
    else:
        a = np.zeros_like(a)
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def _from_array(arr: Any, max_pixels: int, hard_max: int) -> Image.Image:
    if not isinstance(arr, np.ndarray):  # torch tensor and friends
        if hasattr(arr, "detach"):
            arr = arr.detach()
        if hasattr(arr, "cpu"):
            arr = arr.cpu()
        arr = np.asarray(arr.numpy())
    a = arr
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # CHW (torch layout) -> HWC
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(
            f"array of shape {tuple(arr.shape)} is not an image (expected HxW, HxWx3 or HxWx4)"
        )
    h, w = a.shape[:2]
    if h == 0 or w == 0:
        raise ImageError(f"array of shape {tuple(arr.shape)} is an empty image")
    _check_size((w, h), hard_max, None)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint8:
        pass
    elif a.dtype == np.uint16:
        a = np.round(a.astype(np.float32) / 257.0).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ImageError("float array contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < -_FLOAT_EPS or hi > 1.0 + _FLOAT_EPS:
            raise ImageError(
                f"float array values must lie in [0, 1], found [{lo:.3g}, {hi:.3g}]"
            )
        a = np.clip(np.round(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise ImageError(
                f"{a.dtype} array values must lie in [0, 255], found [{lo}, {hi}]"
            )
        a = a.astype(np.uint8)
    else:
        raise ImageError(f"array of dtype {a.dtype} is not an image")
    im = Image.fromarray(np.ascontiguousarray(a))
    return _finish(im, max_pixels, None)


def _check_size(size: tuple[int, int], hard_max: int, source: str | None) -> None:
    w, h = size
    if w * h > hard_max:
        raise ImageError(
            f"image is {w}×{h} = {_mp(w * h)} MP, over the {_mp(hard_max)} MP limit", source
        )


def _bomb_message(e: Exception, hard_max: int | None) -> str:
    """User wording for PIL's decompression-bomb guard (its error above 2x MAX_IMAGE_PIXELS, or
    its warning above MAX_IMAGE_PIXELS when warnings are turned into errors)."""
    import re

    text = str(e)
    size = re.search(r"\((\d+) pixels\)", text)
    pil_limit = re.search(r"limit of (\d+) pixels", text)
    limit = hard_max if hard_max is not None else HARD_MAX_PIXELS
    if pil_limit:
        limit = min(limit, int(pil_limit.group(1)))
    if size:
        return f"image is {_mp(int(size.group(1)))} MP, over the {_mp(limit)} MP limit"
    return f"image is too large (over the {_mp(limit)} MP limit)"


def _mp(pixels: int) -> str:
    v = pixels / 1e6
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def _corrupt(e: Exception) -> str:
    detail = _short(e)
    if "truncated" in detail.lower():  # PIL's own wording already says it
        return "image file is truncated or corrupt"
    return f"image file is truncated or corrupt ({detail})"


def _short(e: Exception) -> str:
    msg = str(e).strip() or type(e).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _describe_unreadable(head: bytes) -> str:
    """Why PIL could not open a file, guessed from its first bytes."""
    if not head:
        return "empty file"
    for magic, name in _IMAGE_MAGIC:
        if head.startswith(magic):
            return f"image file is truncated or corrupt (starts like a {name} but cannot be decoded)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image file is truncated or corrupt (starts like a WEBP but cannot be decoded)"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "unsupported image format HEIC/HEIF; convert the photo to JPEG or PNG"
        if brand in (b"avif", b"avis"):
            return "AVIF image could not be decoded; convert the photo to JPEG or PNG"
        return "not an image file (looks like a video: MP4/MOV)"
    kind = _sniff_kind(head)
    return f"not an image file (looks like {kind})"


def _sniff_kind(head: bytes) -> str:
    signatures = (
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive or Office document"),
        (b"\x1f\x8b", "a gzip archive"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xbc\xaf", "a 7-Zip archive"),
        (b"\x7fELF", "a program"),
        (b"MZ", "a Windows program"),
        (b"OggS", "audio/video (Ogg)"),
        (b"ID3", "audio (MP3)"),
        (b"fLaC", "audio (FLAC)"),
        (b"\x1aE\xdf\xa3", "a video (MKV/WebM)"),
        (b"\xd0\xcf\x11\xe0", "an old Office document"),
        (b"SQLite format", "a database"),
        (b"\x93NUMPY", "a numpy .npy file"),
    )
    for magic, kind in signatures:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF":
        return {b"WAVE": "audio (WAV)", b"AVI ": "a video (AVI)"}.get(head[8:12], "a RIFF file")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the 512-byte boundary is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "binary data of an unknown format"
    if text and all(c.isprintable() or c in "\r\n\t\f" for c in text.lstrip("\ufeff")):
        low = text.lstrip("\ufeff \r\n\t").lower()
        if "<svg" in low:
            return "an SVG vector drawing; export it as PNG or JPEG"
        if low.startswith(("<!doctype html", "<html")):
            return "an HTML page"
        if low.startswith("<?xml"):
            return "XML text"
        if low.startswith(("{", "[")):
            return "JSON text"
        return "text"
    return "binary data of an unknown format"


# --------------------------------------------------------------------------------------------
# Crops and tensors


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """The largest centred square of ``img``, resized (antialiased) to ``size``×``size`` RGB.

    The fallback when no face is found: faces in portraits are usually central. Crop and resize
    happen in one resampling pass (sub-pixel exact, no intermediate copy).
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if img.mode != "RGB":
        img = _to_rgb(img, None)
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) / 2.0, (h - side) / 2.0
    box = (left, top, left + side, top + side)
    resample = Image.Resampling.LANCZOS if side > size else Image.Resampling.BICUBIC
    return img.resize((size, size), resample, box=box)


def to_tensor(img: Image.Image) -> "torch.Tensor":
    """PIL image -> float32 tensor (3, H, W) in [0, 1], the layout every model here expects.

    The same arithmetic as torchvision's ``to_tensor`` without importing torchvision, which pulls
    in torch._dynamo and costs the app about 2 s of its start-up.
    """
    import torch

    if img.mode != "RGB":
        img = _to_rgb(img, None)
    hwc = torch.from_numpy(np.array(img, dtype=np.uint8))  # copy: PIL arrays are read-only
    return hwc.permute(2, 0, 1).contiguous().to(torch.get_default_dtype()).div(255)


def to_pil(x: Any) -> Image.Image:
    """Tensor or array -> PIL image, for showing model outputs in the app and saving samples.

    Accepts float (3, H, W) / (1, 3, H, W) / (H, W, 3) data in [0, 1] (clamped, rounded -- so
    ``to_pil(to_tensor(img))`` is lossless) or uint8 (H, W, 3) / (3, H, W). One-channel input
    gives an ``L`` image.
    """
    import torch

    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x))  # copy: PIL arrays are read-only
    t = t.detach().cpu()
    while t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise ValueError(f"expected an image of shape (3,H,W) or (H,W,3), got {tuple(t.shape)}")
    if t.shape[0] not in (1, 3, 4) and t.shape[-1] in (1, 3, 4):
        t = t.permute(2, 0, 1)  # HWC -> CHW
    if t.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected 1, 3 or 4 channels, got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        u8 = t
    elif t.dtype == torch.bool:
        u8 = t.to(torch.uint8) * 255
    elif t.is_floating_point():
        u8 = t.float().nan_to_num(0.0).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    else:
        u8 = t.clamp(0, 255).to(torch.uint8)
    hwc = u8.permute(1, 2, 0).contiguous().numpy()  # 1, 3, 4 channels -> L, RGB, RGBA
    return Image.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc)
