"""Measured edits: the read-back of decoded faces is batched, generic over sub-codes and matches the long way round."""

from __future__ import annotations

import json

import numpy as np
import pytest

import facelab
from facelab import Code, FaceModel
from facelab.config import ModelConfig
from facelab.methods import build_network
from facelab.readback import Readback, read_back
from facelab.synthetic import FaceFactors, render


@pytest.fixture(scope="module")
def model():
    return facelab.load("synthetic-disvae", device="cpu")


@pytest.fixture(scope="module")
def faces(model):
    return (model.encode(render(FaceFactors(identity=3, expression=0))),
            model.encode(render(FaceFactors(identity=8, expression=1))))


def test_one_code_reads_back_as_the_long_way_round(model, faces):
    """decode → PIL → encode (no alignment) → classify, by hand, gives the same numbers."""
    a, b = faces
    edited = model.swap(a, b, "expression")
    result = read_back(model, edited, {"A": a, "B": b})
    assert isinstance(result, Readback)
    image = model.decode(edited)
    assert np.array_equal(np.asarray(result.image), np.asarray(image))
    again = model.encode(image, align=False)
    expected = model.classify(again)
    assert list(result.probabilities["expression"]) == list(expected)  # most likely first
    for name, p in expected.items():
        assert result.probabilities["expression"][name] == pytest.approx(p, abs=1e-4)
    for attribute in model.attributes:
        for name, ref in (("A", a), ("B", b)):
            x, y = getattr(again, attribute), getattr(ref, attribute)
            cos = float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))
            assert result.similarity[attribute][name] == pytest.approx(cos, abs=1e-4)
        x, y = getattr(again, attribute), getattr(edited, attribute)
        cos = float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))
        assert result.intended[attribute] == pytest.approx(cos, abs=1e-4)


def test_a_strip_is_one_decode_and_one_encode_and_matches_one_by_one(model, faces, monkeypatch):
    a, b = faces
    codes = model.interpolate(a, b, steps=8)
    calls = {"encode": 0, "decode": 0}
    network = model.network
    for name in calls:
        original = getattr(network, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(network, name, counted)
    batch = read_back(model, codes, {"A": a, "B": b})
    assert calls == {"encode": 1, "decode": 1}
    monkeypatch.undo()
    assert len(batch) == 8
    # Faces are rounded to 8 bits before the read-back; a pixel on a rounding boundary may round the other
    # way in a batch of 8 than alone (float32 convolutions differ by batch size on some CPUs), which moved
    # one probability by 5.5e-4 on one machine. Pairing a code with the wrong face moves them by far more.
    for code, one in zip(codes[::3], batch[::3]):
        single = read_back(model, code, {"A": a, "B": b})
        assert single.similarity["identity"]["A"] == pytest.approx(one.similarity["identity"]["A"], abs=2e-3)
        assert single.probabilities["expression"] == pytest.approx(one.probabilities["expression"], abs=2e-3)
    # the walk from A to B: the ends read as their own person
    assert batch[0].similarity["identity"]["A"] > batch[0].similarity["identity"]["B"]
    assert batch[-1].similarity["identity"]["B"] > batch[-1].similarity["identity"]["A"]


def test_summary_and_dict_for_the_ui_and_the_api(model, faces):
    a, b = faces
    result = read_back(model, model.swap(a, b, "expression"), {"A": a, "B": b})
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"probabilities", "similarity", "intended", "summary"}
    assert sum(data["probabilities"]["expression"].values()) == pytest.approx(1, abs=1e-3)
    assert set(data["similarity"]["identity"]) == {"A", "B"}
    top = next(iter(result.probabilities["expression"]))
    summary = result.summary()
    assert summary.startswith(f"reads as {top} ") and " % · identity " in summary and "expression" in summary
    assert " like A" in summary  # the swapped face keeps A's identity
    assert "as set" in read_back(model, a).summary()  # no references: against the code itself


def test_every_sub_code_is_measured_not_only_identity_and_expression():
    """A model with a third sub-code (pose) gets its similarity too; heads only where labelled."""
    config = ModelConfig(method="swap", channels=(8, 8, 8, 8), latents={"identity": 4, "expression": 3, "pose": 2}, fusion_dim=16)
    model = FaceModel(build_network(config).eval(), config)
    rng = np.random.default_rng(0)
    source = Code({a: rng.normal(size=d) for a, d in config.latents.items()})
    edited = source.replace(pose=np.zeros(2))
    result = read_back(model, [source, edited], {"source": source})
    assert all(set(r.similarity) == {"identity", "expression", "pose"} for r in result)
    assert all(set(r.probabilities) == {"expression"} for r in result)
    assert "pose" in result[1].summary()
