"""facelab.align: the similarity fit and warp put landmarks on the template; faces() and
align_largest() order, crop and fall back correctly. A fake detector keeps these tests free of
MTCNN except for the few marked real-MTCNN tests at the end."""

import io
import json
import re
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from facelab.align import (
    TEMPLATE,
    AlignConfig,
    Detection,
    Detector,
    Face,
    MTCNNDetector,
    NoFaceError,
    align_landmarks,
    align_largest,
    apply_similarity,
    estimate_similarity,
    faces,
)
from facelab.imageio import ImageError, center_crop

LONDON = Path(__file__).resolve().parents[2] / "shared" / "data" / "london"


def _rot(deg):
    t = np.deg2rad(deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _landmarks(center, iod, angle=0.0):
    """Template-shaped landmarks with inter-ocular distance ``iod``, rotated by ``angle``."""
    unit = (TEMPLATE - TEMPLATE[:2].mean(0)) / (TEMPLATE[1, 0] - TEMPLATE[0, 0])
    return unit * iod @ _rot(angle).T + np.asarray(center, dtype=float)


def _render_dots(lm, size, radius):
    img = Image.new("RGB", size, (0, 0, 0))
    d = ImageDraw.Draw(img)
    for x, y in lm:
        d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 255, 255))
    return img


def _centroids(img, expected, window):
    """Brightness-weighted centroid near each expected point (continuous pixel coordinates)."""
    a = np.asarray(img, dtype=float)[:, :, 0]
    out = []
    for x, y in expected:
        x0, y0 = max(0, int(x - window)), max(0, int(y - window))
        patch = a[y0 : int(y + window) + 1, x0 : int(x + window) + 1]
        ys, xs = np.mgrid[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]]
        w = patch.sum()
        assert w > 0, "no dot near the expected template position"
        out.append(((xs * patch).sum() / w + 0.5, (ys * patch).sum() / w + 0.5))
    return np.array(out)


class FakeDetector:
    def __init__(self, detections):
        self.detections = detections
        self.seen = []

    def detect(self, img):
        self.seen.append(img.size)
        return list(self.detections)


def _det(x0, y0, side, score=0.99):
    lm = _landmarks((x0 + side / 2, y0 + side * 0.45), side * 0.4)
    return Detection(box=(x0, y0, x0 + side, y0 + side), score=score, landmarks=lm)


# --- geometry --------------------------------------------------------------------------------


def test_similarity_recovers_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    true = np.hstack([1.7 * _rot(25.0), [[10.0], [-5.0]]])
    dst = apply_similarity(true, src)
    assert np.allclose(estimate_similarity(src, dst), true, atol=1e-9)
    noisy = estimate_similarity(src, dst + rng.normal(0, 0.1, dst.shape))
    assert np.allclose(noisy[:, :2], true[:, :2], atol=0.01)
    assert np.allclose(noisy[:, 2], true[:, 2], atol=0.5)
    mirrored = estimate_similarity(src, dst * [-1, 1])
    assert np.linalg.det(mirrored[:, :2]) > 0  # a face is never mirrored
    with pytest.raises(ValueError):
        estimate_similarity(np.zeros((5, 2)), dst)


@pytest.mark.parametrize(
    "size,iod,angle",
    [(64, 200.0, 30.0), (64, 12.0, -15.0), (128, 40.0, 0.0), (96, 500.0, 90.0)],
)
def test_align_landmarks_lands_on_template(size, iod, angle):
    """Shrinking (pre-filter path), enlarging and rotating all put landmarks within 1 px."""
    cfg = AlignConfig(size=size)
    lm = _landmarks((900, 700), iod, angle)
    radius = max(1.5, 0.06 * iod)  # dot about 2 px wide after alignment
    img = _render_dots(lm, (1800, 1400), radius)
    out = align_landmarks(img, lm, cfg)
    assert out.size == (size, size) and out.mode == "RGB"
    found = _centroids(out, cfg.template_px(), window=0.05 * size)
    assert np.abs(found - cfg.template_px()).max() < 1.0
    assert abs(found[0, 1] - found[1, 1]) < 1.0  # eyes level


def test_align_config_template_scale_and_offset():
    cfg = AlignConfig(size=100, scale=0.5, offset_y=0.1)
    t = cfg.template_px()
    assert np.allclose(t[:, 0], (TEMPLATE[:, 0] - 0.5) * 50 + 50)
    assert np.allclose(t[:, 1], (TEMPLATE[:, 1] - 0.5) * 50 + 60)


def test_align_config_dict_round_trip_and_key():
    cfg = AlignConfig(size=128, thresholds=(0.5, 0.6, 0.7))
    d = json.loads(json.dumps(cfg.to_dict()))
    back = AlignConfig.from_dict(d)
    assert back == cfg and back.key() == cfg.key()
    assert AlignConfig.from_dict({}) == AlignConfig()
    assert len(cfg.key()) == 12 and cfg.key() != AlignConfig().key()
    assert AlignConfig().key() == AlignConfig().key()
    with pytest.raises(ValueError, match="unknown"):
        AlignConfig.from_dict({"size": 64, "sise": 3})
    with pytest.raises(ValueError):
        AlignConfig(template=[[0, 0]] * 4)


# --- faces / align_largest --------------------------------------------------------------------


def test_faces_largest_first_with_aligned_crops():
    photo = Image.new("RGB", (640, 480), (90, 90, 90))
    det = FakeDetector([_det(20, 20, 60, 0.95), _det(300, 100, 200, 0.91), _det(150, 300, 100, 0.99)])
    cfg = AlignConfig(size=48)
    found = faces(photo, cfg, det)
    assert [round(f.box[2] - f.box[0]) for f in found] == [200, 100, 60]
    assert all(isinstance(f, Face) and f.crop.size == (48, 48) and f.crop.mode == "RGB" for f in found)
    assert all(f.landmarks.shape == (5, 2) and f.image_size == (640, 480) for f in found)
    assert found[0].score == pytest.approx(0.91)
    assert det.seen == [(640, 480)]
    assert align_largest(photo, cfg, det).box == found[0].box


def test_faces_reads_any_input_and_rejects_bad_input(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (200, 200)).save(p)
    det = FakeDetector([_det(50, 50, 100)])
    assert len(faces(p, detector=det)) == 1
    assert len(faces(np.zeros((200, 200, 3), np.uint8), detector=det)) == 1
    with pytest.raises(ImageError, match="not an image"):
        faces(b"just some text", detector=det)


def test_no_face():
    photo = Image.new("RGB", (300, 200), (10, 200, 10))
    photo.paste((200, 10, 10), (50, 0, 250, 200))  # centre square is red
    det = FakeDetector([])
    assert faces(photo, detector=det) == []
    with pytest.raises(NoFaceError, match="no face found") as e:
        align_largest(photo, detector=det)
    assert isinstance(e.value, ImageError) and "centre crop" in str(e.value)

    cfg = AlignConfig(size=32)
    face = align_largest(photo, cfg, det, fallback="center")
    assert face.box == (0.0, 0.0, 300.0, 200.0) and face.score == 0.0 and face.landmarks is None
    assert np.array_equal(np.asarray(face.crop), np.asarray(center_crop(photo, 32)))
    with pytest.raises(ValueError, match="fallback"):
        align_largest(photo, cfg, det, fallback="middle")


def test_detector_protocol_and_box_mapping(monkeypatch):
    """MTCNNDetector detects on a downscale and maps boxes back (MTCNN itself faked)."""

    class FakeMTCNN:
        sizes = []

        def detect(self, img, landmarks=True):
            self.sizes.append(img.size)
            box = np.array([[100.0, 50.0, 300.0, 250.0]], dtype=object)
            pts = np.array([[[150, 120], [250, 120], [200, 160], [160, 200], [240, 200]]], float)
            return box, np.array([0.99, 0.5])[:1], pts

    class Spy(MTCNNDetector):
        model = FakeMTCNN()

    det = Spy(device="cpu", max_detect_side=1000)
    assert isinstance(det, Detector)
    found = det.detect(Image.new("RGB", (4000, 2000)))
    assert Spy.model.sizes == [(1000, 500)]
    assert found[0].box == pytest.approx((400, 200, 1200, 1000))
    assert found[0].landmarks[0] == pytest.approx([600, 480])
    assert Spy(device="cpu", min_score=0.995).detect(Image.new("RGB", (50, 50))) == []


def test_photos_too_small_for_a_face_never_reach_mtcnn():
    """facenet-pytorch fails with ``torch.cat(): expected a non-empty list`` on a photo that cannot
    hold a ``min_face_size`` face (its image pyramid is empty); such photos find no face instead."""

    class Refuse:
        def detect(self, img, landmarks=True):
            raise AssertionError(f"MTCNN called on a {img.size} image")

    class Spy(MTCNNDetector):
        model = Refuse()

    det = Spy(device="cpu", max_detect_side=1024)
    # 30×3000 is searched at 10×1024: too narrow once downscaled
    for size in [(1, 1), (2, 2), (5, 5), (19, 19), (19, 400), (1, 2000), (2000, 1), (30, 3000)]:
        assert not det.can_detect(size) and det.detect(Image.new("RGB", size)) == []
        with pytest.raises(NoFaceError, match=r"^the photo is too (small|narrow) to find a face in"):
            align_largest(Image.new("RGB", size), detector=det)
    assert det.can_detect((20, 20)) and det.can_detect((60, 3000))
    assert not Spy(device="cpu", min_face_size=40).can_detect((39, 500))


def test_import_does_not_load_facenet():
    code = "import sys, facelab.align; print('facenet_pytorch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- real MTCNN (weights ship inside facenet-pytorch; nothing is downloaded) -------------------


@pytest.fixture(scope="module")
def mtcnn_detector():
    pytest.importorskip("facenet_pytorch")
    return MTCNNDetector(device="cpu")


def test_mtcnn_no_face_on_grey(mtcnn_detector):
    assert mtcnn_detector.detect(Image.new("RGB", (200, 200), (128, 128, 128))) == []
    with pytest.raises(NoFaceError, match="MTCNN on the full 200×200 image"):
        align_largest(Image.new("RGB", (200, 200), (128, 128, 128)), detector=mtcnn_detector)


def test_mtcnn_downscales_big_photos(mtcnn_detector, monkeypatch):
    model = mtcnn_detector.model
    sizes = []
    real = model.detect

    def spy(img, landmarks=False):
        sizes.append(img.size)
        return real(img, landmarks=landmarks)

    monkeypatch.setattr(model, "detect", spy)
    big = Image.new("RGB", (4000, 3000), (128, 128, 128))
    assert mtcnn_detector.detect(big) == []
    assert sizes == [(1024, 768)]
    with pytest.raises(NoFaceError, match="1024×768 downscale"):
        align_largest(big, AlignConfig(max_pixels=20_000_000), detector=mtcnn_detector)


def test_mtcnn_model_is_shared_across_threads():
    pytest.importorskip("facenet_pytorch")
    models = []
    dets = [MTCNNDetector(device="cpu", min_face_size=37) for _ in range(4)]
    threads = [threading.Thread(target=lambda d=d: models.append(d.model)) for d in dets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(models) == 4 and all(m is models[0] for m in models)


@pytest.mark.parametrize("min_face_size", [20, 37, 45])
def test_mtcnn_at_the_smallest_detectable_size(min_face_size):
    """Either side of the size limit, for face sizes whose pyramid test rounds differently."""
    pytest.importorskip("facenet_pytorch")
    det = MTCNNDetector(device="cpu", min_face_size=min_face_size)
    for side in (min_face_size - 1, min_face_size, min_face_size + 1):
        assert det.detect(Image.new("RGB", (side, side), (128, 128, 128))) == []
        assert det.detect(Image.new("RGB", (side, 5 * side), (128, 128, 128))) == []


# --- bad uploads through the app's photo path: read_upload, then the photo model -------------


def _encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_header(w, h):
    """A small PNG file claiming to be ``w``×``h``: a decompression-bomb shape."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _noise(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


# Read errors name the uploaded file; detection errors do not (the app passes a decoded image).
NO_FACE = r"^no face found in the photo \(tried MTCNN .*\); try a clearer frontal photo"
TOO_SMALL = r"^the photo is too (small|narrow) to find a face in \(.*\); upload a larger photo"
BAD_UPLOADS = [  # (file name, bytes, what the user reads); the list, then tiny and thin photos
    ("cut.png", _encode(_noise(120, 90), "PNG")[:400], r"^{name}: image file is truncated or corrupt"),
    ("empty.jpg", b"", r"^{name}: empty file$"),
    ("notes.jpg", b"this is not a face\n", r"^{name}: not an image file \(looks like text\)$"),
    ("grey16.png", _encode(Image.fromarray(np.full((120, 160), 30000, np.uint16)), "PNG"), NO_FACE),
    ("cmyk.jpg", _encode(Image.new("CMYK", (160, 120), (0, 40, 80, 0)), "JPEG"), NO_FACE),
    ("clear.png", _encode(Image.new("RGBA", (160, 120), (0, 0, 0, 0)), "PNG"), NO_FACE),
    ("huge.png", _png_header(20000, 20000), r"^{name}: image is 400 MP, over the 150 MP limit$"),
    ("fake.gif", b"GIF89a" + bytes(range(40)), r"^{name}: image file is truncated or corrupt \(starts like a GIF"),
    ("noise.png", _encode(_noise(200, 150), "PNG"), NO_FACE),
    ("dot.png", _encode(Image.new("RGB", (1, 1), (200, 150, 120)), "PNG"), TOO_SMALL),
    ("2x2.png", _encode(Image.new("RGB", (2, 2)), "PNG"), TOO_SMALL),
    ("5x5.png", _encode(_noise(5, 5), "PNG"), TOO_SMALL),
    ("line.png", _encode(_noise(1, 300), "PNG"), TOO_SMALL),
    ("strip.png", _encode(_noise(600, 3), "PNG"), TOO_SMALL),
    ("banner.jpg", _encode(_noise(3000, 30), "JPEG"), TOO_SMALL),
]
INTERNAL = re.compile(r"torch|tensor|traceback|\.py\b|line \d|0x[0-9a-f]|Error\b|<[a-z]", re.IGNORECASE)


@pytest.fixture(scope="module")
def photo_model():
    """The bundled photo checkpoint, the app's first page."""
    pytest.importorskip("facenet_pytorch")
    import facelab
    from facelab.checkpoint import bundled_names

    if "real-disvae" not in bundled_names():
        pytest.skip("the real-disvae checkpoint is not bundled")
    return facelab.load("real-disvae", device="cpu")


def _upload(model, path, name):
    """What the app's Encode tab does with a Gradio file payload."""
    from facelab.demo.common import encode_face, read_upload

    return encode_face(model, read_upload({"path": str(path), "orig_name": name}))


@pytest.mark.parametrize("name,data,message", BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_uploads_get_a_plain_message(photo_model, tmp_path, name, data, message):
    path = tmp_path / "gradio-temp-copy"
    path.write_bytes(data)
    with pytest.raises(ImageError) as e:
        _upload(photo_model, path, name)
    text = str(e.value)
    assert re.search(message.format(name=re.escape(name)), text), text
    assert not INTERNAL.search(text), text


@pytest.mark.skipif(not LONDON.is_dir(), reason="needs the London photos (../shared/data/london)")
def test_a_real_photo_in_unusual_formats_is_read_and_aligned(photo_model, tmp_path):
    """16-bit, CMYK, RGBA and palette files of one face all find it and read the same expression."""
    photo = Image.open(LONDON / "smiling_front" / "010_08.jpg").convert("RGB")
    grey = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    files = {"rgb.png": _encode(photo, "PNG"), "grey16.png": _encode(Image.fromarray(grey), "PNG"),
             "cmyk.jpg": _encode(photo.convert("CMYK"), "JPEG", quality=95),
             "rgba.png": _encode(photo.convert("RGBA"), "PNG"), "palette.gif": _encode(photo, "GIF")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        view, code = _upload(photo_model, tmp_path / name, name)
        assert view.size == (64, 64)
        assert next(iter(photo_model.classify(code))) == "happiness", name
