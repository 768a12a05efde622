"""The independent face recogniser (dlib) and the photo figures of ``train.evaluate --recogniser``.

Skipped where dlib-bin / face-recognition-models are not installed (they are evaluation tools, not
app dependencies); the London tests also need the photos (../shared/data/london).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from facelab import recogniser as R

LONDON = Path(os.environ.get("FACELAB_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data") / "london"
needs_dlib = pytest.mark.skipif(not R.available(), reason=f"needs dlib ({R.INSTALL_HINT})")
needs_london = pytest.mark.skipif(not (LONDON / "neutral_front").is_dir(), reason=f"needs the London photos ({LONDON})")


def test_image_forms_and_chip_geometry():
    """No dlib needed: every image form becomes uint8 HWC, and the chip follows the alignment template."""
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    as_float = u8.transpose(0, 3, 1, 2).astype(np.float32) / 255
    from PIL import Image

    for form in (u8, as_float, [Image.fromarray(u8[0]), u8[1]]):
        out = R.as_uint8_images(form)
        assert len(out) == 2 and all(o.dtype == np.uint8 and o.shape == (64, 64, 3) for o in out)
        assert np.array_equal(np.stack(out), u8)
    from facelab.align import AlignConfig

    default = R.chip_box()
    assert np.allclose(default, [[R.CHIP_BOX[0], R.CHIP_BOX[1]], [R.CHIP_BOX[2], R.CHIP_BOX[1]],
                                 [R.CHIP_BOX[0], R.CHIP_BOX[3]]])
    assert np.allclose(R.chip_box(AlignConfig()), default)
    zoomed = R.chip_box(AlignConfig(scale=0.5))  # face half as big, about the centre: so is the chip
    assert np.allclose(zoomed, (default - 0.5) * 0.5 + 0.5)
    assert np.allclose(R.chip_box((0.0, 0.0, 1.0, 1.0)), [[0, 0], [1, 0], [0, 1]])
    assert [c.shape for c in R.chips(u8)] == [(R.CHIP_SIZE, R.CHIP_SIZE, 3)] * 2


def test_evaluate_says_what_to_install_without_dlib(monkeypatch, tiny_checkpoint):
    from train import evaluate

    monkeypatch.setattr(R, "available", lambda: False)
    with pytest.raises(SystemExit, match="dlib-bin"):
        evaluate.main(["--checkpoint", str(tiny_checkpoint), "--recogniser"])


@needs_dlib
def test_face_found_on_a_generator_face_not_on_blank_images():
    from facelab.synthetic import FaceFactors, render

    faces = [render(FaceFactors(identity=i, expression=e)) for i, e in ((3, 0), (8, 1))]
    blank = [np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 200, np.uint8)]
    assert R.face_found(faces).all()
    assert not R.face_found(blank).any()


@pytest.fixture(scope="module")
def london_faces(tmp_path_factory):
    """Three London people, neutral and smiling, aligned like the training data (6 crops)."""
    if not (R.available() and (LONDON / "neutral_front").is_dir()):
        pytest.skip("needs dlib and the London photos")
    from facelab import datasets

    root = tmp_path_factory.mktemp("london")
    for folder, suffix in (("neutral_front", "03"), ("smiling_front", "08")):
        (root / folder).mkdir()
        for person in ("005", "006", "018"):
            (root / folder / f"{person}_{suffix}.jpg").symlink_to(LONDON / folder / f"{person}_{suffix}.jpg")
    return datasets.load(f"london:{root}", size=64, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


@needs_dlib
@needs_london
def test_descriptor_close_for_a_changed_copy_far_for_another_person(london_faces):
    crops = np.stack([london_faces.image_array(i) for i in range(len(london_faces))])
    people = np.array([r.identity for r in london_faces.records])
    changed = np.clip(np.roll(crops[0].astype(int), 1, axis=1) + 8, 0, 255).astype(np.uint8)  # 1-px shift, brighter
    d = R.descriptors(np.concatenate([crops, changed[None]]))
    assert d.shape == (7, 128) and d.dtype == np.float32
    assert np.isfinite(d).all()
    dist = R.distances(d, d)
    assert dist[0, 6] < 0.2  # the changed copy
    same = people[:, None] == people[None]
    off = ~np.eye(6, dtype=bool)
    assert dist[:6, :6][same & off].max() < R.SAME_PERSON_DISTANCE  # neutral vs smiling of one person
    assert dist[:6, :6][~same].min() > R.SAME_PERSON_DISTANCE  # different people
    assert (people[R.nearest(d[:6], d[:6], exclude=~off)] == people).all()
    assert np.array_equal(R.descriptors(crops[:2]), d[:2])  # deterministic (no jitter)


@needs_dlib
def test_cached_descriptors_are_computed_once(tmp_path, tiny_synthetic, monkeypatch):
    from torch.utils.data import Subset

    subset = Subset(tiny_synthetic, [0, 9, 18])
    first = R.dataset_descriptors(subset, cache_dir=tmp_path)
    crops = R.as_uint8_images(np.stack([np.asarray(subset[i]["image"]) for i in range(3)]))
    assert first.shape == (3, 128) and np.array_equal(first, R.descriptors(crops))

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached descriptor")

    monkeypatch.setattr(R, "descriptors", fail)
    assert np.array_equal(R.cached_descriptors(crops, cache_dir=tmp_path), first)
    assert np.array_equal(R.dataset_descriptors(subset, cache_dir=tmp_path), first)
    assert list((tmp_path / "recogniser").glob("*/descriptors.npz"))
    other = tmp_path / "other"  # another geometry is another cache entry
    monkeypatch.undo()
    assert not np.array_equal(R.cached_descriptors(crops, geometry=(0.0, 0.0, 1.0, 1.0), cache_dir=other), first)


def test_the_cache_keeps_a_batch_with_the_same_crop_twice(tmp_path, tiny_synthetic, monkeypatch):
    """FER2013 holds duplicate images: a chunk with one crop twice must still be cached (no dlib needed)."""
    crops = R.as_uint8_images(np.stack([np.asarray(tiny_synthetic[i]["image"]) for i in (0, 1, 0, 2)]))
    calls = []

    def fake(images, geometry=None, batch_size=32):
        calls.append(len(images))
        return np.stack([np.full(128, float(im.mean()), np.float32) for im in images])

    monkeypatch.setattr(R, "descriptors", fake)
    first = R.cached_descriptors(crops, cache_dir=tmp_path)
    assert np.array_equal(first[0], first[2]) and calls == [4]
    again = R.cached_descriptors(crops, cache_dir=tmp_path)  # all four read back, none recomputed
    assert np.array_equal(again, first) and calls == [4]


RATES = ("expression_accuracy", "expression_balanced_accuracy", "recon_identified", "recon_identified_chance", "recon_same_person", "recon_face_found", "view_face_found",
         "swap_identified_as_a", "noswap_identified_as_a", "swap_identified_as_b", "swap_face_found",
         "swap_expression_accuracy", "noswap_expression_accuracy", "swap_identity_kept", "noswap_identity_kept",
         "slider_end_face_found", "slider_all_ends_face_found", "photo_swap_identified_as_a",
         "photo_swap_identified_as_b", "photo_swap_face_found", "photo_swap_expression_accuracy",
         "photo_slider_end_face_found", "photo_slider_all_ends_face_found", "identity_swap_identified_as_b",
         "identity_swap_identified_as_a", "photo_identity_swap_identified_as_b", "photo_identity_swap_identified_as_a")


def _check_figures(figures: dict, n_images: int, n_people: int, views_found: float):
    for key in RATES:
        assert 0.0 <= figures[key] <= 1.0, key
    assert figures["n_images"] == n_images and figures["n_people"] == n_people
    assert figures["recon_identified_chance"] == pytest.approx(1 / n_people)  # every person has n_images / n_people views
    assert figures["psnr"] > 5 and 0 < figures["ssim"] <= 1 and figures["colour_kept"] >= 0
    assert figures["swap_pairs"] > 0 and figures["slider_ends"] == 2 * len(figures["sliders"]) * n_images
    assert figures["view_face_found"] >= views_found


@needs_dlib
def test_train_evaluate_recogniser_on_generator_faces(tiny_checkpoint, tmp_path):
    """The CLI end to end on a tiny checkpoint, with new generator people as the unseen faces."""
    from train import evaluate

    out = tmp_path / "recogniser.json"
    spec = "synthetic:identities=3,per_identity=3,identity_seed=1,seed=1,min_intensity=0.5"
    figures = evaluate.main(["--checkpoint", str(tiny_checkpoint), "--recogniser", "--data", spec,
                             "--swap-pairs", "6", "--quiet", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["recon_identified"] == figures["recon_identified"] and saved["title"] == "recogniser"
    _check_figures(saved, 9, 3, views_found=0.5)
    assert saved["swap_pairs"] <= 6 and "not trained on" in saved["description"]
    assert saved["view_identified"] >= 0.0 and "fer2013_test_accuracy" not in saved
    with pytest.raises(SystemExit, match="trained on every image"):  # its own training data: nothing unseen
        evaluate.main(["--checkpoint", str(tiny_checkpoint), "--recogniser", "--data", "synthetic", "--quiet"])


@needs_dlib
@needs_london
def test_recogniser_scores_on_london(tiny_checkpoint, london_faces):
    import facelab
    from facelab.photo_eval import recogniser_scores, saturation

    model = facelab.load(tiny_checkpoint, device="cpu")
    figures = recogniser_scores(model, london_faces, n_pairs=4, progress=False)
    _check_figures(figures, 6, 3, views_found=1.0)
    assert figures["view_identified"] == 1.0  # the ceiling: neutral ↔ smiling of these three people
    # a 2-step model barely changes its drawing under a swap, so on the photo the swap is A's own photo
    assert figures["photo_swap_identified_as_a"] >= max(figures["swap_identified_as_a"], 0.75)
    assert figures["n_colour_images"] == 6 and figures["colour_kept"] < 1.5
    grey = np.repeat(np.stack([london_faces.image_array(i) for i in range(2)]).mean(-1, keepdims=True), 3, -1)
    assert np.allclose(saturation(grey.astype(np.uint8)), 0)
