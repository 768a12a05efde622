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

TINY_MODEL = dict(channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4}, fusion_dim=32)
TINY_TRAIN = dict(batch_size=8, identity_epochs=1, disvae_epochs=1, max_steps=2, seed=0)


@pytest.fixture(scope="module")
def cv(tiny_synthetic):
    return cross_validate(ModelConfig(**TINY_MODEL), TrainConfig(**TINY_TRAIN), tiny_synthetic, k=2, seed=0,
                          progress=False, swap_pairs=16)


def test_cross_validate_reports_per_fold_and_mean_std(cv, tiny_synthetic):
    assert cv["k"] == 2 and len(cv["folds"]) == 2 and cv["n_images"] == len(tiny_synthetic) == 32
    for key in ("expression_accuracy", "leakage_accuracy", "leakage_mlp_accuracy", "majority_rate",
                "identity_auc", "psnr", "ssim", "swap_psnr", "mig", "dci_disentanglement"):
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
    from facelab.training import train_disvae

    init = facelab.load(tiny_checkpoint, device="cpu")
    frozen = TrainConfig(**{**TINY_TRAIN, "lr": 0.0})  # no update: the result is exactly the init
    model, history = train_disvae(tiny_synthetic, init.config, frozen, progress=False, init=init)
    assert history.get("init") is True and "identity_vae" not in history
    mine, theirs = model.state_dict(), init.network.state_dict()
    for key in mine:
        if key not in ("code_mean", "code_std"):  # recomputed on the new training data
            assert torch.equal(mine[key], theirs[key]), key
    assert not any(p.requires_grad for p in model.identity_encoder.parameters())


def test_evaluate_cli_folds_with_init_writes_mean_std_plots_and_card(tiny_checkpoint, cache_dir, tmp_path):
    from train import evaluate

    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "tiny")
    figures = evaluate.main([
        "--checkpoint", str(ckpt), "--data", "synthetic:identities=4,per_identity=8", "--folds", "2",
        "--init", str(ckpt), "--max-steps", "1", "--swap-pairs", "16", "--card", "--no-png", "--quiet",
    ])
    saved = json.loads((ckpt / "evaluation-2fold.json").read_text())
    assert saved["init"] is True and saved["fold_training"]["init"] == str(ckpt)
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
    assert np.array_equal(np.asarray(grid)[s:2 * s, 3 * s:4 * s], np.asarray(expected))
    per_row = np.stack([plots.traversal_values(model, "identity", d, n=4) for d in dims])
    assert plots.traversal_grid(model, code, "identity", dims, per_row).size == (4 * s, 3 * s)


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
