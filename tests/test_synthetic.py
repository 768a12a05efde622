"""The synthetic renderer is a pure function of its factors: these tests pin that down.

Tiny images (32×32) keep the whole file to a couple of seconds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import facelab.synthetic as synthetic
from facelab.labels import EXPRESSIONS
from facelab.synthetic import (
    AU_NAMES,
    EXPRESSION_AUS,
    N_EXPRESSIONS,
    FaceFactors,
    Identity,
    SyntheticFaces,
    identity_params,
    render,
    render_batch,
    sample_factors,
)

SIZE = 32
STYLED = dict(yaw=0.6, pitch=-0.4, background=(0.2, 0.6, 0.3), light=0.7, noise=0.03)


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


def _mixed_factors() -> list[FaceFactors]:
    rng = np.random.default_rng(3)
    fs = sample_factors(10, range(50), rng, nuisance=True)
    fs += [FaceFactors(7, e, 1.0, yaw=y, pitch=p) for e, y, p in ((3, 1.0, 1.0), (5, -1.0, -1.0), (1, 0.0, 0.0))]
    return fs


def test_render_is_deterministic_and_uint8():
    f = FaceFactors(3, 1, 0.8, **STYLED)
    a, b = render(f, SIZE), render(f, SIZE)
    assert a.dtype == np.uint8 and a.shape == (SIZE, SIZE, 3)
    assert a.tobytes() == b.tobytes()


def test_render_batch_equals_per_face_render():
    fs = _mixed_factors()
    batch = render_batch(fs, SIZE)
    assert batch.shape == (len(fs), SIZE, SIZE, 3) and batch.dtype == np.uint8
    singles = np.stack([render(f, SIZE) for f in fs])
    assert np.array_equal(batch, singles)


def test_render_many_in_processes_gives_the_same_pixels():
    fs = _mixed_factors() * 3
    one = synthetic.render_many(fs, SIZE, workers=1)
    assert np.array_equal(one, render_batch(fs, SIZE))
    assert np.array_equal(synthetic.render_many(fs, SIZE, workers=2), one)


def test_render_workers_scale_with_the_job(monkeypatch):
    monkeypatch.delenv("FACELAB_RENDER_WORKERS", raising=False)
    assert synthetic.render_workers(100) == 1
    assert synthetic.render_workers(10**6) >= 1
    monkeypatch.setenv("FACELAB_RENDER_WORKERS", "3")
    assert synthetic.render_workers(100) == 3


def test_feature_boxes_are_a_pure_speedup(monkeypatch):
    fs = _mixed_factors()
    cropped = render_batch(fs, SIZE)
    monkeypatch.setattr(synthetic, "CROP", False)
    assert np.array_equal(cropped, render_batch(fs, SIZE))


def test_identity_params_deterministic_and_varied():
    assert identity_params(5) == identity_params(5)
    assert identity_params(5) != identity_params(6)
    assert identity_params(5, seed=1) != identity_params(5, seed=0)
    assert len(dataclasses.fields(Identity)) >= 8
    styles = {identity_params(i).hair_style for i in range(60)}
    assert len(styles) >= 4  # several hair styles actually occur


@pytest.mark.parametrize("expression", range(N_EXPRESSIONS))
def test_intensity_zero_is_exactly_neutral(expression):
    neutral = render(FaceFactors(2, 0, 0.0, **STYLED), SIZE)
    assert np.array_equal(render(FaceFactors(2, expression, 0.0, **STYLED), SIZE), neutral)


def test_intensity_effect_grows_monotonically():
    levels = (0.25, 0.5, 0.75, 1.0)
    neutral = render(FaceFactors(1, 0, 0.0), 48)
    for e in range(1, N_EXPRESSIONS):
        imgs = render_batch([FaceFactors(1, e, s) for s in levels], 48)
        diffs = [_mad(img, neutral) for img in imgs]
        assert all(d1 < d2 for d1, d2 in zip(diffs, diffs[1:])), (EXPRESSIONS[e], diffs)
        assert diffs[0] > 0


def test_different_identities_differ():
    imgs = render_batch([FaceFactors(i, 0, 0.0) for i in range(8)], SIZE)
    for i in range(len(imgs)):
        for j in range(i + 1, len(imgs)):
            assert _mad(imgs[i], imgs[j]) > 1.0, (i, j)


def test_expressions_differ_from_each_other():
    imgs = render_batch([FaceFactors(4, e, 1.0 if e else 0.0) for e in range(N_EXPRESSIONS)], 48)
    for i in range(N_EXPRESSIONS):
        for j in range(i + 1, N_EXPRESSIONS):
            assert _mad(imgs[i], imgs[j]) > 0.3, (EXPRESSIONS[i], EXPRESSIONS[j])


def test_expression_aus_document_the_classes():
    assert tuple(EXPRESSION_AUS) == EXPRESSIONS[:N_EXPRESSIONS]
    assert all(v == 0.0 for v in EXPRESSION_AUS["neutral"].values())
    for name, aus in EXPRESSION_AUS.items():
        assert set(aus) == set(AU_NAMES)
        assert name == "neutral" or any(aus.values())


def test_sample_factors_intensities_and_nuisance_off():
    fs = sample_factors(200, [3, 4], 0, nuisance=False, min_intensity=0.4)
    assert {f.identity for f in fs} == {3, 4}
    assert {f.expression for f in fs} == set(range(N_EXPRESSIONS))
    for f in fs:
        assert f.yaw == 0.0 and f.pitch == 0.0 and f.light == 0.0 and f.noise == 0.0
        assert f.background == (0.5, 0.5, 0.5)
        assert f.intensity == 0.0 if f.expression == 0 else 0.4 <= f.intensity <= 1.0
    # an int rng is a seed: same draws as a Generator built from it
    assert sample_factors(5, [1], 7) == sample_factors(5, [1], np.random.default_rng(7))


def test_nuisance_off_is_frontal_and_clean():
    plain = FaceFactors(1, 3, 1.0)
    img = render(plain, SIZE)
    assert np.array_equal(img, render(plain.replace(noise=0.0, yaw=0.0, pitch=0.0), SIZE))
    noisy = render(plain.replace(noise=0.05), SIZE)
    assert _mad(img, noisy) > 1.0  # noise is really switched off in the plain face
    corner = img[0, 0].astype(int)
    assert np.all(np.abs(corner - 128) <= 1)  # fixed grey background


def test_dataset_items_and_labels(tmp_path):
    ds = SyntheticFaces(identities=2, per_identity=7, size=SIZE, seed=1, cache_dir=tmp_path, progress=False)
    assert len(ds) == 14 and ds.images.shape == (14, SIZE, SIZE, 3) and ds.images.dtype == np.uint8
    assert sorted(f.expression for f in ds.factors[:7]) == list(range(7))  # balanced per identity
    item = ds[3]
    assert set(item) == {"image", "identity", "expression", "intensity", "yaw", "pitch", "target"}
    for key in ("image", "target"):
        t = item[key]
        assert tuple(t.shape) == (3, SIZE, SIZE) and str(t.dtype) == "torch.float32"
        assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    f = ds.factors[3]
    assert isinstance(item["identity"], int) and isinstance(item["expression"], int)
    expected = render(f.replace(intensity=0.0), SIZE)
    assert np.array_equal(ds.neutral[3], expected)
    assert np.array_equal(ds.images[3], render(f, SIZE))

    labels = ds.labels()
    for key in ("identity", "expression", "intensity", "yaw", "pitch", "light"):
        assert labels[key].shape == (14,)
    assert labels["background"].shape == (14, 3)

    plain = SyntheticFaces([10_000], per_identity=3, size=SIZE, cache_dir=tmp_path, progress=False,
                           with_neutral=False)
    assert "target" not in plain[0] and plain.neutral is None and plain.factors[0].identity == 10_000


def test_dataset_cache_round_trip(tmp_path, monkeypatch):
    kw = dict(identities=2, per_identity=4, size=SIZE, seed=0, cache_dir=tmp_path, progress=False)
    first = SyntheticFaces(**kw)
    assert first.cache_path.exists() and first.cache_path.parent == tmp_path

    def boom(*a, **k):
        raise AssertionError("should have loaded the cache instead of rendering")

    monkeypatch.setattr(synthetic, "render_batch", boom)
    second = SyntheticFaces(**kw)
    assert second.factors == first.factors
    assert np.array_equal(second.images, first.images) and np.array_equal(second.neutral, first.neutral)
    other = SyntheticFaces.__new__(SyntheticFaces)  # a different argument set must miss the cache
    with pytest.raises(AssertionError):
        SyntheticFaces.__init__(other, **{**kw, "seed": 1})


def test_render_files_are_pruned_oldest_first_and_never_under_this_process(tmp_path, monkeypatch):
    """A new draw of swap targets deletes the least recently used older draws past the limit; a
    file still being written, and every file this process used, stay."""
    import os

    from facelab import cache
    from facelab.synthetic import FaceFactors, render_cached

    monkeypatch.setattr(cache, "_used_here", set())
    old = [tmp_path / f"renders-v1-old{i}.npy" for i in range(3)]
    for age, path in enumerate(old):
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 + age, 1_000_000 + age))  # old0 is the least recently used
    writing = tmp_path / "renders-v1-new.tmp99.npy"
    writing.write_bytes(b"x" * 5000)
    monkeypatch.setenv("FACELAB_RENDERS_LIMIT_GB", str(2700 / 1024**3))

    faces = [FaceFactors(identity=i, expression=1, intensity=0.5) for i in range(2)]
    images = render_cached(faces, size=16, cache_dir=tmp_path)  # 1.5 kB of pixels, plus the header
    assert images.shape == (2, 16, 16, 3)
    left = {p.name for p in tmp_path.glob("renders-v*.npy")}
    assert "renders-v1-old0.npy" not in left and "renders-v1-old1.npy" not in left
    assert writing.name in left  # not counted, not deleted
    assert any(name.startswith("renders-v1-") and "old" not in name and ".tmp" not in name for name in left)

    cache.mark_used(old[2])
    assert cache.prune_renders(tmp_path, limit_bytes=0) == []  # everything left was used here
    cache._used_here.clear()
    assert {p.name for p in cache.prune_renders(tmp_path, limit_bytes=0)} == {"renders-v1-old2.npy"} | {
        n for n in left if "old" not in n and ".tmp" not in n}


def test_the_render_limit_reads_the_environment(monkeypatch):
    from facelab.cache import DEFAULT_RENDERS_LIMIT_GB, renders_limit_bytes

    monkeypatch.setenv("FACELAB_RENDERS_LIMIT_GB", "0.5")
    assert renders_limit_bytes() == 512 * 1024**2
    monkeypatch.setenv("FACELAB_RENDERS_LIMIT_GB", "lots")
    assert renders_limit_bytes() == int(DEFAULT_RENDERS_LIMIT_GB * 1024**3)
