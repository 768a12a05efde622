"""The command-line path end to end on a tiny synthetic set: train → evaluate → card → topology."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import facelab
from facelab.topology import Topology


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir):
    from train import disvae

    out = tmp_path_factory.mktemp("cli")
    directory = disvae.main([
        "--name", "cli-tiny", "--out", str(out), "--logs", str(out / "runs"),
        "--data", "synthetic:identities=4,per_identity=7", "--channels", "8", "16", "16", "16",
        "--expression-channels", "8", "16", "16", "32", "--expression-depth", "1", "--affine", "0.5",
        "--lr-schedule", "onecycle", "--identity-dim", "4", "--expression-dim", "3",
        "--identity-epochs", "1", "--disvae-epochs", "1", "--max-steps", "2", "--batch-size", "8",
    ])
    return directory


def test_train_cli_writes_a_loadable_checkpoint_and_logs(trained):
    assert {p.name for p in trained.iterdir()} >= {"model.safetensors", "config.json", "training_run.json"}
    run = json.loads((trained / "training_run.json").read_text())
    assert run["command"].startswith("python -m train.disvae") and run["wall_time_s"] > 0
    assert run["elapsed_s"] >= run["wall_time_s"]  # the whole process: start-up and data as well as the stages
    assert list((trained.parent / "runs" / "cli-tiny").glob("events.out.tfevents.*")), "no TensorBoard log"
    model = facelab.load(trained)
    assert model.config.latents == {"identity": 4, "expression": 3}
    assert model.training.data == ("synthetic:identities=4,per_identity=7",)
    assert model.config.method == "disvae"
    assert (model.config.options.expression_channels, model.config.options.expression_depth) == ((8, 16, 16, 32), 1)
    assert (model.training.affine, model.training.lr_schedule) == (0.5, "onecycle")


def test_train_cli_fine_tunes_from_a_checkpoint(trained, tmp_path):
    from train import disvae

    start = facelab.load(trained)
    tuned_dir = disvae.main([
        "--name", "tuned", "--out", str(tmp_path), "--logs", "", "--init", str(trained),
        "--data", "synthetic:identities=4,per_identity=7", "--disvae-epochs", "1", "--max-steps", "2",
        "--batch-size", "8",
    ])
    tuned = facelab.load(tuned_dir)
    assert tuned.config == start.config
    a, b = start.network.state_dict(), tuned.network.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a if k.startswith("encoders.identity."))  # still frozen
    assert any(not np.array_equal(a[k], b[k]) for k in a if k.startswith("encoders.expression."))
    # provenance: the fine-tune's record nests its start point's, and the card lists both commands in order
    from facelab.card import write_card

    run = json.loads((tuned_dir / "training_run.json").read_text())
    first = json.loads((trained / "training_run.json").read_text())["command"]
    assert run["init"]["command"] == first and "--init" in run["command"]
    card = write_card(tuned_dir).read_text()
    assert card.index(first) < card.index(run["command"]) and "wall time in total" in card
    assert "from each command's start to its saved weights, in total" in card
    assert "options of the last training command" in card.split("## Training")[0]  # the Method paragraph says whose
    assert "options of the last training command" not in write_card(trained).read_text()  # one run: its own


def test_evaluate_cli_writes_figures_and_card(trained, capsys):
    from train import evaluate

    figures = evaluate.main([
        "--checkpoint", str(trained), "--data", "synthetic:identities=4,per_identity=7,identity_seed=1", "--card",
    ])
    printed = capsys.readouterr().out
    assert "Expression accuracy" in printed
    saved = json.loads((trained / "evaluation.json").read_text())
    for key in ("expression_accuracy", "leakage_accuracy", "leakage_identity_accuracy", "majority_rate", "psnr",
                "identity_top1", "swap_psnr", "swap_identity_kept", "noswap_identity_kept", "swap_psnr_gain", "mig",
                "dci_disentanglement"):
        assert np.isfinite(saved[key]), key
        assert saved[key] == pytest.approx(figures[key])
    assert saved["leakage_accuracy"] == saved["leakage_identity_accuracy"]  # z_id is the only other sub-code
    assert saved["method"] == "disvae" and saved["mirror_expression"] is False
    card = (trained / "README.md").read_text()
    assert saved["command"] in card and f"{saved['psnr']:.2f}" in card
    assert f"is the same person | {saved['identity_top1']:.1%} |" in card
    assert f"(another person) | {saved['swap_identity_kept']:.1%} |" in card
    assert "DisVAE in two stages" in card and "Follows: DisVAE" in card
    assert "decoder conv channels 8-16-16-16; expression encoder 8-16-16-32 with 1 extra" in card


def test_topology_round_trip_and_placement(tmp_path):
    rng = np.random.default_rng(0)
    codes = {"expression": rng.normal(size=(50, 3)).astype(np.float32)}
    emb = {"expression": rng.normal(size=(50, 2)).astype(np.float32)}
    labels = {"expression": rng.integers(0, 7, 50), "identity": np.arange(50)}
    topo = Topology(codes, emb, labels, {"n_neighbors": 5})
    topo.save(tmp_path / "t.npz")
    back = Topology.load(tmp_path / "t.npz")
    assert back.params == {"n_neighbors": 5} and np.array_equal(back.codes["expression"], codes["expression"])
    # a gallery code is placed on (almost exactly) its own embedded position
    assert np.allclose(back.place("expression", codes["expression"][7]), emb["expression"][7], atol=1e-3)
    idx, dist = back.neighbours("expression", codes["expression"][7], k=3)
    assert idx[0] == 7 and dist[0] == 0 and (np.diff(dist) >= 0).all()


def test_build_topology_fits_umap(trained):
    """The real umap-learn fit (slow first JIT, so one small run)."""
    from facelab.synthetic import SyntheticFaces
    from facelab.topology import build_topology

    model = facelab.load(trained)
    gallery = SyntheticFaces(identities=range(500, 506), per_identity=10, with_neutral=False, progress=False)
    topo = build_topology(model, gallery, n_neighbors=5, progress=False)
    assert topo.embedding["identity"].shape == (60, 2) and topo.codes["expression"].shape == (60, 3)
    assert np.isfinite(topo.embedding["expression"]).all()
    assert set(np.unique(topo.labels["identity"])) == set(range(500, 506))


def test_fine_tuning_refuses_a_different_holdout_draw(trained, tmp_path):
    import shutil

    from train import disvae

    start = tmp_path / "held"
    shutil.copytree(trained, start)
    cfg = json.loads((start / "config.json").read_text())
    cfg["training"].update(holdout=0.25, seed=0)
    (start / "config.json").write_text(json.dumps(cfg))
    common = ["--out", str(tmp_path), "--logs", "", "--init", str(start), "--max-steps", "1", "--batch-size", "8",
              "--data", "synthetic:identities=4,per_identity=7", "--disvae-epochs", "1"]
    with pytest.raises(SystemExit, match="--holdout 0.25 --validation 0.0 --seed 0"):
        disvae.main(["--name", "other-draw", "--holdout", "0.25", "--seed", "1", *common])
    tuned = disvae.main(["--name", "same-draw", "--holdout", "0.25", *common])
    assert facelab.load(tuned).training.holdout == 0.25


def test_validation_part_is_kept_out_of_training_and_evaluated_alone(tmp_path):
    from facelab import datasets
    from train import disvae, evaluate

    data = "synthetic:identities=8,per_identity=5"
    common = ["--out", str(tmp_path), "--logs", "", "--data", data, "--channels", "8", "16", "16", "16",
              "--identity-dim", "3", "--expression-dim", "2", "--identity-epochs", "1", "--disvae-epochs", "1",
              "--max-steps", "1", "--batch-size", "8", "--holdout", "0.25"]
    directory = disvae.main(["--name", "with-val", "--validation", "0.25", *common])
    model = facelab.load(directory)
    assert model.training.validation == 0.25
    parts = datasets.training_splits(datasets.load([data]), 0.25, 0.25, seed=0)
    assert len(parts["val"]) and json.loads((directory / "training_run.json").read_text())["images"] == len(parts["train"])
    figures = evaluate.main(["--checkpoint", str(directory), "--split", "val", "--quiet", "--swap-pairs", "8"])
    assert figures["n_images"] == len(parts["val"]) and "(val split, holdout 0.25, validation 0.25)" in figures["data"][0]
    assert evaluate.main(["--checkpoint", str(directory), "--quiet", "--swap-pairs", "8"])["n_images"] == len(parts["test"])
    # generator data with a validation part but no held-out people: the test figures are new people's
    only_val = disvae.main(["--name", "only-val", "--validation", "0.25", *common[:-2], "--holdout", "0"])
    from train.evaluate import HELD_OUT_SYNTHETIC

    fresh = evaluate.main(["--checkpoint", str(only_val), "--quiet", "--swap-pairs", "8", "--no-png"])
    assert fresh["data"] == [HELD_OUT_SYNTHETIC] and fresh["n_images"] == len(datasets.load([HELD_OUT_SYNTHETIC]))
    without = disvae.main(["--name", "no-val", *common])
    with pytest.raises(SystemExit, match="without --validation"):
        evaluate.main(["--checkpoint", str(without), "--split", "val", "--quiet"])
    # a fine-tune must keep the validation draw: another one would train on validation images
    with pytest.raises(SystemExit, match="--validation 0.25"):
        disvae.main(["--name", "tuned", "--init", str(directory), *common])


def test_configure_switches_mirror_averaging_without_touching_the_weights(trained, tmp_path):
    import shutil

    from train import configure, evaluate

    start = tmp_path / "mirrored"
    shutil.copytree(trained, start)
    data = ["--data", "synthetic:identities=4,per_identity=7,identity_seed=1", "--quiet", "--swap-pairs", "16"]
    before = evaluate.main(["--checkpoint", str(start), *data])
    configure.main(["--checkpoint", str(start), "--mirror-expression"])
    model, original = facelab.load(start), facelab.load(trained)
    assert model.setting("mirror_expression") and not original.setting("mirror_expression")
    a, b = model.network.state_dict(), original.network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # z_exp no longer tells a face from its mirror image; z_id still does
    image = torch.rand(2, 3, 64, 64)
    codes, mirrored = model.encode_tensor(image), model.encode_tensor(image.flip(-1))
    assert np.allclose(codes["expression"], mirrored["expression"], atol=1e-5)
    assert not np.allclose(codes["identity"], mirrored["identity"], atol=1e-3)
    assert not np.allclose(codes["expression"], original.encode_tensor(image)["expression"], atol=1e-3)
    run = json.loads((start / "training_run.json").read_text())
    assert run["configured"][-1]["changed"] == {"mirror_expression": [False, True]}
    card = (start / "README.md").read_text()
    assert "python -m train.configure" in card and "mirror image" in card
    # evaluation can switch it back off: the figures are the unconfigured checkpoint's again
    after = evaluate.main(["--checkpoint", str(start), "--no-mirror-expression", *data])
    assert after["mirror_expression"] is False and after["expression_accuracy"] == before["expression_accuracy"]
    assert evaluate.main(["--checkpoint", str(start), *data])["mirror_expression"] is True
    with pytest.raises(SystemExit, match="nothing to change"):
        configure.main(["--checkpoint", str(start)])
    with pytest.raises(ValueError, match="not an inference setting"):
        model.configure(image_size=128)


def test_refined_codes_redraw_their_own_image_better_and_the_setting_round_trips(trained, tmp_path):
    import shutil

    from facelab.code_refinement import refine_codes
    from facelab.config import ConfigError
    from train import configure, evaluate

    original = facelab.load(trained)
    order = original.config.latents
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        codes, _ = original.network.encode(x)
        # a picture the decoder can draw exactly: these codes with another identity code
        target = original.network.decode(torch.cat([codes[a] + (0.5 if a == "identity" else 0) for a in order], 1))
    kept = {a: v.clone() for a, v in codes.items()}
    refined = refine_codes(original.network, target, codes, order, ["identity"], steps=40, lr=0.05)

    def error(c, image):
        with torch.no_grad():
            return float(((original.network.decode(torch.cat([c[a] for a in order], 1)) - image) ** 2).mean())

    assert error(refined, target) < 0.5 * error(codes, target)  # the identity code alone, moved, finds the picture
    assert torch.equal(refined["expression"], codes["expression"]) and not torch.equal(refined["identity"], codes["identity"])
    assert all(torch.equal(kept[a], codes[a]) for a in order)  # the encoder's codes are left as they were
    assert all(p.grad is None for p in original.network.parameters())  # the decoder is never trained
    with pytest.raises(ValueError, match="not a sub-code"):
        refine_codes(original.network, x, codes, order, ["pose"], steps=1)

    start = tmp_path / "refined"
    shutil.copytree(trained, start)
    data = ["--data", "synthetic:identities=4,per_identity=7,identity_seed=1", "--quiet", "--swap-pairs", "16"]
    configure.main(["--checkpoint", str(start), "--refine-steps", "20", "--refine-free", "identity", "--refine-lr", "0.05"])
    model = facelab.load(start)
    assert model.config.refine == {"steps": 20, "free": ["identity"], "lr": 0.05}
    a, b = model.encode_tensor(x), original.encode_tensor(x)
    assert np.allclose(a["expression"], b["expression"]) and not np.allclose(a["identity"], b["identity"])
    assert np.allclose(model.encode_tensor(x, refine=False)["identity"], b["identity"])  # live frames skip it
    assert error({k: torch.as_tensor(v) for k, v in a.items()}, x) < error({k: torch.as_tensor(v) for k, v in b.items()}, x)
    assert "refine" in json.loads((start / "training_run.json").read_text())["configured"][-1]["changed"]
    assert "20 Adam steps" in evaluate.main(["--checkpoint", str(start), *data])["description"]
    # evaluation can try a setting, or none, whatever the checkpoint says
    off = evaluate.main(["--checkpoint", str(start), "--refine-steps", "0", *data])
    assert off["refine"] is None and off["psnr"] == evaluate.main(["--checkpoint", str(trained), *data])["psnr"]
    with pytest.raises(SystemExit, match="not sub-codes"):
        configure.main(["--checkpoint", str(start), "--refine-steps", "5", "--refine-free", "pose"])
    with pytest.raises(SystemExit, match="need --refine-steps"):
        evaluate.main(["--checkpoint", str(start), "--refine-free", "identity", *data])
    with pytest.raises(ConfigError, match="steps, free and lr"):
        model.configure(refine={"steps": 5, "free": ["identity"], "rate": 1.0})


def test_compare_trains_every_method_on_one_split_and_writes_one_table(tmp_path, capsys):
    from facelab.methods import METHODS
    from train import compare

    out = tmp_path / "compare.json"
    report = compare.main([
        "--data", "synthetic:identities=4,per_identity=7", "--eval-data",
        "synthetic:identities=4,per_identity=7,identity_seed=1,seed=1", "--max-steps", "2", "--epochs", "3",
        "--channels", "8", "16", "16", "16", "--latents", "identity=6", "expression=4", "--batch-size", "8",
        "--swap-pairs", "16", "--threads", "1", "--quiet", "--out", str(out), "--save-dir", str(tmp_path / "ckpts"),
    ])
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("method ")):]
    assert [line.split()[0] for line in table[2:2 + len(METHODS)]] == list(METHODS)  # one row per method
    assert "swap id kept" in table[0] and "no-swap PSNR" in table[0]
    saved = json.loads(out.read_text())
    assert saved["command"].startswith("python -m train.compare --data") and saved == json.loads(json.dumps(report))
    assert list(saved["methods"]) == list(METHODS) and saved["train_images"] == 28
    # the same image budget: 3 passes over the data each, DisVAE's split 1 + 2 between its stages
    assert saved["methods"]["disvae"]["stage_epochs"] == {"identity_epochs": 1, "disvae_epochs": 2}
    stages = {m: r["stage_epochs"] for m, r in saved["methods"].items()}
    # the same budget, and an optional stage (the warm-up) stays off
    assert sum(stages["fourway"].values()) == 3 and stages["fourway"]["warmup_epochs"] == 0
    assert set(stages["fourway"]) == {"warmup_epochs", "autoencoder_epochs", "mapping_epochs", "joint_epochs"}
    assert stages["swap"] == {"teacher_warmup_epochs": 0, "epochs": 3}  # the teacher's warm-up needs dlib: off
    assert all(e == {"epochs": 3} for m, e in stages.items() if m not in ("disvae", "fourway", "swap"))
    for name, result in saved["methods"].items():
        figures = result["figures"]
        for key in ("expression_accuracy", "leakage_accuracy", "identity_auc", "identity_top1", "psnr",
                    "swap_identity_kept", "swap_psnr", "noswap_psnr"):
            assert np.isfinite(figures[key]), (name, key)
        model = facelab.load(result["checkpoint"])
        assert model.config.method == name and model.config.latents == {"identity": 6, "expression": 4}


def test_fine_tune_appends_a_sub_code_and_decodes_as_before_until_it_learns(trained, tmp_path):
    from facelab.methods import get_method
    from facelab.training import load_grown
    from train import disvae, fit

    data = ["--data", "synthetic:identities=4,per_identity=7", "--max-steps", "1", "--batch-size", "8",
            "--out", str(tmp_path), "--logs", ""]
    with pytest.raises(SystemExit, match="exactly the sub-codes"):  # DisVAE's losses name its two codes
        disvae.main(["--name", "three", "--init", str(trained), "--latents", "identity=4", "expression=3", "rest=2",
                     *data])
    base_dir = fit.main(["--method", "swap", "--name", "base", "--channels", "8", "16", "16", "16",
                         "--latents", "identity=4", "expression=3", *data])
    start = facelab.load(base_dir)
    tune = ["--method", "swap", "--init", str(base_dir), *data]
    with pytest.raises(SystemExit, match="repeat them in order"):
        fit.main(["--name", "reordered", "--latents", "expression=3", "identity=4", "rest=2", *tune])
    grown = facelab.load(fit.main(["--name", "grown", "--latents", "identity=4", "expression=3", "rest=2", *tune]))
    assert grown.config.latents == {"identity": 4, "expression": 3, "rest": 2}
    assert grown.config.options == start.config.options and "Other sub-codes (rest: 2)" in get_method("swap").summary(grown.config)
    # before any step: the old sub-codes encode as before and the new one cannot change the output
    fresh = get_method("swap").build(grown.config)
    partial = load_grown(fresh, start.network.state_dict())
    assert any(k.startswith("encoders.rest.") for k in partial) and "fusion.0.weight" in partial
    fresh.eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        old_mu, _ = start.network.encode(x)
        new_mu, _ = fresh.encode(x)
        assert all(torch.allclose(old_mu[a], new_mu[a], atol=1e-5) for a in old_mu)
        code = start.network.join(old_mu)
        for rest in (torch.zeros(3, 2), torch.randn(3, 2) * 5):
            assert torch.allclose(fresh.decode(torch.cat([code, rest], 1)), start.network.decode(code), atol=1e-5)
    with pytest.raises(ValueError, match="lacks"):
        load_grown(get_method("swap").build(start.config), fresh.state_dict())


def _tiny_swap_start(tmp_path):
    """A 1-step swap model to grow from: the training arguments, its directory and the loaded model."""
    from train import fit

    data = ["--data", "synthetic:identities=4,per_identity=7", "--batch-size", "8", "--out", str(tmp_path),
            "--logs", ""]
    base_dir = fit.main(["--method", "swap", "--name", "base", "--channels", "8", "16", "16", "16",
                         "--latents", "identity=4", "expression=3", "--max-steps", "1", *data])
    return data, base_dir, facelab.load(base_dir)


def test_fine_tune_adds_decoder_blocks_that_start_as_the_identity_and_then_learn(tmp_path):
    import dataclasses

    from facelab.config import ConfigError, ModelConfig
    from facelab.methods import get_method
    from facelab.training import load_grown
    from train import fit

    data, base_dir, start = _tiny_swap_start(tmp_path)
    refined = dataclasses.replace(start.config, options=dataclasses.replace(start.config.options, decoder_refine=2,
                                                                            decoder_mid_refine=1))
    fresh = get_method("swap").build(refined)
    partial = load_grown(fresh, start.network.state_dict())
    assert {k.split(".")[1] for k in partial} == {"refine", "mid_refine"}
    assert len(fresh.decoder.mid_refine) == 3  # after the 8-, 16- and 32-px stages of a 64-px decoder
    fresh.eval()
    code = torch.randn(3, 7)
    with torch.no_grad():
        assert torch.allclose(fresh.decode(code), start.network.decode(code), atol=1e-6)
    grown = facelab.load(fit.main(["--method", "swap", "--name", "refined", "--init", str(base_dir),
                                   "--decoder-refine", "2", "--decoder-mid-refine", "1", "--max-steps", "2", *data]))
    assert grown.config.options.decoder_refine == 2 and grown.config.options.decoder_mid_refine == 1
    assert "2 residual block(s) at full resolution" in get_method("swap").summary(grown.config)
    assert "1 more after each lower-resolution upsampling stage" in get_method("swap").summary(grown.config)
    for name in ("decoder_refine", "decoder_mid_refine"):
        with pytest.raises(ConfigError, match=name):
            ModelConfig(method="swap", options={name: -1})
    decoder = grown.network.decoder
    for block in (decoder.refine[1], *(stage[0] for stage in decoder.mid_refine)):
        assert block.body[-1].weight.abs().sum() > 0  # the zero-initialised convolutions moved: the blocks learn
    with torch.no_grad():
        assert not torch.allclose(grown.network.decode(code), start.network.decode(code), atol=1e-6)


def test_fine_tune_adds_encoder_blocks_that_start_as_the_identity_and_then_learn(tmp_path):
    import dataclasses

    from facelab.config import ConfigError, ModelConfig
    from facelab.methods import get_method
    from facelab.training import load_grown
    from train import fit

    data, base_dir, start = _tiny_swap_start(tmp_path)
    refined = dataclasses.replace(start.config, options=dataclasses.replace(start.config.options, encoder_refine=1))
    fresh = get_method("swap").build(refined)
    partial = load_grown(fresh, start.network.state_dict())
    assert {k.split(".")[2] for k in partial} == {"refine"}
    fresh.eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        before, after = start.network.encode(x)[0], fresh.encode(x)[0]
    for a in start.config.latents:
        assert torch.allclose(after[a], before[a], atol=1e-6)  # grown encoders read as before
    grown = facelab.load(fit.main(["--method", "swap", "--name", "refined", "--init", str(base_dir),
                                   "--encoder-refine", "1", "--max-steps", "2", *data]))
    assert "1 residual block(s) after each downsampling stage" in get_method("swap").summary(grown.config)
    with pytest.raises(ConfigError, match="encoder_refine"):
        ModelConfig(method="swap", options={"encoder_refine": -1})
    for encoder in grown.network.encoders.values():
        assert len(encoder.refine) == 4  # one stage of blocks per downsampling stage
        assert all(stage[0].body[-1].weight.abs().sum() > 0 for stage in encoder.refine)  # they learn
    with torch.no_grad():
        moved = grown.network.encode(x)[0]
    assert not all(torch.allclose(moved[a], before[a], atol=1e-6) for a in start.config.latents)


def test_fine_tune_widens_the_thin_decoder_stages_silently_and_the_new_channels_learn(tmp_path):
    import dataclasses

    from facelab.config import ConfigError, ModelConfig
    from facelab.methods import get_method
    from facelab.training import load_grown
    from train import fit

    data = ["--data", "synthetic:identities=4,per_identity=7", "--batch-size", "8", "--out", str(tmp_path),
            "--logs", ""]
    base_dir = fit.main(["--method", "swap", "--name", "base", "--channels", "8", "16", "16", "32",
                         "--latents", "identity=4", "expression=3", "--decoder-refine", "1", "--decoder-mid-refine", "1",
                         "--max-steps", "1", *data])
    start = facelab.load(base_dir)
    wide = dataclasses.replace(start.config, options=dataclasses.replace(start.config.options, decoder_min_channels=24))
    fresh = get_method("swap").build(wide)
    assert [m.out_channels for m in fresh.decoder.deconv if isinstance(m, torch.nn.ConvTranspose2d)] == [24, 24, 24, 24]
    # widened stages keep their group size (16 channels: GroupNorm(8, 16), 2 a group; 8: 1), so old groups are unchanged
    norms = [m.num_groups for m in fresh.decoder.deconv if isinstance(m, torch.nn.GroupNorm)]
    assert norms == [12, 12, 24, 24]
    partial = load_grown(fresh, start.network.state_dict())
    assert "decoder.deconv.10.weight" in partial and not any(k.startswith("encoders.") for k in partial)
    fresh.eval()
    code = torch.randn(3, 7)
    with torch.no_grad():
        assert torch.allclose(fresh.decode(code), start.network.decode(code), atol=1e-6)
    with pytest.raises(ConfigError, match="multiple of 2"):
        ModelConfig(method="swap", channels=(8, 16, 16, 32), options={"decoder_min_channels": 25})
    grown = facelab.load(fit.main(["--method", "swap", "--name", "wide", "--init", str(base_dir),
                                   "--decoder-min-channels", "24", "--max-steps", "2", *data]))
    assert "at least 24 channels" in get_method("swap").summary(grown.config)
    last = grown.network.decoder.deconv[-2]  # the output convolution reads the widened last stage
    assert last.in_channels == 24 and last.weight[:, 8:].abs().sum() > 0  # its new inputs started at 0, then learned
    with torch.no_grad():
        assert not torch.allclose(grown.network.decode(code), start.network.decode(code), atol=1e-6)
