"""Posed-photo sets whose labels live in the file name: JAFFE, KDEF, RaFD, FACES, Yale.

Files are looked for anywhere under ``root`` (the sets ship flat or one folder per person).
Image files that do not follow the naming scheme are reported as skipped. Posed photos carry
no intensity annotation: intensity is ``nan``, except ``0.0`` for neutral.

JAFFE (Lyons et al. 1998) — ``KA.AN1.39.tiff``: subject ``KA``, expression code + repeat
number, image number. Codes: AN anger, DI disgust, FE fear, HA happiness, NE neutral,
SA sadness, SU surprise. Identity ``"jaffe/KA"``.

KDEF (Lundqvist et al. 1998) — ``AF01ANS.JPG``: session ``A``/``B``, gender ``F``/``M``, person
``01``, expression (AF afraid→fear, AN anger, DI disgust, HA happiness, NE neutral, SA sadness,
SU surprise), angle (S straight, HL/HR half left/right, FL/FR full left/right → ``extra["pose"]``).
Identity ``"kdef/F01"`` (the two sessions are the same person). Option ``poses`` (``"all"`` or
e.g. ``"S"`` / ``"S+HL+HR"``).

RaFD (Langner et al. 2010) — ``Rafd090_01_Caucasian_female_angry_frontal.jpg``: camera angle
``000/045/090/135/180`` (090 = frontal, → ``extra["pose"]``), subject, ethnicity, gender,
expression (angry, contemptuous, disgusted, fearful, happy, neutral, sad, surprised), gaze
(frontal/left/right). Identity ``"rafd/01"``. Options ``poses`` and ``gaze`` (``"all"`` or
``"+"``-joined values).

FACES (Ebner et al. 2010) — ``004_o_m_a_a.jpg``: person, age group ``y/m/o``, gender ``m/f``,
expression (a anger, d disgust, f fear, h happiness, n neutral, s sadness), picture set
``a/b``. Identity ``"faces/004"``.

Yale faces (Belhumeur et al. 1997) — ``subject01.happy`` (GIF data, no extension; a trailing
image extension is accepted). The condition suffix maps as follows; only true expressions get
an expression label, and conditions that vary something else on a neutral face are neutral:

============== ============ ==========================================================
suffix         expression   note
============== ============ ==========================================================
happy          happiness
sad            sadness
surprised      surprise
normal         neutral
sleepy         MISSING (-1) not in the shared vocabulary
wink           MISSING (-1) a gesture, not an emotion
glasses        neutral      accessory variation, neutral face
noglasses      neutral      accessory variation, neutral face
centerlight    neutral      lighting variation, neutral face
leftlight      neutral      lighting variation, neutral face
rightlight     neutral      lighting variation, neutral face
============== ============ ==========================================================

The suffix is kept in ``extra["condition"]``. Identity ``"yale/subject01"``. Any other suffix
(e.g. the stray ``subject01.gif`` of some copies) is skipped and reported.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..labels import MISSING, expression_index
from .core import Record, ScanResult, default_intensity, is_image_name, parse_choice, walk_files


def _exists(root: Path, what: str) -> Path:
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such {what} folder")
    return root


def _scan_by_name(root: Path, what: str, pattern: re.Pattern, expected: str, interpret) -> ScanResult:
    """Shared loop: every image file under root whose name matches ``pattern`` is passed to
    ``interpret(match, path)`` → ``Record`` | ``str`` (skip reason) | ``None`` (excluded by option)."""
    root = _exists(root, what)
    files = [root] if root.is_file() else walk_files(root)
    records, skipped, excluded = [], [], 0
    for p in files:
        if not is_image_name(p.name):
            continue
        m = pattern.match(p.name)
        if not m:
            skipped.append((str(p), f"unrecognised name: expected {expected}"))
            continue
        out = interpret(m, p)
        if out is None:
            excluded += 1
        elif isinstance(out, str):
            skipped.append((str(p), out))
        else:
            records.append(out)
    return ScanResult(records, skipped, excluded=excluded)


def _rec(p: Path, identity: str, name: str | None, extra: dict) -> Record:
    e = expression_index(name) if name else MISSING
    return Record(str(p), identity, e, default_intensity(e), None, extra)


# ----------------------------------------------------------------------------------- JAFFE
JAFFE_CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral",
               "SA": "sadness", "SU": "surprise"}
JAFFE = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.tiff?$", re.I)


def scan_jaffe(root: Path) -> ScanResult:
    def interpret(m, p):
        name = JAFFE_CODES.get(m.group(2).upper())
        if name is None:
            return f"unknown label: expression code {m.group(2)!r}"
        extra = {"repeat": int(m.group(3)), "image_no": int(m.group(4))}
        return _rec(p, f"jaffe/{m.group(1).upper()}", name, extra)

    return _scan_by_name(root, "JAFFE", JAFFE, "XX.AN1.39.tiff", interpret)


# ------------------------------------------------------------------------------------ KDEF
KDEF_CODES = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happiness", "NE": "neutral",
              "SA": "sadness", "SU": "surprise"}
KDEF_POSES = ("S", "HL", "HR", "FL", "FR")
KDEF = re.compile(r"^([AB])([FM])(\d{2})([A-Z]{2})(S|HL|HR|FL|FR)\.jpe?g$", re.I)


def scan_kdef(root: Path, poses: str = "all") -> ScanResult:
    keep = parse_choice(poses, KDEF_POSES, what="KDEF pose")

    def interpret(m, p):
        session, gender, person, code, pose = (g.upper() for g in m.groups())
        name = KDEF_CODES.get(code)
        if name is None:
            return f"unknown label: expression code {code!r}"
        if keep is not None and pose not in keep:
            return None
        extra = {"session": session, "gender": gender, "pose": pose}
        return _rec(p, f"kdef/{gender}{person}", name, extra)

    return _scan_by_name(root, "KDEF", KDEF, "AF01ANS.JPG", interpret)


# ------------------------------------------------------------------------------------ RaFD
RAFD_EXPRESSIONS = {"angry": "anger", "contemptuous": "contempt", "disgusted": "disgust",
                    "fearful": "fear", "happy": "happiness", "neutral": "neutral", "sad": "sadness",
                    "surprised": "surprise"}
RAFD_POSES = ("000", "045", "090", "135", "180")
RAFD_GAZE = ("frontal", "left", "right")
RAFD = re.compile(r"^Rafd(\d{3})_(\d+)_([A-Za-z]+)_(male|female)_([a-z]+)_([a-z]+)\.(jpe?g|png)$", re.I)


def scan_rafd(root: Path, poses: str = "all", gaze: str = "all") -> ScanResult:
    keep_pose = parse_choice(poses, RAFD_POSES, what="RaFD angle")
    keep_gaze = parse_choice(gaze, RAFD_GAZE, what="RaFD gaze")

    def interpret(m, p):
        angle, subject, ethnicity, gender, expr, look = m.groups()[:6]
        name = RAFD_EXPRESSIONS.get(expr.lower())
        if name is None:
            return f"unknown label: expression {expr!r}"
        if look.lower() not in RAFD_GAZE:
            return f"unrecognised name: gaze {look!r}"
        if (keep_pose is not None and angle not in keep_pose) or (
            keep_gaze is not None and look.lower() not in keep_gaze
        ):
            return None
        extra = {"pose": angle, "gaze": look.lower(), "gender": gender.lower(), "ethnicity": ethnicity}
        return _rec(p, f"rafd/{subject}", name, extra)

    return _scan_by_name(root, "RaFD", RAFD, "Rafd090_01_Caucasian_female_angry_frontal.jpg", interpret)


# ----------------------------------------------------------------------------------- FACES
FACES_CODES = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral", "s": "sadness"}
FACES = re.compile(r"^(\d{3})_([ymo])_([mf])_([a-z])_([ab])\.(jpe?g|png)$", re.I)


def scan_faces(root: Path) -> ScanResult:
    def interpret(m, p):
        person, age, gender, code, picture_set = (g.lower() for g in m.groups()[:5])
        name = FACES_CODES.get(code)
        if name is None:
            return f"unknown label: expression code {code!r}"
        extra = {"age_group": age, "gender": gender, "picture_set": picture_set}
        return _rec(p, f"faces/{person}", name, extra)

    return _scan_by_name(root, "FACES", FACES, "004_o_m_a_a.jpg", interpret)


# ------------------------------------------------------------------------------------ Yale
YALE_CONDITIONS = {
    "happy": "happiness",
    "sad": "sadness",
    "surprised": "surprise",
    "normal": "neutral",
    "sleepy": None,
    "wink": None,
    "glasses": "neutral",
    "noglasses": "neutral",
    "centerlight": "neutral",
    "leftlight": "neutral",
    "rightlight": "neutral",
}
YALE = re.compile(r"^(subject\d+)\.([a-z]+)(\.(gif|png|jpe?g|pgm|bmp))?$", re.I)


def scan_yale(root: Path) -> ScanResult:
    """Yale faces (see the mapping table in the module docstring)."""
    root = _exists(root, "Yale")
    files = [root] if root.is_file() else walk_files(root)
    records, skipped = [], []
    for p in files:
        m = YALE.match(p.name)
        if not m:
            if is_image_name(p.name) or p.name.lower().startswith("subject"):
                skipped.append((str(p), "unrecognised name: expected subjectNN.<condition>"))
            continue
        condition = m.group(2).lower()
        if condition not in YALE_CONDITIONS:
            skipped.append((str(p), f"unknown label: condition {condition!r}"))
            continue
        extra = {"condition": condition}
        records.append(_rec(p, f"yale/{m.group(1).lower()}", YALE_CONDITIONS[condition], extra))
    return ScanResult(records, skipped)


__all__ = ["scan_jaffe", "scan_kdef", "scan_rafd", "scan_faces", "scan_yale"]
