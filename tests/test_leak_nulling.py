"""Leak nulling (facelab.leak_nulling; the fourway method's optional last stage): a factor planted in
a low-variance direction of a code is taken out, the code's own factor is kept, and the fitted
projection travels with the network through a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge

import facelab
from facelab.checkpoint import save_checkpoint
from facelab.config import ModelConfig, TrainConfig
from facelab.leak_nulling import Nulling, nulling_projection


def _codes(n: int, seed: int):
    """16-d codes: an own continuous factor over four dimensions, a foreign class (5 classes) in a
    direction of tiny variance and a foreign continuous factor in another, noise elsewhere."""
    rng = np.random.default_rng(seed)
    own, cls, cont = rng.normal(size=n), rng.integers(0, 5, n), rng.normal(size=n)
    x = rng.normal(size=(n, 16))
    x[:, :4] += 3 * own[:, None]
    x[:, 7] = 0.01 * cls + 0.002 * rng.normal(size=n)  # read at once by a standardised probe
    x[:, 9] += 0.5 * cont
    return x, own, {"person": cls, "light": cont}


def _reads(x_fit, y_fit, x, y) -> float:
    if y.dtype.kind in "iu":
        model = LogisticRegression(max_iter=2000).fit((x_fit - x_fit.mean(0)) / x_fit.std(0), y_fit)
        return float(model.score((x - x_fit.mean(0)) / x_fit.std(0), y))
    return float(Ridge(alpha=1e-3).fit(x_fit, y_fit).score(x, y))


def test_a_planted_leak_is_taken_out_and_the_own_factor_kept():
    x, own, foreign = _codes(3000, 0)
    fitted = nulling_projection(x, foreign, threshold=0.02)
    p = fitted.projection
    assert np.allclose(p, p.T) and np.allclose(p @ p, p, atol=1e-8)
    assert 2 <= fitted.removed <= 8  # the two leak directions (and a few more), not the code
    assert fitted.readings[0]["person"] > 0.9 and fitted.readings[0]["light"] > 0.1
    assert max(fitted.readings[-1].values()) <= 0.02
    xt, own_t, foreign_t = _codes(3000, 1)  # new samples: the projection generalises
    before, after = xt, fitted.apply(xt)
    fit_after = fitted.apply(x)
    assert _reads(x, foreign["person"], before, foreign_t["person"]) > 0.9
    assert _reads(fit_after, foreign["person"], after, foreign_t["person"]) < 0.3  # chance 0.2
    assert _reads(x, foreign["light"], before, foreign_t["light"]) > 0.1
    assert _reads(fit_after, foreign["light"], after, foreign_t["light"]) < 0.02
    assert _reads(fit_after, own, after, own_t) > 0.9


def test_protected_own_factors_are_read_exactly_as_before():
    """A foreign factor written partly along the own factor's direction: unprotected, nulling takes
    some of the own factor with it; protected, the own factor's reader gives the same reading."""
    rng = np.random.default_rng(0)
    n = 3000
    own, foreign = rng.normal(size=n), rng.normal(size=n)
    x = rng.normal(size=(n, 8))
    x[:, 0] += 2 * own + 1.0 * foreign
    x[:, 1] += 2 * foreign
    free = nulling_projection(x, {"light": foreign}, threshold=0.02)
    kept = nulling_projection(x, {"light": foreign}, threshold=0.02, protect={"smile": own})
    r_free = _reads(free.apply(x), own, free.apply(x), own)
    r_kept = _reads(kept.apply(x), own, kept.apply(x), own)
    assert r_kept == pytest.approx(_reads(x, own, x, own), abs=1e-3)
    assert r_free < r_kept - 0.05
    assert max(free.readings[-1].values()) <= 0.02  # unprotected, the leak goes
    assert kept.readings[-1]["light"] < kept.readings[0]["light"]  # protected, the part off the own direction goes


def test_fewer_protected_directions_let_a_leak_along_a_weak_own_reader_go():
    """An own class factor over four directions of falling strength and a foreign factor written along
    the weakest: with all four readers protected the leak stays; with only the leading one, it goes."""
    rng = np.random.default_rng(0)
    n = 3000
    person, foreign = rng.integers(0, 10, n), rng.normal(size=n)
    x = rng.normal(size=(n, 12))
    x[:, :4] += rng.normal(size=(10, 4))[person] * np.array([4.0, 3.0, 2.0, 1.0])
    x[:, 3] += 1.5 * foreign
    all_four = nulling_projection(x, {"light": foreign}, threshold=0.02, protect={"person": person},
                                  protect_directions=4)
    leading = nulling_projection(x, {"light": foreign}, threshold=0.02, protect={"person": person},
                                 protect_directions=1)
    assert all_four.readings[-1]["light"] > 0.1
    assert leading.readings[-1]["light"] <= 0.02
    assert _reads(leading.apply(x), person, leading.apply(x), person) > 0.5  # chance 0.1


def test_a_round_past_the_floor_is_dropped_or_filled_to_it():
    """Ten foreign factors leaking at once: one round wants more directions than the floor allows.
    Without filling, nothing is removed; with it, exactly down to the floor, strongest first."""
    rng = np.random.default_rng(0)
    n, d = 3000, 16
    x = rng.normal(size=(n, d))
    foreign = {}
    for k in range(10):
        y = rng.normal(size=n)
        x[:, k] += (1.0 + 0.2 * k) * y
        foreign[f"f{k}"] = y
    dropped = nulling_projection(x, foreign, threshold=0.02, keep_at_least=0.5)
    filled = nulling_projection(x, foreign, threshold=0.02, keep_at_least=0.5, fill_to_floor=True)
    assert dropped.removed == 0
    assert filled.removed == d // 2
    assert len(filled.readings) == 2  # scored after the filled round, then stopped
    assert max(filled.readings[-1].values()) < max(filled.readings[0].values())
    p = filled.projection
    assert np.allclose(p, p.T) and np.allclose(p @ p, p, atol=1e-8)
    cfg = ModelConfig(method="fourway", latents={"pose": 3, "identity": 8, "expression": 8, "style": 8},
                      options={"leak_threshold": 0.02, "nulling_fill": True})
    assert "filled to that floor" in facelab.methods.get_method("fourway").summary(cfg)


def test_nothing_read_above_the_threshold_leaves_the_code_alone():
    x, _, foreign = _codes(2000, 0)
    fitted = nulling_projection(x, foreign, threshold=1.0)
    assert fitted.removed == 0 and np.allclose(fitted.apply(x), x)
    assert len(fitted.readings) == 1


def test_the_fourway_stage_fits_installs_and_round_trips(tmp_path):
    """Trained with a leak threshold, the network runs the nulling pass and one epoch of Φ⁻¹ after the
    other stages; the fitted map is applied by encode and saved with the weights."""
    from facelab.methods.fourway import FourWayOptions
    from facelab.synthetic import SyntheticFaces
    from facelab.training import train

    data = SyntheticFaces(identities=6, per_identity=10, size=64, seed=0, progress=False, pose_range=35,
                          roll_range=15, factor_labels=True)
    latents = {"pose": 3, "identity": 6, "expression": 4, "style": 4}
    c = ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents=latents, fusion_dim=32,
                    options=FourWayOptions(autoencoder_epochs=1, mapping_epochs=1, leak_threshold=0.02))
    tc = TrainConfig(batch_size=8, max_steps=2, seed=0, device="cpu")
    net, history = train(data, c, tc, progress=False)
    assert list(history["stage_seconds"])[-2:] == ["nulling", "nulled-mapping"]
    assert {f"{a}_removed" for a in latents} <= set(history["nulling"])
    assert "Leak nulling" in facelab.methods.get_method("fourway").summary(c)
    # plant a fitted projection (one style direction removed) and check encode applies it
    q = np.zeros((4, 1))
    q[2, 0] = 1.0
    style = Nulling(projection=np.eye(4) - q @ q.T, mean=np.full(4, 0.5))
    net.set_nulling({"style": style})
    x = torch.stack([data[i]["image"] for i in range(6)])
    with torch.no_grad():
        parts, _ = net.encode(x)
        raw = net.split(net.phi(net.encoder(x)))
    assert torch.allclose(parts["style"][:, 2], torch.full((6,), 0.5))
    assert torch.allclose(parts["style"][:, :2], raw["style"][:, :2], atol=1e-6)
    assert torch.allclose(parts["identity"], raw["identity"])
    with torch.no_grad():  # the decoder reads the nulled code: a move along the removed direction does nothing
        f = net.join(parts)
        moved = f.clone()
        moved[:, c.slices()["style"].start + 2] += 3.0
        assert torch.allclose(net.decode(moved), net.decode(f), atol=1e-6)
    model = facelab.load(save_checkpoint(tmp_path / "nulled", net, c, tc), device="cpu")
    assert np.allclose(model.encode_tensor(x)["style"], parts["style"].numpy(), atol=1e-6)


def test_the_generator_learns_the_nulled_codes_with_the_encoder_fixed():
    """With ``nulling_generator``, G and Φ⁻¹ take one more stage on the nulled codes (swap targets and the
    re-encoded swaps included): E, Φ and the fitted nulling end as in the same run without it, G does not."""
    from facelab.methods.fourway import FourWayOptions
    from facelab.synthetic import SyntheticFaces
    from facelab.training import final_losses, train

    data = SyntheticFaces(identities=6, per_identity=10, size=64, seed=0, progress=False, pose_range=35,
                          roll_range=15, factor_labels=True)
    options = dict(autoencoder_epochs=1, mapping_epochs=1, leak_threshold=0.02, swap_target_weight=1,
                   swap_target_attributes=4)
    runs = {}
    for generator_epochs in (0, 1):
        c = ModelConfig(method="fourway", channels=(8, 16, 16, 16), fusion_dim=32,
                        latents={"pose": 3, "identity": 6, "expression": 4, "style": 4},
                        options=FourWayOptions(**options, nulling_generator=generator_epochs))
        torch.set_num_threads(1)
        runs[generator_epochs] = train(data, c, TrainConfig(batch_size=8, max_steps=2, seed=0, device="cpu"),
                                       progress=False)
    (plain, _), (drawn, history) = runs[0], runs[1]
    assert list(history["stage_seconds"])[-3:] == ["nulling", "nulled-mapping", "nulled-generator"]
    losses = final_losses(history)["nulled-generator"]
    assert {"swap_target_l1", "cycle", "reconstruction_l1"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values())
    fixed = ("encoder.", "phi.", "null_")
    for key, value in plain.state_dict().items():
        if key.startswith(fixed):
            assert torch.allclose(value, drawn.state_dict()[key], atol=1e-6), key
    assert any(not torch.allclose(value, drawn.state_dict()[key]) for key, value in plain.state_dict().items()
               if key.startswith("generator."))
    assert "G and Φ⁻¹ on the nulled codes alone" in facelab.methods.get_method("fourway").summary(c)


def test_a_run_stopped_before_the_nulling_resumes_with_the_earlier_stages_weights(tmp_path, monkeypatch):
    """Killed as the closed-form stage starts, a resumed run takes the finished stages' weights from the
    saved state (not a fresh network) and the person sampler's pass count (its batch order after the
    fit), and ends with the uninterrupted run's weights."""
    from facelab.methods import fourway
    from facelab.methods.fourway import FourWayOptions
    from facelab.synthetic import SyntheticFaces
    from facelab.training import train

    data = SyntheticFaces(identities=6, per_identity=10, size=64, seed=0, progress=False, pose_range=35,
                          roll_range=15, factor_labels=True)
    c = ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents={"pose": 3, "identity": 6, "expression": 4,
                    "style": 4}, fusion_dim=32, options=FourWayOptions(autoencoder_epochs=1, mapping_epochs=1,
                                                                       leak_threshold=0.02))
    tc = TrainConfig(batch_size=8, max_steps=2, seed=0, device="cpu")
    torch.set_num_threads(1)
    whole, _ = train(data, c, tc, progress=False)

    real = fourway.nulling_fit

    def stopped(net, o):
        def fit(batches):
            raise KeyboardInterrupt("stopped")
        return fit

    monkeypatch.setattr(fourway, "nulling_fit", stopped)
    try:
        train(data, c, tc, progress=False, state_dir=tmp_path / "state")
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(fourway, "nulling_fit", real)
    resumed, history = train(data, c, tc, progress=False, state_dir=tmp_path / "state", resume=True)
    assert list(history["stage_seconds"])[-2:] == ["nulling", "nulled-mapping"]
    for key, value in whole.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key], atol=1e-6), key


def test_a_trace_of_many_classes_is_judged_among_a_draw_of_few():
    """A weak trace of each of 1,000 people: read among all of them it sits near chance and stays;
    among a draw of 48 each round (as a probe on a few dozen new people reads it) it is taken out."""
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(1000), 20)
    x = rng.normal(size=(len(people), 16))
    x[:, :3] += 0.8 * rng.normal(size=(1000, 3))[people]
    everyone = nulling_projection(x, {"person": people}, threshold=0.02)
    drawn = nulling_projection(x, {"person": people}, threshold=0.02, class_draw=48)
    assert everyone.removed == 0 and everyone.readings[0]["person"] < 0.02
    assert drawn.readings[0]["person"] > 0.03 and drawn.removed >= 3
    assert max(drawn.readings[-1].values()) <= 0.02
    new = rng.normal(size=(48 * 25, 16))  # new people, each with their own trace
    new_people = np.repeat(np.arange(48), 25)
    new[:, :3] += 0.8 * rng.normal(size=(48, 3))[new_people]
    half = np.tile(np.arange(25) < 17, 48)
    assert _reads(new[half], new_people[half], new[~half], new_people[~half]) > 0.06  # chance 1/48
    after = drawn.apply(new)
    assert _reads(after[half], new_people[half], after[~half], new_people[~half]) < 0.04


def test_a_sub_code_can_protect_more_of_its_readers_than_the_rest(monkeypatch):
    """``nulling_protect_for`` sets the protected-reader count of the sub-codes it names; the others keep
    ``nulling_protect_directions``; the card names the override; malformed or unknown entries are refused."""
    import facelab.leak_nulling as leak_nulling
    from facelab.config import ConfigError
    from facelab.methods.fourway import FourWayOptions
    from facelab.synthetic import SyntheticFaces
    from facelab.training import train

    seen, real = {}, leak_nulling.nulling_projection

    def recording(codes, factors, **kw):
        seen[codes.shape[1]] = kw["protect_directions"]
        return real(codes, factors, **kw)

    monkeypatch.setattr(leak_nulling, "nulling_projection", recording)
    data = SyntheticFaces(identities=6, per_identity=10, size=64, seed=0, progress=False, pose_range=35,
                          roll_range=15, factor_labels=True)
    latents = {"pose": 3, "identity": 6, "expression": 5, "style": 4}  # told apart by their widths
    options = dict(autoencoder_epochs=1, mapping_epochs=0, leak_threshold=0.02, nulling_protect=True,
                   nulling_protect_directions=1)
    c = ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents=latents, fusion_dim=32,
                    options=FourWayOptions(**options, nulling_protect_for=("expression=3",)))
    train(data, c, TrainConfig(batch_size=8, max_steps=2, seed=0, device="cpu"), progress=False)
    assert seen == {3: 1, 6: 1, 5: 3, 4: 1}
    assert "(1 per class factor; 3 for expression)" in facelab.methods.get_method("fourway").summary(c)
    for bad in ("expression=0", "expression", "=3", "expression=two"):
        with pytest.raises(ConfigError, match="nulling_protect_for"):
            ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents=latents, fusion_dim=32,
                        options=FourWayOptions(**options, nulling_protect_for=(bad,)))
    wrong = ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents=latents, fusion_dim=32,
                        options=FourWayOptions(**options, nulling_protect_for=("face=3",)))
    with pytest.raises(ConfigError, match="face"):
        train(data, wrong, TrainConfig(batch_size=8, max_steps=2, seed=0, device="cpu"), progress=False)
