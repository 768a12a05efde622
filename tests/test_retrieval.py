"""Per-sub-code retrieval (facelab.retrieval) and its bench script, on hand-made codes and a tiny checkpoint."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelab.retrieval import (
    CAPTION_H,
    GAP,
    LABEL_H,
    nearest,
    retrieval_grid,
    retrieval_table,
    retrieve,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def labelled():
    """60 faces: 10 people × 6 expressions, a yaw each, and codes that are exactly one factor or noise."""
    rng = np.random.default_rng(0)
    ids, expressions = np.repeat(np.arange(10), 6), np.tile(np.arange(6), 10)
    yaw = rng.uniform(-30, 30, 60)
    codes = {"identity": np.eye(10)[ids], "yaw": yaw[:, None], "noise": rng.normal(size=(60, 8))}
    return codes, {"identity": ids, "expression": expressions, "yaw": yaw}


def test_nearest_is_euclidean_and_never_the_query_itself():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    idx, dist = nearest(x, x[0], 3)
    assert idx.tolist() == [0, 2, 3] and np.allclose(dist, [0, 1, 2])
    idx, dist = nearest(x, x[[0, 1]], 2, exclude=[0, 1])
    assert idx.tolist() == [[2, 3], [3, 2]] and np.allclose(dist[0], [1, 2])
    assert retrieve({"a": x}, [0], k=10)["a"].tolist() == [[2, 3, 1]]  # k is capped at the other faces


def test_a_code_that_is_a_factor_retrieves_it_and_noise_is_chance(labelled):
    codes, factors = labelled
    t = retrieval_table(codes, factors, k=5)
    assert t["codes"] == ["identity", "yaw", "noise"] and t["kinds"] == ["precision", "precision", "mean_abs_diff"]
    value, score = dict(zip(t["factors"], t["value"])), dict(zip(t["factors"], t["score"]))
    assert value["identity"][0] == 1.0 and score["identity"][0] == 1.0  # the identity code finds only that person
    assert t["chance"][0] == pytest.approx(5 / 59) and t["best"][0] == 1  # 5 other faces of the person among 59
    assert value["expression"][0] == 0.0  # ... who has each expression once: never the query's
    assert score["yaw"][1] > 0.9 and value["yaw"][1] < 2  # degrees
    assert t["chance"][2] == pytest.approx(np.abs(factors["yaw"][:, None] - factors["yaw"]).sum() / (60 * 59))
    assert abs(score["identity"][2]) < 0.2 and abs(score["expression"][2]) < 0.2 and abs(score["yaw"][2]) < 0.3


def test_unknown_labels_and_constant_factors():
    ids = np.array([0, 0, 1, 1, -1, -1])
    t = retrieval_table({"c": np.array([[0.0], [1.0], [10.0], [11.0], [1.4], [11.6]])},
                        {"identity": ids, "flat": np.zeros(6), "dim": np.r_[0.0, 1.0, np.nan, 3.0, 4.0, 5.0]}, k=1)
    assert t["factors"] == ["identity", "dim"]  # a factor that does not vary says nothing
    assert t["value"][0, 0] == 0.5  # labelled queries 0 → 1 and 2 → 3 hit; 1 and 3 find an unlabelled face
    assert np.isfinite(t["value"]).all()


def test_score_is_against_what_a_perfect_code_can_reach():
    ids = np.repeat(np.arange(20), 2)  # two photos a person (the London set): p@5 is at most 0.2
    t = retrieval_table({"identity": np.eye(20)[ids]}, {"identity": ids}, k=5)
    assert t["value"][0, 0] == pytest.approx(0.2) and t["best"][0] == pytest.approx(0.2)
    assert t["score"][0, 0] == pytest.approx(1.0)
    assert retrieval_table({"c": np.eye(40)}, {"identity": ids}, k=100)["k"] == 39


def test_grid_has_one_row_per_query_and_a_group_per_sub_code():
    images = [np.full((8, 8, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    neighbours = {"identity": np.array([[1, 2], [0, 2]]), "expression": np.array([[3, 4], [5, 1]]),
                  "pose": np.array([[5, 5], [4, 4]])}
    grid = retrieval_grid(images, [0, 3], neighbours, captions=[f"#{i}" for i in range(6)], scale=2, note="credit")
    t = 16
    assert grid.size == (t * (1 + 3 * 2) + 3 * GAP, LABEL_H + 2 * (t + CAPTION_H) + LABEL_H)
    x = t + GAP + 2 * t + GAP + t  # second tile of the expression group, first row
    assert grid.getpixel((x + 4, LABEL_H + 4)) == (160, 160, 160)  # image 4
    plain = retrieval_grid(images, [0], {a: v[:1] for a, v in neighbours.items()}, scale=1)
    assert plain.size == (8 * 7 + 3 * GAP, LABEL_H + 8)


def test_bench_script_on_a_tiny_checkpoint(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("retrieval_figure", ROOT / "bench" / "retrieval_figure.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "tiny_retrieval"
    assert script.main(["--checkpoint", str(tiny_checkpoint), "--data", "synthetic:identities=3,per_identity=4,seed=3",
                        "--queries", "2", "--k", "3", "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    table = result["table"]
    assert table["codes"] == ["identity", "expression"] and table["n"] == 12
    assert {"identity", "expression", "yaw"} <= set(table["factors"])
    assert len(result["queries"]) == 2 and result["command"].startswith("main(")
    with Image.open(out.with_suffix(".png")) as im:
        assert im.size == (128 * (1 + 2 * 3) + 2 * GAP, LABEL_H + 2 * (128 + CAPTION_H))
    assert "identity (p@3)" in capsys.readouterr().out


def test_photo_pose_estimates_become_yaw_and_pitch_factors():
    from facelab.evaluate import EncodedSet, factor_labels_of

    pose = np.array([[10.0, -5.0, 0.2], [np.nan, np.nan, np.nan], [-3.0, 8.0, -0.1]], dtype=np.float32)
    enc = EncodedSet(codes={"identity": np.zeros((3, 2))}, logits=None, images=np.zeros((3, 3, 4, 4)),
                     recon=np.zeros((3, 3, 4, 4)), labels={"identity": np.array([0, 1, 1]), "pose": pose})
    factors = factor_labels_of(enc)
    assert np.allclose(factors["yaw"], [10.0, np.nan, -3.0], equal_nan=True)
    assert np.allclose(factors["pitch"], [-5.0, np.nan, 8.0], equal_nan=True)
    assert "roll" not in factors  # alignment levels the eyes: roll is ~0 by construction
    enc.labels["pose"] = np.full((3, 3), np.nan, dtype=np.float32)  # no landmarks (pre-cropped sets): no rows
    assert "yaw" not in factor_labels_of(enc)
