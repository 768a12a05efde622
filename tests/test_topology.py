"""Topology maps for photo models: a held-out gallery from a tiny photo tree, its file (no pixels, no
pickle), the map with the user's face, and gallery pictures from the data folder or decoded codes."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fixtures import make_fer_folders, make_london

import facelab
from facelab import datasets
from facelab.demo import topology as T
from facelab.face_model import Code
from facelab.topology import FILENAME, Topology, build_topology, held_out_photos

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def photo_root(tmp_path_factory):
    """A data folder with the London and FER2013 layouts (noise images; London pre-cropped via ?aligned=1)."""
    root = tmp_path_factory.mktemp("data")
    make_london(root / "london", people=6, canada=("003f",), size=32)
    make_fer_folders(root / "fer2013", per_class={"train": 2, "test": 3})
    return root


@pytest.fixture(scope="module")
def specs(photo_root):
    return [f"london:{photo_root / 'london'}?aligned=1", f"fer2013:{photo_root / 'fer2013'}"]


@pytest.fixture(scope="module")
def photo_checkpoint(tmp_path_factory, specs, cache_dir):
    """An untrained MTCNN-aligned checkpoint whose config says it trained on ``specs`` holding out half the people."""
    import torch

    from facelab.align import AlignConfig
    from facelab.checkpoint import save_checkpoint
    from facelab.config import ModelConfig, TrainConfig
    from facelab.methods import build_network

    torch.manual_seed(0)
    cfg = ModelConfig(channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4}, fusion_dim=16,
                      alignment="mtcnn", align=AlignConfig(size=64).to_dict())
    training = TrainConfig(data=tuple(specs), holdout=0.5, seed=0)
    return save_checkpoint(tmp_path_factory.mktemp("photo") / "photo-model", build_network(cfg), cfg, training)


@pytest.fixture(scope="module")
def built(photo_checkpoint, specs):
    """``(model, topology)``: the gallery of the photos the checkpoint never trained on, UMAP fitted and saved."""
    model = facelab.load(photo_checkpoint)
    gallery, labels, params = held_out_photos(model, specs, per_class=2, seed=0, progress=False)
    topology = build_topology(model, gallery, labels, params, n_neighbors=4, progress=False)
    topology.save(photo_checkpoint / FILENAME)
    return model, topology


def test_gallery_is_held_out_and_balanced(built, specs):
    _, topology = built
    lab = topology.labels
    mix = datasets.load(specs, size=64, progress=False)
    split = datasets.training_splits(mix, 0.5, seed=0)
    records = [r for part in mix.parts for r in part.records]
    trained = {os.path.realpath(records[i].path) for i in split["train"]}
    held_people = {records[i].identity for i in split["test"]} - {None}
    root = Path(specs[0].split(":", 1)[1].split("?")[0]).parent
    gallery = {os.path.realpath(root / d / p) for d, p in zip(lab["dataset"], lab["path"])}
    assert len(gallery) == len(topology) and not gallery & trained
    assert set(lab["identity"][lab["dataset"] == "london"]) <= held_people and held_people
    fer = lab["dataset"] == "fer2013"
    assert all(p.startswith("test/") for p in lab["path"][fer])
    assert np.bincount(lab["expression"][fer]).max() == 2 and len(np.unique(lab["expression"][fer])) == 7
    assert topology.embedding["identity"].shape == (len(topology), 2) and np.isfinite(topology.embedding["expression"]).all()
    assert [line.split(":")[0] for line in topology.params["gallery"]] == ["london", "fer2013"]
    assert "people kept out of training" in topology.params["gallery"][0]
    assert "its own test split" in topology.params["gallery"][1] and "a random 14" in topology.params["gallery"][1]


def test_gallery_says_when_a_dataset_was_all_trained_on(photo_checkpoint, specs):
    model = facelab.load(photo_checkpoint)
    model.training.holdout = 0.0  # as if every London person had been trained on
    _, labels, params = held_out_photos(model, specs[:1], progress=False)
    assert len(labels["path"]) == 0 and "none of its 13 images" in params["gallery"][0]


def test_file_round_trip_holds_no_pixels_and_no_pickle(built, tmp_path):
    _, topology = built
    path = tmp_path / FILENAME
    topology.save(path)
    with np.load(path, allow_pickle=False) as data:  # every member reads without unpickling
        assert all(data[k].dtype != object for k in data.files)
        assert all(data[k].ndim <= 2 and data[k].dtype != np.uint8 for k in data.files)  # no image arrays
    assert all(name.endswith(".npy") for name in zipfile.ZipFile(path).namelist())
    back = Topology.load(path)
    assert back.params == topology.params and not back.rendered
    for group in ("codes", "embedding", "labels"):
        a, b = getattr(topology, group), getattr(back, group)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def test_photo_map_has_the_users_face_and_credits_london(built, photo_checkpoint, photo_root, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("FACELAB_DATA", str(photo_root))
    topology, note = T.load_topology(facelab.load(photo_checkpoint))
    assert topology is not None, note
    model = topology.model
    code = model.encode(Image.open(photo_root / "london" / "neutral_front" / "001_03.jpg"), align=False)
    assert T.color_choices(topology) == ["expression", "identity", "dataset"]  # intensity: neutral (0) only
    fig = T.topology_figure(topology, "expression", "expression", code)
    star = [t for t in fig.data if t.name == T.YOUR_FACE]
    assert len(star) == 1 and np.allclose([star[0].x[0], star[0].y[0]], topology.place("expression", code.expression))
    points = [t for t in fig.data if t.name != T.YOUR_FACE]
    assert sum(len(t.x) for t in points) == len(topology)
    assert all(str(u).startswith("data:image/webp;base64,") for t in points for u in t.customdata)
    assert "DeBruine & Jones 2017" in fig.layout.annotations[0].text and "CC-BY 4.0" in fig.layout.annotations[0].text
    assert {t.name for t in T.topology_figure(topology, "identity", "dataset").data} == {"london", "fer2013"}
    assert "no identity" in [t.name for t in T.topology_figure(topology, "identity", "identity").data]
    with pytest.raises(ValueError, match="cannot colour by 'intensity'"):
        T.topology_figure(topology, "identity", "intensity")
    note = T.topology_note(topology)
    assert "CC-BY 4.0" in note and "people kept out of training" in note and "decoded" not in note
    found = T.retrieve(topology, code, "identity", k=3, size=96)
    idx, dist = topology.neighbours("identity", code.identity, 3)
    assert [c for _, c in found] == [f"{topology.caption(i)} d={d:.2f}" for i, d in zip(idx, dist)]
    assert all(im.size == (96, 96) for im, _ in found)


def test_pictures_come_from_the_data_folder_else_from_decoded_codes(built, photo_checkpoint, photo_root,
                                                                    tmp_path, monkeypatch):
    from facelab.imageio import to_pil

    model = facelab.load(photo_checkpoint)
    monkeypatch.setenv("FACELAB_DATA", str(photo_root))
    topology, _ = T.load_topology(model)
    pictures, from_files = T.photo_pictures(topology)
    assert from_files == len(topology) and pictures.shape == (len(topology), 64, 64, 3)
    first = Path(photo_root / topology.params["sources"][topology.labels["dataset"][0]]["folder"]
                 / topology.labels["path"][0])
    assert np.array_equal(pictures[0], np.asarray(model.prepare(first, align=False)))  # cropped as the model's data

    monkeypatch.setenv("FACELAB_DATA", str(tmp_path / "absent"))
    topology, _ = T.load_topology(model)
    pictures, from_files = T.photo_pictures(topology)
    assert from_files == 0
    z = np.concatenate([topology.codes[a][:1] for a in model.attributes], axis=1)
    decoded = np.asarray(to_pil(model.decode_tensor(z)[0])).astype(int)
    assert np.abs(pictures[0].astype(int) - decoded).max() <= 1  # one decode against a batch: rounding only
    assert T.topology_figure(topology, "identity").data[0].customdata[0].startswith("data:image/webp")
    assert f"{len(topology)} decoded from their codes" in T.topology_note(topology)


@pytest.mark.skipif(not (REPO / "checkpoints" / "real-disvae" / FILENAME).is_file(), reason="no bundled photo map")
def test_bundled_photo_map_is_held_out_and_takes_a_face(tmp_path, monkeypatch):
    """The main page's map: FER2013 test images and London people the checkpoint's split held out."""
    monkeypatch.setenv("FACELAB_DATA", str(tmp_path))  # thumbnails decoded: no photo aligned here
    model = facelab.load("real-disvae")
    topology, note = T.load_topology(model)
    assert topology is not None, note
    lab = topology.labels
    assert set(lab["dataset"]) == {"fer2013", "london"}
    assert all(p.startswith("test/") for p in lab["path"][lab["dataset"] == "fer2013"])
    london = datasets.scan("london", REAL_DATA / "london") if (REAL_DATA / "london").is_dir() else None
    if london is not None:  # the same split the checkpoint drew (no London photo lacks a detected face)
        _, held = datasets.identity_split(london.records, model.training.holdout, seed=model.training.seed)
        assert set(lab["identity"][lab["dataset"] == "london"]) == {london.records[i].identity for i in held}
    code = Code({a: topology.codes[a][0] + 0.01 for a in model.attributes})
    fig = T.topology_figure(topology, "expression", "expression", code)
    assert T.YOUR_FACE in [t.name for t in fig.data]


def test_hovering_a_point_shows_its_thumbnail_in_a_browser(built, photo_checkpoint, photo_root, tmp_path,
                                                          monkeypatch):
    """HOVER_HEAD in headless Chromium on the served app (skips where Playwright or a browser is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    import socket

    import app
    from facelab.demo import default_attribute

    monkeypatch.setenv("FACELAB_DATA", str(photo_root))
    topology, _ = T.load_topology(facelab.load(photo_checkpoint))
    figure = T.topology_figure(topology, default_attribute(topology.model), "expression")
    first = figure.data[0]
    thumbnails = {c for trace in figure.data if trace.customdata is not None for c in trace.customdata}
    demo = app.build_app(str(photo_checkpoint), examples_dir=tmp_path / "examples")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port,
                                                 quiet=True, head=T.HOVER_HEAD))
    try:
        with sync_api.sync_playwright() as p:
            try:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            except sync_api.Error as e:
                pytest.skip(f"no browser for Playwright: {str(e).splitlines()[0]}")
            page = browser.new_page()
            page.set_default_timeout(120_000)  # the front end loads slowly on a busy 2-core machine
            page.goto(url)
            page.get_by_role("tab", name="Topology").click()
            page.wait_for_selector(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas")
            page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # below the gallery's note
            x, y = page.evaluate("""([x, y]) => {
                const gd = document.querySelector('.js-plotly-plot'), box = gd.getBoundingClientRect();
                const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                return [box.left + xa._offset + xa.c2p(x), box.top + ya._offset + ya.c2p(y)];
            }""", [float(first.x[0]), float(first.y[0])])
            page.mouse.move(x - 20, y - 20)
            page.mouse.move(x, y, steps=4)
            tip = page.wait_for_selector("#facelab-hover", state="visible")
            # a gallery point's own thumbnail (Plotly picks the nearest point: on a tiny map another
            # trace's point can sit on top of this one)
            assert tip.get_attribute("src") in thumbnails
            page.mouse.move(1, 1)
            page.wait_for_selector("#facelab-hover", state="hidden")
            browser.close()
    finally:
        demo.close()
