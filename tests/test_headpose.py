"""Frontalise and head turn: only z_pose changes, in degrees; models without an angle-supervised pose code refuse."""

from __future__ import annotations

import numpy as np
import pytest

import facelab
from facelab.demo.headpose import frontalise, pose_scale, read_pose, set_pose
from facelab.synthetic import FaceFactors, render


@pytest.fixture(scope="module")
def fourway():
    return facelab.load("synthetic-fourway", device="cpu")


def test_frontalise_and_turn_change_only_the_pose_code(fourway):
    code = fourway.encode(render(FaceFactors(identity=30001, expression=1, yaw=0.8)))
    assert pose_scale(fourway) == fourway.config.options.pose_scale
    front = frontalise(fourway, code)
    assert read_pose(fourway, front) == {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}
    turned = set_pose(fourway, code, yaw=25.0)
    assert read_pose(fourway, turned)["yaw"] == pytest.approx(25.0)
    assert read_pose(fourway, turned)["pitch"] == pytest.approx(read_pose(fourway, code)["pitch"], abs=1e-4)
    for attribute in fourway.attributes:
        if attribute != "pose":
            assert np.array_equal(getattr(front, attribute), getattr(code, attribute))
            assert np.array_equal(getattr(turned, attribute), getattr(code, attribute))
    assert not np.array_equal(np.asarray(fourway.decode(front)), np.asarray(fourway.decode(turned)))
    with pytest.raises(ValueError, match="unknown pose angle"):
        set_pose(fourway, code, tilt=3)


def test_models_without_a_pose_code_in_degrees_refuse_plainly():
    model = facelab.load("synthetic-disvae", device="cpu")
    assert pose_scale(model) is None
    with pytest.raises(ValueError, match="no pose code in degrees"):
        frontalise(model, model.encode(render(FaceFactors(identity=30001, expression=0))))


def test_the_presenter_serves_frontalise_and_head_turn_for_a_pose_model(fourway, tmp_path):
    """The fourway page's endpoints through gradio_client: only a pose-code model gets them."""
    import socket

    from gradio_client import Client, handle_file

    import app
    from facelab import demo as D

    demo = app.build_app("synthetic-fourway", examples_dir=tmp_path / "examples")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1",
                                                 server_port=port, quiet=True))
    try:
        client = Client(url, verbose=False)
        face = tmp_path / "face.png"
        from PIL import Image

        Image.fromarray(render(FaceFactors(identity=30002, expression=1, yaw=-0.6))).save(face)
        front = D.image_from_inline(client.predict(handle_file(str(face)), api_name="/frontalise"))
        turned = D.image_from_inline(client.predict(handle_file(str(face)), 30, api_name="/head_turn"))
        code = fourway.encode(face)
        expected = fourway.decode(frontalise(fourway, code))
        assert np.abs(np.asarray(front, dtype=int) - np.asarray(expected, dtype=int)).max() <= 1
        assert not np.array_equal(np.asarray(front), np.asarray(turned))
    finally:
        demo.close()
