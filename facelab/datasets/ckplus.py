"""Extended Cohn-Kanade (CK+, Lucey et al. 2010) in its original layout and the CK+48 crop set.

``ckplus`` — original release::

    cohn-kanade-images/S005/001/S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt      (one float code; only some sequences)

Emotion codes: ``0=neutral 1=anger 2=contempt 3=disgust 4=fear 5=happy 6=sadness 7=surprise``.
Each sequence runs from a neutral onset to the peak; the label file names the peak (last) frame.
``root`` is the folder holding ``cohn-kanade-images/`` and ``Emotion/`` (each may also sit one or
two levels down, e.g. ``Emotion_labels/Emotion``), or the images folder itself.
Options (frame selection via :func:`facelab.datasets.core.select_frames`):

=============== ======= ===================================================================
option          default meaning
=============== ======= ===================================================================
``peak_frames`` 1       last N frames of a labelled sequence are peak samples (intensity 1)
``onset``       False   also the first frame of every sequence, as neutral (intensity 0)
``ramp``        False   also the frames in between, intensity = frame index / last index
``unlabeled``   False   also peak frames of sequences without a label (expression -1)
=============== ======= ===================================================================

Identity = ``"ckplus/<subject>"``; ``extra`` has ``sequence``, ``frame``, ``role``.

``ckplus48`` — the 48×48 crop set: ``<emotion>/S010_004_00000017.png`` with emotion folders
``anger contempt disgust fear happy sadness surprise`` (``neutral`` accepted). Pre-aligned.
It holds the last frames of each labelled sequence but not which is the peak, so intensity is
``nan``. Identity = ``"ckplus/<subject>"`` — the same people as ``ckplus``, same namespace.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..labels import MISSING, expression_index
from .core import Record, ScanResult, default_intensity, is_image_name, select_frames, walk_files

CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
FRAME = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})\.png$", re.I)
LABEL = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})_emotion\.txt$", re.I)
SUBJECT_DIR = re.compile(r"^S\d{3}$", re.I)
CK48_FOLDERS = {
    "anger": "anger",
    "contempt": "contempt",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "sadness": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
}


def _find_dir(root: Path, name: str, depth: int = 2) -> Path | None:
    frontier = [root]
    for _ in range(depth + 1):
        nxt = []
        for d in frontier:
            if d.name.lower() == name.lower():
                return d
            try:
                nxt.extend(sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")))
            except OSError:
                pass
        frontier = nxt
    return None


def scan_ckplus(
    root: Path, peak_frames: int = 1, onset: bool = False, ramp: bool = False, unlabeled: bool = False
) -> ScanResult:
    """Scan original CK+ (see module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such CK+ folder")
    images = _find_dir(root, "cohn-kanade-images")
    if images is None:
        if any(SUBJECT_DIR.match(c.name) for c in root.iterdir() if c.is_dir()):
            images = root
        else:
            raise FileNotFoundError(f"{root}: no cohn-kanade-images/ folder (nor S### subject folders)")
    emotion_dir = _find_dir(root, "Emotion", depth=3)
    if emotion_dir is None and images != root:
        emotion_dir = _find_dir(images.parent, "Emotion", depth=3)

    skipped: list[tuple[str, str]] = []
    labels: dict[tuple[str, str], tuple[int, int]] = {}  # (subject, seq) -> (expression, peak frame no.)
    if emotion_dir is not None:
        for p in walk_files(emotion_dir):
            m = LABEL.match(p.name)
            if not m:
                continue
            try:
                value = float(p.read_text().strip().split()[0])
            except (ValueError, IndexError, OSError) as exc:
                skipped.append((str(p), f"unknown label: unreadable emotion file ({exc})"))
                continue
            if value != int(value) or not 0 <= int(value) < len(CODES):
                skipped.append((str(p), f"unknown label: emotion code {value!r}"))
                continue
            labels[(m.group(1).upper(), m.group(2))] = (expression_index(CODES[int(value)]), int(m.group(3)))

    sequences: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for p in walk_files(images):
        if not is_image_name(p.name):
            continue
        m = FRAME.match(p.name)
        if not m:
            skipped.append((str(p), "unrecognised name: expected S###_###_########.png"))
            continue
        sequences.setdefault((m.group(1).upper(), m.group(2)), []).append((int(m.group(3)), p))

    records, excluded = [], 0
    for (subject, seq), frames in sorted(sequences.items()):
        frames.sort()
        expression, peak_no = labels.get((subject, seq), (MISSING, None))
        peak_index = None
        if peak_no is not None:
            numbers = [no for no, _ in frames]
            peak_index = numbers.index(peak_no) if peak_no in numbers else None
        chosen = select_frames(
            len(frames), expression, peak_frames=peak_frames, onset=onset, ramp=ramp, peak_index=peak_index
        )
        if expression == MISSING and not unlabeled:
            chosen = [c for c in chosen if c[3] == "onset"]
        excluded += len(frames) - len(chosen)
        for i, e, intensity, role in chosen:
            no, p = frames[i]
            extra = {"sequence": f"{subject}_{seq}", "frame": no, "role": role, "n_frames": len(frames)}
            records.append(Record(str(p), f"ckplus/{subject}", e, intensity, None, extra))
    if not records and not skipped and not sequences:
        raise FileNotFoundError(f"{root}: no CK+ frames found")
    return ScanResult(records, skipped, excluded=excluded)


def scan_ckplus48(root: Path) -> ScanResult:
    """Scan CK+48 (``<emotion>/S010_004_00000017.png``; see module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such CK+48 folder")
    records, skipped = [], []
    for p in walk_files(root):
        if not is_image_name(p.name):
            continue
        rel = p.relative_to(root).parts
        if len(rel) != 2:
            skipped.append((str(p), "unrecognised path: expected <emotion>/S###_###_########.png"))
            continue
        name = CK48_FOLDERS.get(rel[0].lower())
        if name is None:
            skipped.append((str(p), f"unknown label: emotion folder {rel[0]!r}"))
            continue
        m = FRAME.match(p.name)
        if not m:
            skipped.append((str(p), "unrecognised name: expected S###_###_########.png"))
            continue
        e = expression_index(name)
        extra = {"sequence": f"{m.group(1).upper()}_{m.group(2)}", "frame": int(m.group(3))}
        records.append(Record(str(p), f"ckplus/{m.group(1).upper()}", e, default_intensity(e), None, extra))
    return ScanResult(records, skipped)
