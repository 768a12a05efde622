"""The photo layer: edits shown on the photo, its detail kept only where the edit left the picture alone."""

from __future__ import annotations

import numpy as np
import pytest

from facelab.photo_layer import (PERSON, QUANTUM, TOLERANCE, LayerSetting, PhotoBlend, PhotoLayer, change_mask, combine,
                                 person_kept, with_detail, with_details)


def _faces(seed=0, size=64):
    rng = np.random.default_rng(seed)
    view = rng.uniform(0.2, 0.8, (3, size, size)).astype(np.float32)  # a sharp photo
    base = np.full_like(view, 0.5)  # the decoder's blur of it
    return view, base


def test_unedited_code_shows_the_photo_and_a_large_local_edit_shows_the_decoder_there():
    view, base = _faces()
    assert np.allclose(with_detail(base, view, base), view, atol=1e-6)  # nothing edited: the photo itself
    edited = base.copy()
    edited[:, 40:56, 20:44] = 0.9  # a big change on the "mouth" only
    shown = with_detail(edited, view, base, tolerance=0.1, sigma=2.0)
    assert np.allclose(shown[:, 40:56, 20:44][:, 4:-4, 4:-4], 0.9, atol=1e-6)  # the decoder's new mouth
    assert np.allclose(shown[:, :25], view[:, :25], atol=1e-6)  # far from it: the photo's own pixels
    mask = change_mask(edited, base, tolerance=0.1, sigma=2.0)
    assert mask.shape == (1, 64, 64) and 0 < mask[0, 38, 32] < 1  # a soft edge, no seam


def test_small_edits_keep_part_of_the_detail_and_batches_broadcast():
    view, base = _faces(1)
    slight = base + TOLERANCE / 2  # half the tolerance everywhere: half the detail stays
    assert np.allclose(change_mask(slight, base), 0.5 + 1 / 255 / TOLERANCE, atol=1e-4)  # less one 8-bit step
    batch = np.stack([base, slight, base + 2 * TOLERANCE])
    shown = with_detail(batch, view, base)
    assert shown.shape == (3, 3, 64, 64)
    assert np.allclose(shown[0], view, atol=1e-6) and np.allclose(shown[2], base + 2 * TOLERANCE, atol=1e-6)


def test_a_changed_person_loses_the_detail():
    """The photo's detail is its person's: it fades as the identity code moves towards another person's."""
    std = np.full(8, 0.5, np.float32)
    own = np.zeros(8, np.float32)
    spread = np.sqrt(2) * np.linalg.norm(std)  # two random people are about this far apart
    step = np.eye(8, dtype=np.float32)[0] * spread
    kept = person_kept(own, np.stack([own, step / 8, step / 4, step]), std, falloff=2.0)
    assert np.allclose(kept, [1.0, 0.75, 0.5, 0.0])
    view, base = _faces(3)
    edited = base + 0.01  # the decoder barely draws the new person: the pixel test alone would keep the photo
    assert np.allclose(with_detail(edited, view, base, kept=0.0), edited)
    assert np.allclose(with_detail(np.stack([edited, edited]), view, base, kept=np.array([1.0, 0.0]))[1], edited)


def test_two_photos_blend_by_which_face_a_frame_still_is():
    """An interpolation from A to B on both photos: A's photo at A, B's at B, the decoder between the
    two people, and two photos that both still fit a frame averaged, never stacked."""
    std = np.full(4, 0.5, np.float32)
    (view_a, base_a), (view_b, _) = _faces(4), _faces(5)
    base_b = base_a + 0.3  # B's redraw: far from A's
    id_a, id_b = np.zeros(4, np.float32), np.full(4, 2.0, np.float32)  # two people, well apart

    class Code:  # what a layer reads from a code: its person
        def __init__(self, person):
            self.identity = person

    a, b = PhotoLayer.of(view_a, base_a, (id_a, std)), PhotoLayer.of(view_b, base_b, (id_b, std))
    assert combine(None, None) is None and combine(a, None) is a and isinstance(combine(a, b), PhotoBlend)
    frames = np.stack([base_a, (base_a + base_b) / 2, base_b])
    codes = [Code(id_a), Code((id_a + id_b) / 2), Code(id_b)]
    shown = combine(a, b).apply(frames, codes)
    assert np.allclose(shown[0], view_a, atol=1e-6) and np.allclose(shown[2], view_b, atol=1e-6)
    assert np.allclose(shown[1], frames[1], atol=1e-6)  # half-way between two people: the decoder's
    # one layer in a blend is that layer alone
    assert np.allclose(with_details(frames, [a], codes), a.apply(frames, codes))
    # two photos of one person, one redraw: their details averaged, not added
    twin = PhotoLayer.of(view_b, base_a, (id_a, std))
    both = with_details(base_a, [a, twin], Code(id_a))
    assert np.allclose(both, np.clip((view_a + view_b) / 2, 0, 1), atol=1e-6)


def test_state_round_trip_is_lossless_at_8_bits():
    view, base = _faces(2)
    person = (np.arange(4, dtype=np.float32), np.ones(4, np.float32))
    layer = PhotoLayer.of((view * 255).round().astype(np.uint8).transpose(1, 2, 0), base, person)
    again = PhotoLayer.from_state(layer.to_state())
    assert np.array_equal(again.person[0], person[0]) and np.array_equal(again.person[1], person[1])
    assert np.array_equal(again.view, layer.view)
    assert np.abs(again.base - layer.base).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(np.asarray(layer.view_image()), (view * 255).round().astype(np.uint8).transpose(1, 2, 0))
    with pytest.raises(ValueError, match="differ in size"):
        PhotoLayer.of(view, base[:, :32, :32])


def test_model_decodes_edits_on_the_photo(tiny_checkpoint, tiny_synthetic):
    import facelab
    from facelab.face_model import join_codes
    from facelab.imageio import to_pil

    model = facelab.load(tiny_checkpoint)
    view = to_pil(tiny_synthetic[0]["image"])
    code = model.encode(view, align=False)
    layer = model.photo_layer(view)
    assert np.abs(np.asarray(model.decode(code, layer), np.int16) - np.asarray(view, np.int16)).max() <= 1
    assert np.array_equal(np.asarray(model.decode(code)), np.asarray(model.decode(code, None)))  # the decoder alone
    attribute = next(a for a in model.attributes if a != PERSON)  # an edit that keeps the person
    far = code.replace(**{attribute: getattr(code, attribute) + 50.0})
    decoded = model.decode_tensor(join_codes(far.parts, model.config.latents)[None]).numpy()[0]
    expected = with_detail(decoded, layer.view, layer.base).transpose(1, 2, 0)
    shown = np.asarray(model.decode(far, layer), np.float32) / 255
    assert np.abs(shown - expected).max() <= 0.5 / 255 + 1e-6
    assert not np.allclose(shown, np.asarray(view, np.float32) / 255, atol=0.05)  # the edit shows
    # another person's identity code: the detail goes with the person, the decoder's drawing stays
    other = code.replace(**{PERSON: getattr(code, PERSON) + 10 * model.code_range(PERSON)[1]})
    assert np.array_equal(np.asarray(model.decode(other, layer)), np.asarray(model.decode(other)))
    with pytest.raises(ValueError, match="aligned"):
        model.photo_layer(view.resize((32, 32)))


def test_a_layer_follows_its_own_setting_and_keeps_it_through_the_session_state():
    """A checkpoint's own tolerance (ModelConfig.photo_layer): a smaller one lets a small edit replace
    more of the photo, in apply, in a blend and after a round trip through the app's session state."""
    view, base = _faces(3)
    slight = base + TOLERANCE / 4 + QUANTUM  # a quarter of the default tolerance everywhere (beyond one 8-bit step)
    default = PhotoLayer.of(view, base)
    strict = PhotoLayer.of(view, base, setting={"tolerance": TOLERANCE / 4})
    assert np.allclose(default.apply(slight), slight + 0.75 * (view - base), atol=1e-5)
    assert np.allclose(strict.apply(slight), slight, atol=1e-5)  # the detail is gone at its own tolerance
    assert np.allclose(combine(strict, PhotoLayer.of(view, base, setting=strict.setting)).apply(slight), slight, atol=1e-5)
    again = PhotoLayer.from_state(strict.to_state())
    assert again.setting == strict.setting and "setting" not in default.to_state()
    slight = again.base + TOLERANCE / 4 + QUANTUM  # its base is the 8-bit one
    assert np.allclose(again.apply(slight), slight, atol=1e-5)
    with pytest.raises(ValueError, match="tolerance, sigma and falloff"):
        LayerSetting.of({"tolerence": 0.1})
    with pytest.raises(ValueError, match=">= 0"):
        LayerSetting.of({"sigma": -1})


def test_a_checkpoints_photo_layer_setting_is_configured_saved_and_used(tiny_checkpoint, tiny_synthetic, tmp_path):
    """train.configure writes the setting into config.json; the loaded model's layers and the
    generator evaluation's drawn swaps use it (a zero tolerance: the decoder's drawing wherever it changed)."""
    import shutil

    import facelab
    from facelab.config import ConfigError
    from facelab.demo import photo_detail_default
    from facelab.evaluate import SwapCase, drawn_swap_scores, synthetic_view
    from facelab.imageio import to_pil
    from train import configure

    directory = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, directory)
    model = facelab.load(directory)
    assert model.photo_layer_setting() == LayerSetting() and not photo_detail_default(model)
    view = synthetic_view(tiny_synthetic)
    case = SwapCase.draw(model, view, n_pairs=16, seed=0)
    loose = drawn_swap_scores(case, LayerSetting(tolerance=10.0))  # keeps nearly all of A's render
    exact = drawn_swap_scores(case, LayerSetting(tolerance=0.0))  # keeps it only where nothing changed
    assert loose["photo_swap_psnr"] != exact["photo_swap_psnr"]

    configure.main(["--checkpoint", str(directory), "--photo-tolerance", "0.05", "--photo-sigma", "1"])
    model = facelab.load(directory)
    assert model.photo_layer_setting() == LayerSetting(tolerance=0.05, sigma=1.0)
    layer = model.photo_layer(to_pil(tiny_synthetic[0]["image"]))
    assert layer.setting == LayerSetting(tolerance=0.05, sigma=1.0)
    assert photo_detail_default(model)  # a setting chosen for it: the app draws its edits on the picture
    configure.main(["--checkpoint", str(directory), "--photo-default"])
    assert facelab.load(directory).config.photo_layer is None
    with pytest.raises((ValueError, ConfigError), match="photo layer"):
        model.configure(photo_layer={"tolerance": "wide"})
