"""A photo model (alignment="mtcnn") detects before encoding, and says so clearly when it cannot."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import facelab
from facelab.align import AlignConfig, NoFaceError

pytest.importorskip("facenet_pytorch")


@pytest.fixture(scope="module")
def photo_model(tiny_checkpoint, tmp_path_factory):
    directory = tmp_path_factory.mktemp("photo") / "tiny-photo"
    shutil.copytree(tiny_checkpoint, directory)
    cfg = json.loads((directory / "config.json").read_text())
    cfg["model"].update(alignment="mtcnn", align=AlignConfig(size=64).to_dict())
    (directory / "config.json").write_text(json.dumps(cfg))
    return facelab.load(directory)


def test_no_face_is_a_clear_error_unless_the_centre_crop_is_asked_for(photo_model):
    grey = np.full((200, 240, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="no face"):
        photo_model.encode(grey)
    view = photo_model.prepare(grey, fallback="center")
    assert view.size == (64, 64)
    with pytest.raises(ValueError, match="face 2 asked for"):
        photo_model.prepare(grey, face=1)
    # an already aligned crop skips detection
    assert photo_model.encode(grey, align=False).expression.shape == (4,)


def test_app_builds_for_a_photo_model_without_the_data_folder(photo_model, tmp_path, monkeypatch):
    """A new user without ../shared/data: no London examples, no data-folder retrieval, still an app."""
    import app
    from facelab import demo as D

    monkeypatch.setenv(D.DATA_ENV, str(tmp_path / "no-data"))
    assert D.photo_examples() == [] and D.debug_sources(photo_model) == ["synthetic (held-out people)"]
    demo = app.build_app(str(photo_model.directory), examples_dir=tmp_path / "examples")
    endpoints = {fn.api_name: fn for fn in demo.fns.values()}
    assert "encode" in endpoints
    # retrieval has no gallery to search without the data folder: it says so, one empty gallery per sub-code
    state = photo_model.encode(np.full((64, 64, 3), 128, np.uint8), align=False).to_dict()
    note, *galleries = endpoints["retrieve"].fn(5, state)
    assert "needs the London photos" in note and galleries == [[]] * len(photo_model.attributes)
    note, *galleries = endpoints["retrieve"].fn(5, None)
    assert "Encode a face" in note and len(galleries) == len(photo_model.attributes)
