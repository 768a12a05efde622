"""How it works: each checkpoint's method diagram is valid SVG naming its sub-codes and loss weights;
its key figures in plain words."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest

import facelab
from facelab.checkpoint import bundled_names
from facelab.diagram import key_figures, loss_terms, method_diagram

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _check_diagram(model) -> list[str]:
    texts = _texts(method_diagram(model))
    for attribute, size in model.config.latents.items():
        at = texts.index(f"{attribute} code")  # a code box: its name, then its size
        assert texts[at + 1] == f"{size} numbers"
    options = model.config.options
    weights = [f.name for f in dataclasses.fields(options) if f.name.endswith("_weight") or f.name.startswith("beta")]
    assert weights
    for name in weights:
        assert any(f"{name} = {getattr(options, name)}" in t for t in texts), name
    assert any(t.startswith("reconstruction") for t in texts)
    return texts


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_checkpoint_diagram_and_key_figures(name):
    model = facelab.load(name, device="cpu")
    texts = _check_diagram(model)
    assert any(model.config.method in t for t in texts)
    assert "classifier head" in texts
    assert ("adversary" in " ".join(texts)) == (model.config.method == "adversarial")
    figures = key_figures(model)
    paths = sorted(model.directory.glob("evaluation*.json"))
    main = [p for p in paths if p.name == "evaluation.json"] or paths
    for path in main:
        data = json.loads(path.read_text())
        if "majority_rate" not in data:  # e.g. the recogniser figures: no expression chance rate to state
            continue
        accuracy, chance = 100 * data["expression_accuracy"], 100 * data["majority_rate"]
        assert f"{accuracy:.0f} % of faces (chance {chance:.0f} %)" in figures
        assert f"on {data['n_images']:,} faces" in figures


def test_tiny_checkpoint_diagram_and_no_figures(tiny_checkpoint):
    model = facelab.load(tiny_checkpoint, device="cpu")
    texts = _check_diagram(model)
    assert "identity encoder" in texts and "expression encoder" in texts
    assert any(t.startswith("1. identity_vae") for t in texts) and any(t.startswith("2. disvae") for t in texts)
    assert key_figures(model).startswith("Not evaluated yet")


def test_reconstruction_weight_is_stated_when_the_method_fixes_it(tiny_checkpoint):
    terms = loss_terms(facelab.load(tiny_checkpoint, device="cpu"))
    assert terms[0] == (None, 1, "reconstruction (summed over pixels)")
    assert ("beta_identity", 0.05, "KL of z_identity to N(0, I)") in terms
