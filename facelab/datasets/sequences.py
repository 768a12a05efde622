"""Video-sequence sets laid out as folders of frames: Oulu-CASIA (VIS) and MUG.

Oulu-CASIA (Zhao et al. 2011) — ``[<channel>/]<lighting>/<person>/<Expression>/<frame>.jpeg``,
e.g. ``VL/Strong/P001/Anger/000.jpeg``: channel ``VL`` (visible) or ``NI`` (near infrared),
lighting ``Strong/Weak/Dark``, person ``P001``, expression folder ``Anger Disgust Fear Happiness
Sadness Surprise``. Sequences run neutral → peak (like CK+), so frames are chosen with
:func:`facelab.datasets.core.select_frames` ``apex="last"``. Options: ``channel`` (default
``"VL"``; ``"NI"``, ``"all"``; a tree without the channel level counts as VL), ``lighting``
(default ``"all"``, or e.g. ``"Strong"``), ``peak_frames`` (default 3 — the last three frames of
an Oulu sequence all show the apex), ``onset``, ``ramp`` (as for CK+). Identity ``"oulu/P001"``.

MUG (Aifanti et al. 2010) — ``[subjects3/]<subject>/<expression>/<take>/img_NNNN.jpg``, e.g.
``subjects3/001/happiness/take000/img_0000.jpg``; expression folders ``anger disgust fear
happiness neutral sadness surprise``. MUG sequences follow an onset–apex–offset pattern (neutral
at both ends), so by default the apex is taken as the middle of the take (``profile=
"onset-apex-offset"``, ``apex="middle"``); ``profile="onset-apex"`` treats takes like CK+
(last frame = peak) for copies trimmed to end at the apex. The apex position is an assumption
(MUG has no per-frame labels); with ``ramp=1`` intensity follows a triangle over the take.
Options: ``profile``, ``peak_frames`` (default 1), ``onset`` (first and last frame as
neutral), ``ramp``. Identity ``"mug/001"``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..labels import expression_index
from .core import Record, ScanResult, is_image_name, parse_choice, select_frames, walk_files

OULU_EXPRESSIONS = {"anger": "anger", "disgust": "disgust", "fear": "fear", "happiness": "happiness",
                    "sadness": "sadness", "surprise": "surprise"}
OULU_LIGHTING = ("Strong", "Weak", "Dark")
OULU_CHANNELS = ("VL", "NI")
PERSON = re.compile(r"^P\d+$", re.I)
FRAME_NO = re.compile(r"(\d+)(?!.*\d)")

MUG_EXPRESSIONS = {"anger": "anger", "disgust": "disgust", "fear": "fear", "happiness": "happiness",
                   "neutral": "neutral", "sadness": "sadness", "surprise": "surprise"}
MUG_TAKE = re.compile(r"^take\d+$", re.I)
MUG_FRAME = re.compile(r"^img_(\d+)\.(jpe?g|png)$", re.I)
MUG_SUBJECT = re.compile(r"^\d+$")


def _emit(sequences, *, peak_frames, onset, ramp, apex, namespace) -> tuple[list[Record], int]:
    """Turn ``{key: (identity, expression, [(frame_no, path)], extra)}`` into records."""
    records, excluded = [], 0
    for key, (identity, expression, frames, extra) in sorted(sequences.items()):
        frames.sort()
        chosen = select_frames(len(frames), expression, peak_frames=peak_frames, onset=onset, ramp=ramp, apex=apex)
        excluded += len(frames) - len(chosen)
        for i, e, intensity, role in chosen:
            no, p = frames[i]
            rec_extra = {**extra, "sequence": "/".join(key), "frame": no, "role": role, "n_frames": len(frames)}
            records.append(Record(str(p), f"{namespace}/{identity}", e, intensity, None, rec_extra))
    return records, excluded


def _frame_number(name: str) -> int | None:
    m = FRAME_NO.search(Path(name).stem)
    return int(m.group(1)) if m else None


def scan_oulu(
    root: Path,
    channel: str = "VL",
    lighting: str = "all",
    peak_frames: int = 3,
    onset: bool = False,
    ramp: bool = False,
) -> ScanResult:
    """Scan Oulu-CASIA (see module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such Oulu-CASIA folder")
    keep_channel = parse_choice(channel, OULU_CHANNELS, what="Oulu channel")
    keep_light = parse_choice(lighting, OULU_LIGHTING, what="Oulu lighting")
    light_names = {s.lower(): s for s in OULU_LIGHTING}
    skipped, sequences, filtered = [], {}, 0
    for p in walk_files(root):
        if not is_image_name(p.name):
            continue
        parts = p.relative_to(root).parts
        ok = (
            len(parts) >= 4
            and parts[-4].lower() in light_names
            and PERSON.match(parts[-3])
            and parts[-2].lower() in OULU_EXPRESSIONS
            and _frame_number(parts[-1]) is not None
        )
        if not ok:
            if len(parts) >= 2 and parts[-2].lower() not in OULU_EXPRESSIONS and len(parts) >= 4 and PERSON.match(parts[-3]):
                skipped.append((str(p), f"unknown label: expression folder {parts[-2]!r}"))
            else:
                skipped.append((str(p), "unrecognised path: expected <VL|NI>/<Strong|Weak|Dark>/P###/<Expression>/NNN.jpeg"))
            continue
        light = light_names[parts[-4].lower()]
        chan = parts[-5].upper() if len(parts) >= 5 and parts[-5].upper() in OULU_CHANNELS else None
        if (keep_channel is not None and (chan or "VL") not in keep_channel) or (
            keep_light is not None and light not in keep_light
        ):
            filtered += 1
            continue
        person = parts[-3].upper()
        e = expression_index(OULU_EXPRESSIONS[parts[-2].lower()])
        key = (chan or "VL", light, person, parts[-2])
        seq = sequences.setdefault(key, (person, e, [], {"channel": chan or "VL", "lighting": light}))
        seq[2].append((_frame_number(parts[-1]), p))
    records, excluded = _emit(sequences, peak_frames=peak_frames, onset=onset, ramp=ramp, apex="last", namespace="oulu")
    return ScanResult(records, skipped, excluded=excluded + filtered)


def scan_mug(
    root: Path, profile: str = "onset-apex-offset", peak_frames: int = 1, onset: bool = False, ramp: bool = False
) -> ScanResult:
    """Scan MUG (see module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such MUG folder")
    apex = {"onset-apex-offset": "middle", "onset-apex": "last"}.get(profile)
    if apex is None:
        raise ValueError(f"mug profile must be 'onset-apex-offset' or 'onset-apex', not {profile!r}")
    skipped, sequences = [], {}
    for p in walk_files(root):
        if not is_image_name(p.name):
            continue
        parts = p.relative_to(root).parts
        m = MUG_FRAME.match(parts[-1])
        ok = len(parts) >= 4 and m and MUG_TAKE.match(parts[-2]) and MUG_SUBJECT.match(parts[-4])
        if not ok:
            skipped.append((str(p), "unrecognised path: expected <subject>/<expression>/takeNNN/img_NNNN.jpg"))
            continue
        name = MUG_EXPRESSIONS.get(parts[-3].lower())
        if name is None:
            skipped.append((str(p), f"unknown label: expression folder {parts[-3]!r}"))
            continue
        subject = parts[-4]
        key = (subject, parts[-3].lower(), parts[-2].lower())
        seq = sequences.setdefault(key, (subject, expression_index(name), [], {"take": parts[-2].lower()}))
        seq[2].append((int(m.group(1)), p))
    records, excluded = _emit(sequences, peak_frames=peak_frames, onset=onset, ramp=ramp, apex=apex, namespace="mug")
    return ScanResult(records, skipped, excluded=excluded)
