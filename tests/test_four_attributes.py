"""Four attributes from one adversarial autoencoder (the ``fourway`` method, issue 11): the
generator's factor labels, the GAN and mapping stages on the one trainer, the attribute cycle,
the FaceNetwork interface, and the attribute × sub-code probe matrix and swap figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import facelab
from facelab import losses as L
from facelab.checkpoint import save_checkpoint
from facelab.config import ConfigError, ModelConfig, TrainConfig
from facelab.labels import MISSING
from facelab.methods import build_network, get_method
from facelab.synthetic import FaceFactors, SyntheticFaces, factor_labels, landmarks, render, render_batch

LATENTS = {"pose": 3, "identity": 6, "expression": 4, "style": 4}
STEPS = TrainConfig(batch_size=8, max_steps=3, seed=0, lr=2e-3, device="cpu")


def config(**options) -> ModelConfig:
    base = dict(autoencoder_epochs=1, mapping_epochs=1, joint_epochs=0)
    return ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents=LATENTS, fusion_dim=32,
                       options={**base, **options})


@pytest.fixture(scope="module")
def posed(cache_dir):
    """A tiny generator set with a wider pose range, roll, and the factor labels in its items."""
    return SyntheticFaces(identities=4, per_identity=8, size=64, seed=0, cache_dir=cache_dir, progress=False,
                          pose_range=35, roll_range=15, factor_labels=True)


# ---- labels from the generator ------------------------------------------------------------------

def test_items_carry_pose_and_style_labels_when_asked(posed, tiny_synthetic):
    item, f = posed[5], posed.factors[5]
    assert tuple(item["pose"].shape) == (3,) and tuple(item["style"].shape) == (5,)
    assert np.allclose(item["pose"].numpy(), (f.yaw * 25, f.pitch * 15, f.roll * 20), atol=1e-4)
    assert np.allclose(item["style"].numpy(), (*f.background, f.light, f.noise), atol=1e-6)
    assert set(tiny_synthetic[0]) == {"image", "identity", "expression", "intensity", "yaw", "pitch", "target"}
    pose = factor_labels(posed.factors)["pose"]
    assert np.abs(pose[:, 0]).max() > 25 and np.abs(pose[:, 2]).max() > 0  # wider than the default ±25°, with roll
    assert np.abs(pose[:, 0]).max() <= 35 and np.abs(pose[:, 1]).max() <= 21 + 1e-4 and np.abs(pose[:, 2]).max() <= 15
    labels = posed.labels()
    assert labels["pose"].shape == (32, 3) and labels["style"].shape == (32, 5) and labels["roll"].shape == (32,)


def test_the_pose_options_are_opt_in_and_leave_default_sets_alone(tiny_synthetic, cache_dir):
    again = SyntheticFaces(identities=4, per_identity=8, size=64, seed=0, cache_dir=cache_dir, progress=False,
                           pose_range=0, roll_range=0, factor_labels=True)
    assert again.cache_path == tiny_synthetic.cache_path and again.factors == tiny_synthetic.factors
    assert np.array_equal(again.images, tiny_synthetic.images)
    wide = SyntheticFaces(identities=4, per_identity=8, size=64, seed=0, cache_dir=cache_dir, progress=False,
                          pose_range=35)
    assert wide.cache_path != tiny_synthetic.cache_path
    # the same draws, scaled: identities, expressions and style are those of the default set
    for a, b in zip(wide.factors, tiny_synthetic.factors):
        assert (a.identity, a.expression, a.intensity, a.background, a.light) == \
               (b.identity, b.expression, b.intensity, b.background, b.light)
        assert a.yaw == pytest.approx(b.yaw * 35 / 25) and a.roll == 0.0


def test_roll_is_exact_for_unrolled_faces_and_turns_the_landmarks():
    plain = [FaceFactors(i, i % 7, 0.8, yaw=0.3, pitch=-0.2, light=0.4, noise=0.02) for i in range(5)]
    rolled = [f.replace(roll=0.5) for f in plain]
    together = render_batch(plain + rolled, 32)
    assert np.array_equal(together[:5], render_batch(plain, 32))  # a rolled face in the chunk changes no other
    assert not np.array_equal(together[5:], together[:5])
    f = FaceFactors(2, 0, 0.0)
    a, b = landmarks(f, 64), landmarks(f.replace(roll=0.75), 64)  # 15° clockwise
    eyes = lambda p: np.degrees(np.arctan2(p[1, 1] - p[0, 1], p[1, 0] - p[0, 0]))  # noqa: E731
    assert abs(eyes(a)) < 1e-6 and eyes(b) == pytest.approx(15.0, abs=1e-6)
    img = render(f, 64).astype(float).mean(2)
    for x, y in landmarks(f, 64)[:2]:  # the eye centres are on the dark iris/pupil
        assert img[int(y), int(x)] < 0.6 * img[5, 5]


# ---- the method on the one trainer ----------------------------------------------------------------

def test_registered_with_options_validated_and_a_card_paragraph():
    method = get_method("fourway")
    c = config()
    assert isinstance(c.options, method.options) and c.options.lambda_ae == 0.9
    assert "Browatzki" in method.follows and "cycle" in method.summary(c)
    assert "D_z's" not in method.summary(c)  # the paper's weights go unsaid; others are named
    assert "D_z's ×0.1 + D_x's ×0" in method.summary(config(latent_adversarial_weight=0.1, image_adversarial_weight=0))
    net = build_network(c)
    assert net.z_dim == sum(LATENTS.values())  # z_dim 0: the size of f (99 at 3 + 32 + 32 + 32)
    assert build_network(ModelConfig(method="fourway", latents={"pose": 3, "identity": 32, "expression": 32,
                                                                 "style": 32})).z_dim == 99
    with pytest.raises(ConfigError, match="prior"):
        config(prior="laplace")
    with pytest.raises(ConfigError, match="lambda_ae"):
        config(lambda_ae=1.5)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _moved(before, module, prefix):
    return [k for k, v in module.state_dict().items() if k.startswith(prefix) and not torch.equal(v, before[k])]


def test_gan_training_steps_the_critics_then_the_autoencoder(posed):
    from facelab.methods.fourway import FactorLabels
    from facelab.training import run_stage

    c = config()
    net = build_network(c)
    stage = next(get_method("fourway").stages(net, c, STEPS))
    assert stage.name == "autoencoder" and list(stage.steps) == ["critics", "model"]  # discriminators first
    before = _state(net)
    history = run_stage(stage, net, FactorLabels(posed), STEPS, expressions=c.expressions, progress=False)
    assert history and all(np.isfinite(v) for v in history.values()), history
    assert {"critics/latent", "critics/image", "model/reconstruction_l1", "model/fool_latent",
            "model/fool_image"} <= set(history)
    for prefix in ("latent_critic.", "image_critic.", "encoder.", "generator."):
        assert _moved(before, net, prefix), f"{prefix} did not move"
    for prefix in ("phi.", "phi_inv.", "heads."):
        assert not _moved(before, net, prefix), f"{prefix} moved in the autoencoder stage"


def test_with_both_adversarial_weights_off_it_trains_as_a_plain_autoencoder_without_a_critic_step(posed):
    from facelab.methods.fourway import FactorLabels
    from facelab.training import run_stage

    c = config(latent_adversarial_weight=0.0, image_adversarial_weight=0.0)
    net = build_network(c)
    stage = next(get_method("fourway").stages(net, c, STEPS))
    assert list(stage.steps) == ["model"]  # no critic loss to step on
    before = _state(net)
    history = run_stage(stage, net, FactorLabels(posed), STEPS, expressions=c.expressions, progress=False)
    assert "reconstruction_l1" in history and not any("critic" in k or "fool" in k for k in history), history
    assert _moved(before, net, "encoder.") and _moved(before, net, "generator.")
    assert not _moved(before, net, "latent_critic.") and not _moved(before, net, "image_critic.")


def test_expression_region_term_weighs_the_pixels_an_expression_changes(posed):
    from facelab.methods.fourway import autoencoder_loss

    torch.manual_seed(0)
    c = config(expression_region_weight=10.0)
    net = build_network(c)
    batch = {k: torch.stack([posed[i][k] for i in range(8)]) for k in ("image", "target")}
    torch.manual_seed(1)
    terms = autoencoder_loss(c.options)(net, batch)
    torch.manual_seed(1)  # the same prior samples for G(z*)
    plain = autoencoder_loss(config().options)(net, batch)
    assert "expression_region" in terms and "expression_region" not in plain
    assert torch.isfinite(terms["expression_region"]) and float(terms["expression_region"]) > 0
    assert torch.allclose(terms["loss"] - 10.0 * terms["expression_region"], plain["loss"], rtol=1e-5, atol=1e-5)
    del batch["target"]  # photos: no neutral render, no term
    assert "expression_region" not in autoencoder_loss(c.options)(net, batch)


def test_the_critic_step_leaves_the_autoencoder_and_the_model_step_the_critics(posed):
    from facelab.methods.fourway import FactorLabels, autoencoder_loss, critic_loss

    c = config()
    net = build_network(c)
    batch = {k: v for k, v in torch.utils.data.default_collate([FactorLabels(posed)[i] for i in range(8)]).items()}
    critic = {id(p) for m in net.critics() for p in m.parameters()}
    net.zero_grad()
    critic_loss(c.options)(net, batch)["loss"].backward()
    assert all(p.grad is None for p in net.parameters() if id(p) not in critic)
    net.zero_grad()
    out = autoencoder_loss(c.options)(net, batch)
    out["loss"].backward()
    assert all(p.grad is not None for p in net.encoder.parameters())
    assert torch.isfinite(out["loss"])


def test_the_warmup_stage_trains_the_encoder_and_phi_on_the_task_losses_alone(posed):
    from facelab.methods.fourway import FactorLabels
    from facelab.training import run_stage

    c = config(warmup_epochs=1)
    net = build_network(c)
    stages = get_method("fourway").stages(net, c, STEPS)
    stage = next(stages)
    assert stage.name == "warmup" and list(stage.steps) == ["model"]
    assert next(stages).name == "autoencoder"  # then the paper's stages
    before = _state(net)
    history = run_stage(stage, net, FactorLabels(posed), STEPS, expressions=c.expressions, progress=False)
    assert {"pose_l1", "identity_triplet", "expression_triplet", "style_triplet", "expression_cross_entropy"} \
        <= set(history) and all(np.isfinite(v) for v in history.values()), history
    assert not any(k.startswith(("cycle", "reconstruction", "z_reconstruction")) for k in history)
    assert _moved(before, net, "encoder.") and _moved(before, net, "phi.") and _moved(before, net, "heads.")
    for prefix in ("generator.", "phi_inv.", "latent_critic.", "image_critic."):
        assert not _moved(before, net, prefix), f"{prefix} moved in the warm-up"
    assert "not in the paper) 1 epochs of E and Φ" in get_method("fourway").summary(c)
    assert "(0, not in the paper)" not in get_method("fourway").summary(config())


def test_mapping_stage_trains_phi_with_the_autoencoder_fixed(posed):
    from facelab.methods.fourway import FactorLabels
    from facelab.training import run_stage

    c = config()
    net = build_network(c)
    stages = get_method("fourway").stages(net, c, STEPS)
    next(stages)
    stage = next(stages)
    assert stage.name == "mapping" and list(stage.steps) == ["model"]
    before = _state(net)
    history = run_stage(stage, net, FactorLabels(posed), STEPS, expressions=c.expressions, progress=False)
    assert all(np.isfinite(v) for v in history.values()), history
    for key in ("z_reconstruction", "pose_l1", "identity_triplet", "expression_triplet", "style_triplet",
                "expression_cross_entropy", "cycle", "augmented_pose_l1", "augmented_style_triplet"):
        assert key in history, key
    assert _moved(before, net, "phi.") and _moved(before, net, "phi_inv.") and _moved(before, net, "heads.")
    for prefix in ("encoder.", "generator.", "latent_critic.", "image_critic."):
        assert not _moved(before, net, prefix), f"{prefix} moved with the autoencoder fixed"


def _coded_batch(c: ModelConfig, data):
    """An untrained network for ``c``, a batch of 8 of ``data``, and its and the partners' sub-codes."""
    net = build_network(c)
    batch = torch.utils.data.default_collate([data[i] for i in range(8)])
    with torch.no_grad():
        parts = net.split(net.phi(net.encode_z(batch["image"])))
        partner = net.split(net.phi(net.encode_z(batch["partner"])))
    return net, batch, parts, partner


def test_exact_swap_targets_render_one_group_from_the_partner_and_train_phi(posed):
    from facelab.datasets.pairs import SwapPairs
    from facelab.methods.fourway import prepare_data, swap_target_terms
    from facelab.training import run_stage

    c = config(swap_target_weight=1.0, swap_target_attributes=2)
    data = prepare_data(posed, c)
    assert isinstance(data.items, SwapPairs)
    item, j = data[3], int(data.items.partner[3])
    a, b = posed.factors[3], posed.factors[j]
    assert a != b
    for group in ("pose", "identity", "expression", "style"):
        want = render(a.with_group(b, group), 64)
        got = (item[f"{group}_swap_target"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        assert np.array_equal(got, want), group
    assert a.with_group(b, "pose").yaw == b.yaw and a.with_group(b, "pose").identity == a.identity
    assert a.with_group(b, "identity").seed == b.seed and a.with_group(b, "identity").expression == a.expression
    assert tuple(item["pose"].shape) == (3,)  # the factor labels are still added
    assert "pose_swap_target" not in prepare_data(posed, config())[3]  # off by default: no renders

    net, batch, parts, partner = _coded_batch(c, data)
    total, terms = swap_target_terms(net, parts, partner, batch, c.options)
    assert float(terms["swap_target_l1"].detach()) > 0 and torch.isfinite(total)
    off, none = swap_target_terms(net, parts, partner, batch, config().options)
    assert float(off) == 0.0 and none == {}
    stages = get_method("fourway").stages(net, c, STEPS)
    next(stages)
    before = _state(net)
    history = run_stage(next(stages), net, data, STEPS, expressions=c.expressions, progress=False)
    assert np.isfinite(history["swap_target_l1"]) and history["swap_target_l1"] > 0
    assert _moved(before, net, "phi_inv.") and not _moved(before, net, "generator.")
    with pytest.raises(ConfigError, match="swap_target_weight"):
        config(swap_target_weight=-1.0)


def test_swap_changes_are_judged_against_the_renders_change_and_train(posed):
    from facelab.methods.fourway import prepare_data, swap_target_terms
    from facelab.training import train

    c = config(swap_change_weight=1.0, swap_target_attributes=2)
    data = prepare_data(posed, c)
    assert "expression_swap_target" in data[0]  # the targets are rendered for this term alone too
    net, batch, parts, partner = _coded_batch(c, data)
    total, terms = swap_target_terms(net, parts, partner, batch, c.options)
    assert set(terms) == {"swap_change"} and float(terms["swap_change"].detach()) > 0 and torch.isfinite(total)
    assert "Swap changes" in get_method("fourway").summary(c)
    history = train(posed, c, STEPS, progress=False)[1]
    assert any(np.isfinite(h.get("swap_change", np.nan)) for h in history.values() if isinstance(h, dict))
    with pytest.raises(ConfigError, match="swap_change_weight"):
        config(swap_change_weight=-1.0)


def test_the_cycle_permutes_exactly_one_sub_code_and_its_labels():
    from facelab.methods.fourway import _labels, _permuted, cycle_terms

    c = config(cycle_attributes=1)
    net = build_network(c)
    torch.manual_seed(0)
    parts = {a: torch.randn(8, d) for a, d in LATENTS.items()}
    seen = []
    original = net.phi_inv.forward
    net.phi_inv.forward = lambda f: (seen.append(f.detach().clone()), original(f))[1]
    batch = {"pose": torch.randn(8, 3) * 20, "identity": torch.arange(8) // 2, "expression": torch.arange(8) % 7,
             "intensity": torch.rand(8), "style": torch.rand(8, 5)}
    labels = _labels(batch, net.attributes)
    total, terms = cycle_terms(net, parts, labels, c.options, attributes=["style"])
    assert torch.isfinite(total) and {"cycle", "augmented_pose_l1", "augmented_identity_triplet"} <= set(terms)
    star = net.split(seen[0])
    for a in LATENTS:
        if a == "style":
            rows = [int(torch.nonzero((parts[a] == r).all(1))[0]) for r in star[a]]
            assert sorted(rows) == list(range(8)) and rows != list(range(8))  # a permutation, not the identity
        else:
            assert torch.equal(star[a], parts[a]), a
    perm = torch.tensor([3, 0, 1, 2, 7, 6, 5, 4])
    moved = _permuted(labels, "identity", perm)
    assert torch.equal(moved["identity"], labels["identity"][perm])
    assert all(torch.equal(moved[k], labels[k]) for k in labels if k != "identity")
    moved = _permuted(labels, "expression", perm)
    assert torch.equal(moved["intensity"], labels["intensity"][perm]) and torch.equal(moved["pose"], labels["pose"])


def test_network_is_a_face_network_and_round_trips_through_a_checkpoint(posed, tmp_path):
    from facelab.models import FaceNetwork
    from facelab.training import train

    c = config(joint_epochs=1)
    net, history = train(posed, c, STEPS, progress=False)
    assert {"autoencoder", "mapping", "joint"} <= set(history)
    assert isinstance(net, FaceNetwork) and net.attributes == tuple(LATENTS)
    x = torch.stack([posed[i]["image"] for i in range(4)])
    with torch.no_grad():
        mu, logvar = net.encode(x)
        assert {a: v.shape[1] for a, v in mu.items()} == LATENTS
        f = net.join(mu)
        assert torch.allclose(net.decode(f), net.generator(net.phi_inv(f)))
        assert torch.allclose(f, net.phi(net.encoder(x)))
    directory = save_checkpoint(tmp_path / "fourway", net, c, STEPS)
    model = facelab.load(directory, device="cpu")
    got = model.encode_tensor(x)
    for a in LATENTS:
        assert np.allclose(got[a], mu[a].numpy(), atol=1e-6)
    a, b = model.encode(posed.images[0]), model.encode(posed.images[9])
    for attribute in LATENTS:
        swapped = model.swap(a, b, attribute)
        assert np.array_equal(getattr(swapped, attribute), getattr(b, attribute))
        assert model.decode(swapped).size == (64, 64)
    assert abs(sum(model.classify(a).values()) - 1) < 1e-5


def test_two_sub_code_configs_train_too(tiny_synthetic):
    """Nothing outside the method's own file names four attributes: any latents train (here the
    registry-wide test's identity + expression, on a set without pose or style labels)."""
    from facelab.training import train

    c = ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4},
                    options={"autoencoder_epochs": 1, "mapping_epochs": 1, "per_person": 1})
    _, history = train(tiny_synthetic, c, TrainConfig(batch_size=8, max_steps=2, seed=0), progress=False)
    assert "pose_l1" not in history["mapping"] and all(np.isfinite(v) for v in history["mapping"].values())


# ---- losses -----------------------------------------------------------------------------------------

def test_label_distance_triplet_and_graded_vectors():
    v = L.graded_label_vectors(torch.tensor([1, 0, MISSING, 3]), torch.tensor([0.5, 0.0, 1.0, float("nan")]), 4)
    assert torch.allclose(v[0], torch.tensor([0, 0.5, 0, 0])) and torch.equal(v[1], torch.zeros(4))
    assert torch.isnan(v[2]).all() and torch.allclose(v[3], torch.tensor([0, 0, 0, 1.0]))
    targets = torch.tensor([[0.0], [0.1], [1.0], [1.1], [2.0], [2.1]])
    ordered = torch.tensor([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0], [0.05, 0.99], [-1.0, 0.0], [-0.99, -0.05]])
    shuffled = ordered[[0, 2, 4, 1, 3, 5]]
    assert L.label_distance_triplet(ordered, targets) == 0
    assert L.label_distance_triplet(shuffled, targets) > 0.5
    assert L.label_distance_triplet(ordered, torch.full((6, 1), float("nan"))) == 0
    assert L.labelled_l1(torch.zeros(3, 4), torch.tensor([[1.0, 1, 1], [float("nan"), 0, 0], [2.0, 2, 2]])) == 1.5
    assert L.gan_loss(torch.full((4,), 20.0), True) < 1e-6 and L.gan_loss(torch.full((4,), 20.0), False) > 10


# ---- evaluation ---------------------------------------------------------------------------------------

def test_probe_matrix_shape_and_chance_rows():
    from facelab import metrics

    rng = np.random.default_rng(0)
    n = 600
    identity = np.repeat(np.arange(20), 30)
    expression = rng.integers(0, 7, n)
    yaw = rng.uniform(-30, 30, n)
    background = rng.uniform(0, 1, (n, 3))
    factors = {"identity": identity, "expression": expression, "yaw": yaw, "background": background,
               "constant": np.zeros(n)}
    codes = {"noise": rng.normal(size=(n, 8)),
             "perfect": np.concatenate([np.eye(20)[identity], np.eye(7)[expression], yaw[:, None], background], 1)}
    m = metrics.probe_matrix(codes, factors, seed=0)
    assert m["factors"] == ["identity", "expression", "yaw", "background"]  # the constant factor is left out
    assert m["codes"] == ["noise", "perfect"] and m["normalised"].shape == m["raw"].shape == (4, 2)
    assert m["kinds"] == ["accuracy", "accuracy", "r2", "r2"]
    assert 0 < m["chance"][0] < 0.2 and 0.1 < m["chance"][1] < 0.3 and (m["chance"][2:] == 0).all()
    assert np.all(np.abs(m["normalised"][:, 0]) < 0.1), m["normalised"]  # noise reads at chance
    assert np.all(m["normalised"][:, 1] > 0.97), m["normalised"]  # the factors themselves read perfectly
    assert m["mae"][2, 1] < 0.5 and np.isnan(m["mae"][0]).all()


def test_attribute_scores_cover_every_sub_code(posed):
    from facelab.evaluate import attribute_scores, encode_dataset, representation_scores
    from facelab.face_model import FaceModel
    from facelab.training import train

    c = config()
    net, _ = train(posed, c, STEPS, progress=False)
    model = FaceModel(net, c)
    enc = encode_dataset(model, posed, progress=False)
    figures = attribute_scores(model, enc, posed, seed=0, n_pairs=32)
    m = np.asarray(figures["probe_matrix"])
    assert figures["probe_codes"] == list(LATENTS)
    assert set(figures["probe_factors"]) >= {"identity", "expression", "yaw", "pitch", "roll", "background", "light"}
    assert m.shape == (len(figures["probe_factors"]), 4) and len(figures["probe_chance"]) == m.shape[0]
    for factor in ("yaw", "pitch", "roll"):
        assert np.isfinite(figures[f"pose_mae_{factor}"]) and f"probe_{factor}_own" in figures
    for a in LATENTS:
        assert 0 <= figures[f"attribute_swap_{a}_success"] <= figures[f"attribute_swap_{a}_moved"] <= 1
    assert "attribute_swap_identity_others_kept" in figures and "attribute_swap_pose_identity_kept" in figures
    # the identity swap keeps the others only where every one of them stays; each named on its own
    kept = [figures[f"attribute_swap_identity_kept_{b}"] for b in LATENTS if b != "identity"]
    assert figures["attribute_swap_identity_others_kept"] <= min(kept)
    assert figures["attribute_swap_pose_kept_identity"] == figures["attribute_swap_pose_identity_kept"]
    e = "attribute_swap_expression"  # split by whether A and B share the expression; the parts add up
    same, other = figures.get(f"{e}_pairs_same_label", 0), figures[f"{e}_pairs_other_label"]
    assert same + other == figures["attribute_swap_pairs"]
    assert figures[f"{e}_moved"] == pytest.approx(
        (same * figures.get(f"{e}_moved_same_label", 0.0) + other * figures[f"{e}_moved_other_label"]) / (same + other))
    # the existing figures are untouched by the new ones
    assert "expression_accuracy" in representation_scores(model, enc)


def test_refine_blocks_grow_a_trained_generator_unchanged_then_train(posed):
    from facelab.training import load_grown, train

    start, _ = train(posed, config(), STEPS, progress=False)
    c = config(decoder_refine=1)
    fresh = build_network(c)
    grown = load_grown(fresh, start.state_dict())
    assert grown and all(k.startswith("generator.refine.") for k in grown)
    fresh.eval()
    f = torch.randn(3, sum(LATENTS.values()))
    with torch.no_grad():
        assert torch.allclose(fresh.decode(f), start.decode(f), atol=1e-6)
    assert "1 residual block(s) at full resolution" in get_method("fourway").summary(c)
    net, _ = train(posed, c, STEPS, progress=False, init=start)
    assert net.generator.refine[0].body[-1].weight.abs().sum() > 0  # zero-initialised, then it learned
    with pytest.raises(ConfigError, match="decoder_refine"):
        config(decoder_refine=-1)


def _phi_steps_on(term, net, z, steps: int) -> tuple[float, float]:
    """Adam steps on Φ alone against ``term(parts) -> (total, {name: value})``; its value before and after."""
    opt = torch.optim.Adam(net.phi.parameters(), lr=1e-2)
    values = []
    for _ in range(steps + 1):
        opt.zero_grad()
        total, terms = term(net.split(net.phi(z)))
        values.append(float(next(iter(terms.values())).detach()))
        total.backward()
        opt.step()
    return values[0], values[-1]


def test_label_correlation_sees_a_factor_written_into_a_code_and_ignores_unknown_rows():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(256, 2, generator=g)
    noise = torch.randn(256, 4, generator=g)
    leaky = torch.cat([y[:, :1] * 3 + 1, noise[:, 1:]], 1)  # one of 4 dims is the first label, scaled
    assert float(L.label_correlation(leaky, y)) == pytest.approx(1 / 8, abs=0.02)  # 1 of 8 pairs at 1
    assert float(L.label_correlation(noise, y)) < 0.02
    unknown = y.clone()
    unknown[::2] = float("nan")
    assert float(L.label_correlation(leaky, unknown)) == pytest.approx(1 / 8, abs=0.03)
    assert float(L.label_correlation(leaky, torch.full((256, 2), float("nan")))) == 0.0
    code = leaky.clone().requires_grad_(True)
    L.label_correlation(code, y).backward()
    assert torch.isfinite(code.grad).all() and code.grad[:, 0].abs().sum() > 0


def test_decorrelation_pushes_each_factor_out_of_the_other_sub_codes_only(posed):
    from facelab.methods.fourway import _labels, decorrelation_terms, prepare_data
    from facelab.training import train

    c = config(label_decorrelation_weight=1.0)
    net = build_network(c)
    batch = torch.utils.data.default_collate([prepare_data(posed, c)[i] for i in range(16)])
    parts = {a: p.detach().requires_grad_(True)
             for a, p in net.split(net.phi(net.encode_z(batch["image"]))).items()}
    labels = {k: v for k, v in _labels(batch, net.attributes).items() if k == "pose"}  # pose labels only
    total, terms = decorrelation_terms(net, parts, labels, c.options)
    assert set(terms) == {"label_correlation"} and float(total.detach()) > 0
    total.backward()
    assert parts["pose"].grad is None or float(parts["pose"].grad.abs().sum()) == 0.0  # its own code is left alone
    assert all(float(parts[a].grad.abs().sum()) > 0 for a in ("identity", "expression", "style"))
    # a few steps on this term alone lower it
    all_labels = _labels(batch, net.attributes)
    with torch.no_grad():
        z = net.encode_z(batch["image"])
    first, last = _phi_steps_on(lambda parts: decorrelation_terms(net, parts, all_labels, c.options), net, z, 20)
    assert last < 0.5 * first
    assert "kept out of the other sub-codes" in get_method("fourway").summary(c)
    history = train(posed, c, STEPS, progress=False)[1]
    assert any(np.isfinite(h.get("label_correlation", np.nan)) for h in history.values() if isinstance(h, dict))
    with pytest.raises(ConfigError, match="label_decorrelation_weight"):
        config(label_decorrelation_weight=-1.0)


def test_running_probes_read_a_factor_from_a_low_variance_direction_and_phi_learns_to_hide_it(posed):
    from facelab.methods.fourway import RunningProbes, _labels, code_probe_terms

    g = torch.Generator().manual_seed(0)
    target = torch.randn(256, 3, generator=g)
    assert float(L.prediction_correlation(target * 2 + 1, target)) == pytest.approx(1.0, abs=1e-5)
    assert float(L.prediction_correlation(torch.randn(256, 3, generator=g), target)) < 0.03
    # the target hides in source's dims as a small difference on top of a big shared swing: no single
    # dimension correlates much with it, a solved linear probe reads it exactly
    swing = 5 * torch.randn(256, 1, generator=g)
    source = torch.cat([swing + 0.5 * target[:, :1], swing - 0.5 * target[:, :1], torch.randn(256, 2, generator=g)], 1)
    assert float(L.label_correlation(source, target[:, :1])) < 0.02
    probes = RunningProbes()
    f = torch.cat([source, target], 1)
    for chunk in f.split(64):
        probes.update(chunk)
    mean, std, w = probes.weights(slice(0, 4), slice(4, 7))
    reading = ((source - mean.float()) / std.float()) @ w.float()
    assert float(L.prediction_correlation(reading[:, :1], target[:, :1])) > 0.9

    c = config(code_probe_weight=1.0)
    net = build_network(c)
    from facelab.methods.fourway import prepare_data

    batch = torch.utils.data.default_collate([prepare_data(posed, c)[i] for i in range(32)])
    with torch.no_grad():
        z = net.encode_z(batch["image"])
    parts = {a: p.detach().requires_grad_(True) for a, p in net.split(net.phi(z)).items()}
    probes = RunningProbes()
    total, terms = code_probe_terms(net, parts, probes, c.options)
    total.backward()
    assert set(terms) == {"code_probe"} and all(float(p.grad.abs().sum()) > 0 for p in parts.values())
    # Φ alone, on this term alone: the sub-codes stop reading each other
    first, last = _phi_steps_on(lambda parts: code_probe_terms(net, parts, probes, c.options), net, z, 100)
    assert last < 0.5 * first
    assert "Blind probes between sub-codes" in get_method("fourway").summary(c)
    from facelab.training import train

    history = train(posed, c, STEPS, progress=False)[1]
    assert np.isfinite(history["mapping"]["code_probe"])
    assert _labels(batch, net.attributes)  # the term needs no labels, but the batch has them
    with pytest.raises(ConfigError, match="code_probe_weight"):
        config(code_probe_weight=-1.0)


def _labelled_codes(posed, c):
    """A fresh network for ``c``, a batch of 32 labelled faces: (net, labels, z, sub-codes as leaves)."""
    from facelab.methods.fourway import _labels, prepare_data

    net = build_network(c)
    batch = torch.utils.data.default_collate([prepare_data(posed, c)[i] for i in range(32)])
    with torch.no_grad():
        z = net.encode_z(batch["image"])
    parts = {a: p.detach().requires_grad_(True) for a, p in net.split(net.phi(z)).items()}
    return net, _labels(batch, net.attributes), z, parts


def _assert_labelled_term_wired(posed, c, net, z, term, key: str, summary: str) -> None:
    """A labelled term: no labels gives no term; the card says it is on; a 2-step train logs it; a
    negative weight is refused."""
    from facelab.training import train

    total, terms = term(net, net.split(net.phi(z)), {}, {}, c.options)
    assert terms == {} and float(total.detach()) == 0.0
    assert summary in get_method("fourway").summary(c)
    history = train(posed, c, STEPS, progress=False)[1]
    assert np.isfinite(history["mapping"][key])
    with pytest.raises(ConfigError, match=f"{key}_weight"):
        config(**{f"{key}_weight": -1.0})


def test_readouts_read_each_factor_from_its_own_sub_code_and_phi_learns_to_make_it_readable(posed):
    from facelab.methods.fourway import code_readout_terms

    c = config(code_readout_weight=1.0)
    net, labels, z, parts = _labelled_codes(posed, c)
    readouts = {}
    total, terms = code_readout_terms(net, parts, labels, readouts, c.options)
    assert set(terms) == {"code_readout"} and 0 < float(total.detach()) <= 1
    assert set(readouts) == {"pose", "expression", "style"}  # identity is a class: its triplets are enough
    total.backward()
    assert parts["identity"].grad is None or float(parts["identity"].grad.abs().sum()) == 0.0
    assert all(float(parts[a].grad.abs().sum()) > 0 for a in ("pose", "expression", "style"))
    # Φ alone, on this term alone: its sub-codes come to carry their labels linearly
    first, last = _phi_steps_on(lambda parts: code_readout_terms(net, parts, labels, readouts, c.options), net, z, 60)
    assert last < 0.5 * first
    # unknown labels sit out; no labels: no term
    unknown = {k: torch.full_like(v.float(), float("nan")) if k in ("pose", "style") else v for k, v in labels.items()}
    fresh = {}
    _, terms = code_readout_terms(net, net.split(net.phi(z)), unknown, fresh, c.options)
    assert set(terms) == {"code_readout"} and set(fresh) == {"expression"}
    _assert_labelled_term_wired(posed, c, net, z, code_readout_terms, "code_readout", "Readable factors")
    # a skipped label column is not read: skipping every style column leaves style without a readout
    from facelab.methods.fourway import label_columns

    assert label_columns(c)["style"][-1] == "noise" and len(label_columns(c)["expression"]) == len(c.expressions)
    skip = config(code_readout_weight=1.0, readout_skip=label_columns(c)["style"])
    fresh = {}
    code_readout_terms(net, net.split(net.phi(z)), labels, fresh, skip.options)
    assert set(fresh) == {"pose", "expression"}
    assert "noise left out" in get_method("fourway").summary(config(code_readout_weight=1.0, readout_skip=("noise",)))
    with pytest.raises(ConfigError, match="readout_skip"):
        config(readout_skip=("hair",))
    # the magnitude readout: one more reading for the graded sub-code only, of the intensity whatever the class
    magnitude = config(code_readout_weight=1.0, readout_magnitude=True)
    fresh = {}
    code_readout_terms(net, net.split(net.phi(z)), labels, fresh, magnitude.options)
    assert set(fresh) == {"pose", "expression", "style", ("expression", "magnitude")}
    first, last = _phi_steps_on(lambda parts: code_readout_terms(net, parts, labels, fresh, magnitude.options),
                                net, z, 60)
    assert last < 0.5 * first
    assert fresh[("expression", "magnitude")].mean.shape[0] == net.config.latents["expression"] + 1
    assert "magnitude" in get_method("fourway").summary(magnitude)
    # weighed again on its own: the same readings, the magnitude's shortfall added at its own weight
    weighed = config(code_readout_weight=1.0, readout_magnitude=True, magnitude_readout_weight=5.0)
    again = {}
    plain_total, _ = code_readout_terms(net, net.split(net.phi(z)), labels, {}, magnitude.options)
    total, terms = code_readout_terms(net, net.split(net.phi(z)), labels, again, weighed.options)
    assert set(again) == set(fresh) and set(terms) == {"code_readout", "magnitude_readout"}
    assert 0 < float(terms["magnitude_readout"]) <= 1
    assert float(total) == pytest.approx(float(plain_total) + 5.0 * float(terms["magnitude_readout"]), rel=1e-5)
    assert "weighed again ×5" in get_method("fourway").summary(weighed)
    with pytest.raises(ConfigError, match="magnitude_readout_weight"):
        config(code_readout_weight=1.0, magnitude_readout_weight=5.0)


def test_factor_probes_read_each_factor_from_every_other_sub_code_and_phi_learns_to_hide_it(posed):
    from facelab.methods.fourway import factor_probe_terms

    c = config(factor_probe_weight=1.0)
    net, labels, z, parts = _labelled_codes(posed, c)
    probes = {}
    total, terms = factor_probe_terms(net, parts, labels, probes, c.options)
    assert set(terms) == {"factor_probe"} and 0 < float(total.detach()) <= 1
    # one probe per labelled factor and each sub-code but its own; identity is read, never a factor here
    assert set(probes) == {(a, b) for a in ("pose", "expression", "style") for b in parts if b != a}
    total.backward()
    assert all(float(p.grad.abs().sum()) > 0 for p in parts.values())
    # Φ alone, on this term alone: the other sub-codes stop carrying the factors
    first, last = _phi_steps_on(lambda parts: factor_probe_terms(net, parts, labels, probes, c.options), net, z, 100)
    assert last < 0.5 * first
    # a factor whose labels are unknown in the batch gets no probe; no labels: no term
    unknown = {k: torch.full_like(v.float(), float("nan")) if k == "style" else v for k, v in labels.items()}
    fresh = {}
    factor_probe_terms(net, net.split(net.phi(z)), unknown, fresh, c.options)
    assert {a for a, _ in fresh} == {"pose", "expression"}
    _assert_labelled_term_wired(posed, c, net, z, factor_probe_terms, "factor_probe", "Blind factor probes")


def test_factor_probes_on_named_columns_read_only_those(posed):
    from facelab.methods.fourway import factor_probe_terms

    c = config(factor_probe_weight=1.0, factor_probe_columns=("yaw", "pitch"))
    net, labels, z, parts = _labelled_codes(posed, c)
    probes = {}
    total, _ = factor_probe_terms(net, parts, labels, probes, c.options)
    # only pose has a named column: its probes alone, each reading the two columns named
    assert set(probes) == {("pose", b) for b in parts if b != "pose"}
    assert all(p.mean.shape[0] == net.config.latents[b] + 2 for (_, b), p in probes.items())
    total.backward()
    assert parts["pose"].grad is None or float(parts["pose"].grad.abs().sum()) == 0
    assert all(float(parts[b].grad.abs().sum()) > 0 for b in parts if b != "pose")
    assert "only yaw, pitch" in get_method("fourway").summary(c)
    with pytest.raises(ConfigError, match="factor_probe_columns"):
        config(factor_probe_columns=("hair",))


def test_person_means_fold_in_batches_and_leave_unknown_people_out():
    from facelab.methods.fourway import PersonMeans

    means = PersonMeans(keep=0.5)
    people = torch.tensor([2, 2, 0, -1])
    assert torch.isnan(means.read(people, 3)).all()  # nobody seen yet
    means.update(torch.tensor([[1.0, 0, 0], [3.0, 0, 0], [5.0, 5, 5], [9.0, 9, 9]]), people)
    read = means.read(torch.tensor([2, 0, 1, -1]), 3)
    assert read[0].tolist() == [2.0, 0, 0] and read[1].tolist() == [5.0, 5, 5]  # batch means, first taken as is
    assert torch.isnan(read[2:]).all()  # person 1 never seen; an unknown label is never read
    means.update(torch.tensor([[4.0, 2, 0]]), torch.tensor([2]))
    assert means.read(torch.tensor([2]), 3)[0].tolist() == [3.0, 1, 0]  # keep 0.5 of the old mean


def test_person_probes_see_a_person_written_into_another_sub_code(posed):
    """A sub-code that carries the person reads high, one that does not reads near 0; the gradient
    reaches every sub-code but the person's own; wired into training and the card."""
    from facelab.methods.fourway import person_probe_terms

    c = config(person_probe_weight=1.0)
    net, labels, z, parts = _labelled_codes(posed, c)
    g = torch.Generator().manual_seed(0)
    faces = 2 * torch.randn(40, parts["style"].shape[1], generator=g)  # one fixed "look" per person
    store, values = {}, []
    for step in range(40):  # new images of 40 people each batch, 4 per person
        people = torch.arange(40).repeat_interleave(4)[torch.randperm(160, generator=g)[:64]]
        codes = {a: torch.randn(64, p.shape[1], generator=g) for a, p in parts.items()}
        codes["style"] = codes["style"] + faces[people]  # the person leaks into z_style
        codes = {a: v.requires_grad_(True) for a, v in codes.items()}
        total, terms = person_probe_terms(net, codes, {"identity": people}, store, c.options)
        values.append(float(terms["person_probe"].detach()))
    assert set(terms) == {"person_probe"}
    assert {b for kind, b in store if kind == "probe"} == set(parts) - {"identity"}
    total.backward()
    assert codes["identity"].grad is None and all(float(codes[a].grad.abs().sum()) > 0 for a in ("pose", "style"))
    # the mean over the three other sub-codes: z_style's reading near 1, the other two near 0
    assert 0.25 < values[-1] < 0.4
    clean = {a: v.detach() for a, v in codes.items()}
    clean["style"] = torch.randn(64, parts["style"].shape[1], generator=g)
    assert float(person_probe_terms(net, clean, {"identity": people}, {}, c.options)[1]["person_probe"]) == 0.0
    _assert_labelled_term_wired(posed, c, net, z, person_probe_terms, "person_probe", "Blind person probes")


def test_person_prototypes_score_a_person_among_everyone_seen_and_pull_codes_to_their_person(posed):
    """Codes that sit near their person's earlier codes score low, shuffled codes score near
    log(people); the gradient reaches the person's own sub-code only; wired into training and the card."""
    from facelab.methods.fourway import person_prototype_terms

    c = config(person_prototype_weight=1.0)
    net, labels, z, parts = _labelled_codes(posed, c)
    g = torch.Generator().manual_seed(0)
    d = parts["identity"].shape[1]
    faces = torch.randn(40, d, generator=g)

    def batch(spread: float):
        people = torch.arange(40).repeat_interleave(4)[torch.randperm(160, generator=g)[:64]]
        codes = {a: torch.randn(64, p.shape[1], generator=g) for a, p in parts.items()}
        codes["identity"] = faces[people] + spread * torch.randn(64, d, generator=g)
        return {a: v.requires_grad_(True) for a, v in codes.items()}, people

    store = {}
    codes, people = batch(0.1)
    total, terms = person_prototype_terms(net, codes, {"identity": people}, store, c.options)
    assert terms == {} and float(total.detach()) == 0.0  # nobody seen before the first batch
    for _ in range(20):
        codes, people = batch(0.1)
        total, terms = person_prototype_terms(net, codes, {"identity": people}, store, c.options)
    assert set(terms) == {"person_prototype"} and float(terms["person_prototype"].detach()) < 0.5
    total.backward()
    assert float(codes["identity"].grad.abs().sum()) > 0
    assert all(codes[a].grad is None for a in ("pose", "expression", "style"))
    codes, people = batch(0.1)
    shuffled = {**codes, "identity": codes["identity"][torch.randperm(64, generator=g)]}
    assert float(person_prototype_terms(net, shuffled, {"identity": people}, store, c.options)[1]
                 ["person_prototype"].detach()) > 0.5 * np.log(40)
    _assert_labelled_term_wired(posed, c, net, z, person_prototype_terms, "person_prototype", "Person prototypes")
    with pytest.raises(ConfigError, match="prototype_scale"):
        config(person_prototype_weight=1.0, prototype_scale=0.0)


def test_a_wider_encoder_leaves_the_generator_and_critic_at_the_model_widths_and_round_trips(posed, tmp_path):
    from facelab.training import train

    c = config(encoder_channels=(16, 24, 24, 24), encoder_depth=1)
    net, _ = train(posed, c, STEPS, progress=False)
    assert net.encoder[0].conv[0].out_channels == 16 and net.encoder[0].conv[3].in_channels == 16
    narrow = build_network(config())
    for part in ("generator", "image_critic"):
        assert [p.shape for p in getattr(net, part).parameters()] == \
            [p.shape for p in getattr(narrow, part).parameters()], part
    assert "E (16-24-24-24, 1 extra 3×3 conv(s) per stage)" in get_method("fourway").summary(c)
    x = torch.stack([posed[i]["image"] for i in range(4)])
    with torch.no_grad():
        mu, _ = net.encode(x)
    model = facelab.load(save_checkpoint(tmp_path / "wide", net, c, STEPS), device="cpu")
    got = model.encode_tensor(x)
    assert all(np.allclose(got[a], mu[a].numpy(), atol=1e-6) for a in LATENTS)
    with pytest.raises(ConfigError, match="encoder_channels"):
        config(encoder_channels=(16, 24))


def test_the_warmup_reads_the_codes_out_only_when_given_a_weight(posed):
    from facelab.methods.fourway import FactorLabels
    from facelab.training import run_stage

    histories = {}
    for weight in (0.0, 10.0):
        c = config(warmup_epochs=1, warmup_readout_weight=weight)
        net = build_network(c)
        stage = next(get_method("fourway").stages(net, c, STEPS))
        histories[weight] = run_stage(stage, net, FactorLabels(posed), STEPS, expressions=c.expressions,
                                      progress=False)
    assert "code_readout" not in histories[0.0]
    assert 0 < histories[10.0]["code_readout"] <= 1 and np.isfinite(histories[10.0]["loss"])
    assert histories[10.0]["loss"] > histories[0.0]["loss"]  # same seed, same batches: the readout's shortfall adds
    assert "and the code readouts (×10)" in get_method("fourway").summary(config(warmup_epochs=1,
                                                                                 warmup_readout_weight=10))
