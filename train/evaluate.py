"""Evaluate a checkpoint on a labelled dataset; print a table, write JSON, optionally the card.

    python -m train.evaluate --checkpoint checkpoints/synthetic-disvae \
        --data synthetic:identities=10000+48,per_identity=28 --out checkpoints/synthetic-disvae/evaluation.json --card

Keys of the JSON (flat): expression_accuracy, expression_balanced_accuracy,
expression_probe_accuracy, leakage_accuracy, leakage_mlp_accuracy, majority_rate, identity_auc,
identity_auc_expression_code, rmse, psnr, ssim; on the synthetic generator also swap_psnr,
swap_rmse, noswap_psnr, recon_psnr, mig, sap, dci_*; plus confusion (a matrix) and metadata.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import facelab
from facelab import datasets
from facelab.card import ROWS, write_card
from facelab.evaluate import disentanglement_scores, encode_dataset, representation_scores, swap_fidelity


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint directory or bundled name")
    p.add_argument("--data", action="append", default=None,
                   help="NAME[:PATH][?options]; repeat to mix (default: held-out synthetic identities)")
    p.add_argument("--out", default=None, help="JSON file (default: <checkpoint>/evaluation.json with --card)")
    p.add_argument("--card", action="store_true", help="rewrite the checkpoint's README.md model card")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def print_table(figures: dict) -> None:
    width = max(len(label) for _, label, _ in ROWS)
    for key, label, fmt in ROWS:
        if isinstance(figures.get(key), (int, float)):
            print(f"{label:<{width}}  {fmt.format(figures[key])}")


def main(argv=None) -> dict:
    args = parse_args(argv)
    t0 = time.perf_counter()
    model = facelab.load(args.checkpoint)
    specs = args.data or ["synthetic:identities=10000+48,per_identity=28"]
    dataset = datasets.load(specs, size=model.config.image_size)
    print(f"evaluating {model.directory} on {len(dataset)} images from {', '.join(specs)}")
    enc = encode_dataset(model, dataset)
    figures = representation_scores(model, enc, seed=args.seed)
    if hasattr(dataset, "factors"):  # the synthetic generator: ground truth for swaps and factors
        figures.update(swap_fidelity(model, dataset, seed=args.seed))
        figures.update(disentanglement_scores(enc, seed=args.seed))
    figures["data"] = specs
    figures["checkpoint"] = str(model.directory)
    figures["wall_time_s"] = round(time.perf_counter() - t0, 1)
    print_table(figures)
    print(f"wall time {figures['wall_time_s']} s")
    out = Path(args.out) if args.out else (Path(model.directory) / "evaluation.json" if args.card else None)
    if out:
        out.write_text(json.dumps({k: _jsonable(v) for k, v in figures.items()}, indent=2) + "\n")
        print(f"wrote {out}")
    if args.card:
        command = "python -m train.evaluate " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        description = f"On {len(dataset)} images from `{'`, `'.join(specs)}` (identities not seen in training)."
        print(f"wrote {write_card(model.directory, figures, command, description)}")
    return figures


if __name__ == "__main__":
    main()
