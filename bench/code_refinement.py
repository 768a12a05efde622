"""Do codes refined against their own picture make better swaps? (facelab.code_refinement)

    python bench/code_refinement.py --checkpoint checkpoints/swap-synthetic [--steps 0 25 50 100]

On new generator people (the validation set the cards use for choices, never the test set), for
each choice of free sub-codes and number of Adam steps it sets the model's ``refine`` setting and
runs the evaluation's expression swap (``facelab.evaluate.swap_fidelity``: A with B's expression
code against the generator's true render, every face encoded and re-encoded with the setting): the
swap's PSNR gain over A unchanged, whether the swap reads as B's expression and keeps A's person,
A's reconstruction, and the encoding time per face. Writes ``bench/results/code_refinement.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import torch  # noqa: E402
from common import invocation, machine, timestamp, write_results  # noqa: E402

import facelab  # noqa: E402

VALIDATION = dict(identities=48, per_identity=28, identity_seed=2, seed=2, min_intensity=0.25)


def main(argv: list[str] | None = None) -> int:
    from facelab.evaluate import swap_fidelity
    from facelab.synthetic import SyntheticFaces

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="checkpoints/swap-synthetic")
    p.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100])
    p.add_argument("--free", nargs="+", default=["identity", "identity+nuisance", "all"],
                   help="sub-codes refined, '+'-joined; 'all': every sub-code")
    p.add_argument("--lr", type=float, nargs="+", default=[0.01])
    p.add_argument("--pairs", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "code_refinement.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    model = facelab.load(args.checkpoint, device="cpu")
    data = SyntheticFaces(**VALIDATION, size=model.config.image_size, progress=False)
    # each run encodes A and B and re-encodes both decodes: 4 faces per pair
    settings = [None] + [{"steps": s, "free": list(model.attributes) if f == "all" else f.split("+"), "lr": lr}
                         for f in args.free for s in args.steps for lr in args.lr]
    rows = []
    print(f"{'free':28s} {'steps':>5s} {'lr':>6s} {'gain dB':>8s} {'swap dB':>8s} {'recon dB':>8s} {'reads B':>8s} "
          f"{'keeps A':>8s} {'ms/face':>8s}")
    for refine in settings:
        model.configure(refine=refine)
        start = time.perf_counter()
        r = swap_fidelity(model, data, n_pairs=args.pairs)
        per_face = (time.perf_counter() - start) / (4 * args.pairs) * 1e3
        row = {"free": refine["free"] if refine else [], "steps": refine["steps"] if refine else 0,
               "lr": refine["lr"] if refine else 0.0,
               "ms_per_face": per_face, **r}
        rows.append(row)
        print(f"{'+'.join(row['free']) or 'encoder alone':28s} {row['steps']:5d} {row['lr']:6.3f} {r['swap_psnr_gain']:+8.2f} "
              f"{r['swap_psnr']:8.2f} {r['recon_psnr']:8.2f} {r['swap_expression_accuracy']:8.1%} "
              f"{r['swap_identity_kept']:8.1%} {per_face:8.1f}", flush=True)
    write_results({"checkpoint": args.checkpoint, "validation_set": VALIDATION, "pairs": args.pairs, "rows": rows,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv),
                   "when": timestamp()}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
