"""Dataset registry: every layout on a tiny fixture tree, corrupt files, the crop cache, mixes,
identity-disjoint splits, and (when ../shared/data exists) a scan of the real London and FER sets."""

from __future__ import annotations

import math
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import fixtures as fx
from facelab import datasets as D
from facelab.datasets.build import FaceImageDataset
from facelab.labels import EXPRESSIONS, MISSING

E = {name: i for i, name in enumerate(EXPRESSIONS)}
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def by_name(result):
    return {Path(r.path.split("#")[0]).name: r for r in result.records}


def skipped_names(result):
    return sorted(Path(p).name for p, _ in result.skipped)


# ------------------------------------------------------------------------------ parsing specs
def test_parse_data_arg():
    assert D.parse_data_arg("fer2013:../shared/data/fer2013") == ("fer2013", "../shared/data/fer2013", {})
    assert D.parse_data_arg("ckplus:/x/CK+?onset=1&ramp=true") == ("ckplus", "/x/CK+", {"onset": "1", "ramp": "true"})
    assert D.parse_data_arg("synthetic") == ("synthetic", None, {})
    name, path, opts = D.parse_data_arg("synthetic:identities=64,per_identity=28")
    assert (name, path, opts) == ("synthetic", None, {"identities": "64", "per_identity": "28"})
    assert D.parse_data_arg("KDEF:/d/kdef?poses=S+HL").options == {"poses": "S+HL"}
    with pytest.raises(ValueError, match="unknown dataset"):
        D.parse_data_arg("celeba:/x")
    with pytest.raises(ValueError, match="needs a path"):
        D.parse_data_arg("london")
    with pytest.raises(ValueError, match="key=value"):
        D.parse_data_arg("ckplus:/x?onset")
    assert set(D.REGISTRY) == {"synthetic", "london", "fer2013", "ckplus", "ckplus48", "jaffe", "kdef", "rafd",
                               "faces", "yale", "oulu", "mug", "csv"}


def test_scan_rejects_unknown_options_and_missing_roots(tmp_path):
    fx.make_kdef(tmp_path / "kdef")
    with pytest.raises(ValueError, match="unknown option"):
        D.scan("kdef", tmp_path / "kdef", pose="S")
    with pytest.raises(ValueError, match="KDEF pose"):
        D.scan("kdef", tmp_path / "kdef", poses="XX")
    with pytest.raises(FileNotFoundError):
        D.scan("london", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="expects a boolean"):
        D.scan("ckplus", tmp_path, onset="maybe")


def test_select_frames():
    # neutral → peak sequence of 5: peak only, then onset + ramp
    assert D.select_frames(5, E["anger"]) == [(4, E["anger"], 1.0, "peak")]
    out = D.select_frames(5, E["anger"], onset=True, ramp=True)
    assert [(i, e, round(v, 3), role) for i, e, v, role in out] == [
        (0, 0, 0.0, "onset"), (1, 4, 0.25, "ramp"), (2, 4, 0.5, "ramp"), (3, 4, 0.75, "ramp"), (4, 4, 1.0, "peak")]
    assert [i for i, *_ in D.select_frames(5, 3, peak_frames=3)] == [2, 3, 4]
    assert [i for i, *_ in D.select_frames(9, 3, peak_index=4)] == [4]
    # onset–apex–offset: apex in the middle, neutral ends
    mid = D.select_frames(7, E["fear"], onset=True, ramp=True, apex="middle")
    assert [(i, e, round(v, 3)) for i, e, v, _ in mid] == [
        (0, 0, 0.0), (1, 6, 0.333), (2, 6, 0.667), (3, 6, 1.0), (4, 6, 0.667), (5, 6, 0.333), (6, 0, 0.0)]
    # unlabelled sequences: no ramp, peak expression stays missing
    unl = D.select_frames(4, MISSING, onset=True, ramp=True)
    assert [(i, e) for i, e, v, _ in unl] == [(0, 0), (3, MISSING)] and math.isnan(unl[1][2])


# ------------------------------------------------------------------------------------ layouts
def test_london(tmp_path):
    root = fx.make_london(tmp_path / "london")
    fx.write_image(root / "neutral_front" / "notes.jpg")
    res = D.scan("london", root)
    assert len(res) == 3 + 3 + 2 and skipped_names(res) == ["notes.jpg"]
    recs = by_name(res)
    assert recs["001_03.jpg"].identity == "london/001" and recs["001_03.jpg"].expression == E["neutral"]
    assert recs["001_08.jpg"].identity == "london/001" and recs["001_08.jpg"].expression == E["happiness"]
    assert recs["003f.jpg"].identity == "canada/003f" and recs["003f.jpg"].expression == E["neutral"]
    assert recs["001_03.jpg"].intensity == 0.0 and math.isnan(recs["001_08.jpg"].intensity)
    assert recs["002_03.jpg"].extra["age"] == 22 and recs["095m.jpg"].extra["gender"] == "male"
    assert all(r.dataset == "london" and r.split is None for r in res.records)
    assert "notes.jpg" in res.summary()


def test_fer2013_folders(tmp_path):
    root = fx.make_fer_folders(tmp_path / "fer")
    res = D.scan("fer2013", root)
    assert len(res) == 7 * 3 and not res.skipped
    assert Counter(r.split for r in res.records) == {"train": 14, "test": 7}
    assert all(r.identity is None for r in res.records)
    got = Counter(EXPRESSIONS[r.expression] for r in res.records)
    assert got == {n: 3 for n in ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")}


def test_fer2013_csv(tmp_path):
    csv_path = fx.make_fer_csv(tmp_path / "fer" / "fer2013.csv")
    for root in (csv_path, csv_path.parent):  # the file, or the folder holding it
        res = D.scan("fer2013", root)
        assert [(EXPRESSIONS[r.expression], r.split, r.extra["usage"]) for r in res.records] == [
            ("anger", "train", "Training"), ("happiness", "train", "Training"),
            ("neutral", "test", "PublicTest"), ("surprise", "test", "PrivateTest")]
        assert len(res.skipped) == 1 and res.skipped[0][1].startswith("corrupt")
    ds = FaceImageDataset(res.records, 16, name="fer2013", aligned=True, cache_dir=tmp_path / "c", progress=False)
    item = ds[0]
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.float32
    assert torch.equal(item["image"][0], item["image"][1])  # greyscale → RGB
    assert item["identity"] == MISSING and item["dataset"] == "fer2013"


def test_ckplus(tmp_path):
    root = fx.make_ckplus(tmp_path / "CK+")
    res = D.scan("ckplus", root)
    assert not res.skipped  # .DS_Store is not a frame
    assert [(Path(r.path).name, r.identity, EXPRESSIONS[r.expression], r.intensity) for r in res.records] == [
        ("S005_001_00000004.png", "ckplus/S005", "disgust", 1.0),
        ("S010_002_00000005.png", "ckplus/S010", "happiness", 1.0)]
    onset = D.scan("ckplus", root, onset=True)
    neutral = [r for r in onset.records if r.extra["role"] == "onset"]
    assert len(onset) == 2 + 3 and len(neutral) == 3  # every sequence starts neutral, labelled or not
    assert all(r.expression == E["neutral"] and r.intensity == 0.0 and r.extra["frame"] == 1 for r in neutral)
    ramp = D.scan("ckplus", root, ramp="1")
    s10 = [(r.extra["frame"], round(r.intensity, 3)) for r in ramp.records if r.extra["sequence"] == "S010_002"]
    assert s10 == [(2, 0.25), (3, 0.5), (4, 0.75), (5, 1.0)]
    unl = D.scan("ckplus", root, unlabeled=True)
    extra = [r for r in unl.records if r.extra["sequence"] == "S010_006"]
    assert len(extra) == 1 and extra[0].expression == MISSING and extra[0].extra["frame"] == 3


def test_ckplus48(tmp_path):
    res = D.scan("ckplus48", fx.make_ckplus48(tmp_path / "ck48"))
    assert len(res) == 5 and not res.skipped
    r = by_name(res)["S010_004_00000017.png"]
    assert r.identity == "ckplus/S010" and r.expression == E["happiness"] and math.isnan(r.intensity)
    assert D.REGISTRY["ckplus48"].aligned and not D.REGISTRY["ckplus"].aligned


def test_jaffe(tmp_path):
    res = D.scan("jaffe", fx.make_jaffe(tmp_path / "jaffe"))
    recs = by_name(res)
    assert len(res) == 5 and skipped_names(res) == ["KA.XX1.40.tiff"]
    assert recs["KA.AN1.39.tiff"].identity == "jaffe/KA" and recs["KA.AN1.39.tiff"].expression == E["anger"]
    assert recs["YM.FE3.67.tiff"].expression == E["fear"] and recs["KA.NE1.26.tiff"].intensity == 0.0


def test_kdef(tmp_path):
    root = fx.make_kdef(tmp_path / "KDEF")
    res = D.scan("kdef", root)
    recs = by_name(res)
    assert len(res) == 6 and skipped_names(res) == ["AF01ANS_copy.JPG"]
    assert recs["AF01ANS.JPG"].identity == recs["BF01NEHL.JPG"].identity == "kdef/F01"  # sessions A/B: same person
    assert recs["AM02AFS.JPG"].expression == E["fear"] and recs["AM02AFS.JPG"].extra["pose"] == "S"
    assert recs["AM02SUFR.JPG"].extra["pose"] == "FR" and recs["BF01NEHL.JPG"].extra["session"] == "B"
    frontal = D.scan("kdef", root, poses="S")
    assert len(frontal) == 4 and frontal.excluded == 2


def test_rafd(tmp_path):
    root = fx.make_rafd(tmp_path / "rafd")
    res = D.scan("rafd", root)
    recs = by_name(res)
    r = recs["Rafd090_01_Caucasian_female_contemptuous_left.jpg"]
    assert r.identity == "rafd/01" and r.expression == E["contempt"] and r.extra["gaze"] == "left"
    assert r.extra["pose"] == "090"
    assert recs["Rafd180_02_Moroccan_male_fearful_frontal.jpg"].expression == E["fear"]
    assert len(D.scan("rafd", root, poses="090")) == 3
    assert len(D.parse_data_arg("rafd:x?poses=090").options["poses"]) == 3  # "090" stays a string
    assert len(D.scan("rafd", root, poses="090", gaze="frontal")) == 1


def test_faces(tmp_path):
    res = D.scan("faces", fx.make_faces(tmp_path / "FACES"))
    recs = by_name(res)
    assert len(res) == 5 and skipped_names(res) == ["066_y_f_x_a.jpg"]
    r = recs["004_o_m_h_b.jpg"]
    assert r.identity == "faces/004" and r.expression == E["happiness"]
    assert r.extra == {"age_group": "o", "gender": "m", "picture_set": "b"}
    assert recs["066_y_f_d_b.jpg"].expression == E["disgust"]


def test_yale(tmp_path):
    root = fx.make_yale(tmp_path / "yalefaces")
    res = D.scan("yale", root)
    assert len(res) == 2 * 11 and skipped_names(res) == ["subject01.gif"]
    got = {r.extra["condition"]: r.expression for r in res.records if r.identity == "yale/subject01"}
    assert got == {
        "happy": E["happiness"], "sad": E["sadness"], "surprised": E["surprise"], "normal": E["neutral"],
        "sleepy": MISSING, "wink": MISSING, "glasses": E["neutral"], "noglasses": E["neutral"],
        "centerlight": E["neutral"], "leftlight": E["neutral"], "rightlight": E["neutral"]}
    # extension-less GIFs decode
    ds = FaceImageDataset(res.records[:3], 8, aligned=True, cache_dir=tmp_path / "c", progress=False)
    assert len(ds) == 3 and ds[0]["image"].shape == (3, 8, 8)


def test_oulu(tmp_path):
    root = fx.make_oulu(tmp_path / "oulu")
    res = D.scan("oulu", root)  # VL only, last 3 frames = peak
    assert len(res) == 3 * 3 and res.excluded == 3 * 6 + 3 * 3
    assert {r.extra["channel"] for r in res.records} == {"VL"}
    assert {r.identity for r in res.records} == {"oulu/P001", "oulu/P002"}
    assert sorted({r.extra["frame"] for r in res.records}) == [3, 4, 5] and {r.intensity for r in res.records} == {1.0}
    assert len(D.scan("oulu", root, channel="all")) == 18
    seq = D.scan("oulu", root, peak_frames=1, onset=True, ramp=True)
    anger = [(r.extra["frame"], EXPRESSIONS[r.expression], r.intensity) for r in seq.records
             if r.extra["sequence"].endswith("P001/Anger")]
    assert anger == [(0, "neutral", 0.0), (1, "anger", 0.2), (2, "anger", 0.4), (3, "anger", 0.6),
                     (4, "anger", 0.8), (5, "anger", 1.0)]


def test_mug(tmp_path):
    root = fx.make_mug(tmp_path / "mug")
    res = D.scan("mug", root)  # onset–apex–offset: middle frame is the apex
    assert [(r.identity, EXPRESSIONS[r.expression], r.extra["frame"], r.intensity) for r in res.records] == [
        ("mug/001", "happiness", 3, 1.0), ("mug/001", "neutral", 3, 0.0), ("mug/002", "anger", 3, 1.0)]
    ends = D.scan("mug", root, onset=1)
    assert sum(r.extra["role"] in ("onset", "offset") for r in ends.records) == 6
    last = D.scan("mug", root, profile="onset-apex")
    assert {r.extra["frame"] for r in last.records} == {6}


def test_csv_manifest(tmp_path):
    root = fx.make_manifest(tmp_path / "mine")
    res = D.scan("csv", root)
    recs = by_name(res)
    assert len(res) == 6 and skipped_names(res) == ["g.png", "missing.png"]
    assert recs["a.png"].identity == "csv/alice" and recs["a.png"].expression == E["happiness"]
    assert recs["a.png"].intensity == pytest.approx(0.8)
    assert recs["b.png"].expression == E["neutral"] and math.isnan(recs["b.png"].intensity)  # empty = missing
    assert recs["d.png"].identity is None and recs["d.png"].expression == E["anger"]
    assert recs["e.png"].expression == MISSING and recs["f.png"].expression == E["fear"]
    assert recs["c.png"].expression == E["surprise"]
    assert by_name(D.scan("csv", root / "manifest.csv", namespace="lab"))["a.png"].identity == "lab/alice"


# ---------------------------------------------------------------------- building and caching
def _london_with_bad_files(root):
    fx.make_london(root)
    fx.write_truncated_jpeg(root / "neutral_front" / "998_03.jpg")
    fx.write_text_as_image(root / "neutral_front" / "999_03.jpg")
    fx.write_black(root / "smiling_front" / "997_08.jpg")  # readable, no face
    return root


def test_corrupt_and_faceless_files_are_skipped_and_reported(tmp_path, capsys):
    root = _london_with_bad_files(tmp_path / "london")
    det = fx.FakeDetector()
    ds = D.load(f"london:{root}", size=16, cache_dir=tmp_path / "cache", detector=det, progress=True)
    assert len(ds) == 8 and ds.stats["computed"] == 11
    assert ds.skipped_by_reason() == {"corrupt": 2, "no face": 1}
    assert sorted(Path(p).name for p, _ in ds.skipped) == ["997_08.jpg", "998_03.jpg", "999_03.jpg"]
    report = ds.report()
    assert "skipped 3 of 11: 2 corrupt (" in report and "1 no face (997_08.jpg" in report
    assert "skipped 3 of 11" in capsys.readouterr().err
    item = ds[0]
    assert item["image"].shape == (3, 16, 16) and 0.0 <= float(item["image"].min()) <= float(item["image"].max()) <= 1.0
    assert set(item) == {"image", "identity", "expression", "intensity", "pose", "dataset"}
    assert item["dataset"] == "london" and item["identity"] == ds.identity_map["london/001"] == 2  # after canada/*
    assert [ds.identity_map[r.identity] for r in ds.records] == ds.identities.tolist()


def test_cache_second_load_does_not_detect_again(tmp_path):
    root = _london_with_bad_files(tmp_path / "london")
    first = fx.FakeDetector()
    a = D.load(f"london:{root}", size=16, cache_dir=tmp_path / "cache", detector=first, progress=False)
    assert first.calls == 9  # 8 faces + 1 faceless photo; the corrupt files never reach the detector
    second = fx.FakeDetector()
    b = D.load(f"london:{root}", size=16, cache_dir=tmp_path / "cache", detector=second, progress=False)
    assert second.calls == 0 and b.stats["cached"] == 11 and b.stats["computed"] == 0
    assert b.skipped_by_reason() == a.skipped_by_reason()  # failures are cached too
    assert all(torch.equal(a[i]["image"], b[i]["image"]) for i in range(len(a)))
    # a renamed file hits the cache (content key); a new size or an edited file misses it
    (root / "canada" / "003f.jpg").rename(root / "canada" / "007f.jpg")
    fx.write_image(root / "canada" / "095m.jpg", 32)
    third = fx.FakeDetector()
    D.load(f"london:{root}", size=16, cache_dir=tmp_path / "cache", detector=third, progress=False)
    assert third.calls == 1
    fourth = fx.FakeDetector()
    D.load(f"london:{root}", size=8, cache_dir=tmp_path / "cache", detector=fourth, progress=False)
    assert fourth.calls == 9


def test_load_options_from_the_spec(tmp_path):
    root = _london_with_bad_files(tmp_path / "london")
    det = fx.FakeDetector()
    kept = D.load(f"london:{root}?fallback=center", size=8, cache_dir=tmp_path / "c", detector=det, progress=False)
    assert len(kept) == 9 and kept.skipped_by_reason() == {"corrupt": 2}  # faceless photo kept as centre crop
    det = fx.FakeDetector()
    pre = D.load(f"london:{root}?aligned=1", size=8, cache_dir=tmp_path / "c", detector=det, progress=False)
    assert det.calls == 0 and len(pre) == 9 and pre.prep.key() == "pre-8"
    with pytest.raises(ValueError, match="expects a boolean"):
        D.load(f"london:{root}?aligned=perhaps", size=8, cache_dir=tmp_path / "c", progress=False)


def test_load_synthetic_alone(tmp_path):
    from facelab.synthetic import SyntheticFaces

    ds = D.load("synthetic:identities=2,per_identity=2,nuisance=false", size=16, cache_dir=tmp_path, progress=False)
    assert isinstance(ds, SyntheticFaces) and len(ds) == 4 and ds[0]["image"].shape == (3, 16, 16)
    train, test = D.identity_split(ds, test_size=0.5, seed=0)
    assert len(train) == len(test) == 2


def test_dataset_pickles_for_worker_processes(tmp_path):
    root = fx.make_ckplus48(tmp_path / "ck48")
    ds = D.load(f"ckplus48:{root}", size=8, cache_dir=tmp_path / "cache", progress=False)
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000  # the memory map is not copied
    clone = pickle.loads(blob)
    assert torch.equal(clone[3]["image"], ds[3]["image"]) and clone[3]["expression"] == ds[3]["expression"]


# ------------------------------------------------------------------------------------ mixing
def test_mixed_load_keeps_identities_disjoint(tmp_path):
    london = fx.make_london(tmp_path / "london", people=2, canada=("001f",))
    ck48 = fx.make_ckplus48(tmp_path / "ck48")
    mix = D.load(
        [f"london:{london}", f"ckplus48:{ck48}", "synthetic:identities=2,per_identity=2,nuisance=0"],
        size=16, cache_dir=tmp_path / "cache", detector=fx.FakeDetector(), progress=False)
    assert isinstance(mix, D.MixedFaces) and len(mix) == 5 + 5 + 4
    assert mix.identity_names == ["canada/001f", "ckplus/S005", "ckplus/S010", "london/001", "london/002",
                                  "synthetic/0", "synthetic/1"]
    per_dataset: dict[str, set] = {}
    for i in range(len(mix)):
        item = mix[i]
        per_dataset.setdefault(item["dataset"], set()).add(item["identity"])
    assert per_dataset == {"london": {0, 3, 4}, "ckplus48": {1, 2}, "synthetic": {5, 6}}
    batch = next(iter(DataLoader(mix, batch_size=len(mix))))  # mixed items collate
    assert batch["image"].shape == (14, 3, 16, 16) and batch["identity"].min() >= 0
    assert sorted(set(batch["dataset"])) == ["ckplus48", "london", "synthetic"]
    train, test = D.identity_split(mix, test_size=0.4, seed=0)
    names = D.sample_groups(mix)[0]
    assert not {names[i] for i in train} & {names[i] for i in test}
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(mix)))


def test_identity_split_and_folds(tmp_path):
    records = D.scan("london", fx.make_london(tmp_path / "london", people=6, canada=("003f", "010f", "095m"))).records
    records += D.scan("fer2013", fx.make_fer_folders(tmp_path / "fer")).records
    for seed in range(3):
        train, test = D.identity_split(records, test_size=0.25, seed=seed)
        assert len(train) + len(test) == len(records) and not set(train) & set(test)
        ids_train = {records[i].identity for i in train} - {None}
        ids_test = {records[i].identity for i in test} - {None}
        assert ids_train and ids_test and not ids_train & ids_test
        # FER has no identities: its own train/test split is kept
        assert {records[i].split for i in test if records[i].identity is None} == {"test"}
        assert {records[i].split for i in train if records[i].identity is None} == {"train"}
    folds = D.identity_folds([r for r in records if r.identity], k=3, seed=0)
    seen = []
    for train, test in folds:
        labelled = [r for r in records if r.identity]
        assert not {labelled[i].identity for i in train} & {labelled[i].identity for i in test}
        seen += test.tolist()
    assert sorted(seen) == list(range(15))


def test_validation_part_is_carved_from_the_training_side_only(tmp_path):
    records = D.scan("london", fx.make_london(tmp_path / "london", people=6, canada=("003f", "010f", "095m"))).records
    records += D.scan("fer2013", fx.make_fer_folders(tmp_path / "fer")).records
    fer_in_val = 0
    for seed in range(3):
        train, test = D.identity_split(records, test_size=0.25, seed=seed)
        parts = D.training_splits(records, holdout=0.25, validation=0.3, seed=seed)
        assert np.array_equal(parts["test"], test)  # asking for validation never moves the test split
        assert sorted(parts["train"].tolist() + parts["val"].tolist()) == train.tolist()
        assert len(parts["val"]) and not set(parts["train"]) & set(parts["val"])
        ids = lambda idx: {records[i].identity for i in idx} - {None}  # noqa: E731
        assert not ids(parts["train"]) & ids(parts["val"])
        # FER images (no identity) are drawn one by one, and only from its official training split
        fer_val = [records[i] for i in parts["val"] if records[i].identity is None]
        assert {r.split for r in fer_val} <= {"train"}
        fer_in_val += len(fer_val)
    assert fer_in_val > 0
    plain = D.training_splits(records, holdout=0.25, seed=0)
    assert len(plain["val"]) == 0 and np.array_equal(plain["train"], D.identity_split(records, 0.25, seed=0)[0])
    everything = D.training_splits(records, holdout=0.0, validation=0.3, seed=0)
    assert len(everything["test"]) == 0 and len(everything["train"]) + len(everything["val"]) == len(records)
    with pytest.raises(ValueError, match="validation fraction"):
        D.validation_split(records, plain["train"], 1.5)


# --------------------------------------------------------------------------------- real data
@pytest.mark.skipif(not (SHARED / "london").is_dir() or not (SHARED / "fer2013").is_dir(),
                    reason="../shared/data not available")
def test_real_data_scan_counts():
    london = D.scan("london", SHARED / "london")
    sets = Counter(r.extra["set"] for r in london.records)
    assert sets["neutral_front"] == 102 and sets["smiling_front"] == 102
    assert sets["canada"] == len(list((SHARED / "london" / "canada").glob("*.jpg"))) > 0
    assert not london.skipped
    assert len({r.identity for r in london.records if r.identity.startswith("london/")}) == 102
    fer = D.scan("fer2013", SHARED / "fer2013")
    assert Counter(r.split for r in fer.records) == {"train": 28_709, "test": 7_178}
    assert not fer.skipped and all(r.identity is None for r in fer.records)
