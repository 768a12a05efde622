"""How good must reconstructions be before a swap can beat "A unchanged" by 2 dB? (issue 10's bar)

    python bench/swap_gain_ceiling.py [--data SPEC] [--pairs 256] [--out bench/results/swap_gain_ceiling.json]

On generator people (``train.evaluate``'s held-out set by default) it draws the same A/B pairs
``facelab.evaluate.swap_fidelity`` scores and renders, exactly, A, and A with B's expression
(the swap's true target). ``D`` = MSE between the two is what a perfect swap gains over leaving
A unchanged. A model whose reconstructions carry an error ``e`` (MSE) on top scores about
``10 log10((e + D) / e)`` dB of swap gain on each pair (the two errors add when independent), so
the script solves for the largest ``e``, one for all pairs, whose mean gain reaches ``--gain`` dB
and prints it as a reconstruction PSNR. That is a lower bound: a blurry decoder's error is not
independent of the expression change (blur removes part of the mouth and eyes from both A's
reconstruction and the swap), so a real model needs sharper reconstructions than this for the
same gain (``swap_fidelity`` measures the real gain). It also reports the generator's own pixel-noise MSE, a
floor no model can reconstruct below on new faces (the noise pattern is random per face).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np
from common import invocation, timestamp, write_results

from facelab import datasets
from facelab.evaluate import swap_pair_indices
from facelab.synthetic import render_batch


def mean_gain(e: float, d: np.ndarray) -> float:
    return float(np.mean(10 * np.log10((e + d) / e)))


def main(argv=None) -> dict:
    from train.evaluate import HELD_OUT_SYNTHETIC

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=HELD_OUT_SYNTHETIC)
    p.add_argument("--pairs", type=int, default=256)
    p.add_argument("--gain", type=float, default=2.0, help="swap gain to reach (dB)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench/results/swap_gain_ceiling.json")
    args = p.parse_args(argv)

    dataset = datasets.load(args.data, size=64, progress=False)
    fa_idx, fb_idx = swap_pair_indices(dataset.factors, args.pairs, np.random.default_rng(args.seed))
    fa = [dataset.factors[i] for i in fa_idx]
    fb = [dataset.factors[i] for i in fb_idx]
    changed = np.array([a.expression != b.expression or abs(a.intensity - b.intensity) > 0.3 for a, b in zip(fa, fb)])
    fa = [a for a, c in zip(fa, changed) if c]
    fb = [b for b, c in zip(fb, changed) if c]
    a = render_batch(fa, 64).astype(np.float64) / 255
    target = render_batch([x.replace(expression=y.expression, intensity=y.intensity) for x, y in zip(fa, fb)], 64)
    d = np.mean((a - target.astype(np.float64) / 255) ** 2, axis=(1, 2, 3))
    clean = render_batch([x.replace(noise=0.0) for x in fa], 64).astype(np.float64) / 255
    noise = np.mean((a - clean) ** 2, axis=(1, 2, 3))
    lo, hi = 1e-7, 1.0  # bisect on log e: mean_gain falls as e grows
    for _ in range(100):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if mean_gain(mid, d) >= args.gain else (lo, mid)
    result = {
        "data": args.data, "pairs": int(changed.sum()), "gain_db": args.gain,
        "perfect_noswap_psnr_db": float(np.mean(10 * np.log10(1 / d))),
        "expression_change_mse_mean": float(d.mean()),
        "largest_reconstruction_mse": lo, "needed_reconstruction_psnr_db": float(10 * np.log10(1 / lo)),
        "pixel_noise_mse_mean": float(noise.mean()), "pixel_noise_psnr_db": float(np.mean(10 * np.log10(1 / np.maximum(noise, 1e-10)))),
        "command": "python bench/" + invocation(argv), "when": timestamp(),
    }
    print(f"{result['pairs']} pairs of {args.data}")
    print(f"A's true render vs the swap's true target: MSE {d.mean():.2e}, {result['perfect_noswap_psnr_db']:.2f} dB")
    print(f"a swap gain of {args.gain} dB needs reconstruction error <= {lo:.2e} MSE, i.e. >= "
          f"{result['needed_reconstruction_psnr_db']:.2f} dB at best (uniform, independent error)")
    print(f"the generator's pixel noise alone: MSE {noise.mean():.2e} ({result['pixel_noise_psnr_db']:.2f} dB)")
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
