"""Face Research Lab London Set (DeBruine & Jones 2017) and its Canada companion set.

Layout (as distributed)::

    neutral_front/001_03.jpg   -> neutral,   identity "london/001"
    smiling_front/001_08.jpg   -> happiness, identity "london/001"
    canada/003f.jpg            -> neutral,   identity "canada/003f"   (f/m = gender)
    london_info.csv            face_id,face_age,face_gender,face_eth   (optional metadata)
    canada_info.csv            face_id,face_age,face_gender            (optional metadata)

Metadata, when present, goes into ``Record.extra`` (``age``, ``gender``, ``ethnicity``).
Image files in the three folders that do not follow the naming scheme are reported as skipped;
anything else at the top level (licence, csv) is ignored.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..labels import expression_index
from .core import Record, ScanResult, default_intensity, is_image_name, walk_files

FOLDERS = {
    # folder: (file-name pattern, expression, identity namespace, expected name)
    "neutral_front": (re.compile(r"^(\d{3})_03\.jpe?g$", re.I), "neutral", "london", "NNN_03.jpg"),
    "smiling_front": (re.compile(r"^(\d{3})_08\.jpe?g$", re.I), "happiness", "london", "NNN_08.jpg"),
    "canada": (re.compile(r"^(\d{3}[fm])\.jpe?g$", re.I), "neutral", "canada", "NNNf.jpg / NNNm.jpg"),
}


def _read_info(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    info = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            face_id = (row.get("face_id") or "").strip()
            if not face_id:
                continue
            extra = {}
            if row.get("face_age", "").strip():
                try:
                    extra["age"] = float(row["face_age"])
                except ValueError:
                    pass
            if row.get("face_gender", "").strip():
                extra["gender"] = row["face_gender"].strip()
            if row.get("face_eth", "").strip():
                extra["ethnicity"] = row["face_eth"].strip()
            if face_id.isdigit():
                face_id = face_id.zfill(3)
            info[face_id.lower()] = extra
    return info


def scan_london(root: Path) -> ScanResult:
    """Scan the London + Canada sets under ``root`` (see module docstring). No options."""
    root = Path(root)
    meta = {"london": _read_info(root / "london_info.csv"), "canada": _read_info(root / "canada_info.csv")}
    records, skipped = [], []
    found_any = False
    for folder, (pattern, expression_name, namespace, expected) in FOLDERS.items():
        d = root / folder
        if not d.is_dir():
            continue
        found_any = True
        expression = expression_index(expression_name)
        for p in walk_files(d):
            if not is_image_name(p.name):
                continue
            m = pattern.match(p.name)
            if not m or p.parent != d:
                skipped.append((str(p), f"unrecognised name: expected {folder}/{expected}"))
                continue
            face_id = m.group(1).lower()
            extra = {"set": folder, **meta[namespace].get(face_id, {})}
            records.append(
                Record(str(p), f"{namespace}/{face_id}", expression, default_intensity(expression), None, extra)
            )
    if not found_any:
        raise FileNotFoundError(
            f"{root}: no London set here (expected neutral_front/, smiling_front/ and/or canada/)"
        )
    return ScanResult(records, skipped)
