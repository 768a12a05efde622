"""Procedural face renderer: the project's default, fully-labelled dataset.

Why a renderer and not photos: every image is a *pure deterministic function* of its factors
(identity, expression, intensity, pose, style), so any attribute swap has a ground-truth answer
("this person, this pose, but happy") that can be rendered and compared pixel by pixel. Nothing
is downloaded; a face costs well under 2 ms on one core.

How a face is drawn (all numpy, vectorised over pixels *and* over a batch of faces):

* every shape is a signed distance (or an interval along one axis) turned into pixel coverage
  with a one-pixel box filter, so edges are anti-aliased without supersampling;
* layers (hair, ears, head, eyes, brows, nose, lips, ...) are alpha-composited back to front;
* the head group is shaded with a lambertian pseudo-normal taken from the head ellipse;
* pose is an inverse warp: each pixel is lifted onto a flattened ellipsoid, rotated back by the
  yaw/pitch, and the features are drawn in those *face coordinates*, so they shift and
  foreshorten plausibly while the outline, ears and chin follow; roll (off by default) turns the
  whole frame about the head centre, as a tilted camera would, with the light kept fixed;
* expressions are vectors of action-unit-like parameters (:data:`EXPRESSION_AUS`); a face at
  intensity ``s`` uses ``s * AU``, so intensity 0 is the neutral face *exactly* and
  intermediate intensities are linear blends of the AU parameters.

Only exact floating-point operations (+, -, *, /, sqrt, min/max) touch pixels, and per-face
scalars are computed with :mod:`math` one face at a time, so a face renders to the same bytes
alone or inside any batch.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from facelab.cache import default_cache_dir, mark_used, prune_renders
from facelab.labels import EXPRESSIONS

try:  # the renderer works without torch; only the Dataset wrapper needs it
    import torch
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - torch is a project requirement
    torch = None
    _TorchDataset = object

__all__ = [
    "AU_NAMES",
    "EXPRESSION_AUS",
    "EXPRESSION_NAMES",
    "FACTOR_GROUPS",
    "FaceFactors",
    "GROUP_OF_FACTOR",
    "HAIR_STYLES",
    "Identity",
    "MAX_PITCH",
    "MAX_ROLL",
    "MAX_YAW",
    "N_EXPRESSIONS",
    "RENDER_VERSION",
    "SyntheticFaces",
    "factor_labels",
    "identity_params",
    "landmarks",
    "render",
    "render_batch",
    "sample_factors",
]

# Bump whenever pixels change for the same factors: it is part of every dataset cache key.
RENDER_VERSION = 1

# The generator speaks the first 7 classes of the shared vocabulary (no "contempt").
N_EXPRESSIONS = 7
EXPRESSION_NAMES = EXPRESSIONS[:N_EXPRESSIONS]

MAX_YAW = math.radians(25.0)  # FaceFactors.yaw = ±1 means ±25° (turning left/right)
MAX_PITCH = math.radians(15.0)  # FaceFactors.pitch = ±1 means ±15° (looking up/down)
MAX_ROLL = math.radians(20.0)  # FaceFactors.roll = ±1 means ±20° (head tilted in the image plane)

#: The generator's factors grouped by what they describe (labels of :func:`factor_labels`): a
#: model sub-code of a group's name is expected to carry that group's factors and no other.
FACTOR_GROUPS = {
    "identity": ("identity",),
    "expression": ("expression", "intensity"),
    "pose": ("yaw", "pitch", "roll"),
    "style": ("background", "light", "noise"),
}
#: Each factor's group, i.e. the sub-code it belongs in (the inverse of :data:`FACTOR_GROUPS`).
GROUP_OF_FACTOR = {factor: group for group, members in FACTOR_GROUPS.items() for factor in members}

# --------------------------------------------------------------------------------------------
# Expressions as action units
# --------------------------------------------------------------------------------------------

AU_NAMES = (
    "lip_corner",  # + corners up (smile), - corners down (frown)
    "mouth_open",  # jaw drop, 0..1
    "mouth_stretch",  # + wider mouth, - narrower / rounder
    "brow_raise",  # + whole brow up, - brow lowered
    "brow_inner",  # + inner ends up (worry), - inner ends down and together (frown V)
    "eye_open",  # + wide open (white above iris), - narrowed
    "cheek_raise",  # lower lid pushed up by the cheek (smiling eyes)
    "nose_wrinkle",  # creases on the bridge, flared lifted nostrils
    "upper_lip_raise",  # upper lip lifted off the teeth
    "lip_press",  # lips pressed thin
    "teeth",  # how much of the upper teeth shows inside the open mouth
    "sneer",  # asymmetry of the upper-lip raise (one-sided sneer)
)

# One AU vector per class at intensity 1; the neutral face is all zeros by construction.
EXPRESSION_AUS: dict[str, dict[str, float]] = {
    name: {au: 0.0 for au in AU_NAMES} for name in EXPRESSION_NAMES
}
EXPRESSION_AUS["happiness"].update(
    lip_corner=1.0, mouth_open=0.6, mouth_stretch=0.5, eye_open=-0.3, cheek_raise=1.0, teeth=1.0
)
EXPRESSION_AUS["sadness"].update(
    lip_corner=-1.0, mouth_stretch=-0.1, brow_inner=1.0, brow_raise=-0.1, eye_open=-0.35
)
EXPRESSION_AUS["surprise"].update(
    brow_raise=1.0, eye_open=1.0, mouth_open=1.0, mouth_stretch=-0.55, teeth=0.2
)
EXPRESSION_AUS["anger"].update(
    brow_raise=-0.25, brow_inner=-1.0, eye_open=-0.55, lip_press=1.0, lip_corner=-0.3, mouth_stretch=-0.2
)
EXPRESSION_AUS["disgust"].update(
    nose_wrinkle=1.0, upper_lip_raise=1.0, sneer=1.0, brow_raise=-0.5, brow_inner=-0.35,
    eye_open=-0.35, cheek_raise=0.4, lip_corner=-0.35, teeth=0.8,
)
EXPRESSION_AUS["fear"].update(
    brow_raise=0.75, brow_inner=0.9, eye_open=1.0, mouth_open=0.5, mouth_stretch=0.9, lip_corner=-0.35,
    teeth=0.7,
)

_AU_TABLE = np.array([[EXPRESSION_AUS[n][au] for au in AU_NAMES] for n in EXPRESSION_NAMES])
_AU = {au: i for i, au in enumerate(AU_NAMES)}

# --------------------------------------------------------------------------------------------
# Identities
# --------------------------------------------------------------------------------------------

HAIR_STYLES = ("short", "long", "buzz", "bob", "side_part", "curly", "bun")

_SKIN_TONES = np.array(  # light → dark; an identity interpolates along this ramp
    [(0.98, 0.85, 0.76), (0.93, 0.75, 0.62), (0.80, 0.59, 0.44), (0.62, 0.42, 0.29), (0.40, 0.26, 0.18)]
)
_HAIR_COLOURS = (  # (rgb, weight)
    ((0.07, 0.05, 0.045), 3.0),  # black
    ((0.22, 0.13, 0.08), 3.0),  # dark brown
    ((0.42, 0.26, 0.14), 2.0),  # brown
    ((0.58, 0.24, 0.10), 1.0),  # auburn
    ((0.86, 0.70, 0.42), 1.5),  # blond
    ((0.66, 0.65, 0.63), 0.8),  # grey
)
_EYE_COLOURS = (
    (0.33, 0.19, 0.09),  # brown
    (0.17, 0.10, 0.06),  # dark brown
    (0.22, 0.45, 0.72),  # blue
    (0.28, 0.50, 0.30),  # green
    (0.50, 0.38, 0.16),  # hazel
    (0.45, 0.52, 0.58),  # grey
)
_IDENTITY_SALT = 0x5EEDFACE  # separates identity randomness from every other stream


@dataclass(frozen=True)
class Identity:
    """Everything that makes a person look like themselves (sampled once per identity)."""

    face_width: float  # head width multiplier
    face_length: float  # lower-face length multiplier
    jaw: float  # <0 pointed chin, >0 square jaw
    skin: tuple[float, float, float]
    hair_style: int  # index into HAIR_STYLES
    hair_colour: tuple[float, float, float]
    hair_flip: float  # ±1: side of a side parting
    hair_volume: float  # multiplier on hair thickness
    eye_colour: tuple[float, float, float]
    eye_spacing: float
    eye_size: float
    nose_size: float
    nose_width: float
    brow_thickness: float
    brow_height: float  # offset of the brows (face units)
    lip_fullness: float
    lip_colour: tuple[float, float, float]
    mouth_width: float
    ear_size: float
    shirt_colour: tuple[float, float, float]

    @property
    def hair_style_name(self) -> str:
        return HAIR_STYLES[self.hair_style]


def _rgb(v) -> tuple[float, float, float]:
    return tuple(float(min(max(c, 0.0), 1.0)) for c in v)


@functools.lru_cache(maxsize=1 << 16)
def identity_params(identity: int, seed: int = 0) -> Identity:
    """The look of person ``identity`` in seed space ``seed`` (pure function of both)."""
    ss = np.random.SeedSequence([_IDENTITY_SALT, int(seed) & 0xFFFFFFFF, int(identity) & 0xFFFFFFFFFFFF])
    rng = np.random.default_rng(ss)
    u = rng.uniform

    tone = u(0.0, 1.0) * (len(_SKIN_TONES) - 1)
    lo = int(tone)
    hi = min(lo + 1, len(_SKIN_TONES) - 1)
    skin = _SKIN_TONES[lo] + (tone - lo) * (_SKIN_TONES[hi] - _SKIN_TONES[lo]) + u(-0.02, 0.02, 3)

    colours, weights = zip(*_HAIR_COLOURS)
    weights = np.asarray(weights) / sum(weights)
    hair = np.asarray(colours[rng.choice(len(colours), p=weights)]) * u(0.85, 1.15) + u(-0.02, 0.02, 3)
    eye = np.asarray(_EYE_COLOURS[rng.integers(len(_EYE_COLOURS))]) * u(0.85, 1.15)
    lip_red = np.array([0.78, 0.30, 0.32]) * u(0.8, 1.05)
    lip = skin * 0.75 + (lip_red - skin * 0.75) * u(0.35, 0.7)
    shirt = rng.uniform(0.1, 0.85, 3)

    return Identity(
        face_width=float(u(0.88, 1.10)),
        face_length=float(u(0.92, 1.08)),
        jaw=float(u(-0.3, 0.35)),
        skin=_rgb(skin),
        hair_style=int(rng.integers(len(HAIR_STYLES))),
        hair_colour=_rgb(hair),
        hair_flip=float(rng.choice([-1.0, 1.0])),
        hair_volume=float(u(0.8, 1.2)),
        eye_colour=_rgb(eye),
        eye_spacing=float(u(0.9, 1.1)),
        eye_size=float(u(0.88, 1.12)),
        nose_size=float(u(0.82, 1.2)),
        nose_width=float(u(0.85, 1.2)),
        brow_thickness=float(u(0.7, 1.35)),
        brow_height=float(u(-0.015, 0.015)),
        lip_fullness=float(u(0.75, 1.3)),
        lip_colour=_rgb(lip),
        mouth_width=float(u(0.9, 1.12)),
        ear_size=float(u(0.85, 1.15)),
        shirt_colour=_rgb(shirt),
    )


# --------------------------------------------------------------------------------------------
# Factors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceFactors:
    """The complete recipe of one image; ``render(f)`` is a pure function of it."""

    identity: int
    expression: int
    intensity: float = 1.0
    yaw: float = 0.0  # in [-1, 1] units of MAX_YAW; + turns the face towards image right
    pitch: float = 0.0  # in [-1, 1] units of MAX_PITCH; + looks up
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    light: float = 0.0  # light direction angle (radians); 0 = from above-front, + from the right
    noise: float = 0.0  # pixel noise std; the pattern is seeded from the non-expression factors
    seed: int = 0  # identity seed space
    roll: float = 0.0  # in units of MAX_ROLL; + turns the head clockwise in the image (0: every face before roll existed)

    def __post_init__(self):
        # plain Python types: equal factors must hash, compare and seed noise identically
        for name in ("identity", "expression", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("intensity", "yaw", "pitch", "light", "noise", "roll"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "background", tuple(float(c) for c in self.background))
        if len(self.background) != 3:
            raise ValueError(f"background must be an RGB triple, got {self.background}")
        if not 0 <= self.expression < N_EXPRESSIONS:
            raise ValueError(f"expression must be in 0..{N_EXPRESSIONS - 1}, got {self.expression}")

    def replace(self, **kw) -> "FaceFactors":
        return dataclasses.replace(self, **kw)

    def with_group(self, other: "FaceFactors", group: str) -> "FaceFactors":
        """This face with ``other``'s factors of one :data:`FACTOR_GROUPS` group, all else kept:
        the exact answer to "this face with that face's pose" (a person is its identity and seed)."""
        fields = FACTOR_GROUPS[group] + (("seed",) if group == "identity" else ())
        return self.replace(**{name: getattr(other, name) for name in fields})

    @property
    def expression_name(self) -> str:
        return EXPRESSION_NAMES[self.expression]


def _noise_seed(f: FaceFactors) -> int:
    """Noise depends on everything *except* expression/intensity.

    So an expression edit keeps the very same noise pattern and the rendered target of a swap
    is exact, noise included.
    """
    fields = (f.seed, f.identity, f.yaw, f.pitch, tuple(f.background), f.light, f.noise)
    if f.roll != 0.0:  # faces without roll keep the noise they had before roll existed
        fields += (f.roll,)
    key = repr(fields).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


# --------------------------------------------------------------------------------------------
# Layout: positions in "face units" (image half-size = 1, y down, relative to the head centre)
# --------------------------------------------------------------------------------------------

HEAD_Y = -0.04  # image y of the head centre
HEAD_HALF_WIDTH = 0.53
HEAD_TOP = 0.66  # head centre → crown
HEAD_BOTTOM = 0.70  # head centre → chin
FACE_DEPTH = 0.75  # flattening of the ellipsoid used for the pose warp
NORMAL_PAD = 0.06  # the shading ellipse is a bit larger than the head so hair is shaded too

EYE_Y = -0.01
EYE_OFFSET = 0.195  # eye centre distance from the midline
EYE_HALF_WIDTH = 0.105
EYE_UPPER = 0.046  # upper lid height at neutral (iris is slightly covered)
EYE_LOWER = 0.036
IRIS_R = 0.05
PUPIL_R = 0.022

BROW_Y = EYE_Y - 0.12
BROW_ARCH = 0.022
BROW_THICK = 0.042
BROW_RAISE = 0.085  # displacement at brow_raise = 1
BROW_INNER = 0.055  # inner-end displacement at |brow_inner| = 1

NOSE_Y = 0.21  # nostril line
NOSE_TOP = 0.03  # where the nose-side shadow starts

MOUTH_Y = 0.395
MOUTH_HALF_WIDTH = 0.145
MOUTH_CURVE = 0.075  # corner lift at lip_corner = 1
MOUTH_OPEN = 0.165  # total opening at mouth_open = 1
UPPER_LIP = 0.030
LOWER_LIP = 0.040
TEETH = 0.06
UPPER_LIP_RAISE = 0.075

NECK_HALF_WIDTH = 0.25
SHIRT_Y = 1.38  # centre of the shoulders ellipse
SHIRT_RX, SHIRT_RY = 1.05, 0.56

# Pixel boxes that bound each feature group in face coordinates (y-range, |X| extent); the
# pose moves them by at most a margin computed from the chunk's largest yaw/pitch. They only
# save work: outside its box a group has exactly zero coverage, so the pixels are identical
# whatever the box (tests check this against full-frame drawing).
BOX_SAFETY_PX = 2.0
SOCKET_BOX = ((-0.13, 0.05), 0.39)
CREASE_BOX = ((-0.36, 0.07), 0.21)  # forehead lines, frown lines, nose wrinkles
EYE_BOX = ((-0.13, 0.07), 0.36)
BROW_BOX = ((-0.34, 0.02), 0.39)
BLUSH_BOX = ((0.1, 0.24), 0.39)
NOSE_BOX = ((0.02, 0.28), 0.1)
FOLD_BOX = ((0.16, 0.49), 0.27)
MOUTH_BOX = ((0.17, 0.68), 0.26)
EAR_BOX = ((-0.28, 0.32), 1.0)

LIGHT_TILT = 0.8  # how far the light leans away from the viewing axis
AMBIENT, DIFFUSE = 0.42, 0.72

MOUTH_DARK = (0.24, 0.06, 0.07)
TEETH_COLOUR = (0.96, 0.94, 0.88)
SCLERA = (0.96, 0.95, 0.93)
LASH = (0.10, 0.07, 0.06)
PUPIL = (0.03, 0.03, 0.03)
BLUSH = (0.92, 0.42, 0.42)

def _hair(top, side, cut, hairline, drop, window=2.0, long=-9.0, curl=0.0, bun=0.0, alpha=1.0, part=0.0):
    """Geometry of one hair style (face units).

    top/side: thickness above/beside the head; cut: image-y (relative to the head centre) below
    which hair outside the face is absent; hairline: face-y of the forehead hairline; drop: how
    far it falls at the temples; part: how far it falls away from a centre parting; window:
    half-width (× head width) of the uncovered face when hair hangs beside it; long: bottom of
    hanging hair (-9 = none); curl: scalloped outline; bun: radius of a top knot; alpha: opacity
    (a buzz cut lets the scalp through).
    """
    return dict(top=top, side=side, cut=cut, hairline=hairline, drop=drop, window=window, long=long,
                curl=curl, bun=bun, alpha=alpha, part=part)


_HAIR_GEOMETRY = {
    "short": _hair(0.075, 0.035, cut=-0.06, hairline=-0.40, drop=0.30),
    "long": _hair(0.085, 0.075, cut=9.0, hairline=-0.44, drop=0.12, window=0.80, long=0.98, part=0.25),
    "buzz": _hair(0.018, 0.012, cut=-0.08, hairline=-0.42, drop=0.28, alpha=0.6),
    "bob": _hair(0.09, 0.085, cut=9.0, hairline=-0.27, drop=0.02, window=0.86, long=0.50),
    "side_part": _hair(0.13, 0.045, cut=-0.08, hairline=-0.41, drop=0.30),
    "curly": _hair(0.15, 0.14, cut=0.16, hairline=-0.37, drop=0.22, curl=1.0),
    "bun": _hair(0.04, 0.025, cut=-0.1, hairline=-0.42, drop=0.25, bun=0.15),
}


# --------------------------------------------------------------------------------------------
# Per-face scalar parameters (plain Python math: identical alone or in a batch)
# --------------------------------------------------------------------------------------------


def _light_vector(angle: float) -> tuple[float, float, float]:
    lx, ly, lz = math.sin(angle) * LIGHT_TILT, -math.cos(angle) * LIGHT_TILT, 1.0
    n = math.sqrt(lx * lx + ly * ly + lz * lz)
    return lx / n, ly / n, lz / n


def _rotation(yaw: float, pitch: float) -> list[list[float]]:
    """R = Ry(yaw) @ Rx(pitch): face surface point → image (x right, y down, z to viewer)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]]
    rx = [[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]]
    return [[sum(ry[i][k] * rx[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


_COLOURS = ("bg", "skin", "hair_col", "eye_col", "lip_col", "shirt", "brow_col")


def _face_params(f: FaceFactors) -> dict[str, float | tuple]:
    """All per-face numbers the pixel code needs, derived from identity, AUs, pose and style."""
    ident = identity_params(f.identity, f.seed)
    au_vec = f.intensity * _AU_TABLE[f.expression]
    au = {name: float(au_vec[i]) for name, i in _AU.items()}
    p: dict[str, float | tuple] = {}

    # style
    p["bg"] = tuple(float(c) for c in f.background)
    p["lx"], p["ly"], p["lz"] = _light_vector(f.light)
    roll = f.roll * MAX_ROLL
    p["roll_c"], p["roll_s"] = math.cos(roll), math.sin(roll)
    if roll != 0.0:  # the frame is turned by the roll; the light stays where it was in the image
        lx, ly = p["lx"], p["ly"]
        p["lx"], p["ly"] = p["roll_c"] * lx + p["roll_s"] * ly, -p["roll_s"] * lx + p["roll_c"] * ly

    # head and pose
    a = HEAD_HALF_WIDTH * ident.face_width
    b_bot = HEAD_BOTTOM * ident.face_length + 0.035 * au["mouth_open"]  # the jaw drops
    yaw, pitch = f.yaw * MAX_YAW, f.pitch * MAX_PITCH
    rot = _rotation(yaw, pitch)
    p.update(yaw=yaw, pitch=pitch, a=a, b_top=HEAD_TOP, b_bot=b_bot * (1.0 - 0.12 * math.sin(pitch)), jaw=ident.jaw)
    for i in range(3):
        for j in range(3):
            p[f"r{i}{j}"] = rot[j][i]  # inverse rotation = transpose
    p["chin_shift"] = 0.22 * a * math.sin(yaw)

    # ears: a surface point beside the head, slightly behind its widest point, projected
    for side, name in ((-1.0, "ear_l"), (1.0, "ear_r")):
        su, sv, sw = side * 1.02, 0.03 / HEAD_TOP, -0.25
        p[name + "x"] = (rot[0][0] * su + rot[0][1] * sv + rot[0][2] * sw * FACE_DEPTH) * a
    p["ear_y"] = HEAD_Y + (rot[1][1] * 0.03 / HEAD_TOP + rot[1][2] * -0.25 * FACE_DEPTH) * HEAD_TOP
    p["ear_rx"], p["ear_ry"] = 0.08 * ident.ear_size, 0.13 * ident.ear_size

    # hair
    g = _HAIR_GEOMETRY[HAIR_STYLES[ident.hair_style]]
    vol = ident.hair_volume
    p.update(
        hair_top=g["top"] * vol, hair_side=g["side"] * vol, hair_cut=g["cut"],
        hairline=g["hairline"], hair_drop=g["drop"], hair_window=g["window"] * a,
        hair_long=g["long"], hair_long_w=a + g["side"] * vol, curl=g["curl"], bun=g["bun"],
        hair_alpha=g["alpha"], hair_hangs=float(g["long"] > -1.0), hair_part=g["part"],
        hair_tilt=0.1 * ident.hair_flip if HAIR_STYLES[ident.hair_style] == "side_part" else 0.0,
    )
    hair = np.asarray(ident.hair_colour)
    skin = np.asarray(ident.skin)
    if g["alpha"] < 1.0:  # a buzz cut reads as hair mixed with scalp
        hair = hair * 0.8 + skin * 0.2
    p["hair_col"] = tuple(float(c) for c in hair)
    p["brow_col"] = tuple(float(c) for c in (hair * 0.7 + 0.02 if hair.mean() < 0.5 else hair * 0.55))
    p["skin"] = ident.skin
    p["eye_col"] = ident.eye_colour
    p["lip_col"] = ident.lip_colour
    p["shirt"] = ident.shirt_colour

    # eyes
    eo, cheek = au["eye_open"], au["cheek_raise"]
    p["es"] = EYE_OFFSET * ident.eye_spacing * (0.5 + 0.5 * ident.face_width)
    p["ew"] = EYE_HALF_WIDTH * ident.eye_size
    p["eu"] = EYE_UPPER * ident.eye_size * (1.0 + 0.8 * eo)
    p["el"] = EYE_LOWER * ident.eye_size * (1.0 + 0.3 * eo) - 0.022 * cheek
    p["iris"] = IRIS_R * ident.eye_size
    p["pupil"] = PUPIL_R * ident.eye_size * (1.0 + 0.15 * eo)

    # brows
    br, bi = au["brow_raise"], au["brow_inner"]
    p["bx"] = p["es"] + 0.01 - 0.03 * max(-bi, 0.0)
    p["bw"] = p["ew"] * 1.3
    p["by"] = BROW_Y + ident.brow_height - BROW_RAISE * br
    p["binner"] = BROW_INNER * bi
    p["bthick"] = BROW_THICK * ident.brow_thickness
    p["barch"] = BROW_ARCH * (1.0 - 0.5 * max(bi, 0.0))

    # nose
    nw = au["nose_wrinkle"]
    ns = ident.nose_size
    p["ny"] = NOSE_Y * (0.85 + 0.15 * ns) - 0.018 * nw
    p["nx"] = 0.042 * ident.nose_width * (1.0 + 0.25 * nw)
    p["nrx"], p["nry"] = 0.022 * ident.nose_width * (1.0 + 0.3 * nw), 0.012 * ns
    p["nside"] = 0.03 * ident.nose_width
    p["nose_shift"] = 0.06 * math.sin(yaw)  # the nose sticks out, so it moves further with yaw
    p["nshadow_l"] = 0.32 + 0.3 * p["lx"]  # shadow on the side away from the light
    p["nshadow_r"] = 0.32 - 0.3 * p["lx"]
    p["wrinkle"] = 0.75 * nw

    # mouth
    lc, mo, ms = au["lip_corner"], au["mouth_open"], au["mouth_stretch"]
    lp, ulr, sneer = au["lip_press"], au["upper_lip_raise"], au["sneer"]
    p["my"] = MOUTH_Y * (0.9 + 0.1 * ident.face_length) + 0.015 * mo
    p["mw"] = MOUTH_HALF_WIDTH * ident.mouth_width * (1.0 + 0.3 * ms + 0.1 * max(lc, 0.0) - 0.1 * lp)
    p["mcurve"] = MOUTH_CURVE * lc
    p["mtop"] = MOUTH_OPEN * 0.28 * mo
    p["mbot"] = MOUTH_OPEN * 0.72 * mo
    p["ulr"] = UPPER_LIP_RAISE * ulr
    p["sneer"] = sneer
    thin = (1.0 - 0.75 * lp) * (1.0 - 0.3 * max(lc, 0.0)) * ident.lip_fullness
    p["lip_u"] = UPPER_LIP * thin
    p["lip_l"] = LOWER_LIP * thin
    p["teeth"] = TEETH * au["teeth"]
    fold = 0.5 * max(lc, 0.0) + 0.3 * nw  # nasolabial folds deepen with smiles and sneers
    p["fold_l"] = min(fold + 0.4 * ulr * (1.0 - sneer), 0.75)
    p["fold_r"] = min(fold + 0.4 * ulr * (1.0 + 0.5 * sneer), 0.75)
    p["frown"] = 0.55 * max(-bi, 0.0)  # vertical creases between the brows
    p["forehead"] = 0.4 * max(br, 0.0)  # horizontal forehead lines
    p["blush"] = 0.1 + 0.2 * cheek
    return p


def _pack(params: list[dict]) -> dict[str, np.ndarray]:
    """Stack per-face dicts into float32 arrays: scalars (N, 1, 1), colours (N, 3, 1, 1)."""
    out = {}
    n = len(params)
    for key in params[0]:
        vals = np.array([q[key] for q in params], dtype=np.float32)
        out[key] = vals.reshape(n, 3, 1, 1) if key in _COLOURS else vals.reshape(n, 1, 1)
    return out


# --------------------------------------------------------------------------------------------
# Pixel helpers. d < 0 inside; px = pixel size in face units.
# --------------------------------------------------------------------------------------------


class _Canvas:
    """Premultiplied RGBA compositing target; ``over`` paints a layer with coverage ``a``.

    Channels come first, (N, 3, H, W): numpy is ~10x slower broadcasting a length-3 innermost
    axis. ``crop`` gives a view on a pixel box, so small features only touch their own pixels.
    """

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray | None = None, scratch: np.ndarray | None = None):
        self.rgb = rgb
        self.alpha = alpha
        self.scratch = np.empty_like(rgb) if scratch is None else scratch

    def crop(self, rows: slice, cols: slice) -> "_Canvas":
        alpha = None if self.alpha is None else self.alpha[:, rows, cols]
        return _Canvas(self.rgb[:, :, rows, cols], alpha, self.scratch[:, :, rows, cols])

    def over(self, a: np.ndarray, colour: np.ndarray, silhouette: bool = False):
        t = np.subtract(colour, self.rgb, out=self.scratch)
        t *= a[:, None]
        self.rgb += t
        if silhouette:
            self.alpha += a * (1.0 - self.alpha)


def _active(P: dict[str, np.ndarray], *keys: str) -> bool:
    """Whether any face in the chunk needs a layer driven by these parameters.

    A layer whose strength is 0 for every face is skipped. That is exact, not approximate:
    painting coverage 0 leaves a pixel bit-identical, so a face renders the same whether or
    not its chunk-mates needed the layer.
    """
    return any(bool(np.any(P[k])) for k in keys)


def _colour(rgb) -> np.ndarray:
    """A constant colour shaped to broadcast over (N, 3, H, W)."""
    return np.asarray(rgb, np.float32).reshape(1, 3, 1, 1)


def _cov(d: np.ndarray, inv_px: float) -> np.ndarray:
    """Coverage of the inside (d<0) of a shape, with a one-pixel linear ramp (anti-aliasing)."""
    c = 0.5 - d * inv_px
    return np.clip(c, 0.0, 1.0, out=c)


def _band(v: np.ndarray, lo, hi, half_px: float, inv_px: float) -> np.ndarray:
    """Exact box-filter coverage of the interval [lo, hi] by a pixel centred at ``v``.

    Works for intervals thinner than a pixel (thin lines get partial coverage) and an empty
    interval (lo >= hi) gives exactly zero, which keeps closed mouths closed.
    """
    c = np.minimum(hi, v + half_px)
    c -= np.maximum(lo, v - half_px)
    c *= inv_px
    return np.clip(c, 0.0, 1.0, out=c)


def _ellipse_d(dx, dy, rx, ry):
    """Approximate signed distance to an ellipse (exact for circles; fine for soft edges)."""
    qx, qy = dx / rx, dy / ry
    r = np.sqrt(qx * qx + qy * qy)
    return (r - 1.0) * np.minimum(rx, ry)


def _soft_blob(dx, dy, rx, ry):
    """A smooth 1 - r² falloff: blush and shadows without hard edges."""
    qx, qy = dx / rx, dy / ry
    c = 1.0 - (qx * qx + qy * qy)
    return np.clip(c, 0.0, 1.0, out=c)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


class _Frame:
    """Pixel grids and per-face parameters shared by the layer functions of one batch chunk."""

    def __init__(self, P: dict[str, np.ndarray], size: int):
        self.P = P
        self.size = size
        self.px = 2.0 / size
        self.half = self.px / 2
        self.inv = 1.0 / self.px
        g = ((np.arange(size, dtype=np.float32) + 0.5) * self.px - 1.0).astype(np.float32)
        self.x = g[None, None, :]  # image coordinates
        self.y = g[None, :, None]
        self.dx = self.x  # the head is centred horizontally
        self.dy = self.y - np.float32(HEAD_Y)
        self.max_roll = float(np.max(np.abs(np.arcsin(np.clip(P["roll_s"], -1.0, 1.0))))) if "roll_s" in P else 0.0
        if _active(P, "roll_s"):  # turn the whole frame about the head centre (a tilted camera)
            c, s = P["roll_c"], P["roll_s"]
            h = np.float32(HEAD_Y)
            # written so that a face without roll (c = 1, s = 0) gets its grids back bit for bit
            x = c * self.x + s * self.dy
            self.y = c * self.y - s * self.x + (1.0 - c) * h
            self.x = self.dx = x
            self.dy = self.y - h
        self._face_coords()

    _GRIDS = ("x", "y", "dx", "dy", "X", "Y", "Xa", "Yp", "Ym")

    def box(self, face_y: tuple[float, float], face_x: float) -> tuple[slice, slice]:
        """Pixel box holding every pixel whose face coordinates fall in ``face_y`` × ±``face_x``.

        Bounds the inverse warp ``u = cy·xs - sy·z``, ``v = sy·sp·xs + cp·ys + cy·sp·z``
        (0 <= z <= FACE_DEPTH) for the largest |yaw| and |pitch| in the chunk.
        """
        if not CROP:
            return slice(None), slice(None)
        P = self.P
        yaw, pitch = float(np.max(np.abs(P["yaw"]))), float(np.max(np.abs(P["pitch"])))
        cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
        a_max, b = float(np.max(P["a"])), HEAD_TOP
        u_max = face_x / float(np.min(P["a"]))
        v_max = max(abs(face_y[0]), abs(face_y[1])) / b
        xs_max = (u_max + sy * FACE_DEPTH) / cy
        mx = ((1.0 - cy) * xs_max + sy * FACE_DEPTH) * a_max
        my = ((1.0 - cp) * v_max + sy * sp * xs_max + sp * FACE_DEPTH) / cp * b
        pad = BOX_SAFETY_PX * self.px
        y0, y1 = face_y[0] + HEAD_Y - my - pad, face_y[1] + HEAD_Y + my + pad
        x0, x1 = -face_x - mx - pad, face_x + mx + pad
        if self.max_roll > 0:  # a roll moves a point at radius r about the head centre by at most 2r·sin(roll/2)
            r = math.hypot(max(abs(x0), abs(x1)), max(abs(y0 - HEAD_Y), abs(y1 - HEAD_Y)))
            grow = 2.0 * r * math.sin(min(self.max_roll, math.pi) / 2.0)
            x0, x1, y0, y1 = x0 - grow, x1 + grow, y0 - grow, y1 + grow
        to_px = lambda v: min(max(int(math.floor((v + 1.0) / self.px)), 0), self.size)  # noqa: E731
        return slice(to_px(y0), to_px(y1) + 1), slice(to_px(x0), to_px(x1) + 1)

    def crop(self, rows: slice, cols: slice) -> "_Frame":
        """A view of this frame restricted to a pixel box (broadcast axes stay as they are)."""
        sub = object.__new__(_Frame)
        sub.__dict__.update(self.__dict__)
        for name in self._GRIDS:
            arr = getattr(self, name)
            r = rows if arr.shape[-2] > 1 else slice(None)
            c = cols if arr.shape[-1] > 1 else slice(None)
            setattr(sub, name, arr[..., r, c])
        return sub

    def _face_coords(self):
        """Inverse pose warp: image pixel → point on the rotated head → frontal face coords."""
        P = self.P
        a, bt = P["a"], np.float32(HEAD_TOP)
        xs = self.dx / a
        ys = self.dy / bt
        zz = 1.0 - xs * xs - ys * ys
        z = np.sqrt(np.maximum(zz, 0.0)) * FACE_DEPTH
        u = P["r00"] * xs + P["r01"] * ys + P["r02"] * z
        v = P["r10"] * xs + P["r11"] * ys + P["r12"] * z
        self.X = u * a
        self.Y = v * bt
        self.Xa = np.abs(self.X)  # symmetric features are drawn once, mirrored
        self.Yp = self.Y + self.half  # pixel extent in Y, shared by every band along Y
        self.Ym = self.Y - self.half

    def band_y(self, lo, hi):
        c = np.minimum(hi, self.Yp)
        c -= np.maximum(lo, self.Ym)
        c *= self.inv
        return np.clip(c, 0.0, 1.0, out=c)


def _neck_half_width(P):
    return NECK_HALF_WIDTH * (0.7 + 0.3 * P["a"] / HEAD_HALF_WIDTH)


def _draw_body(fr: _Frame, img: _Canvas):
    """Neck and shoulders (behind the head, flat-shaded: they are not part of the head ellipse)."""
    P = fr.P
    neck_w = _neck_half_width(P)
    neck = _cov(np.abs(fr.x) - neck_w, fr.inv) * _cov(0.2 - fr.dy, fr.inv)
    img.over(neck, P["skin"] * 0.72)
    shirt = _cov(_ellipse_d(fr.x, fr.y - SHIRT_Y, SHIRT_RX, SHIRT_RY), fr.inv)
    collar = _cov(_ellipse_d(fr.x, fr.y - (SHIRT_Y - SHIRT_RY), neck_w * 1.1, 0.09), fr.inv)
    img.over(shirt * (1.0 - collar), P["shirt"] * 0.9)


def _head_shape(fr: _Frame):
    """Signed distance of the head outline: ellipse with a jaw taper and a pose-shifted chin."""
    P = fr.P
    below = fr.dy > 0
    b = np.where(below, P["b_bot"], P["b_top"])
    yn = fr.dy / b
    low = np.maximum(yn, 0.0)
    low2 = low * low
    a_eff = P["a"] * (1.0 + P["jaw"] * low2)
    dx = fr.dx - P["chin_shift"] * low2
    xn = dx / a_eff
    r2 = xn * xn + yn * yn
    grad = np.sqrt(xn * xn / (a_eff * a_eff) + yn * yn / (b * b)) * 2.0 + 1e-6
    return (r2 - 1.0) / grad


def _curls(qx, qy, r):
    """cos(16·angle) of the point (qx, qy) at radius r, by repeated complex squaring (no trig)."""
    inv = 1.0 / (r + 1e-6)
    c, s = qx * inv, qy * inv
    for _ in range(4):
        c, s = c * c - s * s, 2.0 * c * s
    return c


def _hair_region(fr: _Frame):
    """Coverage of the hair mass (in image space: the outline does not rotate with the face)."""
    P = fr.P
    cy = -0.5 * P["hair_top"]
    rx = P["a"] + P["hair_side"]
    ry = P["b_top"] + 0.5 * P["hair_top"]
    qx, qy = fr.dx / rx, (fr.dy - cy) / ry
    r = np.sqrt(qx * qx + qy * qy)
    d = (r - 1.0) * np.minimum(rx, ry)
    if _active(P, "curl"):
        d += P["curl"] * (0.022 * _curls(qx, qy, r) - 0.01)  # curly hair: a scalloped outline
    hair = _cov(d, fr.inv) * _cov(fr.dy - P["hair_cut"], fr.inv)
    if _active(P, "hair_hangs"):  # long hair and bobs hang down beside the face
        hang = _cov(np.maximum(np.abs(fr.dx) - P["hair_long_w"], fr.dy - P["hair_long"]), fr.inv)
        hang *= _cov(-0.1 - fr.dy, fr.inv)
        neck = _cov(np.abs(fr.dx) - _neck_half_width(P) * 1.05, fr.inv) * _cov(0.3 - fr.dy, fr.inv)
        hang *= 1.0 - neck  # long hair falls behind the neck, not in front of it
        hair = np.maximum(hair, hang)
    if _active(P, "bun"):
        bun_r = P["bun"] + 1e-3  # radius 0 = no bun (the 1e-3 guard keeps the division finite)
        bun_d = _ellipse_d(fr.dx, fr.dy + P["b_top"] + P["hair_top"] + 0.6 * bun_r, bun_r, bun_r)
        hair = np.maximum(hair, _cov(bun_d, fr.inv) * (P["bun"] > 0))
    return hair


def _hair_window(fr: _Frame):
    """Where the face shows through the hair: below the hairline and between hanging locks."""
    P = fr.P
    q = fr.X / P["a"]
    q2 = q * q
    line = P["hairline"] + P["hair_drop"] * q2 * q2 + P["hair_tilt"] * q + P["hair_part"] * np.abs(q)
    below = _cov(line - fr.Y, fr.inv)
    dy = fr.Y - 0.1  # hanging locks follow the cheeks: the window narrows towards the chin
    inside = _cov(fr.Xa - P["hair_window"] * (1.0 - dy * dy), fr.inv)
    return below * inside


def _draw_ears(fr: _Frame, head: _Canvas):
    P = fr.P
    left = fr.dx < 0
    ex = np.where(left, P["ear_lx"], P["ear_rx"])
    ddx = fr.dx - ex
    ddy = fr.dy - (P["ear_y"] - HEAD_Y)
    ear = _cov(_ellipse_d(ddx, ddy, P["ear_rx"], P["ear_ry"]), fr.inv)
    head.over(ear, P["skin"], silhouette=True)
    inner = _soft_blob(ddx, ddy - 0.01, P["ear_rx"] * 0.55, P["ear_ry"] * 0.6)
    head.over(inner * 0.45, P["skin"] * 0.6)


def _draw_sockets(fr: _Frame, head: _Canvas):
    """A soft shadow around each eye gives the face depth."""
    P = fr.P
    socket = _soft_blob(fr.Xa - P["es"], fr.Y - (EYE_Y - 0.03), P["ew"] * 1.35, 0.085)
    head.over(socket * 0.22, P["skin"] * 0.75)


def _draw_creases(fr: _Frame, head: _Canvas):
    """Expression creases of the upper face: nose wrinkles, frown lines, forehead lines."""
    P = fr.P
    X, Xa = fr.X, fr.Xa
    skin = P["skin"]
    if _active(P, "wrinkle"):  # nose wrinkle: short curved creases across the bridge
        xw = _cov(Xa - 0.05, fr.inv) * P["wrinkle"]
        curve = 8.0 * X * X
        lines = np.maximum(fr.band_y(curve - 0.007, curve + 0.007), fr.band_y(curve + 0.028, curve + 0.042))
        head.over(lines * xw, skin * 0.55)
    if _active(P, "frown"):  # two short vertical creases between the brows
        frown = _band(Xa, 0.02, 0.034, fr.half, fr.inv) * fr.band_y(BROW_Y - 0.03, BROW_Y + 0.06)
        head.over(frown * P["frown"], skin * 0.6)
    if _active(P, "forehead"):  # raised brows fold the forehead
        xl = _cov(Xa - 0.2, fr.inv) * P["forehead"]
        curve = 0.5 * X * X + (BROW_Y - 0.14)
        lines = np.maximum(fr.band_y(curve - 0.007, curve + 0.007), fr.band_y(curve - 0.057, curve - 0.043))
        head.over(lines * xl, skin * 0.7)


def _draw_blush(fr: _Frame, head: _Canvas):
    P = fr.P
    blush = _soft_blob(fr.Xa - (P["es"] + 0.06), fr.Y - 0.17, 0.1, 0.065)
    head.over(blush * P["blush"], _colour(BLUSH) * 0.5 + P["skin"] * 0.5)


def _draw_nose(fr: _Frame, head: _Canvas):
    """Side shadow (stronger away from the light), shadow under the tip, nostrils."""
    P = fr.P
    Y = fr.Y
    skin = P["skin"]
    t = (Y - NOSE_TOP) / (P["ny"] - NOSE_TOP)
    t = np.clip(t, 0.0, 1.0)
    X = fr.X - P["nose_shift"] * (0.3 + 0.7 * t)  # the tip protrudes most
    Xa = np.abs(X)
    xc = P["nside"] * (0.6 + 0.9 * t * t)
    side_a = np.where(X < 0, P["nshadow_l"], P["nshadow_r"])
    side = _band(Xa, xc - 0.006, xc + 0.012, fr.half, fr.inv) * fr.band_y(NOSE_TOP, P["ny"])
    head.over(side * side_a, skin * 0.6)
    under = _soft_blob(X, Y - (P["ny"] + 0.03), P["nx"] * 1.5, 0.03)
    head.over(under * 0.35, skin * 0.65)
    nostril = _cov(_ellipse_d(Xa - P["nx"], Y - P["ny"], P["nrx"], P["nry"]), fr.inv)
    head.over(nostril * 0.75, skin * 0.35)


def _draw_folds(fr: _Frame, head: _Canvas):
    """Nasolabial folds, from the nostril wing down and out to the mouth corner."""
    P = fr.P
    if not _active(P, "fold_l", "fold_r"):
        return
    X, Xa, Y = fr.X, fr.Xa, fr.Y
    y0 = P["ny"] - 0.01
    y1 = P["my"] - 0.5 * P["mcurve"] + 0.03
    s = np.clip((Y - y0) / (y1 - y0), 0.0, 1.0)
    xf = P["nx"] + P["nrx"] + 0.02 + (P["mw"] + 0.03 - P["nx"] - P["nrx"] - 0.02) * s * (2.0 - s)
    fold = _band(Xa, xf - 0.012, xf + 0.012, fr.half, fr.inv) * fr.band_y(y0, y1)
    head.over(fold * np.where(X < 0, P["fold_l"], P["fold_r"]), P["skin"] * 0.62)


def _draw_mouth(fr: _Frame, head: _Canvas):
    """Lips around a (possibly) open mouth whose centre line bends with the lip corners."""
    P = fr.P
    X = fr.X
    t = X / P["mw"]
    t2 = np.minimum(t * t, 1.0)
    prof = np.sqrt(1.0 - t2)  # elliptic opening profile: round "O" when the mouth is narrow
    xcov = _cov((np.abs(t) - 1.0) * P["mw"], fr.inv)
    centre = P["my"] - P["mcurve"] * t2
    # upper-lip raise: even across the lip, or (sneer) a tent lifted on the right side only
    tent = 1.0 - (t - 0.4) * (t - 0.4) * 2.2
    tent = np.maximum(tent, 0.0)
    raise_ = P["ulr"] * (prof + P["sneer"] * (tent - prof))
    centre = centre - 0.5 * P["ulr"] * P["sneer"] * np.maximum(t, 0.0) * t2
    top = centre - P["mtop"] * prof - raise_
    bot = centre + P["mbot"] * prof
    lip_shape = 0.45 + 0.55 * prof
    lips = fr.band_y(top - P["lip_u"] * lip_shape, bot + P["lip_l"] * lip_shape) * xcov
    head.over(lips, P["lip_col"])
    shade = fr.band_y(bot, bot + P["lip_l"] * lip_shape * 0.4) * xcov  # lower lip inner edge
    head.over(shade * 0.25, P["lip_col"] * 0.7)
    line = fr.band_y(centre - 0.008, centre + 0.008) * xcov
    head.over(line * 0.7, P["lip_col"] * 0.45)
    if not _active(P, "mtop", "mbot", "ulr"):
        return  # every mouth in the chunk is closed
    inside = fr.band_y(top, bot) * xcov
    head.over(inside, _colour(MOUTH_DARK))
    if _active(P, "teeth"):
        teeth = fr.band_y(top, np.minimum(top + P["teeth"] * prof, bot)) * _cov(np.abs(t) - 0.9, 12.0)
        head.over(teeth * inside, _colour(TEETH_COLOUR))


def _draw_eyes(fr: _Frame, head: _Canvas):
    """Almond-shaped eyes: lids bound the white, iris and pupil; a lash line defines the shape."""
    P = fr.P
    Xa, Y = fr.Xa, fr.Y
    ex = Xa - P["es"]
    t = ex / P["ew"]
    t2 = np.minimum(t * t, 1.0)
    arc = 1.0 - t2
    upper = EYE_Y - P["eu"] * arc
    lower = EYE_Y + P["el"] * arc
    xcov = _cov(np.abs(ex) - P["ew"], fr.inv)
    white = fr.band_y(upper, lower) * xcov
    head.over(white, _colour(SCLERA))
    dy = Y - (EYE_Y - 0.004)
    iris = _cov(_ellipse_d(ex - 0.004, dy, P["iris"], P["iris"]), fr.inv) * white
    head.over(iris, P["eye_col"])
    pupil = _cov(_ellipse_d(ex - 0.004, dy, P["pupil"], P["pupil"]), fr.inv) * white
    head.over(pupil, _colour(PUPIL))
    glint = _cov(_ellipse_d(ex + 0.012, dy + 0.014, 0.012, 0.012), fr.inv) * white
    head.over(glint * 0.8, _colour(SCLERA))
    lash_x = _cov(np.abs(ex) - P["ew"] * 1.08, fr.inv)
    lash = fr.band_y(upper - 0.018, upper + 0.004) * lash_x
    head.over(lash * 0.92, _colour(LASH))
    low = fr.band_y(lower - 0.003, lower + 0.009) * xcov
    head.over(low * 0.35, P["skin"] * 0.45)


def _draw_brows(fr: _Frame, head: _Canvas):
    """Tapered brows: raise moves them up, inner-up tilts them (worry), inner-down makes a V."""
    P = fr.P
    t = (fr.Xa - P["bx"]) / P["bw"]  # -1 inner end, +1 outer end
    tc = np.clip(t, -1.0, 1.0)
    inner = 0.5 * (1.0 - tc)
    mid = P["by"] - P["barch"] * (1.0 - tc * tc) - P["binner"] * inner
    th = P["bthick"] * (0.55 + 0.45 * inner)
    xcov = _cov((np.abs(t) - 1.0) * P["bw"], fr.inv)
    brow = fr.band_y(mid - th * 0.5, mid + th * 0.5) * xcov
    head.over(brow, P["brow_col"])


def _shade(fr: _Frame) -> np.ndarray:
    """Lambertian pseudo-normal from the head ellipse: a cheap, convincing sense of volume."""
    P = fr.P
    nx = fr.dx / (P["a"] + NORMAL_PAD)
    ny = fr.dy / (P["b_top"] + NORMAL_PAD)
    r2 = nx * nx + ny * ny
    nz = np.sqrt(np.maximum(1.0 - r2, 0.0))
    rim = 1.0 / np.sqrt(np.maximum(r2, 1.0))  # outside the ellipse the normal lies flat
    ndl = (nx * P["lx"] + ny * P["ly"]) * rim + nz * P["lz"]
    return AMBIENT + DIFFUSE * np.clip(ndl, 0.0, 1.0)


_FEATURE_LAYERS = (
    (_draw_blush, BLUSH_BOX),
    (_draw_sockets, SOCKET_BOX),
    (_draw_nose, NOSE_BOX),
    (_draw_folds, FOLD_BOX),
    (_draw_creases, CREASE_BOX),
    (_draw_mouth, MOUTH_BOX),
    (_draw_eyes, EYE_BOX),
    (_draw_brows, BROW_BOX),
)


def _render_chunk(P: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Render a chunk of faces to float32 RGB in [0, 1], channels first (N, 3, H, W)."""
    fr = _Frame(P, size)
    n = P["a"].shape[0]
    img = _Canvas(np.broadcast_to(P["bg"], (n, 3, size, size)).copy())
    body_rows = slice(int((HEAD_Y + 0.15 + 1.0) / fr.px), size) if fr.max_roll == 0 else slice(None)
    _draw_body(fr.crop(body_rows, slice(None)), img.crop(body_rows, slice(None)))

    head = _Canvas(np.zeros((n, 3, size, size), np.float32), alpha=np.zeros((n, size, size), np.float32))
    hair = _hair_region(fr) * P["hair_alpha"]
    head.over(hair, P["hair_col"] * 0.8, silhouette=True)  # back of the hair: a bit darker
    rows, _ = fr.box(*EAR_BOX)
    _draw_ears(fr.crop(rows, slice(None)), head.crop(rows, slice(None)))
    head.over(_cov(_head_shape(fr), fr.inv), P["skin"], silhouette=True)
    for layer, box in _FEATURE_LAYERS:  # back to front, each inside its own pixel box
        rows, cols = fr.box(*box)
        layer(fr.crop(rows, cols), head.crop(rows, cols))
    head.over(hair * (1.0 - _hair_window(fr)), P["hair_col"])

    shade = _shade(fr)
    out = img.rgb
    out *= (1.0 - head.alpha)[:, None]
    head.rgb *= shade[:, None]
    out += head.rgb
    return out


# --------------------------------------------------------------------------------------------
# Public rendering API
# --------------------------------------------------------------------------------------------

CROP = True  # draw small features inside their pixel boxes only (a pure speed-up)
_CHUNK = 32  # faces per vectorised chunk: big enough to amortise numpy overhead, small for cache


def _render_order(fs: list[FaceFactors]) -> list[int]:
    """Order faces by hair style, then expression, so that chunks are homogeneous.

    Layers no face in a chunk needs (curls, buns, an open mouth, creases) are skipped, so
    similar faces rendered together are cheaper; the pixels do not depend on the grouping.
    """
    return sorted(range(len(fs)), key=lambda i: (identity_params(fs[i].identity, fs[i].seed).hair_style,
                                                  fs[i].expression, fs[i].intensity == 0.0))


def render_batch(fs: Sequence[FaceFactors], size: int = 64) -> np.ndarray:
    """Render many faces, vectorised over pixels and faces; uint8 (N, size, size, 3)."""
    fs = list(fs)
    out = np.empty((len(fs), size, size, 3), np.uint8)
    order = _render_order(fs)
    for start in range(0, len(fs), _CHUNK):
        idx = order[start : start + _CHUNK]
        chunk = [fs[i] for i in idx]
        rgb = _render_chunk(_pack([_face_params(f) for f in chunk]), size)  # (n, 3, H, W)
        for i, f in enumerate(chunk):
            if f.noise > 0:
                rng = np.random.default_rng(_noise_seed(f))
                rgb[i] += np.float32(f.noise) * rng.standard_normal((3, size, size), dtype=np.float32)
        rgb *= 255.0
        rgb += 0.5
        np.clip(rgb, 0.0, 255.0, out=rgb)
        # float → uint8 truncates; the +0.5 above makes it round to nearest
        out[idx] = rgb.astype(np.uint8).transpose(0, 2, 3, 1)
    return out


def _render_block(args: tuple[list[FaceFactors], int]) -> np.ndarray:
    fs, size = args
    return render_batch(fs, size)


def render_workers(n_faces: int) -> int:
    """Processes for rendering ``n_faces``: ``$FACELAB_RENDER_WORKERS`` if set, else one per core
    (at most 16) for big sets, where a single process would keep a many-core machine waiting
    minutes before training starts, and 1 for small ones, where starting processes costs more."""
    env = os.environ.get("FACELAB_RENDER_WORKERS")
    if env:
        return max(1, int(env))
    return min(os.cpu_count() or 1, 16) if n_faces >= _PARALLEL_FROM else 1


_PARALLEL_FROM = 8192


def render_many(fs: Sequence[FaceFactors], size: int = 64, desc: str | None = None,
                workers: int | None = None) -> np.ndarray:
    """:func:`render_batch` in blocks, with a progress bar when ``desc`` is given, spread over
    ``workers`` processes (default :func:`render_workers`). The pixels are the same either way."""
    fs = list(fs)
    out = np.empty((len(fs), size, size, 3), np.uint8)
    workers = render_workers(len(fs)) if workers is None else workers
    block = 256 if workers == 1 else 1024
    starts = list(range(0, len(fs), block))
    bar = None
    if desc is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(fs), desc=desc, unit="face")
    jobs = ((fs[s : s + block], size) for s in starts)
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: the parent may hold torch's thread pools, which a fork would copy half-initialised
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_render_block, jobs)
    else:
        pool, results = None, map(_render_block, jobs)
    try:
        for start, images in zip(starts, results):
            out[start : start + len(images)] = images
            if bar is not None:
                bar.update(len(images))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    return out


def render_cached(fs: Sequence[FaceFactors], size: int = 64, desc: str | None = None,
                  cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """:func:`render_many`, kept on disk under a digest of the factors (as :class:`SyntheticFaces`
    keeps its images). Why: every training process of a multi-step recipe renders the same swap
    targets again, about 2.5 min on 2 cores each time, outside the stages' clocks."""
    fs = list(fs)
    key = repr((RENDER_VERSION, size, [dataclasses.astuple(f) for f in fs]))
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"renders-v{RENDER_VERSION}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npy"
    if path.exists():
        try:
            images = np.load(path)
        except (OSError, ValueError):  # unreadable: render again and overwrite it
            images = None
        if images is not None and images.shape == (len(fs), size, size, 3) and images.dtype == np.uint8:
            mark_used(path)
            return images
    images = render_many(fs, size, desc)
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, images)
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written file
    mark_used(path)
    prune_renders(root)  # older draws, least recently used first ($FACELAB_RENDERS_LIMIT_GB)
    return images


def render(f: FaceFactors, size: int = 64) -> np.ndarray:
    """Render one face; uint8 (size, size, 3). Identical to its row in :func:`render_batch`."""
    return render_batch([f], size)[0]


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------

NOISE_MAX = 0.04
LIGHT_MAX = 1.1  # radians either side of "from above"
BACKGROUND_RANGE = (0.1, 0.9)


def pose_ranges(pose_range: float = 0.0, pitch_range: float = 0.0, roll_range: float = 0.0) -> tuple[float, float, float]:
    """Half-ranges in degrees (yaw, pitch, roll) that :func:`sample_factors` draws poses from.

    ``pose_range`` 0 is the generator's own ±25° yaw; a pitch range of 0 follows the yaw range at
    the generator's ratio (15/25: ±15° by default, ±21° at ``pose_range=35``); roll is off unless
    ``roll_range`` is given."""
    if min(pose_range, pitch_range, roll_range) < 0:
        raise ValueError(f"pose ranges must be >= 0, got {pose_range}, {pitch_range}, {roll_range}")
    yaw = pose_range or math.degrees(MAX_YAW)
    pitch = pitch_range or yaw * math.degrees(MAX_PITCH) / math.degrees(MAX_YAW)
    return yaw, pitch, float(roll_range)


_DEFAULT_POSE = pose_ranges()


def _sample_nuisance(rng: np.random.Generator, pose: tuple[float, float, float] = _DEFAULT_POSE) -> dict:
    out = dict(
        yaw=float(rng.uniform(-1.0, 1.0)),
        pitch=float(rng.uniform(-1.0, 1.0)),
        background=tuple(float(c) for c in rng.uniform(*BACKGROUND_RANGE, 3)),
        light=float(rng.uniform(-LIGHT_MAX, LIGHT_MAX)),
        noise=float(rng.uniform(0.0, NOISE_MAX)),
    )
    if pose != _DEFAULT_POSE:  # wider (or narrower) poses: the same draws, scaled; roll drawn last
        out["yaw"] *= pose[0] / math.degrees(MAX_YAW)
        out["pitch"] *= pose[1] / math.degrees(MAX_PITCH)
        if pose[2] > 0:
            out["roll"] = float(rng.uniform(-1.0, 1.0)) * pose[2] / math.degrees(MAX_ROLL)
    return out


def sample_factors(
    n: int,
    identities: Sequence[int],
    rng: np.random.Generator | int,
    nuisance: bool = True,
    expressions: Sequence[int] = range(N_EXPRESSIONS),
    min_intensity: float = 0.0,
    balanced: bool = False,
    seed: int = 0,
    pose: tuple[float, float, float] | None = None,
) -> list[FaceFactors]:
    """Draw ``n`` factor sets.

    Identity and expression are uniform over the given lists (``balanced=True`` instead tiles
    the expressions evenly in a shuffled order, keeping classes balanced per call). Neutral
    samples get intensity 0 and the others a uniform intensity in ``[min_intensity, 1]``.
    ``nuisance=False`` gives frontal faces on a grey background, fixed light, no noise.
    ``seed`` is the identity seed space written into every factor set. ``pose`` gives the
    (yaw, pitch, roll) half-ranges in degrees (:func:`pose_ranges`; default: the generator's own
    ±25°/±15°/no roll, drawn exactly as before the option existed).
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    identities, expressions = list(identities), list(expressions)
    if balanced:
        reps = -(-n // len(expressions))
        expr_seq = rng.permutation(np.tile(expressions, reps)[:n])
    else:
        expr_seq = rng.choice(expressions, size=n)
    out = []
    for k in range(n):
        ident = identities[int(rng.integers(len(identities)))]
        expr = int(expr_seq[k])
        intensity = 0.0 if expr == 0 else float(rng.uniform(min_intensity, 1.0))
        extra = _sample_nuisance(rng, pose or _DEFAULT_POSE) if nuisance else {}
        out.append(FaceFactors(identity=int(ident), expression=expr, intensity=intensity, seed=seed, **extra))
    return out


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


class SyntheticFaces(_TorchDataset):
    """Rendered faces with full labels, rendered once and cached as a compressed ``.npz``.

    ``identities`` is a count (``range(n)``) or an explicit list, e.g. ``range(10_000, 10_050)``
    for held-out people. Each identity gets ``per_identity`` samples with expressions balanced.
    ``seed`` drives the sampling of expressions, intensities and nuisances; identities are
    the same people in every dataset (identity seed space ``identity_seed``).

    Opt-in options (their defaults leave the factors, pixels and cache files exactly as they were):
    ``pose_range``/``pitch_range``/``roll_range`` widen the sampled poses (half-ranges in degrees,
    :func:`pose_ranges`; e.g. ``--data synthetic:...,pose_range=35,roll_range=15``), and
    ``factor_labels=True`` adds ``pose`` (yaw, pitch, roll in degrees), ``style`` (background
    r, g, b, light angle in radians, noise std) and ``roll`` to every item (:func:`factor_labels`).
    """

    def __init__(
        self,
        identities: Sequence[int] | int = 64,
        per_identity: int = 28,
        size: int = 64,
        seed: int = 0,
        nuisance: bool = True,
        with_neutral: bool = True,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
        identity_seed: int = 0,
        min_intensity: float = 0.0,
        pose_range: float = 0.0,
        pitch_range: float = 0.0,
        roll_range: float = 0.0,
        factor_labels: bool = False,
    ):
        ids = list(range(identities)) if isinstance(identities, int) else [int(i) for i in identities]
        self.identities = ids
        self.size = size
        self.with_neutral = with_neutral
        self.factor_labels = bool(factor_labels)
        self.pose_ranges = pose_ranges(pose_range, pitch_range, roll_range)
        rng = np.random.default_rng([0xDA7A, seed])
        self.factors: list[FaceFactors] = []
        for ident in ids:
            self.factors += sample_factors(
                per_identity, [ident], rng, nuisance=nuisance, balanced=True,
                min_intensity=min_intensity, seed=identity_seed, pose=self.pose_ranges,
            )

        key = dict(
            version=RENDER_VERSION, identities=ids, per_identity=per_identity, size=size, seed=seed,
            nuisance=nuisance, with_neutral=with_neutral, identity_seed=identity_seed,
            min_intensity=min_intensity,
        )
        if self.pose_ranges != _DEFAULT_POSE:  # only then: default sets keep their cache files
            key["pose"] = list(self.pose_ranges)
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.cache_path = root / f"synthetic-v{RENDER_VERSION}-{digest}.npz"

        if not self._load():
            self.images, self.neutral = self._render_all(progress)
            self._save()

    def _load(self) -> bool:
        """Use the cached pixels when present and of the expected shape."""
        if not self.cache_path.exists():
            return False
        with np.load(self.cache_path) as data:
            images = data["images"]
            neutral = data["neutral"] if self.with_neutral and "neutral" in data else None
        if images.shape != (len(self.factors), self.size, self.size, 3) or (self.with_neutral and neutral is None):
            return False  # a stale or foreign file: render again and overwrite it
        self.images, self.neutral = images, neutral
        return True

    def _render_all(self, progress: bool):
        jobs = list(self.factors)
        if self.with_neutral:  # neutral targets: only faces not already neutral need a render
            neutral_of = {f: f.replace(expression=0, intensity=0.0) for f in self.factors}
            known = set(self.factors)
            jobs += list(dict.fromkeys(g for g in neutral_of.values() if g not in known))
        images = render_many(jobs, self.size, desc="render synthetic faces" if progress else None)
        n = len(self.factors)
        if self.with_neutral:
            where = {f: i for i, f in enumerate(jobs)}
            neutral_index = np.array([where[neutral_of[f]] for f in self.factors])
            return images[:n], images[neutral_index]
        return images[:n], None

    def _save(self):
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(f".tmp{os.getpid()}.npz")
        arrays = {"images": self.images}
        if self.neutral is not None:
            arrays["neutral"] = self.neutral
        np.savez(tmp, **arrays)  # uncompressed: renders compress to ~60 %, and zlib took a minute on big sets
        os.replace(tmp, self.cache_path)  # atomic: a crash never leaves a half-written cache

    def __len__(self) -> int:
        return len(self.factors)

    @staticmethod
    def _to_tensor(img: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)

    def __getitem__(self, i: int) -> dict:
        f = self.factors[i]
        item = {
            "image": self._to_tensor(self.images[i]),
            "identity": f.identity,
            "expression": f.expression,
            "intensity": f.intensity,
            "yaw": f.yaw,
            "pitch": f.pitch,
        }
        if self.with_neutral:
            item["target"] = self._to_tensor(self.neutral[i])
        if self.factor_labels:
            item.update(factor_item(f))
        return item

    def labels(self) -> dict[str, np.ndarray]:
        """Per-sample ground truth as arrays, for metrics and plots."""
        fs = self.factors
        physical = factor_labels(fs)
        return {
            "identity": np.array([f.identity for f in fs], dtype=np.int64),
            "expression": np.array([f.expression for f in fs], dtype=np.int64),
            "intensity": np.array([f.intensity for f in fs], dtype=np.float32),
            "yaw": np.array([f.yaw for f in fs], dtype=np.float32),
            "pitch": np.array([f.pitch for f in fs], dtype=np.float32),
            "light": np.array([f.light for f in fs], dtype=np.float32),
            "noise": np.array([f.noise for f in fs], dtype=np.float32),
            "seed": np.array([f.seed for f in fs], dtype=np.int64),
            "background": np.array([f.background for f in fs], dtype=np.float32).reshape(-1, 3),
            "roll": np.array([f.roll for f in fs], dtype=np.float32),
            "pose": physical["pose"],  # (N, 3) yaw, pitch, roll in degrees
            "style": physical["style"],  # (N, 5) background r, g, b, light, noise
        }


# --------------------------------------------------------------------------------------------
# Labels in physical units, and where the five landmarks land
# --------------------------------------------------------------------------------------------

STYLE_FIELDS = ("background_r", "background_g", "background_b", "light", "noise")  # columns of ``style``


def factor_labels(factors: Sequence[FaceFactors]) -> dict[str, np.ndarray]:
    """Per-sample labels of the factors in physical units: ``yaw``/``pitch``/``roll`` in degrees,
    ``pose`` (N, 3) = (yaw, pitch, roll) in degrees, ``background`` (N, 3) RGB in [0, 1], ``light``
    (radians), ``noise`` (std), ``style`` (N, 5) = (background r, g, b, light, noise)
    (:data:`STYLE_FIELDS`), ``identity``, ``expression`` and ``intensity``. The groups are
    :data:`FACTOR_GROUPS`."""
    fs = list(factors)
    deg = (math.degrees(MAX_YAW), math.degrees(MAX_PITCH), math.degrees(MAX_ROLL))
    pose = np.array([(f.yaw * deg[0], f.pitch * deg[1], f.roll * deg[2]) for f in fs], dtype=np.float32).reshape(-1, 3)
    background = np.array([f.background for f in fs], dtype=np.float32).reshape(-1, 3)
    light = np.array([f.light for f in fs], dtype=np.float32)
    noise = np.array([f.noise for f in fs], dtype=np.float32)
    return {
        "identity": np.array([f.identity for f in fs], dtype=np.int64),
        "expression": np.array([f.expression for f in fs], dtype=np.int64),
        "intensity": np.array([f.intensity for f in fs], dtype=np.float32),
        "yaw": pose[:, 0], "pitch": pose[:, 1], "roll": pose[:, 2], "pose": pose,
        "background": background, "light": light, "noise": noise,
        "style": np.concatenate([background, light[:, None], noise[:, None]], axis=1),
    }


def factor_item(f: FaceFactors) -> dict:
    """The extra item keys of ``SyntheticFaces(factor_labels=True)``: ``pose`` (3,) in degrees,
    ``style`` (5,), ``roll`` (units of MAX_ROLL, like ``yaw``/``pitch``)."""
    labels = factor_labels([f])
    return {"pose": torch.from_numpy(labels["pose"][0]), "style": torch.from_numpy(labels["style"][0]), "roll": f.roll}


# The five points MTCNN reports, in its order: left eye, right eye (as seen in the image), nose tip,
# left and right mouth corner. Face coordinates (x right, y down, relative to the head centre) of
# each, from the same per-face parameters the renderer draws with.
def _landmarks_face(p: dict) -> list[tuple[float, float]]:
    es = p["es"] + 0.004  # the iris sits 0.004 outwards of the eye's centre line
    mouth_y = p["my"] - p["mcurve"]  # the mouth's centre line at the corners
    return [(-es, EYE_Y), (es, EYE_Y), (p["nose_shift"], p["ny"]), (-p["mw"], mouth_y), (p["mw"], mouth_y)]


def landmarks(f: FaceFactors, size: int = 64) -> np.ndarray:
    """Where the eye centres, nose tip and mouth corners of ``f`` land in its render: (5, 2) pixel
    coordinates (x right, y down; pixel centres at k + 0.5) in MTCNN's order.

    The renderer draws features in face coordinates and finds, for every pixel, the face point
    seen there (an inverse warp through a flattened ellipsoid); this runs that warp forwards:
    the point on the front of the ellipsoid whose inverse rotation gives the feature's face
    coordinates, then the roll about the head centre."""
    p = _face_params(f)
    rot = _rotation(p["yaw"], p["pitch"])
    a, bt = p["a"], HEAD_TOP
    out = []
    for fx, fy in _landmarks_face(p):
        u, v = fx / a, fy / bt
        # image-frame point q = rot @ (u, v, w) on the ellipsoid x² + y² + (z / FACE_DEPTH)² = 1, front side
        cx = [rot[i][0] * u + rot[i][1] * v for i in range(3)]
        dx = [rot[i][2] for i in range(3)]
        k = (1.0, 1.0, 1.0 / (FACE_DEPTH * FACE_DEPTH))
        qa = sum(k[i] * dx[i] * dx[i] for i in range(3))
        qb = 2.0 * sum(k[i] * cx[i] * dx[i] for i in range(3))
        qc = sum(k[i] * cx[i] * cx[i] for i in range(3)) - 1.0
        root = math.sqrt(max(qb * qb - 4.0 * qa * qc, 0.0))
        w = max(((-qb + root) / (2.0 * qa), (-qb - root) / (2.0 * qa)), key=lambda t: cx[2] + dx[2] * t)  # the front
        x, dy = (cx[0] + dx[0] * w) * a, (cx[1] + dx[1] * w) * bt
        c, s = p["roll_c"], p["roll_s"]
        x, dy = c * x - s * dy, s * x + c * dy  # the frame's roll (the renderer turns pixels back by it)
        out.append(((x + 1.0) * size / 2.0, (dy + HEAD_Y + 1.0) * size / 2.0))
    return np.asarray(out, dtype=np.float64)
