"""Core types shared by every layout scanner: :class:`Record`, :class:`ScanResult`, file walking.

A *scanner* turns a folder (or file) laid out the way a public face dataset ships into a list of
:class:`Record` — one per usable image — plus a list of ``(path, reason)`` pairs for files it
could not interpret. Scanning never decodes images, so it is fast even on big sets; decoding and
face alignment happen later in :class:`facelab.datasets.build.FaceImageDataset`.

Label conventions (used by every layout):

* ``expression`` is an index into :data:`facelab.labels.EXPRESSIONS`, or ``MISSING`` (-1) when
  the dataset has no (usable) label for that image. Labels are never guessed.
* ``intensity`` is the expression intensity in [0, 1]: ``0.0`` for an image labelled neutral,
  ``1.0`` for the peak frame of a sequence, ``i / last`` for ramp frames of a sequence, and
  ``nan`` where the dataset says nothing about it (posed photos, folder-per-class sets).
* ``identity`` is a namespaced string (``"london/001"``, ``"ckplus/S005"``) or ``None`` when the
  dataset has no identities (FER2013). Namespaces keep identities disjoint across datasets; two
  variants of one dataset (``ckplus`` / ``ckplus48``) deliberately share a namespace because they
  show the same people.
* ``split`` is the dataset's own split (``"train"``/``"test"``/...), or ``None``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..labels import EXPRESSIONS, MISSING

__all__ = [
    "Record",
    "ScanResult",
    "IMAGE_EXTENSIONS",
    "NAN",
    "walk_files",
    "is_image_name",
    "reason_category",
    "summarize_skipped",
    "default_intensity",
    "select_frames",
    "parse_choice",
]

NAN = float("nan")

#: File name suffixes treated as images when walking a dataset tree.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".ppm", ".webp"}
)


@dataclass(frozen=True)
class Record:
    """One image of a dataset and the labels the dataset gives it.

    ``path`` is the image file (for FER2013's CSV form: ``"<csv>#<row>"`` with the pixels in
    ``extra["pixels"]``). ``extra`` holds layout-specific fields (pose, gaze, frame, age, ...).
    """

    path: str
    identity: str | None
    expression: int = MISSING
    intensity: float = NAN
    split: str | None = None
    extra: dict = field(default_factory=dict, compare=False)
    dataset: str = ""

    @property
    def expression_name(self) -> str | None:
        return EXPRESSIONS[self.expression] if self.expression != MISSING else None


@dataclass
class ScanResult:
    """What a scanner found: usable ``records`` and ``skipped`` ``(path, reason)`` pairs.

    ``excluded`` counts files that matched the layout but were left out on purpose by an option
    (non-peak frames, another camera channel, unlabelled sequences ...); they are not errors.
    """

    records: list[Record]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    name: str = ""
    root: str = ""
    excluded: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def summary(self) -> str:
        total = len(self.records) + len(self.skipped)
        head = f"{self.name or 'scan'}: {len(self.records)} images"
        if self.excluded:
            head += f" ({self.excluded} more left out by options)"
        if self.skipped:
            head += "; " + summarize_skipped(self.skipped, total)
        return head


def default_intensity(expression: int) -> float:
    """``0.0`` for a neutral label (no expression, by definition), ``nan`` otherwise."""
    return 0.0 if expression == 0 else NAN


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` in sorted order, skipping hidden files/folders
    (``.DS_Store``, ``._x``) and ``__MACOSX`` archive debris."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def reason_category(reason: str) -> str:
    """The part of a skip reason before the first colon (``"corrupt"``, ``"no face"``, ...)."""
    return reason.split(":", 1)[0].strip()


def summarize_skipped(skipped: list[tuple[str, str]], total: int, examples: int = 2) -> str:
    """``"skipped 3 of 204: 2 corrupt (a.jpg: image file is truncated…), 1 no face (b.jpg)"``."""
    if not skipped:
        return f"skipped 0 of {total}"
    groups: dict[str, list[tuple[str, str]]] = {}
    for path, reason in skipped:
        groups.setdefault(reason_category(reason), []).append((path, reason))
    parts = []
    for cat, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        shown = []
        for path, reason in items[:examples]:
            detail = reason.split(":", 1)[1].strip() if ":" in reason else ""
            name = os.path.basename(path.split("#")[0]) + (
                "#" + path.split("#", 1)[1] if "#" in path else ""
            )
            if len(detail) > 60:
                detail = detail[:59] + "…"
            shown.append(f"{name}: {detail}" if detail else name)
        more = ", …" if len(items) > examples else ""
        parts.append(f"{len(items)} {cat} ({', '.join(shown)}{more})")
    return f"skipped {len(skipped)} of {total}: " + ", ".join(parts)


def parse_choice(value, allowed: tuple[str, ...] | None = None, *, what: str = "value") -> frozenset | None:
    """Parse a ``"a+b+c"`` option (or a list) into a set; ``"all"``/``None`` → ``None`` (no filter)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v) for v in value]
    else:
        items = [v for v in str(value).replace("|", "+").split("+") if v]
    if any(v.lower() == "all" for v in items):
        return None
    if allowed is not None:
        canon = {a.lower(): a for a in allowed}
        bad = [v for v in items if v.lower() not in canon]
        if bad:
            raise ValueError(f"unknown {what} {bad}; choose from {', '.join(allowed)} or 'all'")
        items = [canon[v.lower()] for v in items]
    return frozenset(items)


def select_frames(
    n: int,
    expression: int,
    *,
    peak_frames: int = 1,
    onset: bool = False,
    ramp: bool = False,
    apex: str = "last",
    peak_index: int | None = None,
) -> list[tuple[int, int, float, str]]:
    """Which frames of an ``n``-frame expression sequence to keep, with their labels.

    Returns ``(frame_index, expression, intensity, role)`` tuples, role in
    ``"peak" | "onset" | "offset" | "ramp"``.

    ``apex="last"`` (CK+, Oulu-CASIA): the sequence goes neutral → peak; the last
    ``peak_frames`` frames are the peak (intensity 1), frame 0 is the neutral onset
    (expression 0, intensity 0), frames in between get the sequence's expression with
    intensity ``i / (n - 1)``. ``peak_index`` truncates the sequence there (CK+ labels name
    the peak frame).

    ``apex="middle"`` (MUG): neutral → apex → neutral; the ``peak_frames`` frames around the
    centre are the peak, the first and last frames are neutral onset/offset, ramp intensity is
    ``1 - |i - c| / c`` with ``c = (n - 1) / 2``.

    Sequences whose expression is ``MISSING`` yield peak frames (expression -1) and the neutral
    onset; ramp frames need a label so are dropped. Neutral sequences give peak frames only
    (labelled neutral, intensity 0) plus onset if asked — ramp frames would just be more
    neutral duplicates.
    """
    if peak_index is not None:
        n = min(n, peak_index + 1)
    if n <= 0:
        return []
    peak_frames = max(1, int(peak_frames))
    neutral = expression == 0
    peak_intensity = 0.0 if neutral else (1.0 if expression != MISSING else NAN)
    out: list[tuple[int, int, float, str]] = []
    if apex == "last":
        peaks = set(range(max(0, n - peak_frames), n))
        for i in range(n):
            if i in peaks:
                out.append((i, expression, peak_intensity, "peak"))
            elif i == 0 and onset:
                out.append((0, 0, 0.0, "onset"))
            elif ramp and expression not in (MISSING, 0) and i > 0:
                out.append((i, expression, i / (n - 1), "ramp"))
        return out
    if apex == "middle":
        c = (n - 1) / 2
        order = sorted(range(n), key=lambda i: (abs(i - c), i))
        peaks = set(order[:peak_frames])
        for i in range(n):
            if i in peaks:
                out.append((i, expression, peak_intensity, "peak"))
            elif i == 0 and onset:
                out.append((0, 0, 0.0, "onset"))
            elif i == n - 1 and onset:
                out.append((i, 0, 0.0, "offset"))
            elif ramp and expression not in (MISSING, 0) and 0 < i < n - 1:
                value = 1.0 - abs(i - c) / c if c > 0 else 1.0
                out.append((i, expression, value, "ramp"))
        return out
    raise ValueError(f"apex must be 'last' or 'middle', not {apex!r}")
