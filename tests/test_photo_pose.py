"""Pose labels of real-photo datasets (issue 11): the crop cache keeps MTCNN's five landmarks, items
carry the pose :func:`facelab.pose.estimate_pose` reads off them, and caches from before still load.

A fake detector "finds" the generic 3-D template at a chosen pose, so the truth is known; with
../shared/data/london present, MTCNN on the London + Canada photos must find them near frontal."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import fixtures as fx
from facelab import datasets as D
from facelab.align import TEMPLATE, AlignConfig, Detection, apply_similarity, estimate_similarity
from facelab.datasets import build
from facelab.losses import labelled_l1
from facelab.pose import GENERIC_TEMPLATE, estimate_pose, project

LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "london"
SIZE = 32  # crop side
PHOTO = 64  # fixture photo side


class PosedDetector:
    """One face per photo whose landmarks are ``points(w, h)`` (default: the generic template at
    ``angles``, eyes 30 % of the photo apart), none in all-black photos; counts its calls."""

    def __init__(self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, points=None):
        self.angles, self.calls = (yaw, pitch, roll), 0
        self.points = points or self._template

    def _template(self, w: int, h: int) -> np.ndarray:
        return project(GENERIC_TEMPLATE, *self.angles, scale=0.3 * w / 63.0, translation=(w / 2, h * 0.45))

    def detect(self, img):
        self.calls += 1
        if np.asarray(img).max() == 0:
            return []
        w, h = img.size
        return [Detection(box=(0.0, 0.0, float(w), float(h)), score=0.99, landmarks=self.points(w, h))]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh FACELAB_CACHE: the loads below use the default cache directory."""
    path = tmp_path / "facelab-cache"
    monkeypatch.setenv("FACELAB_CACHE", str(path))
    return path


def load(root: Path, detector, spec: str = "", **kwargs):
    return D.load(f"london:{root}{spec}", size=SIZE, detector=detector, progress=False, **kwargs)


def index_of(ds) -> dict:
    return json.loads((ds.cache_folder / "index.json").read_text())


def test_landmarks_and_poses_survive_the_cache_round_trip(tmp_path, cache):
    root = fx.make_london(tmp_path / "london", size=PHOTO)
    first = PosedDetector(yaw=20.0, pitch=-10.0, roll=12.0)
    a = load(root, first)
    assert first.calls == len(a) == 8 and a.cache_folder.is_relative_to(cache)
    meta = index_of(a)
    assert {meta["images"], meta["landmarks"], meta["poses"]} <= {p.name for p in a.cache_folder.iterdir()}
    assert meta["pose_estimator"] == build.pose_estimator_key() and meta["unrecorded"] == 0
    # in crop pixels: the photo's landmarks moved by the similarity that aligned the crop
    photo = first.points(PHOTO, PHOTO)
    expected = apply_similarity(estimate_similarity(photo, AlignConfig(size=SIZE).template_px()), photo)
    assert a.landmarks.shape == (8, 5, 2) and a.landmarks.dtype == np.float32
    assert np.allclose(a.landmarks, expected, atol=1e-4)
    second = PosedDetector()
    b = load(root, second)
    assert second.calls == 0 and b.stats["cached"] == 8
    assert np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.poses, b.poses)
    assert all(torch.equal(a[i]["pose"], b[i]["pose"]) and torch.equal(a[i]["image"], b[i]["image"]) for i in range(8))


def test_pose_labels_are_estimate_pose_of_the_landmarks_in_the_generator_conventions(tmp_path, cache):
    root = fx.make_london(tmp_path / "london", size=PHOTO)
    det = PosedDetector(yaw=20.0, pitch=-10.0, roll=12.0)
    ds = load(root, det)
    item = ds[0]
    assert item["pose"].dtype == torch.float32 and item["pose"].shape == (3,)
    fitted = estimate_pose(ds.landmarks[0]).angles()
    assert np.allclose(item["pose"].numpy(), fitted, atol=1e-3)
    # yaw and pitch are the photo's; the alignment took the roll out of the crop
    assert item["pose"][:2].tolist() == pytest.approx([20.0, -10.0], abs=0.05)
    assert estimate_pose(det.points(PHOTO, PHOTO)).roll == pytest.approx(12.0, abs=0.05)
    assert abs(float(item["pose"][2])) < 3.0
    assert not {"yaw", "pitch", "roll"} & set(item)  # the generator's own units stay the generator's


@pytest.mark.parametrize("shift,sign", [(0.04, 1), (-0.04, -1)])
def test_a_nose_towards_the_image_right_is_positive_yaw(tmp_path, cache, shift, sign):
    """+yaw turns the face towards the image's right (the generator's convention): the nose tip,
    in front of the eyes and mouth, moves right of their midline."""
    def points(w, h):
        pts = np.asarray(TEMPLATE) * [w, h]
        pts[2, 0] += shift * w
        return pts

    ds = load(fx.make_london(tmp_path / "london", size=PHOTO), PosedDetector(points=points))
    yaw = ds.poses[:, 0]
    assert np.all(np.sign(yaw) == sign) and np.all(np.abs(yaw) > 5.0)
    assert all(np.sign(float(ds[i]["pose"][0])) == sign for i in range(len(ds)))


def test_faces_without_landmarks_have_a_missing_pose_that_the_losses_skip(tmp_path, cache):
    root = fx.make_london(tmp_path / "london", size=PHOTO)
    fx.write_black(root / "smiling_front" / "997_08.jpg", PHOTO)  # no face: kept as a centre crop
    det = PosedDetector(yaw=15.0)
    ds = load(root, det, "?fallback=center")
    centre = [i for i, r in enumerate(ds.records) if r.path.endswith("997_08.jpg")]
    assert len(ds) == 9 and len(centre) == 1 and ds.stats["posed"] == 8
    assert np.isnan(ds.landmarks[centre[0]]).all() and np.isnan(ds.poses[centre[0]]).all()
    item = ds[centre[0]]
    assert torch.isnan(item["pose"]).all()
    batch = next(iter(DataLoader(ds, batch_size=len(ds))))
    assert batch["pose"].shape == (9, 3) and int(torch.isnan(batch["pose"]).all(1).sum()) == 1
    prediction = torch.zeros(9, 3)
    known = torch.isfinite(batch["pose"]).all(1)
    assert torch.isclose(labelled_l1(prediction, batch["pose"]), batch["pose"][known].abs().mean())
    # pre-cropped sets (FER2013, CK+48) never run MTCNN: no landmarks, no pose
    pre_det = PosedDetector()
    pre = load(root, pre_det, "?aligned=1")
    assert pre_det.calls == 0 and pre.stats["posed"] == 0 and np.isnan(pre.poses).all()
    assert np.isnan(np.load(pre.cache_folder / index_of(pre)["landmarks"])).all()


def test_an_old_cache_without_landmarks_loads_with_missing_pose_and_is_not_redetected(tmp_path, cache, caplog):
    root = fx.make_london(tmp_path / "london", size=PHOTO)
    new = load(root, PosedDetector(yaw=10.0))
    folder, meta = new.cache_folder, index_of(new)
    # the index as written before landmarks were kept
    for field in ("landmarks", "poses"):
        (folder / meta.pop(field)).unlink()
    del meta["pose_estimator"], meta["unrecorded"]
    (folder / "index.json").write_text(json.dumps(meta))

    det = PosedDetector(yaw=10.0)
    with caplog.at_level(logging.WARNING, logger="facelab.datasets"):
        old = load(root, det)
    assert det.calls == 0 and len(old) == 8 and old.stats["cached"] == 8 and old.stats["unrecorded"] == 8
    assert all(torch.equal(old[i]["image"], new[i]["image"]) for i in range(8))
    assert np.isnan(old.poses).all() and torch.isnan(old[0]["pose"]).all() and old.stats["posed"] == 0
    assert "written before landmarks were kept" in caplog.text and "refresh=1" in caplog.text
    assert index_of(old) == meta  # loading alone writes nothing

    fx.write_image(root / "canada" / "200f.jpg", PHOTO)  # a new face: detected, posed; the old ones stay unknown
    det = PosedDetector(yaw=10.0)
    grown = load(root, det)
    assert det.calls == 1 and grown.stats["posed"] == 1 and grown.stats["unrecorded"] == 8
    assert index_of(grown)["unrecorded"] == 8
    assert grown.poses[[r.path.endswith("200f.jpg") for r in grown.records]][0, 0] == pytest.approx(10.0, abs=0.05)

    det = PosedDetector(yaw=10.0)
    fresh = load(root, det, "?refresh=1")  # asked: detect everything again
    assert det.calls == 9 and fresh.stats["posed"] == 9 and fresh.stats["unrecorded"] == 0
    assert index_of(fresh)["unrecorded"] == 0 and len(list(folder.glob("*.npy"))) == 3  # old files removed


def test_poses_from_another_estimator_are_recomputed_from_the_landmarks_not_redetected(tmp_path, cache, monkeypatch):
    root = fx.make_london(tmp_path / "london", size=PHOTO)
    first = load(root, PosedDetector(yaw=-15.0, pitch=5.0))
    folder, meta = first.cache_folder, index_of(first)
    np.save(folder / meta["poses"], np.zeros((8, 3), np.float32))
    meta["pose_estimator"] = "0-older"
    (folder / "index.json").write_text(json.dumps(meta))
    det = PosedDetector()
    again = load(root, det)
    assert det.calls == 0 and np.allclose(again.poses, first.poses, atol=1e-4)
    assert index_of(again)["pose_estimator"] == build.pose_estimator_key()  # written back once

    def fail(landmarks):
        if np.isfinite(landmarks).any():
            raise AssertionError("cached poses were estimated again")
        return np.full((len(landmarks), 3), np.nan, np.float32)

    monkeypatch.setattr(build, "estimate_cached_poses", fail)
    assert np.array_equal(load(root, PosedDetector()).poses, again.poses)


@pytest.mark.skipif(not (LONDON / "neutral_front").is_dir(), reason=f"needs the London photos ({LONDON})")
def test_london_photos_are_near_frontal(cache):
    """A frontal studio set: MTCNN + the generic template should read small yaw. Pitch carries
    the template's bias (about +5° on average here, more on neutral than on smiling faces: the
    mouth corners move with the expression) and roll is the aligned crop's, so about 0."""
    pytest.importorskip("facenet_pytorch")
    ds = D.load(f"london:{LONDON}", size=64, progress=False)
    assert len(ds) == 244 and ds.stats["posed"] == 244
    a = np.abs(ds.poses)
    median, p90 = np.median(a, 0), np.percentile(a, 90, axis=0)
    print(f"London + Canada |yaw|, |pitch|, |roll|: median {np.round(median, 1)}°, "
          f"90th percentile {np.round(p90, 1)}°")
    assert median[0] < 4.0 and p90[0] < 8.0
    assert median[1] < 15.0 and p90[1] < 25.0
    assert p90[2] < 2.0
