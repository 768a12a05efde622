"""The recogniser as a teacher for the swap method's identity code (``teacher_weight``, issue 12).

The tests that compute descriptors are skipped where dlib-bin / face-recognition-models are not
installed; the rest give the items their descriptors by hand (or fake the recogniser).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, default_collate

import facelab
from facelab import recogniser as R
from facelab.checkpoint import save_checkpoint
from facelab.config import ConfigError, ModelConfig, TrainConfig
from facelab.datasets import teacher as T
from facelab.datasets.pairs import SwapPairs
from facelab.methods import build_network, get_method
from facelab.methods.swap import swap_loss, teacher_cycle
from facelab.training import label_remap, seed_everything, to_device, train

needs_dlib = pytest.mark.skipif(not R.available(), reason=f"needs dlib ({R.INSTALL_HINT})")
TINY = {"channels": (8, 16, 16, 16), "latents": {"identity": 6, "expression": 4}, "fusion_dim": 32}
STEPS = TrainConfig(batch_size=8, max_steps=2, seed=0)
# what the swap method logs without the teacher (its defaults: detail and cycle terms on, beta 0)
TODAYS_TERMS = {"loss", "reconstruction", "swap", "swap_detail", "cycle_cross_entropy", "cycle_identity", "bce",
                "cross_entropy", "accuracy", "identity_triplet", "expression_triplet", "identity_cosine",
                "expression_cosine"}


def swap_config(**options) -> ModelConfig:
    return ModelConfig(method="swap", **TINY, options={"epochs": 1, **options})


@pytest.fixture(scope="module")
def teacher_run(tiny_synthetic):
    """2 steps of swap training with the teacher on (descriptors of the 32 generator faces: a few seconds)."""
    if not R.available():
        pytest.skip(f"needs dlib ({R.INSTALL_HINT})")
    config = swap_config(teacher_weight=1.0)
    network, history = train(tiny_synthetic, config, STEPS, progress=False)
    return network, history, config


def _batch(dataset, teacher: np.ndarray) -> dict:
    pairs = SwapPairs(dataset, progress=False, teacher=teacher)
    batch = default_collate([pairs[i] for i in range(len(pairs))])
    return to_device(batch, torch.device("cpu"), label_remap(tuple(facelab.EXPRESSIONS[:7])))


@needs_dlib
def test_a_teacher_run_logs_a_finite_term_and_trains_the_head(teacher_run, tiny_synthetic):
    network, history, config = teacher_run
    terms = history["swap"]
    assert set(terms) == TODAYS_TERMS | {"teacher"}
    assert np.isfinite(terms["teacher"]) and 0 < terms["teacher"] < 2 and np.isfinite(terms["loss"])
    seed_everything(STEPS.seed)  # as train() does before building: the head's starting weights
    untrained = build_network(config)
    assert not torch.equal(network.teacher_head.weight, untrained.teacher_head.weight)
    assert not torch.equal(network.teacher_head.bias, untrained.teacher_head.bias)
    # the targets: the generator's chip, cached, one finite row per face
    rows = T.teacher_descriptors(tiny_synthetic)
    assert rows.shape == (len(tiny_synthetic), 128) and np.isfinite(rows).all()
    crops = np.stack([tiny_synthetic[i]["image"].numpy() for i in (0, 5)])
    assert np.allclose(rows[[0, 5]], R.descriptors(crops, R.GENERATOR_BOX), atol=1e-6)
    assert "teacher" in get_method("swap").summary(config)


def test_items_without_a_descriptor_are_masked_out(tiny_synthetic):
    """No dlib needed: the descriptors are given by hand."""
    torch.manual_seed(0)
    net = build_network(swap_config(teacher_weight=1.0))
    data = Subset(tiny_synthetic, range(8))
    loss = swap_loss(swap_config(teacher_weight=1.0).options)

    none = _batch(data, np.full((8, 128), np.nan, np.float32))
    out = loss(net, none)
    assert out["teacher"].item() == 0.0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert net.teacher_head.weight.grad is not None and not net.teacher_head.weight.grad.any()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)

    rng = np.random.default_rng(0)
    half = rng.normal(size=(8, 128)).astype(np.float32)
    half[4:] = np.nan
    batch = _batch(data, half)
    out = loss(net, batch)
    with torch.no_grad():
        mu, _ = net.encode(batch["image"][:4])
        want = (1 - torch.nn.functional.cosine_similarity(net.teacher_head(mu["identity"]),
                                                         torch.from_numpy(half[:4]), dim=1)).mean()
    assert torch.allclose(out["teacher"], want, atol=1e-5)
    # the total is today's loss plus the weighted term: the same weights without the teacher (the head dropped)
    plain = build_network(swap_config())
    plain.load_state_dict(net.state_dict())
    today = swap_loss(swap_config().options)(plain, batch)
    assert set(today) == TODAYS_TERMS
    assert torch.allclose(out["loss"], today["loss"] + out["teacher"], rtol=1e-5)


def test_weight_zero_is_todays_swap_method(tiny_synthetic, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("computed descriptors with the teacher off")

    monkeypatch.setattr(T, "teacher_descriptors", never)
    monkeypatch.setattr(R, "descriptors", never)
    config = swap_config()
    assert config.options.teacher_weight == 0.0
    net, history = train(tiny_synthetic, config, STEPS, progress=False)
    assert set(history["swap"]) == TODAYS_TERMS
    assert not hasattr(net, "teacher_head") and not any("teacher" in k for k in net.state_dict())
    assert "teacher" not in get_method("swap").prepare_data(Subset(tiny_synthetic, range(4)), config)[0]
    assert "teacher" not in get_method("swap").summary(config)


@needs_dlib
def test_a_teacher_trained_checkpoint_round_trips(teacher_run, tiny_synthetic, tmp_path):
    network, _, config = teacher_run
    directory = save_checkpoint(tmp_path / "teacher", network, config, STEPS)
    model = facelab.load(directory, device="cpu")
    assert model.config == config and model.config.options.teacher_weight == 1.0
    assert torch.equal(model.network.teacher_head.weight, network.teacher_head.weight)
    x = torch.stack([tiny_synthetic[i]["image"] for i in range(4)])
    with torch.no_grad():
        mu, _ = network.encode(x)
    got = model.encode_tensor(x)
    for a in model.attributes:
        assert np.allclose(got[a], mu[a].numpy(), atol=1e-6), a


def test_checkpoints_without_a_teacher_head_still_load(tiny_synthetic, tmp_path):
    """Weights saved before (or without) the teacher load strictly, with it on (fine-tuning) or off."""
    torch.manual_seed(0)
    old = build_network(swap_config())
    directory = save_checkpoint(tmp_path / "old", old, swap_config(), STEPS)
    with pytest.warns(UserWarning, match="quantiles"):  # never trained: no code statistics
        model = facelab.load(directory, device="cpu")
    assert model.config.options.teacher_weight == 0.0 and not hasattr(model.network, "teacher_head")
    fine_tune = build_network(swap_config(teacher_weight=0.5))
    head = fine_tune.teacher_head.weight.detach().clone()
    fine_tune.load_state_dict(old.state_dict())  # strict: the head keeps its fresh weights
    assert torch.equal(fine_tune.teacher_head.weight, head)
    loaded = fine_tune.state_dict()
    assert all(torch.equal(loaded[k].nan_to_num(), v.nan_to_num()) for k, v in old.state_dict().items())
    # the bundled swap checkpoints' configs have no teacher_weight: the default, 0
    for name in ("swap-synthetic", "photo-swap"):
        from facelab.checkpoint import checkpoint_root
        from facelab.config import load_config

        path = checkpoint_root() / name / "config.json"
        if path.is_file():
            assert load_config(path)[0].options.teacher_weight == 0.0


def test_geometry_per_source_and_nan_where_unknown(tmp_path, monkeypatch):
    """No dlib: the recogniser is faked, so this checks which rows get which chip."""
    import fixtures as fx

    from facelab import datasets as D
    from facelab.align import AlignConfig

    london = fx.make_london(tmp_path / "london", people=2, canada=())
    fx.write_black(london / "neutral_front" / "003_03.jpg")  # no face: kept as a centre crop
    fer = fx.make_fer_folders(tmp_path / "fer", {"train": 1})
    ck48 = fx.make_ckplus48(tmp_path / "ck48")
    mix = D.load([f"london:{london}?fallback=center", f"fer2013:{fer}", f"ckplus48:{ck48}",
                  "synthetic:identities=2,per_identity=2,nuisance=0"],
                 size=16, cache_dir=tmp_path / "cache", detector=fx.FakeDetector(), progress=False)
    calls = []

    def fake(dataset, geometry=None, cache_dir=None, progress=False, indices=None, desc=""):
        calls.append((getattr(dataset, "name", "synthetic"), geometry))
        return np.stack([np.full(128, 1000 * len(calls) + i, np.float32) for i in indices])

    monkeypatch.setattr(R, "dataset_descriptors", fake)
    order = np.random.default_rng(0).permutation(len(mix))
    rows = T.teacher_descriptors(Subset(mix, order))
    names = [mix[int(i)]["dataset"] for i in order]
    known = np.isfinite(rows).all(1)
    geometry = dict(calls)
    assert isinstance(geometry["london"], AlignConfig) and geometry["london"].size == 16
    assert geometry["fer2013"] == R.PRECROPPED_BOXES["fer2013"] and geometry["synthetic"] == R.GENERATOR_BOX
    assert sorted(geometry) == ["fer2013", "london", "synthetic"]  # CK+48: pre-cropped, no measured box
    count = {n: names.count(n) for n in set(names)}
    assert count == {"london": 5, "fer2013": 7, "ckplus48": 5, "synthetic": 4}
    assert not known[[n == "ckplus48" for n in names]].any()
    assert known[[n in ("fer2013", "synthetic") for n in names]].all()
    assert known[[n == "london" for n in names]].sum() == 4  # the centre-crop fallback has none
    # every row is its own item's: the fake wrote (call, index in its source) into it
    mixed = mix.datasets
    for k, i in enumerate(order):
        if known[k]:
            part = int(np.searchsorted(mix.cumulative_sizes, i, side="right"))
            local = int(i) - (mix.cumulative_sizes[part - 1] if part else 0)
            assert rows[k, 0] % 1000 == local and mixed[part].name == names[k]


def test_training_refuses_the_teacher_without_dlib_before_loading_data(monkeypatch, tmp_path):
    from train import fit

    monkeypatch.setattr(R, "available", lambda: False)
    config = swap_config(teacher_weight=1.0)  # a teacher-trained model still loads without dlib
    with pytest.raises(ConfigError, match="dlib"):
        get_method("swap").preflight(config)
    with pytest.raises(ConfigError, match="dlib"):
        get_method("swap").prepare_data([], config)
    monkeypatch.setattr(fit.datasets, "load", lambda *a, **k: pytest.fail("loaded data before the check"))
    with pytest.raises(SystemExit, match="teacher_weight 1.0 needs the face recogniser.*dlib-bin"):
        fit.main(["--method", "swap", "--teacher-weight", "1", "--out", str(tmp_path), "--logs", ""])
    with pytest.raises(ConfigError, match="teacher_weight must be >= 0"):
        swap_config(teacher_weight=-1.0)


def test_the_teacher_cycle_reads_the_decoded_faces_with_the_encoder_and_head_held_fixed(tiny_synthetic):
    """No dlib needed: the descriptors are given by hand. The term is the head's reading of the
    re-encoded decodes (own and swapped) against the input's descriptor; its gradient reaches the
    decoder but neither the head nor the identity encoder's reading of the decodes."""
    with pytest.raises(ConfigError, match="teacher_weight"):
        swap_config(teacher_cycle_weight=1.0)
    config = swap_config(teacher_weight=1.0, teacher_cycle_weight=1.0)
    torch.manual_seed(0)
    net = build_network(config)
    target = np.random.default_rng(1).normal(size=(8, 128)).astype(np.float32)
    batch = _batch(Subset(tiny_synthetic, range(8)), target)
    out = swap_loss(config.options)(net, batch)
    assert "teacher_cycle" in out and 0 < out["teacher_cycle"].item() < 2

    with torch.no_grad():  # the same reading, by hand: decodes of A's codes and of A with B's expression
        mu, _ = net.encode(torch.cat([batch["image"], batch["partner"]]))
        own = {a: v[:8] for a, v in mu.items()}
        decoded = net.decode(torch.cat([net.join(own), net.join({**own, "expression": mu["expression"][8:]})]))
        again, _ = net.encode(decoded)
        want = (1 - torch.nn.functional.cosine_similarity(net.teacher_head(again["identity"]),
                                                         torch.from_numpy(np.tile(target, (2, 1))), dim=1)).mean()
    assert torch.allclose(out["teacher_cycle"], want, atol=1e-5)

    net.zero_grad()
    out["teacher_cycle"].backward()
    assert net.teacher_head.weight.grad is None or not net.teacher_head.weight.grad.any()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.decoder.parameters())
    # on pixels that carry no gradient, the term reaches no weight at all: encoder and head are fixed
    net.zero_grad()
    decoded = decoded.clone().requires_grad_(True)
    teacher_cycle(net, decoded, torch.from_numpy(np.tile(target, (2, 1)))).backward()
    assert decoded.grad is not None and decoded.grad.abs().sum() > 0
    assert all(p.grad is None or not p.grad.any() for p in net.parameters())
    assert "distilled recogniser" in get_method("swap").summary(config)


@needs_dlib
def test_the_head_only_warm_up_trains_the_teacher_head_and_nothing_else(tiny_synthetic):
    """--teacher-warmup-epochs: a stage before the main one in which only the teacher's head moves;
    the main stage then trains every weight again."""
    warm_only = swap_config(teacher_weight=1.0, teacher_warmup_epochs=1, epochs=0)
    network, history = train(tiny_synthetic, warm_only, STEPS, progress=False)
    assert 0 < history["teacher_head"]["teacher"] < 2
    seed_everything(STEPS.seed)  # as train() does before building: the starting weights
    before = dict(build_network(warm_only).named_parameters())  # code statistics are refit after any run
    after = dict(network.named_parameters())
    assert {k for k in before if not torch.equal(before[k], after[k])} == {"teacher_head.weight", "teacher_head.bias"}

    both = swap_config(teacher_weight=1.0, teacher_warmup_epochs=1, epochs=1)
    network, history = train(tiny_synthetic, both, STEPS, progress=False)
    assert {"teacher_head", "swap"} <= set(history)
    after = dict(network.named_parameters())
    still = {k for k in before if torch.equal(before[k], after[k])}
    assert not any(k.startswith(("decoder.", "encoders.")) for k in still)  # every weight learned again
    assert "first trained alone for 1 epoch" in get_method("swap").summary(both)
    with pytest.raises(ConfigError, match="teacher_warmup_epochs needs the teacher"):
        swap_config(teacher_warmup_epochs=2)
