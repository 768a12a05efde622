"""Generic CSV manifest: ``path,identity,expression,intensity`` (+ optional ``split``).

* ``path`` is relative to the CSV's folder (absolute paths work too). Required.
* ``identity`` any string; stored as ``"<namespace>/<identity>"`` (option ``namespace``,
  default ``"csv"``; ``namespace=`` (empty) stores it unchanged). Empty → ``None``.
* ``expression`` a name of the shared vocabulary or a common synonym (below); empty, ``-1``,
  ``na``/``none`` → ``MISSING``. Anything else → row skipped and reported (never guessed).
* ``intensity`` a float; empty → ``nan`` (also for neutral: a manifest says what it says).
* ``split`` optional (``train``/``test``/...). Other columns go into ``Record.extra``.

``root`` is the CSV file, or a folder holding ``manifest.csv`` (or exactly one ``*.csv``).
Rows whose file does not exist are skipped and reported.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..labels import EXPRESSIONS, MISSING
from .core import NAN, Record, ScanResult

SYNONYMS = {
    "neutral": "neutral", "calm": "neutral", "none": None, "neutrality": "neutral",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness", "smile": "happiness",
    "smiling": "happiness",
    "sadness": "sadness", "sad": "sadness",
    "surprise": "surprise", "surprised": "surprise",
    "anger": "anger", "angry": "anger",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "afraid": "fear", "fearful": "fear", "scared": "fear",
    "contempt": "contempt", "contemptuous": "contempt",
}
MISSING_TOKENS = {"", "-1", "na", "n/a", "nan", "missing", "unknown", "?"}
KNOWN = {"path", "identity", "expression", "intensity", "split"}


def parse_expression(text: str | None) -> int | None:
    """Vocabulary index for a name/synonym, ``MISSING`` for an empty/missing token, ``None`` if unknown."""
    t = (text or "").strip().lower()
    if t in MISSING_TOKENS:
        return MISSING
    if t not in SYNONYMS:
        return None
    name = SYNONYMS[t]
    return MISSING if name is None else EXPRESSIONS.index(name)


def _find_csv(root: Path) -> Path:
    if root.is_file():
        return root
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such manifest file or folder")
    if (root / "manifest.csv").is_file():
        return root / "manifest.csv"
    csvs = sorted(root.glob("*.csv"))
    if len(csvs) != 1:
        raise FileNotFoundError(f"{root}: expected manifest.csv or exactly one *.csv, found {[c.name for c in csvs]}")
    return csvs[0]


def scan_csv(root: Path, namespace: str = "csv") -> ScanResult:
    """Scan a CSV manifest (see module docstring)."""
    path = _find_csv(Path(root))
    base = path.parent
    records, skipped = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = {(c or "").strip().lower(): c for c in (reader.fieldnames or [])}
        if "path" not in cols:
            raise ValueError(f"{path}: manifest needs a 'path' column (header: {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            get = lambda k: (row.get(cols[k]) or "").strip() if k in cols else ""  # noqa: E731
            rel = get("path")
            where = f"{path}:{line}"
            if not rel:
                skipped.append((where, "unrecognised row: empty path"))
                continue
            file = (base / rel) if not Path(rel).is_absolute() else Path(rel)
            if not file.is_file():
                skipped.append((str(file), f"missing file: listed on line {line}"))
                continue
            e = parse_expression(get("expression"))
            if e is None:
                skipped.append((str(file), f"unknown label: expression {get('expression')!r} (line {line})"))
                continue
            raw = get("intensity")
            try:
                intensity = float(raw) if raw and raw.lower() not in MISSING_TOKENS else NAN
                if math.isinf(intensity):
                    raise ValueError
            except ValueError:
                skipped.append((str(file), f"unknown label: intensity {raw!r} (line {line})"))
                continue
            ident = get("identity")
            identity = (f"{namespace}/{ident}" if namespace else ident) if ident else None
            extra = {k: (row.get(c) or "") for k, c in cols.items() if k not in KNOWN and k}
            records.append(Record(str(file), identity, e, intensity, get("split").lower() or None, extra))
    return ScanResult(records, skipped)
