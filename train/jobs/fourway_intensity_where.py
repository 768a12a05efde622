"""Where is intensity lost: in the encoder, or in Φ's split? Intensity read from z_expression, from the whole f and
from the encoder's own code z (before Φ), each by the card's linear probe and by an RBF kernel ridge.

    python train/jobs/fourway_intensity_where.py CHECKPOINT PEOPLE:SEED [PEOPLE:SEED ...]

PEOPLE is the identity seed (2-5: the validation people; 0: the training people, in new renders when SEED is not 0;
never 1, the test people), SEED the render seed; 48 people, 28 faces each, as ``fourway_validation``. If z reads
intensity no better than z_expression, Φ loses nothing and the shortfall is what the encoder sees.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
import facelab  # noqa: E402
from facelab import metrics  # noqa: E402
from fourway_intensity_by_class import encoded, r2  # noqa: E402  (this folder is on sys.path when run as a script)
from sklearn.kernel_ridge import KernelRidge  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def readings(model, people: int, seed: int) -> dict[str, float]:
    _, enc, y = encoded(model, people, seed)
    with torch.no_grad():
        z = model.network.encode_z(torch.as_tensor(enc.images).to(model.device)).cpu().numpy()
    codes = {"z_expression": enc.codes["expression"],
             "f (every sub-code)": np.concatenate([enc.codes[a] for a in model.attributes], 1), "z (encoder)": z}
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0)  # the card's split
    out = {}
    for name, c in codes.items():
        out[f"{name} linear"] = metrics.regression_probe(c, y)["r2"]
        rbf = make_pipeline(StandardScaler(), KernelRidge(alpha=0.1, kernel="rbf", gamma=1.0 / c.shape[1]))
        out[f"{name} rbf"] = r2(rbf.fit(c[tr], y[tr]).predict(c[te]), y[te])
    return out


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    model = facelab.load(argv[0])
    for pair in argv[1:]:
        people, seed = (int(v) for v in pair.split(":"))
        if people == 1:
            raise SystemExit("identity seed 1 is the test people: use 2-5, or 0 (the training people)")
        print(f"people {people}, renders {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in readings(model, people, seed).items()))


if __name__ == "__main__":
    main(sys.argv[1:])
