"""Side by side, the figures a fourway choice rule reads, from ``train.evaluate --out`` JSON files.

    python train/jobs/fourway_table.py OUT_DIR ARM [ARM ...] [--seeds 2 3 4 5]

Reads ``OUT_DIR/ARM-valS.json`` for each arm and validation seed S (default 2 and 3: those the jobs score;
``fourway_validation`` in ``fourway_validation.sh`` writes any other) and prints seed / seed ... (mean)
for: identity read from every sub-code, the own readings, the four swaps, pose error, the highest reading
from another sub-code, identity top-1, PSNR, the expression head's accuracy and the swap it reads as B's
expression, the expression swap's move split by whether A and B share the expression, and (where the files
have it) each swap's share of pairs whose other sub-codes stay A's; then every off-diagonal probe reading
more than 0.05 above chance (the issue's bar) per arm and seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from facelab.synthetic import GROUP_OF_FACTOR  # noqa: E402


def figures(path: str) -> tuple[dict, list]:
    d = json.loads(Path(path).read_text())
    d = d.get("figures", d)
    m, factors, codes = np.array(d["probe_matrix"]), d["probe_factors"], d["probe_codes"]
    row = {f"identity from z_{c}": m[factors.index("identity"), j] for j, c in enumerate(codes)}
    for f in ("identity", "expression", "intensity", "yaw", "pitch", "roll", "background", "light", "noise"):
        row[f"{f} own"] = d[f"probe_{f}_own"]
    for a in codes:
        row[f"swap {a}"] = d[f"attribute_swap_{a}_success"]
    row.update({"yaw error": d["pose_mae_yaw"], "pitch error": d["pose_mae_pitch"],
                "other max": d["probe_other_max"], "identity top1": d["identity_top1"], "psnr": d["psnr"],
                "expression head": d["expression_accuracy"], "head-read expr swap": d["swap_expression_accuracy"],
                # the expression swap's move towards B's z_expression, over pairs of the same / another expression
                # (nan in files written before train.evaluate split it)
                "expr moved, same expr": d.get("attribute_swap_expression_moved_same_label", float("nan")),
                "expr moved, other expr": d.get("attribute_swap_expression_moved_other_label", float("nan"))})
    # which sub-code each swap disturbs: the share of swaps whose re-encoded other sub-code stays A's (files written
    # before train.evaluate reported it have none)
    row.update({f"{a} swap keeps z_{b}": d[f"attribute_swap_{a}_kept_{b}"] for a in codes for b in codes
                if f"attribute_swap_{a}_kept_{b}" in d})
    # the probe matrix is normalised (chance 0); a factor's own sub-code is its group's, as train.evaluate's
    leaks = [(m[i, j], f"{f} from z_{c}") for i, f in enumerate(factors) for j, c in enumerate(codes)
             if c != GROUP_OF_FACTOR.get(f) and m[i, j] > 0.05]
    return row, sorted(leaks, reverse=True)


def main(out: str, arms: list[str], seeds: tuple[int, ...] = (2, 3)) -> None:
    rows, leaks = {}, {}
    for a in arms:
        per = [figures(f"{out}/{a}-val{s}.json") for s in seeds]
        rows[a] = {k: tuple(p[0][k] for p in per) + (sum(p[0][k] for p in per) / len(per),) for k in per[0][0]}
        leaks[a] = [p[1] for p in per]
    width = 8 * len(seeds) + 12
    print("quantity".ljust(24) + "".join(a.rjust(width) for a in arms))
    keys = list(dict.fromkeys(k for a in arms for k in rows[a]))  # every arm's rows, first seen first
    missing = (float("nan"),) * (len(seeds) + 1)
    cell = " / ".join(["%.3f"] * len(seeds)) + " (%.3f)"
    for k in keys:
        print(k.ljust(24) + "".join((cell % rows[a].get(k, missing)).rjust(width) for a in arms))
    print("\nreadings from another sub-code > 0.05 above chance")
    for a in arms:
        for s, found in zip(seeds, leaks[a]):
            print(f"{a} seed {s} ({len(found)}): " + ", ".join(f"{n} {v:.2f}" for v, n in found))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the directory holding ARM-valS.json")
    parser.add_argument("arms", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[2, 3], help="validation seeds (default 2 3)")
    args = parser.parse_args()
    main(args.out, args.arms, tuple(args.seeds))
