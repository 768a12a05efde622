"""Head pose from five landmarks (facelab/pose.py): known rotations of the 3-D template come back,
the conventions are the generator's, and a template can be refitted from faces of known pose."""

from __future__ import annotations

import numpy as np
import pytest

from facelab.pose import (
    GENERIC_TEMPLATE,
    angles_from_rotation,
    estimate_pose,
    estimate_poses,
    fit_template,
    project,
    rotation_matrix,
    symmetric_template,
)


def test_rotation_matrix_and_angles_round_trip():
    rng = np.random.default_rng(0)
    for yaw, pitch, roll in rng.uniform([-80, -60, -90], [80, 60, 90], (50, 3)):
        r = rotation_matrix(yaw, pitch, roll)
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(r), 1.0)
        assert np.allclose(angles_from_rotation(r), (yaw, pitch, roll), atol=1e-9)


def test_known_rotations_of_the_template_are_recovered():
    rng = np.random.default_rng(1)
    for truth in rng.uniform([-60, -35, -30], [60, 35, 30], (40, 3)):
        pts = project(GENERIC_TEMPLATE, *truth, scale=rng.uniform(0.5, 4), translation=rng.uniform(20, 200, 2))
        est = estimate_pose(pts)
        assert np.allclose(est.angles(), truth, atol=1e-4), (est, truth)
        assert est.residual < 1e-6


def test_noisy_landmarks_give_small_errors():
    rng = np.random.default_rng(2)
    errors = []
    for truth in rng.uniform([-45, -25, -20], [45, 25, 20], (60, 3)):
        pts = project(GENERIC_TEMPLATE, *truth, scale=2.0, translation=(128, 128))  # eye distance ~126 px
        pts = pts + rng.normal(0, 0.5, pts.shape)  # half a pixel: MTCNN on a face of this size does about that
        errors.append(np.abs(estimate_pose(pts).angles() - truth))
    mean = np.mean(errors, 0)
    assert (mean < 1.5).all(), mean


def test_conventions_match_the_generator():
    """+yaw turns the face towards the image's right, +pitch looks up, +roll turns it clockwise:
    the generator's own landmark positions move the estimate the same way."""
    from facelab.synthetic import FaceFactors, landmarks

    def pose(**kw):
        return estimate_pose(landmarks(FaceFactors(3, 0, 0.0, **kw), 128)).angles()

    frontal = pose()
    assert np.all(np.abs(frontal) < 5)
    assert pose(yaw=1.0)[0] > frontal[0] + 5 and pose(yaw=-1.0)[0] < frontal[0] - 5
    assert pose(pitch=1.0)[1] > frontal[1] + 3 and pose(pitch=-1.0)[1] < frontal[1] - 3
    r = pose(roll=0.75)[2]  # 15° clockwise
    assert abs(r - 15) < 1.5, r


def test_fit_template_recovers_a_shape_from_faces_of_known_pose():
    rng = np.random.default_rng(3)
    shape = symmetric_template(30.0, -30.0, -20.0, 22.0, 35.0, -15.0)
    poses = rng.uniform([-40, -20, -15], [40, 20, 15], (200, 3))
    lms = np.stack([project(shape, *p, scale=rng.uniform(1, 3), translation=rng.uniform(50, 150, 2)) for p in poses])
    fitted = fit_template(lms, poses)
    assert np.allclose(fitted, shape * GENERIC_TEMPLATE[1, 0] / 30.0, atol=1e-6)
    est = estimate_poses(lms[:10], fitted)
    assert np.allclose(est, poses[:10], atol=1e-4)


def test_bad_landmarks_are_refused_and_nan_rows_kept_out():
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        estimate_pose(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        estimate_pose(np.full((5, 2), np.nan))
    pts = np.stack([project(GENERIC_TEMPLATE, 10, 5, 0, 2.0), np.full((5, 2), np.nan)])
    out = estimate_poses(pts)
    assert np.allclose(out[0], (10, 5, 0), atol=1e-4) and np.isnan(out[1]).all()
