"""Slider ranges from the real spread of the training codes (issue 12): quantile bounds, the fallback
for checkpoints saved without them, and ``python -m train.statistics`` rewriting only the statistics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

import facelab
from facelab import demo as D
from facelab.checkpoint import sha256_file
from facelab.config import ModelConfig
from facelab.face_model import FaceModel
from facelab.methods import build_network
from facelab.models.network import QUANTILE_BUFFERS, CodePlumbing
from facelab.training import code_statistics

TINY_DATA = "synthetic:identities=4,per_identity=8"  # what the session's tiny checkpoint was trained on


class CodesAsImages(CodePlumbing, nn.Module):
    """A network whose "images" are codes (encode hands them back), so the statistics see chosen codes."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.add_code_heads(config)

    def encode(self, x):
        mu = self.split(x)
        return mu, {k: torch.zeros_like(v) for k, v in mu.items()}

    def decode(self, z):
        return torch.zeros(len(z), 3, 8, 8)


def _measured(codes: np.ndarray, latents: dict[str, int]) -> FaceModel:
    config = ModelConfig(latents=latents, channels=(8, 8, 8, 8), fusion_dim=8)
    network = CodesAsImages(config)
    batches = [{"image": torch.from_numpy(c)} for c in np.array_split(codes.astype(np.float32), 8)]
    code_statistics(network, batches, torch.device("cpu"))
    return FaceModel(network.eval(), config)


def test_quantile_bounds_stay_within_the_codes_and_inside_three_std_of_a_heavy_tailed_dimension():
    rng = np.random.default_rng(0)
    n = 20_000
    heavy = rng.standard_t(df=2, size=n) * 2.0 + 1.0  # Student t, 2 degrees of freedom: rare, huge outliers
    gaussian = rng.normal(-0.5, 1.5, size=n)
    lopsided = np.where(rng.random(n) < 0.97, rng.normal(0, 0.3, n), rng.normal(12, 1, n))  # a 3 % far cluster
    model = _measured(np.stack([heavy, gaussian, lopsided], 1), {"identity": 2, "expression": 1})
    codes = {"identity": np.stack([heavy, gaussian], 1), "expression": lopsided[:, None]}
    assert model.bounds_source == "1st–99th percentile of the training codes"
    for attribute, values in codes.items():
        low, high = model.code_bounds(attribute)
        mean, std = model.code_range(attribute)
        assert (values.min(0) < low).all() and (high < values.max(0)).all()  # within the codes' range
        assert (low < mean).all() and (mean < high).all()  # the slider default inside
        assert np.allclose([(values < low).mean(0), (values > high).mean(0)], 0.01, atol=0.002)
    low, high = model.code_bounds("identity")
    mean, std = model.code_range("identity")
    # the heavy-tailed dimension: its std is inflated by the outliers, its percentiles are not
    assert mean[0] - 3 * std[0] < low[0] and high[0] < mean[0] + 3 * std[0]
    assert (high[0] - low[0]) < 0.75 * (6 * std[0])
    # ... and a far cluster of 3 % of the faces is inside the range, where mean + 3 std falls short of it
    (e_mean, e_std), (_, e_high) = model.code_range("expression"), model.code_bounds("expression")
    assert e_mean[0] + 3 * e_std[0] < 9 < e_high[0]
    # a normal one: 1st/99th percentile = mean ± 2.33 std
    assert np.allclose([low[1], high[1]], [mean[1] - 2.326 * std[1], mean[1] + 2.326 * std[1]], atol=0.1)
    # what the app shows: slider ends at the bounds, the default at the mean (rounded as before)
    specs = {(s.attribute, s.dim): s for s in D.slider_specs(model)}
    for d in (0, 1):
        s = specs["identity", d]
        tol = 1e-3 * (s.maximum - s.minimum)
        assert (s.minimum, s.default, s.maximum) == pytest.approx((low[d], mean[d], high[d]), abs=tol)
    # positions along the range: −1 the low end, 0 the mean, +1 the high end (each side linear)
    values = model.range_values("identity", 0, [-1, -0.5, 0, 1, 5])
    assert values == pytest.approx([low[0], (low[0] + mean[0]) / 2, mean[0], high[0], high[0]], rel=1e-6)
    assert model.range_position("identity", 0, (mean[0] + high[0]) / 2) == pytest.approx(0.5)


def _strip_quantiles(directory) -> None:
    """Make ``directory`` look like a checkpoint saved before the quantile buffers (checksum kept valid)."""
    path = directory / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
    state = {k: v for k, v in load_file(str(path)).items() if k not in QUANTILE_BUFFERS}
    save_file(state, str(path), metadata=metadata)
    config = json.loads((directory / "config.json").read_text())
    config["weights_sha256"] = sha256_file(path)
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def test_a_checkpoint_saved_without_quantiles_loads_with_mean_plus_minus_three_std(tiny_checkpoint, tmp_path):
    new = facelab.load(tiny_checkpoint, device="cpu")
    assert "percentile" in new.bounds_source
    old_dir = shutil.copytree(tiny_checkpoint, tmp_path / "old")
    _strip_quantiles(old_dir)
    with pytest.warns(UserWarning, match="stores no quantiles.*mean ± 3 std.*train.statistics"):
        old = facelab.load(old_dir, device="cpu")
    assert old.bounds_source.startswith("mean ± 3 std")
    for attribute in old.attributes:
        mean, std = old.code_range(attribute)
        low, high = old.code_bounds(attribute)
        assert np.allclose(low, mean - 3 * std) and np.allclose(high, mean + 3 * std)
        assert np.array_equal(mean, new.code_range(attribute)[0])
    spec = D.slider_specs(old, k=1, attributes=["expression"])[0]
    mean, std = old.code_range("expression")
    assert spec.minimum == pytest.approx(mean[spec.dim] - 3 * std[spec.dim], abs=1e-3 * (spec.maximum - spec.minimum))
    # the weights themselves are untouched: same faces
    code = new.encode(np.zeros((64, 64, 3), np.uint8))
    assert code == old.encode(np.zeros((64, 64, 3), np.uint8))
    assert np.array_equal(np.asarray(new.decode(code)), np.asarray(old.decode(code)))
    # a strict load of such a state (a resumed run, a fine-tune's start) accepts it too
    network = build_network(old.config)
    network.load_state_dict(load_file(str(old_dir / "model.safetensors")), strict=True)
    assert torch.isnan(network.code_low).all() and torch.equal(network.code_mean, old.network.code_mean)


def test_statistics_cli_rewrites_only_the_statistics(tiny_checkpoint, cache_dir, tmp_path, capsys):
    from train import statistics

    original = load_file(str(tiny_checkpoint / "model.safetensors"))
    directory = shutil.copytree(tiny_checkpoint, tmp_path / "old")
    _strip_quantiles(directory)
    before = load_file(str(directory / "model.safetensors"))
    config_before = json.loads((directory / "config.json").read_text())
    statistics.main(["--checkpoint", str(directory), "--data", TINY_DATA, "--threads", "1", "--quiet"])
    out = capsys.readouterr().out
    assert "before: mean ± 3 std" in out and "after:  1st–99th percentile" in out and "bit-identical" in out
    after = load_file(str(directory / "model.safetensors"))
    assert set(after) == set(before) | set(QUANTILE_BUFFERS)
    for key, tensor in before.items():
        if not key.startswith("code_"):
            assert tensor.dtype == after[key].dtype and torch.equal(tensor, after[key]), key
    # the same data and split as training: the trainer's own statistics, quantiles included
    for key in ("code_mean", "code_std") + QUANTILE_BUFFERS:
        assert torch.allclose(after[key], original[key], atol=1e-5), key
    config_after = json.loads((directory / "config.json").read_text())
    assert config_after.pop("weights_sha256") == sha256_file(directory / "model.safetensors")
    config_before.pop("weights_sha256")
    assert config_after == config_before  # nothing else in config.json changed
    model = facelab.load(directory, device="cpu")  # the checksum is checked at load
    assert "percentile" in model.bounds_source
    # run again: nothing but the statistics may move, and they stay put
    statistics.main(["--checkpoint", str(directory), "--data", TINY_DATA, "--threads", "1", "--quiet"])
    again = load_file(str(directory / "model.safetensors"))
    assert all(torch.equal(again[k], after[k]) for k in after)
