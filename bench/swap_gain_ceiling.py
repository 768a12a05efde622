"""How good must reconstructions be before a swap can beat "A unchanged" by 2 dB? (issue 10's bar)

    python bench/swap_gain_ceiling.py [--data SPEC] [--pairs 256] [--out bench/results/swap_gain_ceiling.json]
    python bench/swap_gain_ceiling.py --checkpoint checkpoints/swap-synthetic --out bench/results/swap_gain_split.json

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

With ``--checkpoint`` it also splits that model's swap and no-swap errors between the pixels the
expression change touches (where A's true render and the target differ) and the rest. The error
outside is shared by the swap and by A unchanged, so it caps the gain: ``gain_if_changed_pixels_perfect``
is what the swap would gain if it drew the changed pixels exactly and left the rest as it is. Below
the bar, that says whether the missing gain is in the swapped mouth and brows or in everything else.
Two more decodes say where a swapped mouth's error comes from: ``own_code`` is A's codes with the
expression code of the target itself (A truly wearing B's expression), ``target_reconstructed`` the
target encoded and decoded whole. If the swap's error on the changed pixels is close to
``own_code``'s, B's expression code carries over fine and the decoder is what limits; if it is far
above, the expression code holds something of B that does not transfer. Last, it says how much of
the swap's error on the changed pixels, and of A unchanged's on the rest, lies in boxes around the
eyes and around the mouth (from the generator's landmarks): where a sharper decoder must draw.
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
from facelab.synthetic import landmarks, render_batch


def mean_gain(e: float, d: np.ndarray) -> float:
    return float(np.mean(10 * np.log10((e + d) / e)))


def split_by_region(checkpoint: str, fa, fb, threads: int = 0) -> dict:
    """The model's swap (A's codes with B's expression) and A unchanged against the target: squared
    error summed over the changed pixels and over the rest, each divided by all pixels, so the two
    parts add up to the MSE."""
    import torch

    import facelab
    from facelab.face_model import join_codes

    if threads:
        torch.set_num_threads(threads)
    model = facelab.load(checkpoint)
    size = model.config.image_size
    a, b = (render_batch(f, size).astype(np.float64) / 255 for f in (fa, fb))
    target = render_batch([x.replace(expression=y.expression, intensity=y.intensity) for x, y in zip(fa, fb)], size)
    target = target.astype(np.float64) / 255
    xa, xb, xt = (torch.as_tensor(v.transpose(0, 3, 1, 2), dtype=torch.float32) for v in (a, b, target))
    ca, cb, ct = model.encode_tensor(xa), model.encode_tensor(xb), model.encode_tensor(xt)
    order = model.config.latents

    def decoded(codes):
        return model.decode_tensor(join_codes(codes, order)).numpy().transpose(0, 2, 3, 1)

    swap, same = decoded({**ca, "expression": cb["expression"]}), decoded(ca)
    own_code, whole = decoded({**ca, "expression": ct["expression"]}), decoded(ct)
    changed = (np.abs(a - target).max(axis=3, keepdims=True) > 1.5 / 255).astype(np.float64)
    pixels = a[0].size

    def parts(out):
        err = (out - target) ** 2
        inside = (err * changed).sum(axis=(1, 2, 3)) / pixels
        return inside, err.sum(axis=(1, 2, 3)) / pixels - inside

    # where the error lies: boxes around the eyes and the mouth, from the generator's own landmarks
    # (±6 × ±4 px around each eye centre, the mouth corners ±4 px, at 64 px)
    eyes, mouth = np.zeros(changed.shape, bool), np.zeros(changed.shape, bool)
    px = size / 64
    for i, f in enumerate(fa):
        pts = landmarks(f, size)
        for x, y in pts[:2]:
            _fill(eyes[i], x, y, 6 * px, 4 * px)
        (x0, y0), (x1, y1) = pts[3], pts[4]
        _fill(mouth[i], (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2 + 4 * px, 4 * px)

    def shares(err):  # of this error, the parts in the eye boxes and in the mouth box (outside the eyes)
        return float((err * eyes).sum() / err.sum()), float((err * (mouth & ~eyes)).sum() / err.sum())

    swap_eyes, swap_mouth = shares((swap - target) ** 2 * changed)
    rest_eyes, rest_mouth = shares((same - target) ** 2 * (1 - changed))
    s_in, s_out = parts(swap)
    n_in, n_out = parts(same)
    o_in, o_out = parts(own_code)
    t_in, t_out = parts(whole)
    psnr = lambda mse: float(np.mean(10 * np.log10(1 / mse)))  # noqa: E731 (per pair, then averaged, as metrics does)
    split = {
        "changed_pixel_fraction": float(changed.mean()),
        "swap_mse_changed": float(s_in.mean()), "swap_mse_rest": float(s_out.mean()),
        "noswap_mse_changed": float(n_in.mean()), "noswap_mse_rest": float(n_out.mean()),
        "swap_psnr_db": psnr(s_in + s_out), "noswap_psnr_db": psnr(n_in + n_out),
        "gain_db": psnr(s_in + s_out) - psnr(n_in + n_out),
        "gain_if_changed_pixels_perfect_db": psnr(s_out) - psnr(n_in + n_out),
        "own_code_mse_changed": float(o_in.mean()), "own_code_mse_rest": float(o_out.mean()),
        "target_reconstructed_mse_changed": float(t_in.mean()), "target_reconstructed_mse_rest": float(t_out.mean()),
        "own_code_gain_db": psnr(o_in + o_out) - psnr(n_in + n_out),
        "eye_box_fraction": float(eyes.mean()), "mouth_box_fraction": float(mouth.mean()),
        "swap_changed_share_eyes": swap_eyes, "swap_changed_share_mouth": swap_mouth,
        "noswap_rest_share_eyes": rest_eyes, "noswap_rest_share_mouth": rest_mouth,
    }
    print(f"{checkpoint}: {split['changed_pixel_fraction']:.1%} of pixels change with the expression")
    print(f"  MSE on them: swap {split['swap_mse_changed']:.2e}, A unchanged {split['noswap_mse_changed']:.2e}; "
          f"on the rest: swap {split['swap_mse_rest']:.2e}, A unchanged {split['noswap_mse_rest']:.2e}")
    print(f"  gain {split['gain_db']:+.2f} dB; {split['gain_if_changed_pixels_perfect_db']:+.2f} dB if the swap "
          "drew the changed pixels exactly")
    print(f"  with the target's own expression code instead of B's: MSE {split['own_code_mse_changed']:.2e} changed, "
          f"{split['own_code_mse_rest']:.2e} rest (gain {split['own_code_gain_db']:+.2f} dB); the target "
          f"reconstructed: {split['target_reconstructed_mse_changed']:.2e} changed, "
          f"{split['target_reconstructed_mse_rest']:.2e} rest")
    print(f"  around the eyes ({split['eye_box_fraction']:.1%} of pixels) and the mouth "
          f"({split['mouth_box_fraction']:.1%}): {swap_eyes:.0%} and {swap_mouth:.0%} of the swap's error on the "
          f"changed pixels, {rest_eyes:.0%} and {rest_mouth:.0%} of A unchanged's on the rest")
    return split


def _fill(mask: np.ndarray, x: float, y: float, half_w: float, half_h: float) -> None:
    """Set the pixels of ``mask`` (H, W, 1) whose centres lie in the box around (x, y)."""
    h, w = mask.shape[:2]
    cols = (np.arange(w) + 0.5 >= x - half_w) & (np.arange(w) + 0.5 <= x + half_w)
    rows = (np.arange(h) + 0.5 >= y - half_h) & (np.arange(h) + 0.5 <= y + half_h)
    mask[np.ix_(rows, cols)] = True


def main(argv=None) -> dict:
    from train.evaluate import HELD_OUT_SYNTHETIC

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=HELD_OUT_SYNTHETIC)
    p.add_argument("--pairs", type=int, default=256)
    p.add_argument("--gain", type=float, default=2.0, help="swap gain to reach (dB)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="also split this model's swap and no-swap errors by region")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
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
    if args.checkpoint:
        result["checkpoint"] = args.checkpoint
        result.update(split_by_region(args.checkpoint, fa, fb, args.threads))
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
