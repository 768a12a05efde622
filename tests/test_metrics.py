"""Sanity checks for facelab.metrics (after disentanglement_lib's metric tests). Small n, fast."""

from __future__ import annotations

import numpy as np
import pytest

from facelab import metrics as M


def _factors(n=600, seed=0):
    """Three categorical factors (4, 5, 3 classes) and one continuous one."""
    rng = np.random.default_rng(seed)
    f = np.stack([rng.integers(0, 4, n), rng.integers(0, 5, n), rng.integers(0, 3, n),
                  rng.uniform(-1.0, 1.0, n)], axis=1).astype(float)
    return f


def _noisy(f, scale=0.01, seed=1):
    return f + np.random.default_rng(seed).normal(scale=scale, size=f.shape)


# --------------------------------------------------------------------------- MIG


def test_mig_identity_constant_duplicated():
    f = _factors()
    good = M.compute_mig(_noisy(f), f)
    assert good["mig"] > 0.8
    assert good["mig_per_factor"].shape == (4,)
    assert good["mutual_info"].shape == (4, 4)

    const = M.compute_mig(np.zeros_like(f), f)
    assert const["mig"] == pytest.approx(0.0, abs=1e-9)

    dup = M.compute_mig(np.concatenate([_noisy(f), _noisy(f, seed=2)], axis=1), f)
    assert dup["mig"] < 0.1  # two latents share each factor: no gap


def test_mig_one_factor_copied_into_two_latents():
    f = _factors()
    codes = np.concatenate([_noisy(f), _noisy(f[:, :1], seed=3)], axis=1)  # factor 0 twice
    per = M.compute_mig(codes, f)["mig_per_factor"]
    assert per[0] < 0.1
    assert np.all(per[1:] > 0.8)


def test_mig_skips_missing_factor_values():
    f = _factors()
    f[:100, 0] = np.nan
    assert M.compute_mig(_noisy(np.nan_to_num(f)), f)["mig_per_factor"][0] > 0.8


# --------------------------------------------------------------------------- SAP


def test_sap_identity_constant_duplicated():
    f = _factors()
    good = M.compute_sap(_noisy(f), f)
    assert good["sap"] > 0.8
    assert good["scores"].shape == (4, 4)
    assert np.all((good["scores"] >= 0) & (good["scores"] <= 1))

    assert M.compute_sap(np.zeros_like(f), f)["sap"] == pytest.approx(0.0, abs=1e-9)

    dup = M.compute_sap(np.concatenate([_noisy(f), _noisy(f, seed=2)], axis=1), f)
    assert dup["sap"] < 0.1


def test_sap_continuous_flag():
    f = _factors()
    # treat every factor as continuous: per-dimension linear R^2
    r = M.compute_sap(_noisy(f), f, continuous=True)
    assert r["sap"] > 0.8
    # the last factor is auto-detected as continuous: its score is R^2 of a linear fit
    assert M.compute_sap(_noisy(f), f)["scores"][3, 3] > 0.99


# --------------------------------------------------------------------------- DCI


def test_dci_identity_constant_duplicated():
    f = _factors(n=500)[:, :3]
    good = M.compute_dci(_noisy(f), f)
    assert good["disentanglement"] > 0.8
    assert good["completeness"] > 0.8
    assert good["informativeness"] > 0.9
    assert good["importance"].shape == (3, 3)
    np.testing.assert_allclose(good["importance"].sum(0), 1.0)

    const = M.compute_dci(np.zeros_like(f), f)
    assert const["disentanglement"] < 0.05
    assert const["completeness"] < 0.05

    dup = M.compute_dci(np.concatenate([_noisy(f), _noisy(f, seed=2)], axis=1), f)
    assert dup["disentanglement"] > 0.8  # each latent is still about one factor
    assert dup["completeness"] < good["completeness"] - 0.15
    assert dup["completeness"] < 0.8


@pytest.mark.parametrize("model", ["lasso", "rf"])
def test_dci_other_models(model):
    f = _factors(n=400)
    r = M.compute_dci(_noisy(f), f, model=model)
    assert r["importance"].shape == (4, 4)
    assert 0.0 <= r["disentanglement"] <= 1.0 and 0.0 <= r["completeness"] <= 1.0
    assert r["disentanglement"] > 0.6  # each factor read mostly off its own latent
    assert r["informativeness"] > 0.8


def test_dci_deterministic():
    f = _factors(n=300)
    codes = _noisy(f, scale=0.3)
    a, b = M.compute_dci(codes, f, seed=3), M.compute_dci(codes, f, seed=3)
    np.testing.assert_array_equal(a["importance"], b["importance"])
    assert a["disentanglement"] == b["disentanglement"]


# --------------------------------------------------------------------------- probes


def _clustered(n=400, n_classes=4, dim=8, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    centres = rng.normal(size=(n_classes, dim)) * 3
    return centres[y] + rng.normal(scale=spread, size=(n, dim)), y


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_separable(kind):
    x, y = _clustered()
    r = M.probe_accuracy(x, y, kind=kind)
    assert r["accuracy"] > 0.95
    assert r["n_train"] + r["n_test"] == len(y)


def test_probe_random_codes_near_majority():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 900)
    r = M.probe_accuracy(rng.normal(size=(900, 8)), y)
    assert abs(r["accuracy"] - r["majority_rate"]) < 0.1
    assert 0.3 < r["majority_rate"] < 0.45


def test_probe_drops_missing_labels():
    x, y = _clustered()
    y = y.copy()
    y[:50] = -1
    r = M.probe_accuracy(x, y)
    assert r["n_train"] + r["n_test"] == 350


def test_group_split_is_subject_independent():
    x, y = _clustered(n=300)
    groups = np.repeat(np.arange(30), 10)
    y[::7] = -1
    tr, te = M.split_indices(y, groups=groups, seed=1)
    assert len(tr) and len(te)
    assert not set(groups[tr]) & set(groups[te])
    assert np.all(y[tr] >= 0) and np.all(y[te] >= 0)
    r = M.probe_accuracy(x, y, groups=groups, seed=1)
    assert (r["n_train"], r["n_test"]) == (len(tr), len(te))


def test_classifier_report():
    names = ["a", "b", "c"]
    y_true = np.array([0, 0, 0, 0, 1, 1, -1])
    y_pred = np.array([0, 0, 0, 1, 1, 2, 2])
    r = M.classifier_report(y_true, y_pred, names)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["per_class_recall"][0] == pytest.approx(0.75)
    assert r["per_class_recall"][1] == pytest.approx(0.5)
    assert np.isnan(r["per_class_recall"][2])
    assert r["balanced_accuracy"] == pytest.approx(0.625)
    np.testing.assert_array_equal(r["confusion_counts"], [[3, 1, 0], [0, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(r["confusion"][0], [0.75, 0.25, 0.0])


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize("n", [200, 3000])  # all pairs enumerated / pairs sampled
def test_verification_auc(n):
    x, ids = _clustered(n=n, n_classes=20, dim=16, spread=0.3)
    good = M.verification_auc(x, ids, max_pairs=4000)
    assert good["auc"] > 0.99
    assert good["n_pos"] == good["n_neg"] and good["n_pairs"] == good["n_pos"] + good["n_neg"]
    rnd = M.verification_auc(np.random.default_rng(5).normal(size=x.shape), ids, max_pairs=4000)
    assert abs(rnd["auc"] - 0.5) < 0.05


def test_verification_auc_deterministic():
    x, ids = _clustered(n=3000, n_classes=20, dim=16, spread=3.0)
    assert M.verification_auc(x, ids, seed=2) == M.verification_auc(x, ids, seed=2)


# --------------------------------------------------------------------------- reconstruction


def test_reconstruction_identical_and_offset():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, size=(3, 32, 32, 3))
    same = M.reconstruction_scores(x, x.copy())
    assert same["rmse"] == 0.0
    assert same["psnr"] >= 100.0
    assert same["ssim"] == pytest.approx(1.0, abs=1e-12)

    off = M.reconstruction_scores(x, x + 0.1)
    assert off["rmse"] == pytest.approx(0.1)
    assert off["psnr"] == pytest.approx(10 * np.log10(1.0 / 0.1 ** 2))  # 20 dB
    assert off["ssim"] < 1.0

    noisy = np.clip(x + rng.normal(scale=0.1, size=x.shape), 0, 1)
    r = M.reconstruction_scores(x, noisy)
    assert r["ssim"] < 0.95
    # channels-first gives the same numbers
    r_chw = M.reconstruction_scores(x.transpose(0, 3, 1, 2), noisy.transpose(0, 3, 1, 2))
    for k in ("rmse", "psnr", "ssim"):
        assert r_chw[k] == pytest.approx(r[k])


def test_ssim_orders_degradation():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, 24, 24, 3))
    s = [M.ssim(x, np.clip(x + rng.normal(scale=a, size=x.shape), 0, 1)).mean() for a in (0.02, 0.1, 0.3)]
    assert 1.0 > s[0] > s[1] > s[2]


# --------------------------------------------------------------------------- helpers


def test_discretize():
    rng = np.random.default_rng(0)
    f = np.stack([rng.integers(3, 7, 200).astype(float), rng.normal(size=200)], axis=1)
    f[0, 0] = np.nan
    d = M.discretize(f, n_bins=10)
    assert d.dtype == np.int64 and d.shape == f.shape
    assert d[0, 0] == -1
    np.testing.assert_array_equal(d[1:, 0], f[1:, 0] - 3)  # categorical: category index
    assert d[:, 1].min() == 0 and d[:, 1].max() == 9 and len(np.unique(d[:, 1])) <= 10


def test_factor_table():
    labels = {"identity": np.array([0, 1, 2]), "expression": np.array([3, -1, 0]),
              "yaw": np.array([-10.5, 0.0, 20.0])}
    table, names = M.factor_table(labels, ["expression", "yaw"])
    assert names == ["expression", "yaw"] and table.shape == (3, 2)
    assert np.isnan(table[1, 0]) and table[0, 0] == 3
    assert table[0, 1] == -10.5  # negative floats are values, not missing
    with pytest.raises(KeyError):
        M.factor_table(labels, ["pitch"])


# --------------------------------------------------------------------------- identification


def test_identity_top1_one_hot_codes_are_perfect():
    ids = np.repeat(np.arange(5), 4)
    r = M.identity_top1(np.eye(5)[ids], ids)
    assert r["top1"] == 1.0 and r["n_queries"] == 20
    assert r["chance"] == pytest.approx(3 / 19)  # 3 of the 19 other images are the same person


def test_identity_top1_constant_codes_are_near_chance():
    ids = np.repeat(np.arange(10), 5)
    r = M.identity_top1(np.ones((50, 8)), ids)  # every image ties: nothing tells people apart
    assert r["top1"] <= 0.2
    rnd = M.identity_top1(np.random.default_rng(0).normal(size=(50, 8)), ids)
    assert rnd["top1"] < 0.3


def test_identity_top1_leave_one_out_and_missing():
    # two people; each image's nearest *other* image is the other person's (itself is excluded)
    codes = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    assert M.identity_top1(codes, [0, 1, 0, 1])["top1"] == 0.0
    assert M.identity_top1(codes, [0, 0, 1, 1])["top1"] == 1.0
    # a person seen once cannot be found again: not a query, but still in the gallery; MISSING is dropped
    r = M.identity_top1(np.r_[codes, [[1.0, 0.0]]], [0, 0, 1, 2, -1])
    assert r["n_queries"] == 2 and r["top1"] == 1.0
    assert np.isnan(M.identity_top1(codes, [0, 1, 2, 3])["top1"])


def test_identity_top1_chunks_agree():
    x, ids = _clustered(n=300, n_classes=10, dim=8, spread=2.0)
    assert M.identity_top1(x, ids, chunk=7) == M.identity_top1(x, ids)
