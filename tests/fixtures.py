"""Tiny fixture trees with each dataset's real naming scheme (a few 8×8 or 32×32 images each).

Every ``make_*`` helper writes into ``root`` (created if needed) and returns it. Images are
random noise in the format the real set uses (JPEG, PNG, TIFF, extension-less GIF), so the
scanners see realistic names and the loaders real decodable files. :class:`FakeDetector`
stands in for MTCNN: it "finds" one face in the middle of any image and counts its calls.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

_RNG = np.random.default_rng(1234)


def image(size: int = 8, grey: bool = False) -> Image.Image:
    shape = (size, size) if grey else (size, size, 3)
    return Image.fromarray(_RNG.integers(0, 256, shape, dtype=np.uint8))


def write_image(path: Path, size: int = 8, grey: bool = False, fmt: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image(size, grey).save(path, format=fmt)
    return path


def write_black(path: Path, size: int = 32) -> Path:
    """An all-black JPEG: readable, but :class:`FakeDetector` finds no face in it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size)).save(path)
    return path


def write_truncated_jpeg(path: Path, size: int = 32) -> Path:
    """A JPEG cut off halfway: header intact, pixel data missing."""
    buf = io.BytesIO()
    image(size).save(buf, format="JPEG", quality=95)
    data = buf.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def write_text_as_image(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not an image\n")
    return path


# ------------------------------------------------------------------------------------ layouts
def make_london(root: Path, people: int = 3, canada: tuple[str, ...] = ("003f", "095m"), size: int = 32) -> Path:
    """``neutral_front/NNN_03.jpg``, ``smiling_front/NNN_08.jpg``, ``canada/NNN[fm].jpg`` + info csvs."""
    root = Path(root)
    for i in range(1, people + 1):
        write_image(root / "neutral_front" / f"{i:03d}_03.jpg", size)
        write_image(root / "smiling_front" / f"{i:03d}_08.jpg", size)
    for face_id in canada:
        write_image(root / "canada" / f"{face_id}.jpg", size)
    with open(root / "london_info.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["face_id", "face_age", "face_gender", "face_eth"])
        for i in range(1, people + 1):
            w.writerow([f"{i:03d}", 20 + i, "female" if i % 2 else "male", "white"])
    with open(root / "canada_info.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["face_id", "face_age", "face_gender"])
        for face_id in canada:
            w.writerow([face_id, 19, "female" if face_id.endswith("f") else "male"])
    (root / "LICENSE.md").write_text("CC-BY 4.0\n")
    return root


FER_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def make_fer_folders(root: Path, per_class: dict[str, int] | None = None) -> Path:
    """``train|test/<emotion>/<Split>_<n>.jpg``, 48×48 grey; default 2 train + 1 test per class."""
    root = Path(root)
    per_class = per_class or {"train": 2, "test": 1}
    n = 0
    for split, count in per_class.items():
        prefix = "Training" if split == "train" else "PublicTest"
        for emotion in FER_FOLDERS:
            for _ in range(count):
                n += 1
                write_image(root / split / emotion / f"{prefix}_{10000000 + n}.jpg", 48, grey=True)
    return root


def make_fer_csv(path: Path, rows: list[tuple[int, str]] | None = None) -> Path:
    """The original ``fer2013.csv`` (emotion,pixels,Usage); one row with bad pixels at the end."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = rows or [(0, "Training"), (3, "Training"), (6, "PublicTest"), (5, "PrivateTest")]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for code, usage in rows:
            w.writerow([code, " ".join(str(v) for v in _RNG.integers(0, 256, 48 * 48)), usage])
        w.writerow([4, "1 2 3", "Training"])  # corrupt: 3 pixels
    return path


def make_ckplus(root: Path) -> Path:
    """``cohn-kanade-images/S###/###/S###_###_########.png`` + ``Emotion/.../*_emotion.txt``.

    S005/001: 4 frames, label 3 (disgust). S010/002: 5 frames, label 5 (happy).
    S010/006: 3 frames, no label file.
    """
    root = Path(root)
    seqs = {("S005", "001"): (4, 3), ("S010", "002"): (5, 5), ("S010", "006"): (3, None)}
    for (subject, seq), (frames, label) in seqs.items():
        for k in range(1, frames + 1):
            write_image(root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{k:08d}.png", 8, grey=True)
        if label is not None:
            p = root / "Emotion" / subject / seq / f"{subject}_{seq}_{frames:08d}_emotion.txt"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"   {label:.7e}\n")
    (root / "cohn-kanade-images" / "S005" / "001" / ".DS_Store").write_bytes(b"\0\0")
    return root


def make_ckplus48(root: Path) -> Path:
    """``<emotion>/S###_###_########.png``: 3 frames of S010_004 happy, 2 of S005_001 disgust."""
    root = Path(root)
    for k in (15, 16, 17):
        write_image(root / "happy" / f"S010_004_{k:08d}.png", 48, grey=True)
    for k in (10, 11):
        write_image(root / "disgust" / f"S005_001_{k:08d}.png", 48, grey=True)
    return root


def make_jaffe(root: Path) -> Path:
    root = Path(root)
    for name in ("KA.AN1.39.tiff", "KA.HA2.30.tiff", "KA.NE1.26.tiff", "YM.SU1.58.tiff", "YM.FE3.67.tiff"):
        write_image(root / name, 8, grey=True, fmt="TIFF")
    write_image(root / "KA.XX1.40.tiff", 8, grey=True, fmt="TIFF")  # unknown code → skipped
    (root / "README").write_text("JAFFE\n")
    return root


def make_kdef(root: Path) -> Path:
    """``<AF01>/AF01ANS.JPG`` style: two people, two sessions, several poses."""
    root = Path(root)
    for name in ("AF01ANS.JPG", "AF01HAS.JPG", "BF01NEHL.JPG", "AM02AFS.JPG", "AM02SUFR.JPG", "BM02DIS.JPG"):
        write_image(root / name[:4] / name, 8, fmt="JPEG")
    write_image(root / "AF01" / "AF01ANS_copy.JPG", 8, fmt="JPEG")  # bad name → skipped
    return root


def make_rafd(root: Path) -> Path:
    root = Path(root)
    for name in (
        "Rafd090_01_Caucasian_female_angry_frontal.jpg",
        "Rafd090_01_Caucasian_female_contemptuous_left.jpg",
        "Rafd045_01_Caucasian_female_neutral_frontal.jpg",
        "Rafd090_02_Moroccan_male_surprised_right.jpg",
        "Rafd180_02_Moroccan_male_fearful_frontal.jpg",
    ):
        write_image(root / name, 8)
    return root


def make_faces(root: Path) -> Path:
    root = Path(root)
    for name in ("004_o_m_a_a.jpg", "004_o_m_h_b.jpg", "004_o_m_n_a.jpg", "066_y_f_s_a.jpg", "066_y_f_d_b.jpg"):
        write_image(root / name, 8)
    write_image(root / "066_y_f_x_a.jpg", 8)  # unknown expression code → skipped
    return root


YALE_SUFFIXES = ("happy", "sad", "surprised", "normal", "sleepy", "wink", "glasses", "noglasses",
                 "centerlight", "leftlight", "rightlight")


def make_yale(root: Path, subjects: int = 2) -> Path:
    """``subject01.happy`` etc.: GIF data, no extension; plus a Readme and a stray ``.gif``."""
    root = Path(root)
    for s in range(1, subjects + 1):
        for suffix in YALE_SUFFIXES:
            write_image(root / f"subject{s:02d}.{suffix}", 8, grey=True, fmt="GIF")
    (root / "Readme.txt").write_text("Yale faces\n")
    write_image(root / "subject01.gif", 8, grey=True, fmt="GIF")  # some copies have it → skipped
    return root


def make_oulu(root: Path) -> Path:
    """``OriginalImg/<VL|NI>/Strong/P###/<Expression>/NNN.jpeg``; 6 frames per sequence."""
    root = Path(root)
    for channel in ("VL", "NI"):
        for person, expression in (("P001", "Anger"), ("P001", "Happiness"), ("P002", "Surprise")):
            for k in range(6):
                write_image(root / "OriginalImg" / channel / "Strong" / person / expression / f"{k:03d}.jpeg", 8, fmt="JPEG")
    return root


def make_mug(root: Path) -> Path:
    """``subjects3/<subject>/<expression>/takeNNN/img_NNNN.jpg``; 7-frame takes."""
    root = Path(root)
    for subject, expression, take in (("001", "happiness", "take000"), ("001", "neutral", "take000"),
                                      ("002", "anger", "take001")):
        for k in range(7):
            write_image(root / "subjects3" / subject / expression / take / f"img_{k:04d}.jpg", 8, fmt="JPEG")
    return root


def make_manifest(root: Path) -> Path:
    """``images/*.png`` + ``manifest.csv`` covering names, synonyms, empty cells and bad rows."""
    root = Path(root)
    rows = [
        ("images/a.png", "alice", "happy", "0.8"),
        ("images/b.png", "alice", "neutral", ""),
        ("images/c.png", "bob", "surprised", "1"),
        ("images/d.png", "", "angry", ""),
        ("images/e.png", "bob", "", "0.5"),
        ("images/f.png", "carol", "afraid", ""),
        ("images/g.png", "carol", "bewildered", ""),  # unknown expression → skipped
        ("images/missing.png", "dan", "sad", ""),  # file does not exist → skipped
    ]
    for p, *_ in rows:
        if "missing" not in p:
            write_image(root / p, 8, fmt="PNG")
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "identity", "expression", "intensity"])
        w.writerows(rows)
    return root


# ---------------------------------------------------------------------------------- detector
class FakeDetector:
    """Finds one face filling any image (landmarks on the alignment template) -- except in
    all-black images, which stand for "photo without a face". Counts its calls."""

    def __init__(self):
        self.calls = 0

    def detect(self, img):
        from facelab.align import TEMPLATE, Detection

        self.calls += 1
        if np.asarray(img).max() == 0:
            return []
        w, h = img.size
        lm = np.asarray(TEMPLATE) * [w, h]
        return [Detection(box=(0.0, 0.0, float(w), float(h)), score=0.99, landmarks=lm)]
