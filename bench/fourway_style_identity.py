"""Is the identity read from a four-attribute model's z_style the person's colours?

    python bench/fourway_style_identity.py [CHECKPOINT] [--out bench/results/fourway_style_identity.json]

The generator draws each person's skin, hair, eye, lip and shirt colour; style draws the
background colour and the light. A probe reads identity from ``synthetic-fourway``'s z_style well
above chance (its card's probe matrix). If z_style carries the person's colours (a shared colour
feature), removing them from z_style should remove the identity: here each colour group is
regressed out of z_style (a least-squares fit on all faces, linear in the colour's RGB and its
squares) and the same probe as the card's (``facelab.metrics.probe_accuracy``: logistic
regression, 30 % of every person's faces held out, normalised so chance is 0) reads identity
from what is left. For comparison: identity from the colours alone, and from z_style with the
style factors (background RGB, light) regressed out, and the control that tells a colour from any
per-person vector: z_style with as many random per-person RGB triples regressed out (a fit on
per-person vectors removes some of every person's mean code whatever they are; mean of 5 draws).
Faces: the cards' validation set (``identity_seed=2``), never the held-out test people. Writes
``bench/results/fourway_style_identity.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import invocation, machine, timestamp, write_results  # noqa: E402
from fourway_z_probe import VALIDATION, validation_faces  # noqa: E402

import facelab  # noqa: E402

COLOURS = ("skin", "hair_colour", "eye_colour", "lip_colour", "shirt_colour")


def residual(features: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """``features`` less their least-squares fit on ``nuisance``, its squares and a constant."""
    design = np.concatenate([nuisance, nuisance ** 2, np.ones((len(nuisance), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, features, rcond=None)
    return features - design @ coef


def main(argv: list[str] | None = None) -> int:
    from facelab.metrics import probe_accuracy
    from facelab.synthetic import identity_params

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", default="checkpoints/synthetic-fourway")
    p.add_argument("--code", default="style", help="the sub-code to read identity from")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fourway_style_identity.json"))
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    torch.set_num_threads(1)
    data, images = validation_faces()
    people = np.array([f.identity for f in data.factors])
    looks = [identity_params(f.identity, f.seed) for f in data.factors]
    colours = {c: np.array([getattr(look, c) for look in looks], dtype=np.float64) for c in COLOURS}
    style = np.array([[*f.background, f.light] for f in data.factors], dtype=np.float64)
    model = facelab.load(args.checkpoint, device="cpu")
    with torch.no_grad():
        code = np.concatenate([model.network.encode(images[i:i + 256])[0][args.code].numpy()
                               for i in range(0, len(images), 256)]).astype(np.float64)

    def read(features: np.ndarray) -> float:
        r = probe_accuracy(features, people, kind="linear", test_size=0.3, seed=0)
        return float((r["accuracy"] - r["majority_rate"]) / (1 - r["majority_rate"]))

    everything = np.concatenate(list(colours.values()), axis=1)
    rng = np.random.default_rng(0)

    def control(triples: int, draws: int = 5) -> float:
        """Identity from the code with ``triples`` random RGB triples per person regressed out."""
        reads = []
        for _ in range(draws):
            table = rng.uniform(0, 1, (people.max() + 1, 3 * triples))
            reads.append(read(residual(code, table[people])))
        return float(np.mean(reads))

    rows = {f"z_{args.code}": read(code),
            **{f"z_{args.code} less {c}": read(residual(code, v)) for c, v in colours.items()},
            f"z_{args.code} less all five colours": read(residual(code, everything)),
            f"z_{args.code} less the style factors": read(residual(code, style)),
            f"z_{args.code} less 1 random per-person RGB (control)": control(1),
            f"z_{args.code} less 5 random per-person RGBs (control)": control(len(COLOURS)),
            **{f"{c} alone": read(v) for c, v in colours.items()},
            "all five colours alone": read(everything)}
    print(f"identity read (normalised: 0 chance, 1 perfect) on {len(data)} validation faces, {len(set(people))} people")
    for name, value in rows.items():
        print(f"  {name:45s} {value:6.3f}")
    write_results({"validation_set": VALIDATION, "checkpoint": args.checkpoint, "identity_read": rows,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv), "when": timestamp()},
                  args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
