"""Live webcam mode: frames in, view + reconstruction + class bars out; no face is a message; throttling."""

from __future__ import annotations

import numpy as np
import pytest

import facelab
from facelab.demo.webcam import NO_FACE, Throttle, live_frame


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return facelab.load(tiny_checkpoint, device="cpu")


def test_a_frame_gives_the_view_its_reconstruction_and_the_class_bars(model, tiny_synthetic):
    frame = (tiny_synthetic[3]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    result = live_frame(model, np.pad(frame, ((40, 40), (80, 80), (0, 0))))  # webcam-shaped
    assert result.found and result.view.size == result.reconstruction.size == (64, 64)
    assert set(result.probabilities) == set(model.expressions)
    assert result.message.startswith("reads as ")


def test_no_face_and_no_frame_say_so_instead_of_failing():
    photo_model = facelab.load("real-disvae", device="cpu")
    blank = np.full((480, 640, 3), 128, np.uint8)
    result = live_frame(photo_model, blank)
    assert not result.found and result.message == NO_FACE and result.probabilities == {}
    assert not live_frame(photo_model, None).found


def test_throttle_drops_frames_arriving_faster_than_the_interval_per_session():
    now = [0.0]
    throttle = Throttle(interval=0.2, clock=lambda: now[0])
    assert throttle.ready("a") and throttle.ready("b")  # sessions are independent
    now[0] = 0.1
    assert not throttle.ready("a")
    now[0] = 0.25
    assert throttle.ready("a") and not throttle.ready("a")
