"""Where does a four-attribute model lose expressions and pose: in the autoencoder's z, or in the split Φ?

    python bench/fourway_z_probe.py CHECKPOINT [CHECKPOINT ...]

For each ``fourway`` checkpoint, a logistic-regression probe reads the generator's expression
label from the autoencoder's own code z (``encode_z``) and from f_expression (Φ's sub-code), on new
generator people kept apart from the test set (``identity_seed=2``, the validation set the cards use
for choices), trained on 70 % of the people and scored on the other 30 % (identity-disjoint), next
to the same probe on raw pixels and the majority-class rate. If z itself holds little, no mapping
can split expression off it. The same for pose: a ridge regression reads yaw and pitch (degrees;
mean absolute error, the same split) from z, from f_pose and from raw pixels, next to predicting
the training mean. Writes ``bench/results/fourway_z_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import invocation, machine, timestamp, write_results  # noqa: E402

import facelab  # noqa: E402

VALIDATION = dict(identities=48, per_identity=28, identity_seed=2, seed=2, min_intensity=0.25, pose_range=35,
                  roll_range=15)


def validation_faces():
    """The cards' validation set (new generator people, never the test people) and its images, stacked."""
    from facelab.synthetic import SyntheticFaces

    data = SyntheticFaces(**VALIDATION, progress=False)
    return data, torch.stack([data[i]["image"] for i in range(len(data))])


def probe(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler().fit(features[train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on raw pixels
        clf = LogisticRegression(max_iter=2000).fit(scale.transform(features[train]), labels[train])
    return float(clf.score(scale.transform(features[test]), labels[test]))


def regress(features: np.ndarray, target: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Test mean absolute error of a ridge regression (standardised features) fitted on ``train``."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13))).fit(features[train], target[train])
    return float(np.abs(model.predict(features[test]) - target[test]).mean())


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import GroupShuffleSplit

    from facelab.synthetic import factor_labels

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fourway_z_probe.json"))
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    torch.set_num_threads(1)
    data, images = validation_faces()
    labels = np.array([f.expression for f in data.factors])
    people = np.array([f.identity for f in data.factors])
    train, test = next(GroupShuffleSplit(1, test_size=0.3, random_state=0).split(labels, labels, people))
    pose = {k: v.astype(np.float64) for k, v in factor_labels(data.factors).items() if k in ("yaw", "pitch")}
    pixels = images.flatten(1).numpy()
    rows = {"pixels": probe(pixels, labels, train, test),
            "majority": float(np.bincount(labels[test]).max() / len(test))}
    errors = {"pixels": {k: regress(pixels, v, train, test) for k, v in pose.items()},
              "mean": {k: float(np.abs(v[test] - v[train].mean()).mean()) for k, v in pose.items()}}
    print(f"{'code':50s} {'dims':>5s} {'expression (probe)':>19s} {'yaw MAE °':>10s} {'pitch MAE °':>12s}")
    print(f"{'raw pixels':50s} {images[0].numel():5d} {rows['pixels']:19.3f} "
          f"{errors['pixels']['yaw']:10.2f} {errors['pixels']['pitch']:12.2f}")
    print(f"{'majority class / the mean pose':50s} {'':5s} {rows['majority']:19.3f} "
          f"{errors['mean']['yaw']:10.2f} {errors['mean']['pitch']:12.2f}")
    trained = {}
    for path in args.checkpoints:
        model = facelab.load(path, device="cpu")
        run = Path(path) / "training_run.json"
        trained[path] = json.loads(run.read_text()).get("command") if run.is_file() else None
        net = model.network
        with torch.no_grad():
            z = torch.cat([net.encode_z(images[i:i + 256]) for i in range(0, len(images), 256)]).numpy()
            codes = [net.encode(images[i:i + 256])[0] for i in range(0, len(images), 256)]
        f = {a: np.concatenate([c[a].numpy() for c in codes]) for a in ("expression", "pose") if a in codes[0]}
        for name, features in (("z", z), ("f_expression", f.get("expression")), ("f_pose", f.get("pose"))):
            if features is None:
                continue
            key = f"{path}:{name}"
            if name != "f_pose":
                rows[key] = probe(features, labels, train, test)
            if name != "f_expression":
                errors[key] = {k: regress(features, v, train, test) for k, v in pose.items()}
            read = f"{rows[key]:19.3f}" if key in rows else " " * 19
            turn = f"{errors[key]['yaw']:10.2f} {errors[key]['pitch']:12.2f}" if key in errors else ""
            print(f"{path + ' ' + name:50s} {features.shape[1]:5d} {read} {turn}")
    write_results({"validation_set": VALIDATION, "probe": rows, "pose_mae_degrees": errors, "trained_by": trained,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv), "when": timestamp()},
                  args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
