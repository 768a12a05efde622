"""Where intensity own falls short: intensity read from z_expression, in all and within each expression.

    python train/jobs/fourway_intensity_by_class.py CHECKPOINT SEED [SEED ...]

On the validation people of each seed (identities=48, per_identity=28, as ``fourway_validation``; never
identity_seed 1, the test people) it prints: the card's reading (a linear probe on z_expression over every
face, the same split as ``train.evaluate``); the same probe scored within each expression class (R² of its
predictions against that class's intensities, and their mean absolute error); and one fitted within each class
(R² on that class's own test part). A class whose own fit reads well while the shared probe reads it badly
wants a direction of its own; one that reads badly either way is not seen in the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
import facelab  # noqa: E402
from facelab import datasets, metrics  # noqa: E402
from facelab.evaluate import encode_dataset, factor_labels_of  # noqa: E402
from facelab.synthetic import EXPRESSION_NAMES  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402


def r2(pred: np.ndarray, y: np.ndarray) -> float:
    return float(1.0 - np.mean((pred - y) ** 2) / np.var(y)) if np.var(y) > 0 else float("nan")


def encoded(model, people: int, seed: int):
    """(dataset, its encoding, intensity labels) for 48 people of identity seed ``people``, renders ``seed``,
    the set ``fourway_validation`` scores."""
    spec = (f"synthetic:identities=48,per_identity=28,identity_seed={people},seed={seed},"
            "min_intensity=0.25,pose_range=35,roll_range=15")
    data = datasets.load(spec, size=model.config.image_size, progress=False)
    enc = encode_dataset(model, data, progress=False)
    return data, enc, np.asarray(factor_labels_of(enc, data)["intensity"], dtype=np.float64)


def by_class(model, seed: int) -> None:
    data, enc, y = encoded(model, seed, seed)
    z = enc.codes["expression"]
    truth = np.array([f.expression for f in data.factors])  # the generator's class, 0 = neutral
    card = metrics.regression_probe(z, y, test_size=0.3, seed=0)  # as metrics.probe_matrix reads it
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0)
    shared = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(z[tr], y[tr])
    pred = shared.predict(z)
    print(f"seed {seed}: intensity own (the card's probe) {card['r2']:.3f}, test faces {len(te)}")
    print(f"  {'class':10s} {'faces':>5s} {'shared R2':>9s} {'shared MAE':>10s} {'own-fit R2':>10s}")
    for c, name in enumerate(EXPRESSION_NAMES):
        test_c = te[truth[te] == c]
        mae = float(np.abs(pred[test_c] - y[test_c]).mean())
        own = float("nan")
        all_c = np.flatnonzero(truth == c)
        if c and len(all_c) > 20:
            a, b = train_test_split(all_c, test_size=0.3, random_state=0)
            own = r2(make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(z[a], y[a]).predict(z[b]), y[b])
        print(f"  {name:10s} {len(test_c):5d} {r2(pred[test_c], y[test_c]):9.3f} {mae:10.3f} {own:10.3f}")


def main(argv: list[str]) -> None:
    model = facelab.load(argv[0])
    for seed in map(int, argv[1:]):
        if seed == 1:
            raise SystemExit("seed 1 is the test people: use validation seeds (2-5)")
        by_class(model, seed)


if __name__ == "__main__":
    main(sys.argv[1:])
