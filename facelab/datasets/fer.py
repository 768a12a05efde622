"""FER2013 (Goodfellow et al. 2013): 48×48 greyscale, pre-cropped faces, no identities.

Two forms are understood:

* folders ``train|test/<emotion>/*.jpg`` (the common image release), emotion folder names
  ``angry disgust fear happy neutral sad surprise``; the top folder is kept as ``split``.
* the original ``fer2013.csv`` (``emotion,pixels,Usage``); emotion codes
  ``0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral``; ``Usage`` ``Training`` →
  split ``"train"``, ``PublicTest``/``PrivateTest`` → ``"test"`` (the image release's test folder
  is both of them; the original value stays in ``extra["usage"]``). Records point at
  ``"<csv>#<row>"`` and carry the raw 48×48 pixels in ``extra["pixels"]`` (bytes).

``root`` may be the folder or the CSV file; option ``source`` = ``auto`` (folders if there are
any, else a ``*.csv`` in the folder) | ``folders`` | ``csv``. Identity is always ``None`` and
intensity ``nan`` except neutral (0.0).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..labels import expression_index
from .core import Record, ScanResult, default_intensity, is_image_name, walk_files

FOLDER_EXPRESSIONS = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "sad": "sadness",
    "surprise": "surprise",
}
CSV_CODES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
USAGE_SPLIT = {"training": "train", "publictest": "test", "privatetest": "test"}
SIDE = 48


def _scan_folders(root: Path) -> ScanResult:
    records, skipped = [], []
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))):
        split = split_dir.name.lower()
        for p in walk_files(split_dir):
            if not is_image_name(p.name):
                continue
            rel = p.relative_to(split_dir).parts
            if len(rel) != 2:
                skipped.append((str(p), "unrecognised path: expected <split>/<emotion>/<file>"))
                continue
            name = FOLDER_EXPRESSIONS.get(rel[0].lower())
            if name is None:
                skipped.append((str(p), f"unknown label: emotion folder {rel[0]!r}"))
                continue
            e = expression_index(name)
            records.append(Record(str(p), None, e, default_intensity(e), split))
    return ScanResult(records, skipped)


def _scan_csv(path: Path) -> ScanResult:
    records, skipped = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = {k.lower(): k for k in (reader.fieldnames or [])}
        if "emotion" not in fields or "pixels" not in fields:
            raise ValueError(f"{path}: expected FER2013 columns emotion,pixels[,Usage], got {reader.fieldnames}")
        for i, row in enumerate(reader):
            where = f"{path}#{i}"
            try:
                code = int(row[fields["emotion"]])
                name = CSV_CODES[code] if 0 <= code < len(CSV_CODES) else None
            except (TypeError, ValueError):
                name = None
            if name is None:
                skipped.append((where, f"unknown label: emotion {row[fields['emotion']]!r}"))
                continue
            try:
                pixels = np.array(row[fields["pixels"]].split(), dtype=np.int64)
                if pixels.size != SIDE * SIDE or pixels.min() < 0 or pixels.max() > 255:
                    raise ValueError(f"{pixels.size} values in 0..255 expected {SIDE * SIDE}")
            except (ValueError, AttributeError) as exc:
                skipped.append((where, f"corrupt: pixels ({exc})"))
                continue
            usage = (row.get(fields.get("usage", ""), "") or "").strip()
            split = USAGE_SPLIT.get(usage.lower(), usage.lower() or None)
            e = expression_index(name)
            extra = {"pixels": pixels.astype(np.uint8).tobytes(), "usage": usage, "row": i}
            records.append(Record(where, None, e, default_intensity(e), split, extra))
    return ScanResult(records, skipped)


def scan_fer2013(root: Path, source: str = "auto") -> ScanResult:
    """Scan FER2013 folders or its CSV (see module docstring)."""
    root = Path(root)
    if source not in ("auto", "folders", "csv"):
        raise ValueError(f"fer2013 source must be auto, folders or csv, not {source!r}")
    if root.is_file():
        return _scan_csv(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such FER2013 folder or CSV")
    has_folders = any(p.is_dir() and not p.name.startswith((".", "__MACOSX")) for p in root.iterdir())
    if source == "folders" or (source == "auto" and has_folders):
        return _scan_folders(root)
    csvs = sorted(root.glob("*.csv"))
    preferred = [p for p in csvs if p.name.lower() == "fer2013.csv"]
    if not (preferred or csvs):
        raise FileNotFoundError(f"{root}: neither train/test folders nor fer2013.csv")
    return _scan_csv((preferred or csvs)[0])


__all__ = ["scan_fer2013", "USAGE_SPLIT", "CSV_CODES", "FOLDER_EXPRESSIONS"]
