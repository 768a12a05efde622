"""Head-pose edits: "frontalise" and "turn the head", for models whose pose sub-code is
supervised in degrees (the fourway method's f_pose = (yaw, pitch, roll) / ``pose_scale``).

Only z_pose changes; identity, expression and style stay as encoded, so the read-back under the
result shows whether the person survived the turn.
"""

from __future__ import annotations

import numpy as np

from ..face_model import Code, FaceModel

POSE = "pose"
AXES = ("yaw", "pitch", "roll")


def pose_scale(model: FaceModel) -> float | None:
    """Degrees per unit of z_pose when the model's method supervises it as angles, else None
    (no pose sub-code, or one learned without angle labels: then there is no "frontal" to set)."""
    if POSE not in model.attributes:
        return None
    scale = getattr(model.config.options, "pose_scale", None)
    return float(scale) if scale else None


def _scale(model: FaceModel) -> float:
    scale = pose_scale(model)
    if scale is None:
        raise ValueError(f"this model has no pose code in degrees to edit (its sub-codes: {', '.join(model.attributes)})")
    return scale


def read_pose(model: FaceModel, code: Code) -> dict[str, float]:
    """The (yaw, pitch, roll) in degrees that z_pose encodes."""
    values = np.asarray(getattr(code, POSE), dtype=np.float64)[: len(AXES)] * _scale(model)
    return dict(zip(AXES, map(float, values)))


def set_pose(model: FaceModel, code: Code, **degrees: float) -> Code:
    """``code`` with the given angles (``yaw=20``...) written into z_pose; every other sub-code kept."""
    scale = _scale(model)
    unknown = set(degrees) - set(AXES)
    if unknown:
        raise ValueError(f"unknown pose angle(s) {sorted(unknown)}; use {', '.join(AXES)}")
    pose = np.array(getattr(code, POSE), dtype=np.float32)
    for i, axis in enumerate(AXES[: len(pose)]):
        if axis in degrees:
            pose[i] = float(degrees[axis]) / scale
    return code.replace(**{POSE: pose})


def frontalise(model: FaceModel, code: Code) -> Code:
    """The same face looking straight at the camera: yaw, pitch and roll set to 0°."""
    return set_pose(model, code, yaw=0.0, pitch=0.0, roll=0.0)
