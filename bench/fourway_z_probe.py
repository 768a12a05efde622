"""Where does a four-attribute model lose expressions: in the autoencoder's z, or in the split Φ?

    python bench/fourway_z_probe.py CHECKPOINT [CHECKPOINT ...]

For each ``fourway`` checkpoint, a logistic-regression probe reads the generator's expression
label from the autoencoder's own code z (``encode_z``) and from f_expression (Φ's sub-code), on new
generator people kept apart from the test set (``identity_seed=2``, the validation set the cards use
for choices), trained on 70 % of the people and scored on the other 30 % (identity-disjoint), next
to the same probe on raw pixels and the majority-class rate. If z itself holds little, no mapping
can split expression off it. Writes ``bench/results/fourway_z_probe.json``.
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


def probe(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler().fit(features[train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on raw pixels
        clf = LogisticRegression(max_iter=2000).fit(scale.transform(features[train]), labels[train])
    return float(clf.score(scale.transform(features[test]), labels[test]))


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import GroupShuffleSplit

    from facelab.synthetic import SyntheticFaces

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fourway_z_probe.json"))
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    torch.set_num_threads(1)
    data = SyntheticFaces(**VALIDATION, progress=False)
    images = torch.stack([data[i]["image"] for i in range(len(data))])
    labels = np.array([f.expression for f in data.factors])
    people = np.array([f.identity for f in data.factors])
    train, test = next(GroupShuffleSplit(1, test_size=0.3, random_state=0).split(labels, labels, people))
    rows = {"pixels": probe(images.flatten(1).numpy(), labels, train, test),
            "majority": float(np.bincount(labels[test]).max() / len(test))}
    print(f"{'code':50s} {'dims':>5s} {'expression (probe)':>19s}")
    print(f"{'raw pixels':50s} {images[0].numel():5d} {rows['pixels']:19.3f}")
    print(f"{'majority class':50s} {'':5s} {rows['majority']:19.3f}")
    trained = {}
    for path in args.checkpoints:
        model = facelab.load(path, device="cpu")
        run = Path(path) / "training_run.json"
        trained[path] = json.loads(run.read_text()).get("command") if run.is_file() else None
        net = model.network
        with torch.no_grad():
            z = torch.cat([net.encode_z(images[i:i + 256]) for i in range(0, len(images), 256)]).numpy()
            f = torch.cat([net.encode(images[i:i + 256])[0]["expression"] for i in range(0, len(images), 256)]).numpy()
        for name, features in (("z", z), ("f_expression", f)):
            rows[f"{path}:{name}"] = probe(features, labels, train, test)
            print(f"{path + ' ' + name:50s} {features.shape[1]:5d} {rows[f'{path}:{name}']:19.3f}")
    write_results({"validation_set": VALIDATION, "probe": rows, "trained_by": trained,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv), "when": timestamp()},
                  args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
