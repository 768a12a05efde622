"""facelab.imageio: every kind of bad input fails with ImageError and a clear message; every
kind of good input comes back as a fully loaded RGB image."""

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from facelab.imageio import ImageError, center_crop, read_image, to_pil, to_tensor


def _encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _gradient(w=64, h=48):
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8))


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- good input ------------------------------------------------------------------------------


def test_png_round_trip_is_exact(tmp_path):
    img = _gradient()
    p = tmp_path / "a.png"
    img.save(p)
    for src in (p, str(p), p.read_bytes(), io.BytesIO(p.read_bytes()), img):
        out = read_image(src)
        assert out.mode == "RGB" and out.size == img.size
        assert np.array_equal(np.asarray(out), np.asarray(img))


def test_jpeg_round_trip_is_close(tmp_path):
    img = _gradient()
    p = tmp_path / "a.jpg"
    img.save(p, quality=95)
    with open(p, "rb") as f:
        out = read_image(f)
    diff = np.abs(np.asarray(out, dtype=int) - np.asarray(img, dtype=int))
    assert out.mode == "RGB" and out.size == img.size and diff.mean() < 3


def test_pil_input_is_copied_not_modified():
    img = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    out = read_image(img)
    assert out is not img and img.mode == "RGBA" and out.mode == "RGB"
    rgb = Image.new("RGB", (10, 10))
    assert read_image(rgb) is not rgb


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs 90° clockwise
    out = read_image(_encode(img, "JPEG", exif=exif, quality=95))
    assert out.size == (20, 40)
    top, bottom = np.asarray(out)[5, 10], np.asarray(out)[35, 10]
    assert top[0] > 200 and top[2] < 60  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    rgba.paste((255, 0, 0, 128), (0, 0, 4, 8))
    a = np.asarray(read_image(_encode(rgba, "PNG")))
    assert tuple(a[0, 7]) == (255, 255, 255)  # fully transparent -> white
    assert a[0, 0, 0] == 255 and 120 <= a[0, 0, 1] <= 135  # half red over white -> pink

    la = Image.new("LA", (4, 4), (0, 0))
    assert tuple(np.asarray(read_image(la))[0, 0]) == (255, 255, 255)

    p = Image.new("P", (4, 4), 1)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p.info["transparency"] = 1
    assert tuple(np.asarray(read_image(_encode(p, "PNG", transparency=1)))[0, 0]) == (255, 255, 255)
    p2 = Image.new("P", (4, 4), 1)
    p2.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    assert tuple(np.asarray(read_image(_encode(p2, "GIF")))[0, 0]) == (255, 0, 0)


def test_grey_16bit_and_cmyk_modes():
    assert tuple(np.asarray(read_image(Image.new("L", (4, 4), 100)))[0, 0]) == (100, 100, 100)

    a16 = np.array([[0, 32896], [65535, 257]], dtype=np.uint16)
    i16 = Image.fromarray(a16)
    assert i16.mode == "I;16"
    for src in (i16, _encode(i16, "PNG")):
        out = np.asarray(read_image(src))[:, :, 0]
        assert out.tolist() == [[0, 128], [255, 1]]
    i32 = Image.fromarray(np.array([[0, 65535]], dtype=np.int32), mode="I")
    assert np.asarray(read_image(i32))[0, :, 0].tolist() == [0, 255]

    cmyk = Image.new("CMYK", (4, 4), (255, 0, 0, 0))  # pure cyan ink
    for src in (cmyk, _encode(cmyk, "JPEG", quality=95)):
        c = np.asarray(read_image(src), dtype=int)[0, 0]
        assert c[0] < 30 and c[1] > 225 and c[2] > 225
    assert tuple(np.asarray(read_image(Image.new("CMYK", (2, 2), 0)))[0, 0]) == (255, 255, 255)


def test_numpy_inputs():
    g = np.full((6, 5), 7, np.uint8)
    assert read_image(g).size == (5, 6) and np.asarray(read_image(g))[0, 0].tolist() == [7, 7, 7]
    rgb = np.zeros((6, 5, 3), np.uint8)
    rgb[..., 1] = 200
    assert np.asarray(read_image(rgb))[0, 0].tolist() == [0, 200, 0]
    rgba = np.zeros((6, 5, 4), np.uint8)  # fully transparent
    assert np.asarray(read_image(rgba))[0, 0].tolist() == [255, 255, 255]
    f = np.full((6, 5, 3), 0.5, np.float32)
    assert np.asarray(read_image(f))[0, 0].tolist() == [128, 128, 128]
    u16 = np.full((6, 5), 65535, np.uint16)
    assert np.asarray(read_image(u16))[0, 0].tolist() == [255, 255, 255]
    chw = np.zeros((3, 6, 5), np.float64)
    chw[0] = 1.0
    out = read_image(chw)
    assert out.size == (5, 6) and np.asarray(out)[0, 0].tolist() == [255, 0, 0]
    assert read_image(np.ones((6, 5, 1), bool)).size == (5, 6)


def test_numpy_bad_inputs():
    with pytest.raises(ImageError, match="shape"):
        read_image(np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        read_image(np.full((4, 4, 3), 3.5, np.float32))
    with pytest.raises(ImageError, match="NaN"):
        read_image(np.full((4, 4), np.nan, np.float32))
    with pytest.raises(ImageError, match="empty"):
        read_image(np.zeros((0, 4, 3), np.uint8))


def test_oversized_image_is_downscaled(tmp_path):
    img = Image.new("RGB", (3000, 3000), (10, 20, 30))
    out = read_image(img, max_pixels=1_000_000)
    assert out.size[0] * out.size[1] <= 1_000_000 and out.size[0] >= 990 and out.size[0] == out.size[1]
    assert np.asarray(out)[500, 500].tolist() == [10, 20, 30]
    wide = read_image(Image.new("L", (4000, 1000)), max_pixels=1_000_000)
    assert wide.size[0] * wide.size[1] <= 1_000_000 and abs(wide.size[0] / wide.size[1] - 4) < 0.01


def test_big_jpeg_uses_draft_decoding(monkeypatch):
    data = _encode(_gradient(3000, 2000), "JPEG", quality=80)
    calls = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        calls.append(size)
        return real(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    out = read_image(data, max_pixels=500_000)
    assert calls, "JPEG should be decoded at reduced size via draft()"
    assert out.size[0] * out.size[1] <= 500_000 and abs(out.size[0] / out.size[1] - 1.5) < 0.01


# --- bad input -------------------------------------------------------------------------------


def test_text_and_other_non_images(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("hello, this is not a picture\n")
    with pytest.raises(ImageError, match="not an image file.*text") as e:
        read_image(p)
    assert e.value.source == str(p) and "notes.jpg" in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(ImageError, match="not an image file.*PDF"):
        read_image(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    with pytest.raises(ImageError, match="SVG"):
        read_image(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')
    with pytest.raises(ImageError, match="HEIC"):
        read_image(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)


def test_truncated_files():
    jpg = _encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)), "JPEG")
    png = _encode(_gradient(), "PNG")
    for data in (jpg[: len(jpg) // 2], png[: len(png) // 2], jpg[:20], png[:30]):
        with pytest.raises(ImageError, match="truncated or corrupt"):
            read_image(data)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # never flipped globally


def test_fake_gif():
    with pytest.raises(ImageError, match=r"truncated or corrupt \(starts like a GIF"):
        read_image(b"GIF89a" + bytes(range(40)))
    gif = _encode(_gradient(), "GIF")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        read_image(gif[: len(gif) // 2])


def test_tiny_images_are_read():
    """A 1×1 or 1×N picture is a valid image; finding no face in it is detection's job (align)."""
    for size in ((1, 1), (2, 2), (1, 300), (300, 1)):
        out = read_image(_encode(Image.new("RGB", size, (1, 2, 3)), "PNG"))
        assert out.size == size and out.mode == "RGB" and out.getpixel((0, 0)) == (1, 2, 3)


def test_empty_and_missing(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    for src in (p, b"", io.BytesIO()):
        with pytest.raises(ImageError, match="empty file"):
            read_image(src)
    with pytest.raises(ImageError, match="not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def _png_claiming(w, h):
    """A tiny PNG file whose header claims ``w``×``h`` pixels: a decompression-bomb shape."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )


def test_gigantic_header_is_refused():
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="MP limit"):
        read_image(_png_claiming(100_000, 100_000))
    with pytest.raises(ImageError, match=r"^image is 400 MP, over the 150 MP limit$"):
        read_image(_png_claiming(20_000, 20_000))
    assert Image.MAX_IMAGE_PIXELS == before


def test_pil_bomb_warning_as_error_becomes_image_error():
    """Under ``-W error`` PIL's warning (above 89 MP) is raised; it must still be an ImageError."""
    import warnings

    ihdr = struct.pack(">IIBBBBB", 12_000, 12_000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageError, match="144 MP, over the 89 MP limit"):
            read_image(data)


def test_hard_cap_parameter():
    data = _encode(Image.new("RGB", (2000, 1500)), "PNG")
    with pytest.raises(ImageError, match=r"2000×1500 = 3\.0 MP, over the 1\.0 MP limit"):
        read_image(data, hard_max_pixels=1_000_000)
    with pytest.raises(ImageError, match="MP limit"):
        read_image(np.zeros((1500, 2000), np.uint8), hard_max_pixels=1_000_000)


# --- crops and tensors -----------------------------------------------------------------------


def test_center_crop():
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 0, 255), (100, 0, 200, 100))  # blue centre square
    out = center_crop(img, 32)
    assert out.size == (32, 32) and out.mode == "RGB"
    a = np.asarray(out, dtype=int)
    assert a[:, 2:-2, 2].min() > 240 and a[:, 2:-2, 0].max() < 15
    assert center_crop(Image.new("L", (10, 40)), 64).size == (64, 64)


def test_tensor_round_trip():
    torch = pytest.importorskip("torch")
    img = _gradient(20, 10)
    t = to_tensor(img)
    assert t.dtype == torch.float32 and t.shape == (3, 10, 20)
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert np.array_equal(np.asarray(to_pil(t)), np.asarray(img))
    assert np.array_equal(np.asarray(to_pil(t.unsqueeze(0))), np.asarray(img))
    hwc = np.asarray(img)
    assert np.array_equal(np.asarray(to_pil(hwc)), hwc)
    assert to_pil(torch.full((3, 4, 4), 2.0)).getpixel((0, 0)) == (255, 255, 255)  # clamped


def test_tensor_conversions_match_torchvision():
    """Same numbers as torchvision's to_tensor / to_pil_image, which they replace."""
    torch = pytest.importorskip("torch")
    TF = pytest.importorskip("torchvision.transforms.functional")
    rng = np.random.default_rng(0)
    for h, w in ((1, 1), (7, 13), (64, 64)):
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        t = to_tensor(img)
        assert torch.equal(t, TF.to_tensor(img)) and t.is_contiguous()
    for c in (1, 3, 4):
        u8 = torch.from_numpy(rng.integers(0, 256, (c, 9, 5), dtype=np.uint8))
        out, ref = to_pil(u8), TF.to_pil_image(u8)
        assert out.mode == ref.mode and np.array_equal(np.asarray(out), np.asarray(ref))


def test_tensor_conversions_do_not_import_torchvision():
    """torchvision (and the torch._dynamo it imports) would add about 2 s to the app's start-up."""
    pytest.importorskip("torch")
    code = ("import sys; from PIL import Image; from facelab.imageio import to_pil, to_tensor; "
            "to_pil(to_tensor(Image.new('RGB', (4, 4)))); print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
