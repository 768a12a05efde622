"""Cross-validation, fine-tuning from a checkpoint, and the evaluation plots, on tiny data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import facelab
from facelab import plots
from facelab.config import ModelConfig, TrainConfig
from facelab.datasets import identity_folds, sample_groups
from facelab.evaluate import cross_validate
from facelab.methods.disvae import DisVAEOptions

TINY_MODEL = dict(channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4}, fusion_dim=32,
                  options=DisVAEOptions(identity_epochs=1, disvae_epochs=1))
TINY_TRAIN = dict(batch_size=8, max_steps=2, seed=0)


@pytest.fixture(scope="module")
def cv(tiny_synthetic):
    return cross_validate(ModelConfig(**TINY_MODEL), TrainConfig(**TINY_TRAIN), tiny_synthetic, k=2, seed=0,
                          progress=False, swap_pairs=16)


def test_cross_validate_reports_per_fold_and_mean_std(cv, tiny_synthetic):
    assert cv["k"] == 2 and len(cv["folds"]) == 2 and cv["n_images"] == len(tiny_synthetic) == 32
    for key in ("expression_accuracy", "leakage_accuracy", "leakage_identity_accuracy", "leakage_mlp_accuracy",
                "majority_rate", "identity_auc", "identity_top1", "psnr", "ssim", "swap_psnr", "swap_identity_kept",
                "mig", "dci_disentanglement"):
        per_fold = [f[key] for f in cv["folds"]]
        assert cv[f"{key}_mean"] == pytest.approx(np.mean(per_fold)), key
        assert cv[f"{key}_std"] == pytest.approx(np.std(per_fold, ddof=1)), key
    assert sum(f["n_test"] for f in cv["folds"]) == 32
    # the pooled confusion matrix counts every image exactly once
    assert np.asarray(cv["confusion_counts"]).sum() == 32
    assert np.allclose(np.asarray(cv["confusion"]).sum(1)[np.asarray(cv["confusion_counts"]).sum(1) > 0], 1)
    assert np.asarray(cv["dci_importance"]).shape == (10, len(cv["factors"])) and len(cv["dimensions"]) == 10
    assert cv["wall_time_s"] > 0 and all(f["train_time_s"] > 0 for f in cv["folds"])


def test_folds_are_identity_disjoint(cv, tiny_synthetic):
    tested = [set(f["test_identities"]) for f in cv["folds"]]
    assert tested[0].isdisjoint(tested[1]) and len(tested[0] | tested[1]) == 4
    assert all(f["n_train_identities"] + f["n_test_identities"] == 4 for f in cv["folds"])
    ids = np.asarray(sample_groups(tiny_synthetic)[0])
    for train, test in identity_folds(tiny_synthetic, k=2, seed=0):
        assert set(ids[train]).isdisjoint(ids[test]) and len(train) + len(test) == 32


def test_init_starts_from_the_given_weights(tiny_checkpoint, tiny_synthetic):
    from facelab.training import train

    init = facelab.load(tiny_checkpoint, device="cpu")
    frozen = TrainConfig(**{**TINY_TRAIN, "lr": 0.0})  # no update: the result is exactly the init
    model, history = train(tiny_synthetic, init.config, frozen, progress=False, init=init)
    assert history.get("init") is True and "identity_vae" not in history
    mine, theirs = model.state_dict(), init.network.state_dict()
    for key in mine:
        if not key.startswith("code_"):  # the code statistics: recomputed on the new training data
            assert torch.equal(mine[key], theirs[key]), key
    assert not any(p.requires_grad for p in model.encoders["identity"].parameters())


def test_evaluate_cli_folds_with_init_writes_mean_std_plots_and_card(tiny_checkpoint, cache_dir, tmp_path):
    from train import evaluate

    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "tiny")
    figures = evaluate.main([
        "--checkpoint", str(ckpt), "--data", "synthetic:identities=4,per_identity=8", "--folds", "2",
        "--init", str(ckpt), "--max-steps", "1", "--swap-pairs", "16", "--card", "--no-png", "--quiet",
    ])
    saved = json.loads((ckpt / "evaluation-2fold.json").read_text())
    assert saved["init"] is True and saved["fold_training"]["init"] == str(ckpt)
    # a fine-tune skips DisVAE's identity pre-training: only the last stage's epochs are set
    assert saved["fold_training"]["stage_epochs"] == {"identity_epochs": None, "disvae_epochs": 1}
    for key in ("expression_accuracy", "leakage_accuracy", "majority_rate", "psnr"):
        assert saved[f"{key}_mean"] == pytest.approx(figures[f"{key}_mean"]) and f"{key}_std" in saved
    for name in ("confusion", "traversal-identity", "traversal-expression", "dci-importance"):
        assert (ckpt / saved["plots"][name]["html"]).is_file(), name
    assert (ckpt / "plots" / "plotly.min.js").is_file()
    grid = Image.open(ckpt / saved["plots"]["traversal-expression"]["png"])
    assert grid.size == (7 * 64, 4 * 64)  # 7 values × min(6, 4 expression dims)
    card = (ckpt / "README.md").read_text()
    assert "mean ± std over 2 folds" in card and f"{saved['psnr_mean']:.2f} ± " in card
    assert "](plots/2fold-traversal-expression.png)" in card and "`plots/2fold-confusion.html`" in card


def test_confusion_figure_shows_the_matrix_as_given():
    m = np.array([[0.8, 0.2, 0.0], [0.1, 0.6, 0.3], [0.0, 0.0, 1.0]])
    fig = plots.confusion_figure(m, ["neutral", "happiness", "sadness"], counts=np.array([[8, 2, 0], [1, 6, 3], [0, 0, 5]]))
    assert np.array_equal(np.asarray(fig.data[0].z), m)
    assert list(fig.data[0].x) == list(fig.data[0].y) == ["neutral", "happiness", "sadness"]
    with pytest.raises(ValueError):
        plots.confusion_figure(m, ["a", "b"])


def test_importance_figure_labels_every_dimension():
    imp = np.random.default_rng(0).random((5, 2))
    fig = plots.importance_figure(imp, {"identity": 3, "expression": 2}, ["identity", "expression"])
    assert list(fig.data[0].y) == ["identity[0]", "identity[1]", "identity[2]", "expression[0]", "expression[1]"]
    assert np.array_equal(np.asarray(fig.data[0].z), imp) and list(fig.data[0].x) == ["identity", "expression"]


def test_traversal_grid_has_one_tile_per_dim_and_value(tiny_checkpoint, tiny_synthetic):
    model = facelab.load(tiny_checkpoint, device="cpu")
    code = model.encode((tiny_synthetic[0]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    dims = model.top_dimensions("identity", 3)
    grid = plots.traversal_grid(model, code, "identity", dims, [-2.0, -1.0, 0.0, 1.0, 2.0])
    s = model.config.image_size
    assert grid.size == (5 * s, 3 * s)
    # tile (row 1, column 3) is exactly the decoded traversal
    expected = model.decode(model.traverse(code, "identity", dims[1], [1.0]))[0]
    tile = np.asarray(grid)[s:2 * s, 3 * s:4 * s].astype(int)
    assert np.abs(tile - np.asarray(expected)).max() <= 1  # batched vs single decode: rounding at most
    per_row = np.stack([plots.traversal_values(model, "identity", d, n=5) for d in dims])
    assert plots.traversal_grid(model, code, "identity", dims, per_row).size == (5 * s, 3 * s)
    low, high = model.code_bounds("identity")
    mean, _ = model.code_range("identity")  # low end → mean (the middle column) → high end
    assert np.allclose(per_row[:, [0, 2, 4]], np.stack([low[dims], mean[dims], high[dims]], 1), atol=1e-6)
    assert (np.diff(per_row, axis=1) > 0).all()


def test_save_figure_writes_html_and_png_where_possible(tmp_path):
    fig = plots.confusion_figure(np.eye(2), ["a", "b"])
    saved = plots.save_figure(fig, tmp_path / "sub" / "confusion")
    assert saved["html"].is_file() and (tmp_path / "sub" / "plotly.min.js").is_file()
    assert "plotly.min.js" in saved["html"].read_text()  # loads the shared copy, works offline
    try:
        import kaleido  # noqa: F401
    except ImportError:
        assert saved["png"] is None
    else:
        if saved["png"] is not None:  # kaleido present; a browser may still be missing
            assert Image.open(saved["png"]).size[0] > 0
    only_html = plots.save_figure(fig, tmp_path / "html-only", png=False)
    assert only_html["png"] is None and not (tmp_path / "html-only.png").exists()


def test_fold_epochs_go_through_the_method_options():
    from facelab.methods.swap import SwapOptions
    from train.evaluate import fold_train_config

    disvae = ModelConfig(**{**TINY_MODEL, "options": DisVAEOptions(identity_epochs=10, disvae_epochs=20)})
    model_config, train_config = fold_train_config(disvae, TrainConfig(batch_size=8), ["synthetic"], 15, 3, False)
    assert (model_config.options.identity_epochs, model_config.options.disvae_epochs) == (5, 10)
    assert (train_config.max_steps, train_config.holdout, train_config.data) == (3, 0.0, ("synthetic",))
    tuned, _ = fold_train_config(disvae, None, ["synthetic"], 15, None, True)
    assert (tuned.options.identity_epochs, tuned.options.disvae_epochs) == (10, 15)  # stage 1 is skipped anyway
    swap = ModelConfig(method="swap", channels=(8, 16, 16, 16), options=SwapOptions(epochs=40))
    assert fold_train_config(swap, None, ["synthetic"], 7, None, False)[0].options.epochs == 7
    assert disvae.options.identity_epochs == 10  # the checkpoint's config is not modified


def test_swap_fidelity_pairs_other_people_and_reports_identity_kept(tiny_checkpoint, tiny_synthetic):
    from facelab.evaluate import swap_fidelity, swap_pair_indices, synthetic_view

    view = synthetic_view(tiny_synthetic)
    a, b = swap_pair_indices(view.factors, 64, np.random.default_rng(0))
    assert all(view.factors[i].identity != view.factors[j].identity for i, j in zip(a, b))
    scores = swap_fidelity(facelab.load(tiny_checkpoint, device="cpu"), view, n_pairs=32)
    for key in ("swap_identity_kept", "noswap_identity_kept", "swap_expression_accuracy", "noswap_expression_accuracy",
                "photo_swap_read_as_b", "photo_swap_identity_kept"):
        assert 0.0 <= scores[key] <= 1.0, key
    assert scores["swap_psnr_gain"] == pytest.approx(scores["swap_psnr"] - scores["noswap_psnr"])
    assert np.isfinite(scores["photo_swap_psnr"])
    assert scores["photo_swap_psnr_gain"] == pytest.approx(scores["photo_swap_psnr"] - scores["render_noswap_psnr"])


def test_a_swap_that_changes_nothing_shows_a_unchanged_on_the_photo(tiny_checkpoint, tiny_synthetic, monkeypatch):
    """The photo layer keeps A's render wherever the decoded swap equals A's decode: a model whose
    expression code draws nothing shows A itself, so its photo swap scores exactly A unchanged."""
    from facelab.evaluate import swap_fidelity, synthetic_view

    model = facelab.load(tiny_checkpoint, device="cpu")
    decode = model.decode_tensor
    monkeypatch.setattr(model, "decode_tensor", lambda z: decode(np.zeros_like(z)))  # one face for every code
    scores = swap_fidelity(model, synthetic_view(tiny_synthetic), n_pairs=32)
    assert scores["swap_psnr_gain"] == pytest.approx(0.0, abs=1e-6)
    assert scores["photo_swap_psnr_gain"] == pytest.approx(0.0, abs=0.01)  # 8-bit rounding at most
    assert scores["render_noswap_psnr"] > scores["noswap_psnr"] + 10  # A's render, not the tiny decoder's blur
    # the drawn swap is A's render, so re-encoded it is A: its identity code is A's own
    assert scores["photo_swap_identity_kept"] == 1.0


def test_swap_gain_split_adds_up_to_swap_fidelity(tiny_checkpoint, tmp_path, monkeypatch):
    """bench/swap_gain_ceiling.py --checkpoint splits the same pairs' errors by region: its swap and
    no-swap PSNR must be swap_fidelity's, and drawing the changed pixels exactly can only help."""
    import importlib.util
    from pathlib import Path

    from facelab import datasets
    from facelab.evaluate import swap_fidelity, synthetic_view

    bench = Path(__file__).resolve().parents[1] / "bench"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("swap_gain_ceiling", bench / "swap_gain_ceiling.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    data = "synthetic:identities=4,per_identity=6,seed=5,min_intensity=0.25"
    result = script.main(["--data", data, "--pairs", "24", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "s.json")])
    scores = swap_fidelity(facelab.load(tiny_checkpoint, device="cpu"), synthetic_view(datasets.load(data, size=64, progress=False)),
                           n_pairs=24)
    assert result["pairs"] == scores["swap_pairs"] > 0
    assert result["swap_psnr_db"] == pytest.approx(scores["swap_psnr"], abs=1e-3)
    assert result["noswap_psnr_db"] == pytest.approx(scores["noswap_psnr"], abs=1e-3)
    assert 0 < result["changed_pixel_fraction"] < 1
    assert result["gain_if_changed_pixels_perfect_db"] > result["gain_db"]
    for name in ("own_code", "target_reconstructed"):
        assert result[f"{name}_mse_changed"] > 0 and result[f"{name}_mse_rest"] > 0
    assert result["own_code_gain_db"] != result["gain_db"]  # another expression code, another decode
    assert 0 < result["eye_box_fraction"] < 0.2 and 0 < result["mouth_box_fraction"] < 0.2
    for part in ("swap_changed", "noswap_rest"):
        eyes, mouth = result[f"{part}_share_eyes"], result[f"{part}_share_mouth"]
        assert 0 < eyes and 0 < mouth and eyes + mouth < 1
    # an expression changes mostly pixels inside the boxes, so they hold more of the changed error
    assert result["swap_changed_share_eyes"] + result["swap_changed_share_mouth"] > \
        result["noswap_rest_share_eyes"] + result["noswap_rest_share_mouth"]
    assert json.loads((tmp_path / "s.json").read_text())["checkpoint"] == str(tiny_checkpoint)


@pytest.fixture(scope="module")
def other_methods(tiny_synthetic, tmp_path_factory):
    """2-step swap and adversarial checkpoints; the adversarial one with a third sub-code."""
    from facelab.checkpoint import save_checkpoint
    from facelab.training import train

    out = {}
    for method, latents in (("swap", {"identity": 6, "expression": 4}),
                            ("adversarial", {"identity": 6, "expression": 4, "pose": 2})):
        config = ModelConfig(method=method, channels=(8, 16, 16, 16), latents=latents, fusion_dim=32)
        training = TrainConfig(**TINY_TRAIN)
        network, _ = train(tiny_synthetic, config, training, progress=False)
        out[method] = save_checkpoint(tmp_path_factory.mktemp(method) / method, network, config, training)
    return out


def test_leakage_is_probed_from_every_other_sub_code(other_methods, tiny_synthetic):
    from facelab.evaluate import encode_dataset, representation_scores

    model = facelab.load(other_methods["adversarial"], device="cpu")
    enc = encode_dataset(model, tiny_synthetic, progress=False)
    assert set(enc.head_logits) == {"expression"} and enc.logits is enc.head_logits["expression"]
    scores = representation_scores(model, enc)
    per_code = [scores["leakage_identity_accuracy"], scores["leakage_pose_accuracy"]]
    assert scores["leakage_accuracy"] == max(per_code)
    mlp = [scores["leakage_identity_mlp_accuracy"], scores["leakage_pose_mlp_accuracy"]]
    assert scores["leakage_mlp_accuracy"] == max(mlp)
    assert {"identity_auc_expression_code", "identity_auc_pose_code", "identity_top1"} <= set(scores)
    assert "leakage_expression_accuracy" not in scores and "identity_auc_identity_code" not in scores


def test_card_method_paragraph_follows_the_method(other_methods):
    from facelab.card import write_card

    swap = write_card(other_methods["swap"]).read_text()
    assert swap.startswith("# swap (swap)") and "trained with the **swap** method" in swap
    assert "swapping loss" in swap and "triplet" in swap and "Follows: Li, Shu & Samaras" in swap
    assert "adversary" not in swap and "DisVAE in two stages" not in swap
    directory = other_methods["adversarial"]
    adversarial = write_card(directory).read_text()
    assert "adversary C_adv" in adversarial and "Follows: Halawa et al." in adversarial
    assert "sub-codes identity: 6, expression: 4, pose: 2" in adversarial and "swapping loss" not in adversarial
    # a row per sub-code's leakage, whatever the sub-codes are called
    (directory / "evaluation.json").write_text(json.dumps({
        "command": "python -m train.evaluate", "expression_accuracy": 0.5, "leakage_accuracy": 0.3,
        "leakage_identity_accuracy": 0.2, "leakage_pose_accuracy": 0.3, "leakage_pose_mlp_accuracy": 0.4,
        "identity_auc_pose_code": 0.55, "identity_top1": 0.75, "swap_identity_kept": 0.625, "swap_psnr_gain": 1.5}))
    card = write_card(directory).read_text()
    for row in ("expression from z_identity, linear probe | 20.0% |", "expression from z_pose, linear probe | 30.0% |",
                "expression from z_pose, MLP probe | 40.0% |", "identity AUC from z_pose (ideal ≈ 0.5) | 0.550 |",
                "is the same person | 75.0% |", "closer to A's than to B's (another person) | 62.5% |", "| +1.50 |"):
        assert row in card, row


def test_card_of_a_chain_says_what_each_command_trained(other_methods, tmp_path):
    """A fine-tune's config holds its own stage epochs (often 0); the card lists every command's stages."""
    import shutil

    from facelab.card import write_card

    directory = shutil.copytree(other_methods["swap"], tmp_path / "swap")
    first = {"command": "python -m train --method fourway --warmup-epochs 3 --joint-epochs 0 --out a",
             "stage_seconds": {"warmup": 120.0}}
    second = {"command": "python -m train --method swap --epochs 2 --epochs 1 --max-steps 7 --init a "
                         "--data synthetic:identities=4 --data synthetic:identities=4,seed=1 synthetic:identities=5",
              "stage_seconds": {"swap": 30.0},
              "init": first}
    last = {"command": "python -m train --method fourway --epochs 5 --init b", "stage_seconds": {"nulling": 6.0, "refit": 12.0},
            "init": second}
    (directory / "training_run.json").write_text(json.dumps(last))
    card = write_card(directory).read_text()
    assert ("the stages each command trained, in order: warmup (3 epochs, 2.0 min, command 1); swap (1 epoch, at most 7 steps, "
            "0.5 min, command 2); nulling (0.1 min, command 3); refit (0.2 min, command 3).") in card
    # the second command trained on other draws than the config's (its last --data counts, not the one it overrode)
    data_line = next(line for line in card.splitlines() if line.startswith("- data: "))
    assert ("other commands of the chain trained on `synthetic:identities=4,seed=1`, `synthetic:identities=5`)"
            in data_line)
    assert "`synthetic:identities=4`," not in data_line


def test_save_figures_skips_png_only_without_chrome(tmp_path, monkeypatch):
    import plotly.io as pio

    fig = plots.confusion_figure(np.eye(2), ["a", "b"])

    def no_chrome(*args, **kwargs):
        raise RuntimeError("\n\nKaleido requires Google Chrome to be installed.\n")

    monkeypatch.setattr(pio, "write_images", no_chrome)
    assert plots.save_figure(fig, tmp_path / "a")["png"] is None and (tmp_path / "a.html").is_file()

    def broken(*args, **kwargs):
        raise ValueError("invalid figure")

    monkeypatch.setattr(pio, "write_images", broken)
    with pytest.raises(ValueError, match="invalid figure"):
        plots.save_figure(fig, tmp_path / "b")


def test_evaluation_json_is_written_before_plotting_and_plot_errors_surface(tiny_checkpoint, tmp_path, monkeypatch):
    from train import evaluate

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(evaluate, "make_plots", broken)
    out = tmp_path / "evaluation.json"
    with pytest.raises(OSError, match="disk full"):
        evaluate.main(["--checkpoint", str(tiny_checkpoint), "--data",
                       "synthetic:identities=3,per_identity=4,identity_seed=1", "--out", str(out),
                       "--plots", str(tmp_path / "plots"), "--swap-pairs", "8", "--quiet"])
    saved = json.loads(out.read_text())  # the measured figures were kept
    assert saved["method"] == "disvae" and "expression_accuracy" in saved and "plots" not in saved


def test_a_copy_of_the_training_data_elsewhere_is_still_seen_data():
    """A checkpoint trained on a copy of London (made for a GPU machine) and evaluated on the original
    must split off its held-out people, not score training people as unseen ones."""
    from train.evaluate import _same_data

    assert _same_data("london:.devdata/london", "london:../shared/data/london")
    assert _same_data("synthetic:identities=3,seed=1", "synthetic:seed=1,identities=3")
    assert not _same_data("synthetic:identities=3,seed=1", "synthetic:identities=3,seed=2")
    assert not _same_data("london:../shared/data/london", "fer2013:../shared/data/fer2013")


def test_throughput_bench_times_the_stage_that_trained_longest(monkeypatch):
    """bench/train_throughput.py times a recipe's main stage: synthetic-fourway's own config holds only the nulling
    and its short refit, so the stage and options come from the command in its records that trained longest."""
    import importlib.util
    from pathlib import Path

    from facelab.checkpoint import CONFIG, checkpoint_root
    from facelab.config import load_config

    bench = Path(__file__).resolve().parents[1] / "bench"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("train_throughput", bench / "train_throughput.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    directory = checkpoint_root() / "synthetic-fourway"
    saved, _ = load_config(directory / CONFIG)
    config, stage = script.main_stage(saved, directory)
    assert saved.options.joint_epochs == 0 and stage == "joint" and config.options.joint_epochs > 0
    assert config.latents == saved.latents and config.options.encoder_channels == saved.options.encoder_channels
