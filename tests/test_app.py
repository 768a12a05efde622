"""The Gradio demo: facelab.demo's functions, then the real app served on 127.0.0.1 and driven
endpoint by endpoint through gradio_client (which is how the UI talks to it too). A model with
three sub-codes checks that nothing assumes the identity + expression pair."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import facelab  # noqa: E402
from facelab import demo as D  # noqa: E402
from facelab.imageio import ImageError  # noqa: E402
from facelab.topology import FACTOR_FIELDS, FILENAME, Topology  # noqa: E402

ENDPOINTS = {"/encode", "/sliders", "/sliders_readback", "/sliders_png", "/export_sweep", "/reset", "/swap",
             "/interpolate", "/export_strip", "/export_png", "/topology", "/retrieve", "/live_frame", "/random_face",
             "/presenter_encode", "/presenter_edit", "/presenter_readback", "/compare_models", "/label_debug", "/ping"}


# --------------------------------------------------------------------------------------------
# Fixtures: a tiny checkpoint with a tiny topology (random 2-D "embedding", no umap)


def _gallery(model, n=24, seed=0):
    """Encode ``n`` rendered generator faces; factors labelled as build_topology would."""
    from facelab.synthetic import render_batch, sample_factors

    factors = sample_factors(n, range(20_000, 20_004), seed)
    pixels = render_batch(factors, size=model.config.image_size)
    codes = model.encode_tensor(model.images_to_tensor([Image.fromarray(p) for p in pixels]))
    labels = {f: np.array([getattr(fac, f) for fac in factors]) for f in FACTOR_FIELDS}
    labels["background"] = np.array([fac.background for fac in factors], dtype=np.float32)
    return codes, labels, factors


@pytest.fixture(scope="module")
def app_checkpoint(tiny_checkpoint, tmp_path_factory):
    """A copy of the session's tiny checkpoint with a topology.npz beside it."""
    directory = tmp_path_factory.mktemp("app") / "tiny-app"
    shutil.copytree(tiny_checkpoint, directory)
    model = facelab.load(directory)
    codes, labels, _ = _gallery(model)
    rng = np.random.default_rng(0)
    embedding = {a: rng.normal(size=(len(labels["identity"]), 2)).astype(np.float32) for a in codes}
    Topology(codes, embedding, labels, {"n": len(labels["identity"]), "umap": "none (test)"}).save(
        directory / FILENAME)
    return directory


@pytest.fixture(scope="module")
def model(app_checkpoint):
    return facelab.load(app_checkpoint)


@pytest.fixture(scope="module")
def topology(model):
    topo, note = D.load_topology(model)
    assert topo is not None, note
    return topo


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return D.save_examples(tmp_path_factory.mktemp("examples"), n=4, seed=0, size=96)


@pytest.fixture(scope="module")
def three_codes(tmp_path_factory):
    """An untrained adversarial model with three sub-codes, as a FaceModel and as a saved checkpoint
    (with a topology.npz, so retrieval works): ``(model, directory)``."""
    import torch

    from facelab.checkpoint import save_checkpoint
    from facelab.config import ModelConfig
    from facelab.face_model import FaceModel
    from facelab.methods import build_network

    torch.manual_seed(0)
    cfg = ModelConfig(method="adversarial", channels=(8, 16, 16, 16),
                      latents={"identity": 4, "expression": 3, "style": 2}, fusion_dim=16)
    network = build_network(cfg)
    directory = save_checkpoint(tmp_path_factory.mktemp("three") / "three-codes", network, cfg)
    model = FaceModel(network.eval(), cfg)
    codes, labels, _ = _gallery(model, n=12)
    embedding = {a: np.random.default_rng(1).normal(size=(12, 2)).astype(np.float32) for a in codes}
    Topology(codes, embedding, labels, {"n": 12, "umap": "none (test)"}).save(directory / FILENAME)
    return model, directory


def _endpoint(demo, api_name):
    """The BlockFunction behind a named endpoint of a built (not served) app."""
    return next(fn for fn in demo.fns.values() if fn.api_name == api_name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(app_checkpoint, tmp_path_factory):
    """The app on a free local port (server in a background thread); yields (url, demo)."""
    import app

    demo = app.build_app(str(app_checkpoint), examples_dir=tmp_path_factory.mktemp("app-examples"))
    port = _free_port()
    _, url, _ = demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1",
                                                 server_port=port, quiet=True))
    try:
        yield url, demo
    finally:
        demo.close()


@pytest.fixture
def client(served):
    """A fresh gradio_client session (its own gr.State) per test."""
    from gradio_client import Client

    return Client(served[0], verbose=False)


def _image(result) -> np.ndarray:
    """A result image as RGB pixels: a file's path, or the inline <img> (data: URI) of /sliders and co."""
    if isinstance(result, str) and result.lstrip().startswith("<img"):
        return np.asarray(D.image_from_inline(result))
    with Image.open(result) as im:
        return np.asarray(im.convert("RGB"))


def _png_bytes(size=64, seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _huge_png_header() -> bytes:
    """A tiny PNG file that claims to be 30000×30000 (900 MP): a decompression-bomb shape."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------------------------
# facelab.demo, without Gradio


def test_checkpoint_argument(monkeypatch):
    monkeypatch.delenv(D.CHECKPOINT_ENV, raising=False)
    assert D.checkpoint_argument(None) == "synthetic-disvae"
    monkeypatch.setenv(D.CHECKPOINT_ENV, "/some/dir")
    assert D.checkpoint_argument(None) == "/some/dir"
    assert D.checkpoint_argument("other") == "other"


def test_default_checkpoints_use_the_checkpoint_root(monkeypatch, tiny_checkpoint, tmp_path):
    from facelab.checkpoint import checkpoint_root, resolve

    monkeypatch.delenv(D.CHECKPOINT_ENV, raising=False)
    shutil.copytree(tiny_checkpoint, tmp_path / "a-synthetic")
    shutil.copytree(tiny_checkpoint, tmp_path / "b-photo")
    cfg = json.loads((tmp_path / "b-photo" / "config.json").read_text())
    cfg["model"]["alignment"] = "mtcnn"
    (tmp_path / "b-photo" / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("FACELAB_CHECKPOINTS", str(tmp_path))
    assert checkpoint_root() == tmp_path and resolve("a-synthetic") == tmp_path / "a-synthetic"
    assert D.default_checkpoints() == ["b-photo", "a-synthetic"]  # photo models first
    monkeypatch.setenv(D.CHECKPOINT_ENV, "/some/dir")
    assert D.default_checkpoints() == ["/some/dir"]


def test_slider_specs_follow_code_statistics(model):
    specs = D.slider_specs(model, k=3)
    assert [s.attribute for s in specs] == ["expression"] * 3 + ["identity"] * 3  # expression first
    for attribute in ("expression", "identity"):
        mean, std = model.code_range(attribute)
        low, high = model.code_bounds(attribute)  # the training codes' 1st and 99th percentile
        mine = [s for s in specs if s.attribute == attribute]
        assert [s.dim for s in mine] == model.top_dimensions(attribute, 3)
        for s in mine:  # rounded to about a thousandth of the span
            tol = 1e-3 * (s.maximum - s.minimum)
            assert s.default == pytest.approx(mean[s.dim], abs=tol)
            assert s.minimum == pytest.approx(low[s.dim], abs=tol) and s.minimum < s.default
            assert s.maximum == pytest.approx(high[s.dim], abs=tol) and s.maximum > s.default
        assert [std[s.dim] for s in mine] == sorted((std[s.dim] for s in mine), reverse=True)
    # k larger than an attribute: every dimension once
    full = D.slider_specs(model, k=100)
    assert len(full) == model.config.latent_dim
    assert len({s.name for s in full}) == len(full) and full[0].name.startswith("expression_dim_")


def test_apply_sliders_and_slider_values(model):
    specs = D.slider_specs(model, k=2)
    code = D.mean_code(model)
    assert D.slider_values(None, specs) == [s.default for s in specs]
    code = D.apply_sliders(code, specs, D.slider_values(code, specs))  # the rounded defaults
    assert D.apply_sliders(code, specs, D.slider_values(code, specs)) == code
    values = [s.maximum for s in specs]
    values[0] = s0 = specs[0].minimum + 1e9  # out of range: clipped
    values[1] = None  # None keeps the code's value
    values[2] = float("nan")  # not finite: the slider's default
    edited = D.apply_sliders(code, specs, values)
    assert getattr(edited, specs[0].attribute)[specs[0].dim] == pytest.approx(specs[0].maximum)
    assert getattr(edited, specs[1].attribute)[specs[1].dim] == getattr(code, specs[1].attribute)[specs[1].dim]
    assert getattr(edited, specs[2].attribute)[specs[2].dim] == pytest.approx(specs[2].default)
    assert D.slider_values(edited, specs)[3] == pytest.approx(specs[3].maximum)
    assert s0 > specs[0].maximum
    # other dimensions untouched, input code not modified
    touched = {(s.attribute, s.dim) for s in specs}
    for attribute in model.attributes:
        for d in range(len(getattr(code, attribute))):
            if (attribute, d) not in touched:
                assert getattr(edited, attribute)[d] == getattr(code, attribute)[d]
    assert code == D.apply_sliders(D.mean_code(model), specs, [s.default for s in specs])
    with pytest.raises(ValueError, match="slider values"):
        D.apply_sliders(code, specs, [0.0])


def test_strip_and_example_faces():
    faces = D.example_faces(3, seed=1, size=48)
    assert [im.size for im, _ in faces] == [(48, 48)] * 3
    assert all(" · " in caption and caption.startswith("person ") for _, caption in faces)
    again = D.example_faces(3, seed=1, size=48)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for (a, _), (b, _) in zip(faces, again))
    assert len({c for _, c in faces}) == 3
    s = D.strip([im for im, _ in faces])
    assert s.size == (144, 48)
    assert np.array_equal(np.asarray(s)[:, 48:96], np.asarray(faces[1][0]))
    assert D.strip([im for im, _ in faces], gap=2).size == (148, 48)
    with pytest.raises(ValueError):
        D.strip([])


def test_read_upload_payloads(tmp_path):
    good = tmp_path / "upload-123.png"
    good.write_bytes(_png_bytes(40))
    assert D.read_upload(None) is None
    assert D.read_upload({"path": None, "url": None}) is None
    assert D.read_upload(str(good)).size == (40, 40)
    assert D.read_upload({"path": str(good), "orig_name": "me.png"}).size == (40, 40)
    bad = tmp_path / "abc123.png"
    bad.write_bytes(_png_bytes(40)[:200])
    with pytest.raises(ImageError, match=r"^holiday\.png: .*truncated"):
        D.read_upload({"path": str(bad), "orig_name": "holiday.png"})
    with pytest.raises(ImageError, match=r"^abc123\.png: "):  # never the server's temp directory
        D.read_upload(str(bad))
    import base64

    url = "data:image/png;base64," + base64.b64encode(_png_bytes(16)).decode()
    assert D.read_upload({"path": None, "url": url}).size == (16, 16)


def _close(a, b, levels: int = 1) -> bool:
    return np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= levels


def test_model_operations(model, examples):
    view, code = D.encode_face(model, D.read_upload(str(examples[0])))
    assert view.size == (64, 64) and code == model.encode(examples[0])
    _, other = D.encode_face(model, D.read_upload(str(examples[1])))
    recon_a, recon_b, ab, ba = D.swap_faces(model, code, other)
    # batched vs single decoding may differ by one grey level (CPU kernels depend on batch size)
    assert _close(recon_a, model.decode(code))
    assert _close(ab, model.decode(model.swap(code, other, "expression")))
    with pytest.raises(ValueError, match="unknown attribute"):
        D.swap_faces(model, code, other, "hair")
    assert D.swap_labels("expression") == ("A with B's expression", "B with A's expression")
    _, _, ab_identity, _ = D.swap_faces(model, code, other, "identity")  # every sub-code can be swapped
    assert _close(ab_identity, model.decode(model.swap(code, other, "identity")))
    s = D.interpolation_strip(model, code, other, steps=5)
    assert s.size == (5 * 64, 64)
    assert np.array_equal(np.asarray(s)[:, :64], np.asarray(recon_a))
    with pytest.raises(ValueError):
        D.interpolation_strip(model, code, other, steps=1)
    assert D.code_from_state(code.to_dict()) == code and D.code_from_state(None) is None


def test_topology_figure_and_retrieval(model, topology, examples):
    code = model.encode(examples[0])
    fig = D.topology_figure(topology, "identity", "identity")
    assert not [t for t in fig.data if t.name == D.YOUR_FACE]
    fig = D.topology_figure(topology, "expression", "expression", code)
    star = [t for t in fig.data if t.name == D.YOUR_FACE]
    assert len(star) == 1
    assert np.allclose([star[0].x[0], star[0].y[0]], topology.place("expression", code.expression))
    with pytest.raises(ValueError):
        D.topology_figure(topology, "expression", "background")
    found = D.retrieve(topology, code, "identity", k=5, size=32)
    assert len(found) == 5 and all(im.size == (32, 32) for im, _ in found)
    idx, dist = topology.neighbours("identity", code.identity, 5)
    assert found[0][1].endswith(f"d={dist[0]:.2f}")
    assert len(D.retrieve(topology, code, "expression", k=10_000, size=16)) == len(topology)


def test_load_topology_reports_missing_and_mismatched(model, tiny_checkpoint, tmp_path):
    bare = facelab.load(tiny_checkpoint)
    directory = tmp_path / "bare"
    shutil.copytree(tiny_checkpoint, directory)
    bare.directory = directory
    topo, note = D.load_topology(bare)
    assert topo is None and "topology.npz" in note
    codes = {"identity": np.zeros((3, 2), np.float32), "expression": np.zeros((3, 2), np.float32)}
    Topology(codes, codes, {"identity": np.arange(3)}).save(directory / FILENAME)
    topo, note = D.load_topology(bare)
    assert topo is None and "another model" in note


def test_load_topology_reports_and_logs_corrupt_files(model, tiny_checkpoint, tmp_path, caplog):
    """A corrupt topology.npz is not hidden: the note gives the reason and a warning is logged."""
    bare = facelab.load(tiny_checkpoint)
    bare.directory = tmp_path
    whole = (model.directory / FILENAME).read_bytes()
    damaged = whole[:200] + bytes(20) + whole[220:]  # a member's data overwritten
    for content, reason in [(b"not a zip at all", "not an .npz file"), (whole[:-30], "truncated"),
                            (damaged, "not a readable .npz topology")]:
        (tmp_path / FILENAME).write_bytes(content)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="facelab.demo"):
            topo, note = D.load_topology(bare)
        assert topo is None and note.startswith(f"cannot read {FILENAME}: ") and reason in note
        assert [r.levelno for r in caplog.records] == [logging.WARNING] and reason in caplog.text
    # an npz without a facelab topology's arrays
    np.savez(tmp_path / FILENAME, something=np.zeros(3))
    topo, note = D.load_topology(bare)
    assert topo is None and "params" in note


def test_model_summary(model, tmp_path):
    text = D.model_summary(model)
    assert "tiny-app" in text and "z_id 6" in text and "z_exp 4" in text and "No model card" in text
    assert D.model_card(model) == ""

    directory = tmp_path / "carded"
    shutil.copytree(model.directory, directory)
    (directory / "evaluation.json").write_text(json.dumps(
        {"expression_accuracy": 0.5, "leakage_accuracy": 0.2, "majority_rate": 0.143, "psnr": 25.04, "note": "x"}))
    (directory / "README.md").write_text("# carded\n\nA card.\n")
    carded = facelab.load(directory)
    text = D.model_summary(carded)
    assert "expression accuracy 50.0%" in text
    assert "leakage (expression from the other codes) 20.0% (chance 14.3%)" in text
    assert "PSNR 25.0 dB" in text and "identity AUC" not in text and "model card below" in text
    assert "could not read" not in text
    assert D.model_card(carded).startswith("# carded")


def test_unreadable_evaluation_files_are_reported_not_skipped(model, tmp_path):
    directory = tmp_path / "broken"
    shutil.copytree(model.directory, directory)
    (directory / "evaluation.json").write_text('{"expression_accuracy": 0.5,')  # truncated
    (directory / "evaluation_fold.json").write_text("[1, 2]")  # not an object
    broken = facelab.load(directory)
    text = D.model_summary(broken)
    assert "could not read evaluation.json: " in text and "No model card" not in text
    sections = D.evaluation_sections(broken)
    assert [s.splitlines()[0] for s, _ in sections] == ["### evaluation.json", "### evaluation_fold.json"]
    assert sections[0][0].splitlines()[1].startswith("could not read evaluation.json: ")
    assert sections[1][0].splitlines()[1] == "could not read evaluation_fold.json: not a JSON object"
    assert all(plots == [] for _, plots in sections)


# --------------------------------------------------------------------------------------------
# Three sub-codes: nothing assumes the identity + expression pair


def test_three_codes_demo_functions(three_codes, examples):
    model, _ = three_codes
    assert model.attributes == ("identity", "expression", "style")
    specs = D.slider_specs(model, k=8)
    assert D.slider_attributes(model) == ["expression", "identity", "style"]
    assert [(s.attribute, s.dim) for s in specs] == (
        [("expression", d) for d in model.top_dimensions("expression", 3)]
        + [("identity", d) for d in model.top_dimensions("identity", 4)]
        + [("style", d) for d in model.top_dimensions("style", 2)])
    code, other = model.encode(examples[0]), model.encode(examples[1])
    edited = D.apply_sliders(code, specs, [s.maximum for s in specs])
    assert all(edited.style[s.dim] == pytest.approx(s.maximum) for s in specs if s.attribute == "style")
    _, _, ab, ba = D.swap_faces(model, code, other, "style")
    assert _close(ab, model.decode(code.replace(style=other.style)))
    assert _close(ba, model.decode(other.replace(style=code.style)))
    strip = D.interpolation_strip(model, code, other, steps=3, attribute="style")
    assert strip.size == (3 * 64, 64)
    assert _close(np.asarray(strip)[:, -64:], model.decode(code.replace(style=other.style)))
    assert [value for _, value in D.interpolation_choices(model)] == [*model.attributes, D.EVERYTHING]
    assert D.default_attribute(model) == "expression"
    assert D.probability_label(model) == "Expression (from z_exp)"
    assert "z_id 4, z_exp 3, z_style 2" in D.model_summary(model)
    state = code.to_dict()
    assert set(state) == {"identity", "expression", "style"} and D.code_from_state(state) == code
    assert D.mean_code(model).style.shape == (2,)


def test_three_codes_app(three_codes, examples, tmp_path):
    """The built app (not served) offers every sub-code in each tab; retrieve answers one gallery per sub-code."""
    import gradio as gr

    import app

    model, directory = three_codes
    demo = app.build_app(str(directory), examples_dir=tmp_path / "examples")
    retrieve = _endpoint(demo, "retrieve")
    galleries = [c for c in retrieve.outputs if isinstance(c, gr.Gallery)]
    assert [g.label for g in galleries] == ["Nearest by identity (z_id)", "Nearest by expression (z_exp)",
                                            "Nearest by style (z_style)"]
    note, *found = retrieve.fn(5, None, str(examples[0]))
    assert "nearest of 12 gallery faces" in note and [len(f) for f in found] == [5, 5, 5]
    topology, _ = D.load_topology(facelab.load(directory))
    idx, _ = topology.neighbours("style", model.encode(examples[0]).style, 5)
    assert [c.split(" ")[0] for _, c in found[2]] == [f"#{int(topology.labels['identity'][i])}" for i in idx]

    def choices(component):
        return [c[1] if isinstance(c, tuple) else c for c in component.choices]

    swap_attribute = _endpoint(demo, "swap").inputs[2]
    assert choices(swap_attribute) == list(model.attributes) and swap_attribute.value == "expression"
    assert choices(_endpoint(demo, "interpolate").inputs[3]) == [*model.attributes, "everything"]
    assert choices(_endpoint(demo, "topology").inputs[0]) == list(model.attributes)
    sliders = [c for c in _endpoint(demo, "sliders").inputs if isinstance(c, gr.Slider)]
    assert {s.label.split(" · ")[0] for s in sliders} == {"identity", "expression", "style"}
    *_, ab, _, note, figures = _endpoint(demo, "swap").fn(str(examples[0]), str(examples[1]), "style")  # paths
    expected = model.decode(model.swap(model.encode(examples[0]), model.encode(examples[1]), "style"))
    assert _close(_image(ab), expected)
    # the read-back measures every sub-code, style too, against A and B
    assert set(figures) == {"A with B's style", "B with A's style"} and "A with B's style" in note
    assert set(figures["A with B's style"]["similarity"]) == {"identity", "expression", "style"}
    assert set(figures["A with B's style"]["similarity"]["style"]) == {"A", "B"}


# --------------------------------------------------------------------------------------------
# The served app, through gradio_client


def test_every_endpoint_is_named(client):
    info = client.view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == ENDPOINTS
    names = [p["parameter_name"] for p in info["named_endpoints"]["/sliders"]["parameters"]]
    assert names[0] == "face" and names[1].startswith("expression_dim_")


def test_ping(client):
    assert client.predict(api_name="/ping") == "pong"


def test_encode(client, model, examples):
    from gradio_client import handle_file

    view, recon, label = client.predict(handle_file(str(examples[0])), api_name="/encode")
    assert _image(view).shape == _image(recon).shape == (64, 64, 3)
    code = model.encode(examples[0])
    assert np.array_equal(_image(recon), np.asarray(model.decode(code)))  # PNG: lossless
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(model.expressions)
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    expected = model.classify(code)
    assert label["label"] == next(iter(expected))
    assert all(confidences[k] == pytest.approx(v, abs=1e-5) for k, v in expected.items())


def test_sharper_encoding_refines_the_unread_codes_and_draws_the_view_closer(client, model, examples):
    from gradio_client import handle_file

    setting = model.sharper_setting()
    assert setting["steps"] > 0 and setting["free"] and not set(setting["free"]) & set(model.class_names())
    view, plain, label = client.predict(handle_file(str(examples[0])), api_name="/encode")
    view_again, sharp, label_again = client.predict(handle_file(str(examples[0])), 1, False, True, api_name="/encode")
    assert np.array_equal(_image(view_again), _image(view))
    refined = model.encode(_image(view), align=False, refine=setting)
    assert np.abs(_image(sharp).astype(int) - np.asarray(model.decode(refined)).astype(int)).max() <= 1
    assert not np.array_equal(_image(sharp), _image(plain))
    target = _image(view).astype(float)
    assert ((_image(sharp) - target) ** 2).mean() < ((_image(plain) - target) ** 2).mean()
    assert label_again["label"] == label["label"]  # what the heads read is not refined


def test_sliders_stateless(client, model):
    specs = D.slider_specs(model)
    out = client.predict(api_name="/sliders")  # every slider at its default: the average face
    average = D.apply_sliders(D.mean_code(model), specs, [s.default for s in specs])
    assert np.array_equal(_image(out), np.asarray(model.decode(average)))
    values = [s.maximum if i == 0 else s.default for i, s in enumerate(specs)]
    moved = client.predict(None, *values, api_name="/sliders")
    expected = model.decode(D.apply_sliders(D.mean_code(model), specs, values))
    assert np.array_equal(_image(moved), np.asarray(expected))
    assert _image(moved).shape == (64, 64, 3)
    # inline: the face comes in the answer itself (an <img> with a PNG data: URI), no file to download
    assert moved.startswith('<img class="inline-face"') and "data:image/png;base64," in moved
    # its read-back is an endpoint of its own (chained after each move in the UI), measured against the average face
    note, figures = client.predict(None, *values, api_name="/sliders_readback")
    expected = D.slider_readback(model, D.mean_code(model), D.apply_sliders(D.mean_code(model), specs, values),
                                 D.AVERAGE_FACE)
    assert figures["summary"] == expected.summary() and expected.summary() in note
    assert set(figures["similarity"]["identity"]) == {D.AVERAGE_FACE}


def test_sliders_with_face_and_session(client, model, examples):
    from gradio_client import handle_file

    specs = D.slider_specs(model)
    code = model.encode(examples[1])
    # stateless with a face passed to the API
    values = D.slider_values(code, specs)
    values[0] = specs[0].minimum
    out = client.predict(handle_file(str(examples[1])), *values, api_name="/sliders")
    assert np.array_equal(_image(out), np.asarray(model.decode(D.apply_sliders(code, specs, values))))
    # the session: before encoding, reset gives the defaults; after, the face's code
    before = client.predict(api_name="/reset")
    assert list(before[1:]) == pytest.approx([s.default for s in specs], abs=1e-5)
    client.predict(handle_file(str(examples[1])), api_name="/encode")
    after = client.predict(api_name="/reset")
    assert list(after[1:]) == pytest.approx(D.slider_values(code, specs), abs=1e-5)
    assert np.array_equal(_image(after[0]), np.asarray(model.decode(code)))
    # a slider event now starts from the session's face, and so does its read-back
    out = client.predict(None, *after[1:], api_name="/sliders")
    assert np.array_equal(_image(out), np.asarray(model.decode(D.apply_sliders(code, specs, after[1:]))))
    values = list(after[1:])
    values[0] = specs[0].maximum
    _, figures = client.predict(None, *values, api_name="/sliders_readback")
    expected = D.slider_readback(model, code, D.apply_sliders(code, specs, values))
    assert set(figures["similarity"]["identity"]) == {"your face"}
    assert figures["similarity"]["identity"]["your face"] == pytest.approx(
        expected.similarity["identity"]["your face"], abs=1e-3)


def test_swap(client, model, examples):
    from gradio_client import handle_file

    a, b = handle_file(str(examples[0])), handle_file(str(examples[2]))
    *images, note, figures = client.predict(a, b, "expression", api_name="/swap")
    view_a, view_b, recon_a, recon_b, ab, ba = map(_image, images)
    assert all(x.shape == (64, 64, 3) for x in (view_a, view_b, recon_a, recon_b, ab, ba))
    code_a, code_b = model.encode(examples[0]), model.encode(examples[2])
    assert _close(ab, np.asarray(model.decode(model.swap(code_a, code_b, "expression"))))
    assert _close(ba, np.asarray(model.decode(model.swap(code_b, code_a, "expression"))))
    assert not np.array_equal(ab, recon_a) and not np.array_equal(ba, recon_b)
    assert not np.array_equal(ab, view_a)
    # measured: what the model reads back from each swapped face, in the UI (one line each) and the API (figures)
    _, found = D.swap_readback(model, code_a, code_b, "expression")  # the same batch as the server's
    expected = found["A with B's expression"]
    mine = figures["A with B's expression"]
    assert set(figures) == {"A with B's expression", "B with A's expression"}
    assert mine["summary"] == expected.summary() and f"**A with B's expression:** {expected.summary()}" in note
    assert mine["similarity"]["identity"]["A"] == pytest.approx(expected.similarity["identity"]["A"], abs=1e-3)
    assert list(mine["probabilities"]["expression"]) == list(expected.probabilities["expression"])


def test_edits_on_the_photo_through_the_api(client, model, examples):
    """photo_detail=True: sliders and swaps come back drawn on the photo (facelab.photo_layer); off
    (this generator model's default) they are the decoder's output, as the tests above check."""
    from gradio_client import handle_file

    specs = D.slider_specs(model)
    face = handle_file(str(examples[1]))
    view = model.prepare(examples[1])
    code = model.encode(examples[1])
    layer = model.photo_layer(view, code)
    values = D.slider_values(code, specs)
    values[0] = specs[0].maximum
    edited = D.apply_sliders(code, specs, values)
    on = _image(client.predict(face, *values, True, api_name="/sliders"))
    off = _image(client.predict(face, *values, False, api_name="/sliders"))
    assert np.array_equal(off, np.asarray(model.decode(edited)))
    assert _close(on, np.asarray(model.decode(edited, layer)), levels=3)
    assert np.abs(on.astype(int) - np.asarray(view, dtype=int)).mean() < np.abs(off.astype(int) - np.asarray(view, dtype=int)).mean()
    # the session's face keeps its photo: encode, then reset shows the photo itself, unedited
    client.predict(face, api_name="/encode")
    reset = _image(client.predict(True, api_name="/reset")[0])
    assert _close(reset, np.asarray(view), levels=2)
    # swaps: each swapped face on its own photo; the reconstructions stay the decoder's
    a, b = handle_file(str(examples[0])), handle_file(str(examples[2]))
    *images, _, _ = client.predict(a, b, "expression", True, api_name="/swap")
    view_a, _, recon_a, _, ab, _ = map(_image, images)
    code_a, code_b = model.encode(examples[0]), model.encode(examples[2])
    assert np.array_equal(recon_a, np.asarray(model.decode(code_a)))
    layer_a = model.photo_layer(model.prepare(examples[0]), code_a)
    assert _close(ab, np.asarray(model.decode(model.swap(code_a, code_b, "expression"), layer_a)), levels=3)
    # the presenter: the same switch, its last parameter
    dim = model.top_dimensions("expression", 1)[0]
    shown = {d: _image(client.predict(face, "expression", dim, 0.8, d, api_name="/presenter_edit")) for d in (True, False)}
    moved = D.set_dimension(model, code, "expression", dim, 0.8)
    assert np.array_equal(shown[False], np.asarray(model.decode(moved)))
    assert _close(shown[True], np.asarray(model.decode(moved, layer)), levels=3)
    # interpolation: every code moving, the strip runs from A's photo to B's
    strip, _, _ = client.predict(a, b, 5, "everything", True, api_name="/interpolate")
    strip = _image(strip)
    view_b = np.asarray(model.prepare(examples[2]))
    assert _close(strip[:, :64], np.asarray(view_a), levels=2) and _close(strip[:, -64:], view_b, levels=2)
    plain = _image(client.predict(a, b, 5, "everything", False, api_name="/interpolate")[0])
    assert _close(plain[:, -64:], np.asarray(model.decode(code_b)))


def test_interpolate(client, model, examples):
    from gradio_client import handle_file

    a, b = handle_file(str(examples[0])), handle_file(str(examples[3]))
    strip, note, figures = client.predict(a, b, 4, "expression", api_name="/interpolate")
    strip = _image(strip)
    assert strip.shape == (64, 4 * 64, 3)
    code_a, code_b = model.encode(examples[0]), model.encode(examples[3])
    assert _close(strip[:, :64], np.asarray(model.decode(code_a)))  # t=0 is A itself
    # every frame read back against A and B
    assert list(figures) == ["t=0.00", "t=0.33", "t=0.67", "t=1.00"]
    assert all(set(f["similarity"]["identity"]) == {"A", "B"} for f in figures.values())
    assert note.count("**t=") == 4 and figures["t=1.00"]["summary"] in note
    everything, _, figures = client.predict(a, b, 12, "everything", api_name="/interpolate")
    everything = _image(everything)
    assert everything.shape == (64, 12 * 64, 3) and len(figures) == 12
    assert _close(everything[:, -64:], np.asarray(model.decode(code_b)))  # t=1 is B itself


def test_topology(client, topology, examples):
    import json

    from gradio_client import handle_file

    from facelab.synthetic import EXPRESSION_NAMES

    def traces(result):
        plot, note = result
        assert plot["type"] == "plotly"
        return [t.get("name") for t in json.loads(plot["plot"])["data"]], note

    names, note = traces(client.predict("identity", "intensity", api_name="/topology"))
    assert D.YOUR_FACE not in names and "Encode a face" in note
    names, _ = traces(client.predict("expression", "expression", handle_file(str(examples[0])), api_name="/topology"))
    assert D.YOUR_FACE in names and set(names) - {D.YOUR_FACE} <= set(EXPRESSION_NAMES)
    client.predict(handle_file(str(examples[1])), api_name="/encode")  # the session's face is starred too
    names, note = traces(client.predict("identity", "identity", api_name="/topology"))
    assert D.YOUR_FACE in names and "★" in note


def test_retrieve(client, model, topology, examples):
    from gradio_client import handle_file

    note, *galleries = client.predict(5, api_name="/retrieve")  # one gallery per sub-code, in config order
    assert "Encode a face" in note and galleries == [[]] * len(model.attributes)
    note, *galleries = client.predict(5, handle_file(str(examples[0])), api_name="/retrieve")
    assert len(galleries) == len(model.attributes) == 2 and [len(g) for g in galleries] == [5, 5]
    by_id = galleries[model.attributes.index("identity")]
    code = model.encode(examples[0])
    idx, _ = topology.neighbours("identity", code.identity, 5)
    assert [item["caption"].split(" ")[0] for item in by_id] == [f"#{int(topology.labels['identity'][i])}" for i in idx]
    assert _image(by_id[0]["image"]).shape == (128, 128, 3)


def test_bad_uploads_give_clear_errors_and_keep_state(client, model, examples, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client.predict(handle_file(str(examples[2])), api_name="/encode")
    before = client.predict(api_name="/reset")

    text = tmp_path / "notes.txt"
    text.write_text("this is not a face\n")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(_png_bytes(64)[:300])
    huge = tmp_path / "huge.png"
    huge.write_bytes(_huge_png_header())
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases = [(text, "notes.txt: not an image"), (truncated, "cut.png: image file is truncated"),
             (huge, "huge.png: image is 900 MP, over the 150 MP limit"), (empty, "empty")]
    for path, message in cases:
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(str(path)), api_name="/encode")
    with pytest.raises(AppError, match="cut.png: image file is truncated"):
        client.predict(handle_file(str(examples[0])), handle_file(str(truncated)), "expression", api_name="/swap")
    with pytest.raises(AppError, match="notes.txt: not an image"):
        client.predict(handle_file(str(text)), handle_file(str(examples[0])), 5, "expression",
                       api_name="/interpolate")
    with pytest.raises(AppError, match="Choose face B first"):
        client.predict(handle_file(str(examples[0])), None, "expression", api_name="/swap")
    with pytest.raises(AppError, match="unknown attribute"):
        client.predict(handle_file(str(examples[0])), handle_file(str(examples[1])), "hair", api_name="/swap")
    # the server keeps serving, and the session's face survived the failed uploads
    after = client.predict(api_name="/reset")
    assert list(after[1:]) == pytest.approx(list(before[1:]))
    view, _, _ = client.predict(handle_file(str(examples[3])), api_name="/encode")
    assert _image(view).shape == (64, 64, 3)
    assert client.predict(api_name="/ping") == "pong"


def test_app_page_is_offline(served):
    """The page is served locally and asks for no Google fonts or CDN assets."""
    import httpx

    url, demo = served
    html = httpx.get(url, timeout=10).text
    assert "fonts.googleapis.com" not in html and "cdn.jsdelivr" not in html
    config = httpx.get(url.rstrip("/") + "/config", timeout=10).text
    assert "fonts.googleapis.com" not in config
    assert demo.share is False or demo.share is None


def test_label_debug_endpoint_sorts_by_disagreement(client, model):
    gallery = client.predict("synthetic (held-out people)", 4, api_name="/label_debug")
    assert len(gallery) == 4
    captions = [item["caption"] for item in gallery]
    assert all(c.startswith("label ") and " predicted " in c for c in captions)
    label_probs = [float(c.rsplit("label ", 1)[1].rstrip("%)")) for c in captions]
    assert label_probs == sorted(label_probs)  # least likely label first
    with pytest.raises(Exception, match="not in the list of choices|no labelled set"):
        client.predict("imagenet", 4, api_name="/label_debug")


def test_latency_bench_runs_against_the_current_endpoints(tiny_checkpoint, examples, tmp_path, monkeypatch):
    """bench/app_latency.py calls /sliders with the app's current parameters (it broke once when a
    parameter was added): two rounds, an encoded face, its JSON written."""
    import importlib.util
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "bench"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("app_latency", bench / "app_latency.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "latency.json"
    report = script.main(["--checkpoint", str(tiny_checkpoint), "--n", "2", "--warmup", "0",
                          "--face", str(examples[0]), "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["face"] == str(examples[0]) and saved["results"]["sliders"]["n"] == 2
    assert report["ratio_p50"]["sliders/ping"] > 0 and saved["server_cpu_ms"]["sliders"] > 0
