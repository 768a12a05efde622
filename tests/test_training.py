"""Training, checkpoint round-trip and the public model API on a tiny synthetic set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import facelab
from facelab.checkpoint import CheckpointError, load_checkpoint
from facelab.config import ConfigError, ModelConfig, TrainConfig
from facelab.methods.disvae import DisVAEOptions
from facelab.training import train

TINY = dict(channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4}, fusion_dim=32)


def test_two_step_training_changes_weights_and_freezes_identity(tiny_synthetic):
    model_config = ModelConfig(**TINY, options=DisVAEOptions(identity_epochs=1, disvae_epochs=1))
    train_config = TrainConfig(batch_size=8, max_steps=2, seed=0)
    model, history = train(tiny_synthetic, model_config, train_config, progress=False)
    assert np.isfinite(history["disvae"]["loss"]) and np.isfinite(history["identity_vae"]["loss"])
    assert set(history["disvae"]) >= {"reconstruction", "kl_expression", "cross_entropy"}
    assert not any(p.requires_grad for p in model.encoders["identity"].parameters())
    assert all(p.requires_grad for p in model.encoders["expression"].parameters())
    # the same seed gives the same weights: training is reproducible
    again, _ = train(tiny_synthetic, model_config, train_config, progress=False)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def test_stage_two_does_not_move_the_frozen_identity_encoder(tiny_synthetic):
    from facelab.methods import build_network, get_method
    from facelab.training import run_stage

    cfg = ModelConfig(**TINY)
    net = build_network(cfg)
    stage = list(get_method("disvae").stages(net, cfg, TrainConfig(), fine_tune=True))[-1]
    before = {k: v.clone() for k, v in net.encoders["identity"].state_dict().items()}
    moving = {k: v.clone() for k, v in net.encoders["expression"].state_dict().items()}
    run_stage(stage, net, tiny_synthetic, TrainConfig(batch_size=8, lr=1e-2, max_steps=2, device="cpu"),
              expressions=cfg.expressions, progress=False)
    for k, v in net.encoders["identity"].state_dict().items():
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, moving[k]) for k, v in net.encoders["expression"].state_dict().items())


def test_checkpoint_round_trip_is_bit_equal(tiny_checkpoint, tiny_synthetic):
    a = facelab.load(tiny_checkpoint, device="cpu")
    b = facelab.load(str(tiny_checkpoint), device="cpu")
    image = (tiny_synthetic[0]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    ca, cb = a.encode(image), b.encode(image)
    assert ca == cb
    assert np.array_equal(np.asarray(a.decode(ca)), np.asarray(b.decode(cb)))
    assert json.loads((tiny_checkpoint / "config.json").read_text())["model"]["latents"] == {"identity": 6, "expression": 4}


def test_checkpoint_holds_no_pickle(tiny_checkpoint):
    raw = (tiny_checkpoint / "model.safetensors").read_bytes()
    assert not raw.startswith(b"\x80") and b"pickle" not in raw[:4096]
    header_len = int.from_bytes(raw[:8], "little")
    assert json.loads(raw[8 : 8 + header_len])  # safetensors: a JSON header, then raw tensors


def test_mismatched_weights_are_refused_with_the_key_names(tiny_checkpoint, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_checkpoint, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["latents"]["expression"] = 5
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        facelab.load("no-such-checkpoint")


def test_configs_round_trip_and_reject_nonsense():
    cfg = ModelConfig(latents={"identity": 10, "expression": 3})
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.slices() == {"identity": slice(0, 10), "expression": slice(10, 13)}
    assert TrainConfig.from_dict(TrainConfig(seed=3).to_dict()).seed == 3
    with pytest.raises(ConfigError):
        ModelConfig(image_size=100)
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"latentz": {}})
    with pytest.raises(ConfigError):
        ModelConfig(expressions=("joy",))


def test_api_shapes_and_editing(tiny_checkpoint, tiny_synthetic):
    model = facelab.load(tiny_checkpoint, device="cpu")
    big = np.zeros((300, 200, 3), np.uint8) + 128  # any size in
    code = model.encode(big)
    assert code.identity.shape == (6,) and code.expression.shape == (4,)
    img = model.decode(code)
    assert img.size == (64, 64) and img.mode == "RGB"
    probs = model.classify(code)
    assert list(probs) and abs(sum(probs.values()) - 1) < 1e-5 and set(probs) == set(model.expressions)
    other = model.encode((tiny_synthetic[5]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    swapped = model.swap(code, other, "expression")
    assert np.array_equal(swapped.identity, code.identity) and np.array_equal(swapped.expression, other.expression)
    path = model.interpolate(code, other, steps=5, attribute="expression")
    assert len(path) == 5 and path[0] == code.replace() and np.allclose(path[-1].expression, other.expression)
    assert all(np.array_equal(c.identity, code.identity) for c in path)
    strip = model.traverse(code, "identity", 2, [-1.0, 0.0, 1.0])
    assert [c.identity[2] for c in strip] == [-1.0, 0.0, 1.0]
    images = model.decode(strip)
    assert len(images) == 3 and all(im.size == (64, 64) for im in images)
    assert len(model.top_dimensions("identity", 3)) == 3


def test_a_deeper_wider_expression_encoder_trains_and_round_trips(tiny_synthetic, tmp_path):
    from facelab.checkpoint import save_checkpoint

    model_config = ModelConfig(**TINY, options=DisVAEOptions(
        expression_channels=(8, 16, 32, 32), expression_depth=1, identity_epochs=1, disvae_epochs=1))
    assert ModelConfig.from_dict(json.loads(json.dumps(model_config.to_dict()))) == model_config
    train_config = TrainConfig(batch_size=8, max_steps=3, affine=1.0, lr_schedule="onecycle", hflip=True)
    model, history = train(tiny_synthetic, model_config, train_config, progress=False)
    assert np.isfinite(history["disvae"]["loss"])
    # the identity encoder keeps the shared channels; the expression encoder is wider and deeper
    n_conv = lambda enc: sum(isinstance(m, torch.nn.Conv2d) for m in enc.modules())  # noqa: E731
    assert n_conv(model.encoders["identity"]) == 4 and n_conv(model.encoders["expression"]) == 8
    assert model.encoders["expression"].head.in_features == 32 * 4 * 4
    directory = save_checkpoint(tmp_path / "deep", model, model_config, train_config)
    loaded = facelab.load(directory, device="cpu")
    image = (tiny_synthetic[0]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    with torch.no_grad():
        direct = model.encode(torch.as_tensor(image).permute(2, 0, 1)[None].float() / 255)[0]["expression"][0]
    assert np.allclose(loaded.encode(image, align=False).expression, direct.numpy(), atol=1e-4)
    with pytest.raises(ConfigError, match="expression_channels"):
        ModelConfig(options={"expression_channels": (8, 16)})
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="cosine-ish")
    with pytest.raises(ConfigError, match="affine"):
        TrainConfig(affine=2.0)


def test_random_affine_moves_each_image_and_its_target_together():
    from facelab.training import random_affine

    torch.manual_seed(0)
    images = torch.rand(6, 3, 32, 32)
    batch = random_affine(1.0)({"image": images.clone(), "target": images.clone(), "expression": torch.zeros(6)})
    assert batch["image"].shape == images.shape
    assert torch.equal(batch["image"], batch["target"])  # one draw per image, shared with its target
    assert not torch.allclose(batch["image"], images)  # and it did move the pixels
    # draws are independent across the batch: the same picture comes out differently
    same = random_affine(1.0)({"image": images[:1].repeat(4, 1, 1, 1)})["image"]
    assert not torch.allclose(same[0], same[1])


def test_onecycle_schedule_warms_up_then_anneals(tiny_synthetic):
    from facelab.methods import build_network, get_method
    from facelab.training import run_stage

    cfg = ModelConfig(**TINY)
    net = build_network(cfg)
    stage = list(get_method("disvae").stages(net, cfg, TrainConfig(), fine_tune=True))[-1]
    stage.epochs = 2
    seen = []

    class Recorder:  # a stand-in for SummaryWriter that keeps the logged learning rates
        def add_scalar(self, tag, value, step):
            if tag.endswith("/lr"):
                seen.append(value)

    run_stage(stage, net, tiny_synthetic, TrainConfig(batch_size=4, lr=1e-2, lr_schedule="onecycle", log_every=1,
                                                      device="cpu"),
              expressions=cfg.expressions, progress=False, writer=Recorder())
    peak = int(np.argmax(seen))
    assert 0 < peak < len(seen) - 1 and max(seen) == pytest.approx(1e-2, rel=0.05)
    assert seen[0] < 0.25 * max(seen) and seen[-1] < 0.01 * max(seen)


def test_bf16_autocast_and_channels_last_train_to_finite_losses(tiny_synthetic):
    """The GPU recipe's switches run on CPU too (autocast covers the losses; NHWC the convolutions)."""
    config = TrainConfig(batch_size=8, max_steps=2, precision="bf16", channels_last=True, device="cpu")
    net, history = train(tiny_synthetic, ModelConfig(method="swap", **TINY, options={"epochs": 1}), config, progress=False)
    assert np.isfinite(history["swap"]["loss"])
    assert all(p.is_contiguous() for p in net.parameters())  # saved in the default layout
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp8")


def test_broken_checkpoints_are_refused_naming_the_file_and_the_problem(tiny_checkpoint, tmp_path):
    import shutil

    from facelab.config import ConfigError

    def broken(name: str, edit) -> str:
        copy = tmp_path / name
        shutil.copytree(tiny_checkpoint, copy)
        edit(copy)
        return str(copy)

    def truncate(d, keep_checksum: bool):
        raw = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(raw[: len(raw) // 2])
        if not keep_checksum:  # as a checkpoint saved before checksums existed
            cfg = json.loads((d / "config.json").read_text())
            del cfg["weights_sha256"]
            (d / "config.json").write_text(json.dumps(cfg))

    def unknown_field(d):
        cfg = json.loads((d / "config.json").read_text())
        cfg["model"]["colour_space"] = "lab"
        (d / "config.json").write_text(json.dumps(cfg))

    path = broken("truncated", lambda d: truncate(d, True))
    with pytest.raises(CheckpointError, match="model.safetensors was altered"):
        facelab.load(path)
    path = broken("truncated-unchecked", lambda d: truncate(d, False))
    with pytest.raises(CheckpointError, match="model.safetensors cannot be read as safetensors"):
        facelab.load(path)
    path = broken("unknown-field", unknown_field)
    with pytest.raises((ConfigError, CheckpointError), match="colour_space") as caught:
        facelab.load(path)
    assert "config.json" in str(caught.value)


def test_mirrored_faces_turn_the_other_way():
    from facelab.training import mirror_half

    torch.manual_seed(0)
    n = 64
    image = torch.rand(n, 3, 8, 8)
    pose = torch.tensor([[20.0, -5.0, 7.0]]).repeat(n, 1)
    batch = mirror_half({"image": image.clone(), "pose": pose.clone(), "yaw": pose[:, 0] / 25, "roll": pose[:, 2] / 20})
    flipped = (batch["image"] - image.flip(-1)).abs().flatten(1).amax(1) == 0
    assert 0 < int(flipped.sum()) < n
    expect = torch.where(flipped[:, None], pose * torch.tensor([-1.0, 1.0, -1.0]), pose)
    assert torch.equal(batch["pose"], expect)
    assert torch.allclose(batch["yaw"], expect[:, 0] / 25) and torch.allclose(batch["roll"], expect[:, 2] / 20)
    # a swap's partner and every swap target flip with their row (the mirror of "A with B's pose" is
    # mirrored A with mirrored B's pose); other tensors stay
    keys = ("partner", "swap_target", "pose_swap_target", "target")
    extra = {k: torch.rand(n, 3, 8, 8) for k in keys}
    batch = mirror_half({"image": image.clone(), "other": image.clone(), **{k: v.clone() for k, v in extra.items()}})
    flipped = (batch["image"] - image.flip(-1)).abs().flatten(1).amax(1) == 0
    assert 0 < int(flipped.sum()) < n and torch.equal(batch["other"], image)
    for k in keys:
        assert torch.equal(batch[k], torch.where(flipped[:, None, None, None], extra[k].flip(-1), extra[k])), k
