"""Head pose (yaw, pitch, roll) from the five landmarks MTCNN reports, without OpenCV.

A rigid 3-D five-point face (:data:`GENERIC_TEMPLATE`: eye centres, nose tip, mouth corners, in
millimetres) is fitted to the 2-D points under a scaled-orthographic (weak-perspective) camera,

    landmarks ≈ s · R(yaw, pitch, roll)[:2] · template + t,

first in closed form (an affine camera by linear least squares, made a scaled rotation), then
refined by non-linear least squares over (yaw, pitch, roll, log s, t). A face fills a small part
of a photo's field of view, so perspective hardly matters; five points and six unknowns leave
four degrees of freedom to absorb landmark noise.

Conventions are the synthetic generator's (:mod:`facelab.synthetic`), so estimates on photos
and generator labels mean the same thing: image coordinates x right, y down, z towards the
viewer; ``R = Rz(roll) · Ry(yaw) · Rx(pitch)``; +yaw turns the face towards the image's right,
+pitch looks up, +roll turns the head clockwise in the image. Angles are in degrees. Landmarks
are in MTCNN's order: left eye, right eye (as seen in the image), nose tip, left and right mouth
corner.

The template is a generic adult face (anthropometric averages: 63 mm between the pupils, nose
tip 38 mm below the eyes and 30 mm in front of them, mouth corners 50 mm apart, 70 mm below the
eyes). :func:`fit_template` refits its shape to landmarks of known pose (a posed dataset, or the
generator: its cartoon faces are not human-shaped). Measured error: ``python bench/pose_estimate.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GENERIC_TEMPLATE",
    "LANDMARK_NAMES",
    "PoseEstimate",
    "angles_from_rotation",
    "estimate_pose",
    "estimate_poses",
    "fit_template",
    "project",
    "rotation_matrix",
    "symmetric_template",
]

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def symmetric_template(eye_x: float, eye_y: float, eye_z: float, mouth_x: float, mouth_y: float,
                       mouth_z: float) -> np.ndarray:
    """A left-right symmetric five-point face (5, 3) with the nose tip at the origin (x right,
    y down, z towards the viewer; eyes and mouth corners behind the nose have z < 0)."""
    return np.array([[-eye_x, eye_y, eye_z], [eye_x, eye_y, eye_z], [0.0, 0.0, 0.0],
                     [-mouth_x, mouth_y, mouth_z], [mouth_x, mouth_y, mouth_z]], dtype=np.float64)


#: A generic adult face in millimetres (see the module docstring).
GENERIC_TEMPLATE = symmetric_template(31.5, -38.0, -30.0, 25.0, 32.0, -27.0)
GENERIC_TEMPLATE.setflags(write=False)


def rotation_matrix(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """``Rz(roll) · Ry(yaw) · Rx(pitch)`` (degrees) in image coordinates (x right, y down, z to viewer)."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return rz @ ry @ rx


def angles_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation ``Rz(roll) · Ry(yaw) · Rx(pitch)``."""
    yaw = math.asin(float(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = math.atan2(float(r[2, 1]), float(r[2, 2]))
    roll = math.atan2(float(r[1, 0]), float(r[0, 0]))
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def project(template: np.ndarray, yaw: float, pitch: float, roll: float = 0.0, scale: float = 1.0,
            translation=(0.0, 0.0)) -> np.ndarray:
    """The template's 2-D points (N, 2) under a scaled-orthographic camera at that pose."""
    r = rotation_matrix(yaw, pitch, roll)
    return scale * (np.asarray(template, dtype=np.float64) @ r[:2].T) + np.asarray(translation, dtype=np.float64)


@dataclass(frozen=True)
class PoseEstimate:
    yaw: float  # degrees
    pitch: float
    roll: float
    scale: float  # pixels per template unit
    translation: tuple[float, float]
    residual: float  # RMS reprojection error over the points, as a fraction of the eye distance

    def angles(self) -> np.ndarray:
        return np.array([self.yaw, self.pitch, self.roll])


def _closest_rotation_rows(m: np.ndarray) -> tuple[np.ndarray, float]:
    """The scaled rotation nearest (in Frobenius norm) to a 2×3 affine camera: (R, s)."""
    u, sv, vt = np.linalg.svd(m, full_matrices=False)  # m = u · diag(sv) · vt, vt (2, 3) orthonormal rows
    rows = u @ vt
    r = np.vstack([rows, np.cross(rows[0], rows[1])])
    return r, float(sv.mean())


def _initial(points: np.ndarray, template: np.ndarray) -> list[np.ndarray]:
    """Starting points (yaw, pitch, roll, log s, tx, ty): the scaled rotation nearest to the
    least-squares affine camera, the same with yaw and pitch mirrored (a nearly flat set of
    points looks alike turned either way: the nose decides) and a frontal pose."""
    c2, c3 = points.mean(0), template.mean(0)
    a, *_ = np.linalg.lstsq(template - c3, points - c2, rcond=None)  # (3, 2): points ≈ template · a
    r, s = _closest_rotation_rows(a.T)
    if np.linalg.det(r) < 0:
        r[2] *= -1
    yaw, pitch, roll = angles_from_rotation(r)
    eye = np.linalg.norm(points[1] - points[0])
    s0 = eye / max(np.linalg.norm(template[1] - template[0]), 1e-9)
    starts = []
    for angles, scale in (((yaw, pitch, roll), s), ((-yaw, -pitch, roll), s), ((0.0, 0.0, roll), s0)):
        t = c2 - scale * (c3 @ rotation_matrix(*angles)[:2].T)
        starts.append(np.array([*angles, math.log(max(scale, 1e-9)), *t]))
    return starts


def estimate_pose(landmarks, template: np.ndarray = GENERIC_TEMPLATE) -> PoseEstimate:
    """Fit ``template`` to five 2-D ``landmarks`` (5, 2, pixels, MTCNN order): see the module docstring."""
    from scipy.optimize import least_squares

    pts = np.asarray(landmarks, dtype=np.float64)
    tpl = np.asarray(template, dtype=np.float64)
    if pts.shape != (len(tpl), 2):
        raise ValueError(f"landmarks must be ({len(tpl)}, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("landmarks contain NaN or inf")

    def residual(q: np.ndarray) -> np.ndarray:
        return (project(tpl, q[0], q[1], q[2], math.exp(q[3]), q[4:6]) - pts).ravel()

    best = None
    for start in _initial(pts, tpl):
        fit = least_squares(residual, start, method="lm", x_scale=[10, 10, 10, 0.1, 1, 1], xtol=1e-10, ftol=1e-12,
                            max_nfev=400)
        if best is None or fit.cost < best.cost - 1e-12:
            best = fit
    q = best.x
    yaw, pitch, roll = angles_from_rotation(rotation_matrix(q[0], q[1], q[2]))  # wrapped to the principal range
    eye = max(float(np.linalg.norm(pts[1] - pts[0])), 1e-9)
    rms = float(np.sqrt(np.mean(best.fun.reshape(-1, 2) ** 2 * 2)))
    return PoseEstimate(yaw, pitch, roll, math.exp(q[3]), (float(q[4]), float(q[5])), rms / eye)


def estimate_poses(landmarks, template: np.ndarray = GENERIC_TEMPLATE) -> np.ndarray:
    """(N, 3) yaw, pitch, roll in degrees for (N, 5, 2) landmarks (rows of NaN where a row has NaN)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    out = np.full((len(pts), 3), np.nan)
    for i, p in enumerate(pts):
        if np.isfinite(p).all():
            out[i] = estimate_pose(p, template).angles()
    return out


def fit_template(landmarks, poses, iterations: int = 1000, start: np.ndarray = GENERIC_TEMPLATE) -> np.ndarray:
    """A symmetric five-point template refitted to landmarks (N, 5, 2) of known poses (N, 3, degrees).

    Alternating least squares: with the shape fixed, each face's scale and translation are linear;
    with those fixed, the six shape numbers (:func:`symmetric_template`) are; ``iterations`` at most,
    until the shape stops changing. The result keeps the eye distance of ``start`` (weak
    perspective cannot see absolute size)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    poses = np.asarray(poses, dtype=np.float64)
    keep = np.isfinite(pts).all(axis=(1, 2)) & np.isfinite(poses).all(1)
    pts, poses = pts[keep], poses[keep]
    if len(pts) < 3:
        raise ValueError("fit_template needs at least 3 faces with landmarks and poses")
    rows = np.stack([rotation_matrix(*p)[:2] for p in poses])  # (N, 2, 3)
    # template (flattened 15) = basis · theta, theta = (eye x, y, z, mouth x, y, z)
    basis = np.zeros((15, 6))
    for point, (sign, offset) in enumerate(((-1, 0), (1, 0), (0, None), (-1, 3), (1, 3))):
        if offset is None:
            continue
        basis[3 * point + 0, offset + 0] = sign
        basis[3 * point + 1, offset + 1] = 1
        basis[3 * point + 2, offset + 2] = 1
    s0 = np.asarray(start, dtype=np.float64)
    theta = np.array([s0[1, 0], s0[1, 1], s0[1, 2], s0[4, 0], s0[4, 1], s0[4, 2]])
    for _ in range(iterations):
        tpl = (basis @ theta).reshape(5, 3)
        proj = np.einsum("nij,pj->npi", rows, tpl)  # (N, 5, 2) unscaled, untranslated
        pc, qc = proj - proj.mean(1, keepdims=True), pts - pts.mean(1, keepdims=True)
        scale = (pc * qc).sum((1, 2)) / np.maximum((pc * pc).sum((1, 2)), 1e-12)
        trans = pts.mean(1) - scale[:, None] * proj.mean(1)
        # (pts - trans) / scale = rows · template  → linear in theta
        target = ((pts - trans[:, None]) / scale[:, None, None]).reshape(len(pts), -1)  # (N, 10)
        design = np.einsum("nij,pjk->npik", rows, basis.reshape(5, 3, 6)).reshape(len(pts), 10, 6)
        w = scale[:, None, None] ** 2  # weigh residuals in pixels, not template units
        lhs = (design.transpose(0, 2, 1) @ (design * w)).sum(0)
        rhs = (design.transpose(0, 2, 1) @ (target[..., None] * w)).sum(0)[:, 0]
        previous, theta = theta, np.linalg.solve(lhs, rhs)
        if np.abs(theta - previous).max() < 1e-10 * np.abs(theta).max():
            break
    theta = theta * (s0[1, 0] / theta[0])
    return symmetric_template(*theta)
