"""Every registered method through the one trainer: 2-step training, checkpoint round trips, the
adversary's alternating step, swap pairs, grouped batches, legacy checkpoints and the loss terms."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import facelab
from facelab import losses as L
from facelab.checkpoint import save_checkpoint
from facelab.config import ConfigError, ModelConfig, TrainConfig
from facelab.labels import MISSING
from facelab.methods import METHODS, build_network, get_method
from facelab.training import label_remap, to_device, train

TINY = dict(channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4}, fusion_dim=32)
STEPS = TrainConfig(batch_size=8, max_steps=2, seed=0)


def tiny_config(method: str, **options) -> ModelConfig:
    defaults = get_method(method).options()
    # one epoch per stage; an optional stage off by default (the swap method's teacher warm-up) stays off
    epochs = {k: 1 for k in defaults.__dataclass_fields__ if k.endswith("epochs") and getattr(defaults, k) > 0}
    return ModelConfig(method=method, **TINY, options={**epochs, **options})


@pytest.fixture(scope="module")
def trained(tiny_synthetic):
    """Each method trained for 2 steps per stage: (network, config, history)."""
    return {name: (*train(tiny_synthetic, tiny_config(name), STEPS, progress=False), tiny_config(name))
            for name in METHODS}


def test_every_method_is_registered_with_options_and_a_card_paragraph():
    assert {"disvae", "disvae-e2e", "adversarial", "swap"} <= set(METHODS)
    for name, method in METHODS.items():
        config = tiny_config(name)
        assert isinstance(config.options, method.options)
        text = method.summary(config)
        assert len(text) > 80 and "{" not in text, name
    with pytest.raises(ConfigError, match="unknown method"):
        ModelConfig(method="nope")
    with pytest.raises(ConfigError, match="unknown field"):
        ModelConfig(method="swap", options={"no_such_option": 1})


@pytest.mark.parametrize("name", ["disvae", "disvae-e2e", "adversarial", "swap"])
def test_two_step_training_moves_weights_and_logs_finite_terms(name, trained, tiny_synthetic):
    network, history, config = trained[name]
    untrained = build_network(config)
    torch.manual_seed(0)
    stages = [k for k, v in history.items() if isinstance(v, dict)]
    assert stages and all(np.isfinite(v) for s in stages for v in history[s].values())
    changed = [k for k, v in network.state_dict().items()
               if v.dtype.is_floating_point and v.shape == untrained.state_dict()[k].shape
               and not k.startswith("code_") and not torch.equal(v, untrained.state_dict()[k])]
    assert changed, "training moved no weight"
    # code statistics were measured on the data, not left at their defaults
    assert not torch.equal(network.code_std, torch.ones_like(network.code_std))


@pytest.mark.parametrize("name", ["disvae", "disvae-e2e", "adversarial", "swap"])
def test_checkpoint_round_trip_gives_the_same_network(name, trained, tiny_synthetic, tmp_path):
    network, _, config = trained[name]
    directory = save_checkpoint(tmp_path / name, network, config, STEPS)
    model = facelab.load(directory, device="cpu")
    assert model.config == config and model.attributes == ("identity", "expression")
    x = torch.stack([tiny_synthetic[i]["image"] for i in range(4)])
    with torch.no_grad():
        mu, _ = network.encode(x)
        want = network.decode(network.join(mu))
    got = model.encode_tensor(x)
    for a in model.attributes:
        assert np.allclose(got[a], mu[a].numpy(), atol=1e-6), a
    z = np.concatenate([got[a] for a in model.attributes], 1)
    assert torch.allclose(model.decode_tensor(z), want, atol=1e-6)
    # the same public API drives every method
    code = model.encode(tiny_synthetic[0]["image"].permute(1, 2, 0).numpy())
    other = model.encode(tiny_synthetic[9]["image"].permute(1, 2, 0).numpy())
    probs = model.classify(code)
    assert abs(sum(probs.values()) - 1) < 1e-5
    swapped = model.swap(code, other, "expression")
    assert np.array_equal(swapped.expression, other.expression) and np.array_equal(swapped.identity, code.identity)
    assert model.decode(swapped).size == (64, 64)


def _batch(dataset, n=8):
    items = [dataset[i] for i in range(n)]
    batch = {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in ("image", "expression", "identity")}
    return to_device(batch, torch.device("cpu"), label_remap(tuple(facelab.EXPRESSIONS[:7])))


def test_the_adversary_steps_on_its_own_and_the_encoder_is_pushed_the_other_way(tiny_synthetic):
    from facelab.methods.adversarial import adversary_loss, model_loss
    from facelab.training import run_stage

    config = tiny_config("adversarial")
    net = build_network(config)
    stage = next(get_method("adversarial").stages(net, config, STEPS))
    assert list(stage.steps) == ["adversary", "model"]  # alternating: the adversary first, then the model
    adversary_ids = {id(p) for p in net.adversaries.parameters()}
    assert {id(p) for p in stage.steps["adversary"].params()} == adversary_ids
    assert not adversary_ids & {id(p) for p in stage.steps["model"].params()}

    before = {k: v.clone() for k, v in net.state_dict().items()}
    history = run_stage(stage, net, tiny_synthetic, TrainConfig(batch_size=8, lr=1e-2, max_steps=2, device="cpu"),
                        expressions=config.expressions, progress=False)
    assert {"adversary/identity_accuracy", "model/accuracy", "model/identity_adversary_entropy"} <= set(history)
    moved = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("adversaries.") for k in moved) and any(k.startswith("trunk.") for k in moved)

    # Make the adversary confident, then compare gradients on the encoder: the adversary's own loss
    # and the encoder's adversarial term point in opposite directions (the encoder un-learns what C_adv reads).
    batch = _batch(tiny_synthetic)
    opt = torch.optim.Adam(net.adversaries.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        adversary_loss(net, batch)["loss"].backward()
        opt.step()
    encoder = [p for p in net.trunk.parameters()] + [p for p in net.branches["identity"].parameters()]

    def encoder_grad(loss):
        net.zero_grad()
        loss.backward()
        return torch.cat([p.grad.flatten() for p in encoder])

    mu, _ = net.encode(batch["image"])
    adversary_ce = L.labelled_cross_entropy(net.adversaries["identity"](mu["identity"]), batch["expression"])
    g_adversary = encoder_grad(adversary_ce)
    only_entropy = config.options.__class__(beta1=0.0, beta2=0.0, beta3=1.0)
    g_encoder = encoder_grad(model_loss(only_entropy)(net, batch)["loss"])
    cosine = torch.nn.functional.cosine_similarity(g_adversary, g_encoder, dim=0)
    assert cosine < -0.2, float(cosine)


def test_swap_pairs_carry_the_generators_true_render(tiny_synthetic):
    from facelab.datasets.pairs import SwapPairs
    from facelab.synthetic import render

    pairs = SwapPairs(tiny_synthetic, seed=0, progress=False)
    for i in (0, 5, 17):
        item, j = pairs[i], int(pairs.partner[i])
        a, b = tiny_synthetic.factors[i], tiny_synthetic.factors[j]
        truth = render(a.replace(expression=b.expression, intensity=b.intensity), 64)
        assert np.array_equal((item["swap_target"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), truth)
        assert torch.equal(item["partner"], tiny_synthetic[j]["image"])
        assert item["partner_expression"] == b.expression


def test_swap_targets_are_rendered_once_and_read_back_from_the_cache(tiny_synthetic, tmp_path, monkeypatch):
    from facelab import synthetic
    from facelab.datasets.pairs import SwapPairs

    monkeypatch.setenv("FACELAB_CACHE", str(tmp_path))
    first = SwapPairs(tiny_synthetic, seed=0, progress=False, identity_targets=True)
    assert len(list(tmp_path.glob("renders-v*.npy"))) == 2  # the expression targets and the identity ones
    monkeypatch.setattr(synthetic, "render_many", lambda *a, **k: pytest.fail("rendered again"))
    again = SwapPairs(tiny_synthetic, seed=0, progress=False, identity_targets=True)
    assert np.array_equal(again.targets, first.targets)
    assert np.array_equal(again.attribute_targets["identity"], first.attribute_targets["identity"])
    with pytest.raises(pytest.fail.Exception, match="rendered again"):  # other partners: other renders
        SwapPairs(tiny_synthetic, seed=1, progress=False)
    monkeypatch.undo()
    monkeypatch.setenv("FACELAB_CACHE", str(tmp_path))
    redrawn = SwapPairs(tiny_synthetic, seed=0, progress=False, redraw=True)
    redrawn.set_epoch(1)  # a redraw per epoch renders without filling the disk
    assert len(list(tmp_path.glob("renders-v*.npy"))) == 2


def test_identity_swap_targets_are_this_face_with_the_partners_person_and_train(tiny_synthetic):
    from facelab.datasets.pairs import SwapPairs
    from facelab.synthetic import render

    pairs = SwapPairs(tiny_synthetic, seed=0, progress=False, identity_targets=True)
    assert "identity_swap_target" not in SwapPairs(tiny_synthetic, seed=0, progress=False)[0]
    for i in (0, 9):
        item, j = pairs[i], int(pairs.partner[i])
        a, b = tiny_synthetic.factors[i], tiny_synthetic.factors[j]
        truth = render(a.replace(identity=b.identity, seed=b.seed), 64)
        assert np.array_equal((item["identity_swap_target"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
                              truth)
    config = ModelConfig(method="swap", channels=TINY["channels"], fusion_dim=32, options={"epochs": 1,
                         "identity_swap_weight": 1.0}, latents={"identity": 6, "expression": 4, "nuisance": 3})
    network, history = train(tiny_synthetic, config, STEPS, progress=False)
    assert np.isfinite(history["swap"]["identity_swap"]) and history["swap"]["identity_swap"] > 0
    assert "identity swapping loss" in get_method("swap").summary(config)
    with pytest.raises(ConfigError, match="identity_swap_weight"):
        ModelConfig(method="swap", options={"identity_swap_weight": -1.0})


def test_redrawn_partners_change_each_epoch_with_their_renders_and_repeat_on_resume(tiny_synthetic, monkeypatch):
    from facelab.datasets.pairs import SwapPairs
    from facelab.synthetic import render

    fixed = SwapPairs(tiny_synthetic, seed=0, progress=False)
    pairs = SwapPairs(tiny_synthetic, seed=0, progress=False, redraw=True)
    first = pairs.partner.copy()
    assert np.array_equal(first, fixed.partner)  # epoch 0 is the one-draw pairing
    fixed.set_epoch(1)
    assert np.array_equal(fixed.partner, first)
    pairs.set_epoch(1)
    assert not np.array_equal(pairs.partner, first)
    i = int(np.flatnonzero(pairs.partner != first)[0])
    a, b = tiny_synthetic.factors[i], tiny_synthetic.factors[int(pairs.partner[i])]
    truth = render(a.replace(expression=b.expression, intensity=b.intensity), 64)
    assert np.array_equal((pairs[i]["swap_target"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), truth)
    again = SwapPairs(tiny_synthetic, seed=0, progress=False, redraw=True)
    again.set_epoch(1)
    assert np.array_equal(again.partner, pairs.partner)  # a resumed run sees the same pairs
    pairs.set_epoch(0)
    assert np.array_equal(pairs.partner, first)

    draws = []
    real_draw = SwapPairs._draw
    monkeypatch.setattr(SwapPairs, "_draw", lambda self, rng, keep=False: (draws.append(1), real_draw(self, rng, keep)))
    config = tiny_config("swap", epochs=3, redraw_partners=True)
    train(tiny_synthetic, config, TrainConfig(batch_size=8, max_steps=30, seed=0), progress=False)
    assert len(draws) == 3  # the constructor's, then epochs 1 and 2
    assert "drawn again each epoch" in get_method("swap").summary(config)


def test_person_batches_hold_several_images_of_each_person_in_different_expressions():
    from facelab.datasets.pairs import PersonBatchSampler

    ids = np.repeat(np.arange(10), 7)
    expressions = np.tile(np.arange(7), 10)
    sampler = PersonBatchSampler(ids, expressions, batch_size=16, per_person=4, generator=torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert len(batches) == len(sampler) == 70 // 16
    for batch in batches:
        assert len(batch) == 16
        people, counts = np.unique(ids[batch], return_counts=True)
        assert len(people) == 4 and (counts == 4).all()
        for p in people:
            assert len(set(expressions[[i for i in batch if ids[i] == p]])) == 4
    assert batches != list(sampler)  # a new draw every epoch


def test_older_checkpoints_load_unchanged(tiny_checkpoint, tmp_path):
    """A format-1 checkpoint (DisVAE fields at the top level, old state-dict names) loads as before."""
    from safetensors.torch import load_file, save_file

    old = tmp_path / "old"
    shutil.copytree(tiny_checkpoint, old)
    payload = json.loads((old / "config.json").read_text())
    payload.pop("weights_sha256")  # format 1 had no checksum
    options = payload["model"].pop("options")
    payload["model"]["format_version"] = 1
    for key in ("expression_channels", "expression_depth", "mirror_expression"):
        payload["model"][key] = options.pop(key)
    payload["training"].update(options)  # epochs, betas, classifier weight and target lived in training
    (old / "config.json").write_text(json.dumps(payload))
    renames = {"encoders.identity.": "identity_encoder.", "encoders.expression.": "expression_encoder.",
               "heads.expression.": "classifier."}
    state = load_file(str(old / "model.safetensors"))
    renamed = {}
    for k, v in state.items():
        for new, legacy in renames.items():
            if k.startswith(new):
                k = legacy + k[len(new):]
        renamed[k] = v
    save_file(renamed, str(old / "model.safetensors"))
    a, b = facelab.load(tiny_checkpoint), facelab.load(old)
    assert a.config == b.config
    image = np.full((64, 64, 3), 120, np.uint8)
    assert a.encode(image) == b.encode(image)


def test_grey_targets_judge_only_the_luminance_of_a_reconstruction():
    torch.manual_seed(0)
    colour = torch.rand(2, 3, 8, 8)
    grey = L.luminance(torch.rand(2, 3, 8, 8)).expand(-1, 3, -1, -1).contiguous()
    assert L.is_grey(grey).all() and not L.is_grey(colour).any()
    # a coloured reconstruction with the grey photo's luminance costs nothing ...
    r, g = 0.1, -0.05
    tint = torch.tensor([r, g, -(0.299 * r + 0.587 * g) / 0.114]).view(1, 3, 1, 1)  # zero luminance
    painted = grey + tint
    assert torch.allclose(L.luminance(painted), L.luminance(grey), atol=1e-6)
    assert float(L.reconstruction(painted, grey)) < 1e-8
    # ... while a colour target still wants its colour, and the plain squared error is unchanged for it
    assert float(L.reconstruction(colour + tint, colour)) > 0.1
    assert torch.allclose(L.reconstruction(colour + tint, colour), ((tint.expand_as(colour)) ** 2).sum() / 2)
    # a mixed batch: each image by its own rule
    mixed = torch.cat([grey[:1], colour[:1]])
    assert torch.allclose(L.reconstruction(torch.cat([painted[:1], colour[:1]]), mixed), torch.tensor(0.0), atol=1e-6)
    # a wrong luminance is penalised like three equal channels
    darker = grey - 0.1
    assert torch.allclose(L.reconstruction(darker, grey), torch.tensor(3 * 64 * 0.01), rtol=1e-4)


def test_graded_targets_and_metric_losses_behave():
    labels = torch.tensor([1, 0, MISSING, 3])
    t = L.graded_targets(labels, torch.tensor([0.25, 0.0, 0.5, 1.0]), 4)
    assert torch.allclose(t[0], torch.tensor([0, 0.25, 0, 0])) and torch.allclose(t[1], torch.tensor([1.0, 0, 0, 0]))
    assert t[2].sum() == 0 and torch.allclose(t[3], torch.tensor([0, 0, 0, 1.0]))
    groups = torch.tensor([0, 0, 1, 1])
    separated = torch.tensor([[1.0, 0], [1.0, 0.01], [0, 1.0], [0.01, 1.0]])
    mixed = torch.tensor([[1.0, 0], [0, 1.0], [1.0, 0.01], [0.01, 1.0]])
    assert L.batch_hard_triplet(separated, groups) == 0
    assert L.batch_hard_triplet(mixed, groups) > 1
    assert L.cosine_pull(separated, groups) < 1e-3 < L.cosine_pull(mixed, groups)
    assert L.l1_pull(separated, groups) < L.l1_pull(mixed, groups)
    assert L.cosine_pull(separated, torch.full((4,), MISSING)) == 0
    uniform, peaked = torch.zeros(2, 7), torch.tensor([[20.0] + [0] * 6] * 2)
    assert abs(float(L.mean_entropy(uniform)) - np.log(7)) < 1e-6 and float(L.mean_entropy(peaked)) < 0.01


def test_change_weighted_loss_looks_only_where_the_target_differs():
    reference = torch.zeros(2, 3, 8, 8)
    target = reference.clone()
    target[:, :, 2, 2] = 1.0  # the "mouth" moved
    elsewhere = target.clone()
    elsewhere[:, :, 7, 7] = 0.5  # an error far from the change
    assert L.change_weighted_reconstruction(elsewhere, target, reference) == 0
    wrong_mouth = target.clone()
    wrong_mouth[:, :, 2, 2] = 0.0
    assert L.change_weighted_reconstruction(wrong_mouth, target, reference) == pytest.approx(3.0)


def test_change_loss_asks_for_the_true_change_and_leaves_the_own_decode_alone():
    reference = torch.zeros(2, 3, 8, 8)
    target = reference.clone()
    target[:, :, 2, 2] = 1.0  # the true render's change
    own = torch.full_like(reference, 0.3, requires_grad=True)  # a blurry decode of this face
    right = (own + (target - reference)).detach().requires_grad_()
    assert float(L.change_consistency(right, own, target, reference).detach()) == pytest.approx(0, abs=1e-10)  # the blur is shared, the change is right
    moved_elsewhere = right.detach().clone()
    moved_elsewhere[:, :, 7, 7] += 0.5
    assert float(L.change_consistency(moved_elsewhere, own, target, reference).detach()) == pytest.approx(3 * 0.25)
    L.change_consistency(right + 0.1, own, target, reference).backward()
    assert own.grad is None and right.grad.abs().sum() > 0


def test_change_loss_trains_on_exact_targets_only(tiny_synthetic):
    from facelab.datasets.pairs import SwapPairs

    assert bool(SwapPairs(tiny_synthetic, seed=0, progress=False)[0]["swap_target_exact"])
    _, history = train(tiny_synthetic, tiny_config("swap", change_weight=1.0), STEPS, progress=False)
    assert np.isfinite(history["swap"]["swap_change"]) and history["swap"]["swap_change"] > 0
    assert "change loss" in get_method("swap").summary(tiny_config("swap", change_weight=1.0))
    with pytest.raises(ConfigError, match="change_weight"):
        tiny_config("swap", change_weight=-1.0)


def test_swap_detail_and_cycle_terms_train_and_are_logged(tiny_synthetic):
    config = tiny_config("swap", detail_weight=10.0, cycle_weight=1.0)
    _, history = train(tiny_synthetic, config, STEPS, progress=False)
    terms = history["swap"]
    assert {"swap_detail", "cycle_cross_entropy", "cycle_identity"} <= set(terms)
    assert all(np.isfinite(v) for v in terms.values())


def test_patch_critic_steps_on_its_own_trains_the_decoder_against_it_and_round_trips(tiny_synthetic, tmp_path):
    config = tiny_config("swap", critic_weight=1.0, feature_matching_weight=1.0)
    start = build_network(config)
    critic = {id(p) for p in start.image_critic.parameters()}
    stage = next(get_method("swap").stages(start, config, STEPS))
    assert list(stage.steps) == ["critic", "model"]  # the critic steps first, on its own parameters only
    assert {id(p) for p in stage.steps["critic"].params()} == critic
    assert not critic & {id(p) for p in stage.steps["model"].params()}
    network, history = train(tiny_synthetic, config, STEPS, progress=False, init=start)
    terms = history["swap"]
    assert {"critic/loss", "critic/accuracy", "model/fool_critic", "model/feature_matching"} <= set(terms)
    assert all(np.isfinite(v) for v in terms.values()) and terms["model/feature_matching"] > 0
    for part in ("image_critic.out.weight", "decoder.fc.0.weight"):  # both sides moved
        assert not torch.equal(network.state_dict()[part], start.state_dict()[part]), part
    model = facelab.load(save_checkpoint(tmp_path / "critic", network, config, STEPS), device="cpu")
    assert torch.equal(model.network.image_critic.out.weight, network.image_critic.out.weight)
    assert "PatchGAN critic" in get_method("swap").summary(config)
    # the critic only serves the loss: weights with and without it load into either network
    plain = build_network(tiny_config("swap"))
    plain.load_state_dict(network.state_dict())
    build_network(config).load_state_dict(plain.state_dict())
    assert not hasattr(plain, "image_critic")
    with pytest.raises(ConfigError, match="critic_weight"):
        tiny_config("swap", critic_weight=-1.0)


def test_structural_distance_is_zero_for_equal_images_grows_with_blur_and_ignores_a_grey_sources_colour():
    x = torch.rand(2, 3, 32, 32)
    assert L.structural_distance(x, x).item() == pytest.approx(0.0, abs=1e-5)
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    slight = 0.9 * x + 0.1 * blurred
    assert 0 < L.structural_distance(slight, x).item() < L.structural_distance(blurred, x).item()
    grey = L.luminance(x).expand_as(x).contiguous()
    tinted = grey + 0.1 * torch.tensor([0.587, -0.299, 0.0]).view(1, 3, 1, 1)  # colour, the same luminance
    assert L.structural_distance(tinted, grey).item() == pytest.approx(0.0, abs=1e-4)
    assert L.structural_distance(tinted, tinted * 0 + grey + 0.2).item() > 0


def test_ssim_term_trains_the_swap_model_and_is_refused_negative(tiny_synthetic):
    config = tiny_config("swap", ssim_weight=10.0)
    network, history = train(tiny_synthetic, config, STEPS, progress=False)
    assert 0 < history["swap"]["structure"] < 1
    assert "1 − SSIM of both decodes" in get_method("swap").summary(config)
    with pytest.raises(ConfigError, match="ssim_weight"):
        tiny_config("swap", ssim_weight=-1.0)


def test_a_critic_sees_the_decode_of_a_grey_photo_in_grey_and_of_a_colour_one_as_it_is():
    decoded = torch.rand(2, 3, 8, 8)
    sources = torch.rand(2, 3, 8, 8)
    sources[1] = sources[1, :1]  # the second photo is grey
    shown = L.like_source(decoded, sources)
    assert torch.equal(shown[0], decoded[0])
    assert torch.allclose(shown[1], L.luminance(decoded[1:]).expand(1, 3, 8, 8)[0])
    assert torch.equal(L.like_source(decoded[:, :1], sources[:, :1]), decoded[:, :1])  # single-channel: as is


def test_feature_matching_is_zero_for_equal_features_and_leaves_the_real_side_alone():
    real = [torch.randn(2, 4, 8, 8, requires_grad=True), torch.randn(2, 8, 4, 4, requires_grad=True)]
    fake = [r.detach().clone().requires_grad_() for r in real]
    assert L.feature_matching(fake, real).item() == 0
    moved = [fake[0] + 1, fake[1]]
    loss = L.feature_matching(moved, real)
    assert loss.item() == pytest.approx(0.5)  # 1 on the first layer, 0 on the second, averaged
    loss.backward()
    assert real[0].grad is None and fake[0].grad is not None


def test_saving_is_atomic_and_an_altered_weight_file_is_refused(tiny_checkpoint, tmp_path):
    from facelab.checkpoint import CheckpointError, load_checkpoint

    copy = tmp_path / "copy"
    shutil.copytree(tiny_checkpoint, copy)
    recorded = json.loads((copy / "config.json").read_text())["weights_sha256"]
    assert len(recorded) == 64 and not list(copy.glob(".*tmp*"))  # no temp files left behind
    raw = bytearray((copy / "model.safetensors").read_bytes())
    raw[-1] ^= 0x01  # one flipped bit in the last weight: still a valid safetensors file
    (copy / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="altered.*SHA-256"):
        load_checkpoint(copy)
    # rewriting the config (train.configure does) keeps the recorded checksum
    from facelab.config import load_config, save_config

    save_config(copy / "config.json", *load_config(copy / "config.json"))
    assert json.loads((copy / "config.json").read_text())["weights_sha256"] == recorded
