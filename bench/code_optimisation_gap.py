"""Is a model's reconstruction error its decoder's or its encoders'? (the amortisation gap)

    python bench/code_optimisation_gap.py --checkpoint checkpoints/swap-synthetic [--faces 64] [--steps 200]

On new generator people (the validation set the cards use for choices, never the test set) it
encodes each face, then, with the decoder fixed, optimises the code itself (Adam on the pixels'
squared error) starting from the encoder's: every sub-code free, then one sub-code at a time. If the
optimised codes reconstruct much better, the decoder can draw the face and the encoders miss the code
that makes it do so; if not, the decoder is what limits. Errors are given against the face as
rendered (with the generator's pixel noise, which no code can hold) and against the same face
rendered without noise. It also decodes each face with its person's mean identity code, to say how
much of a face's own look the identity code carries. Writes ``bench/results/code_optimisation_gap.json``.
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

import facelab  # noqa: E402

VALIDATION = dict(identities=48, per_identity=28, identity_seed=2, seed=2, min_intensity=0.25)


def psnr(mse: float) -> float:
    return float(10 * np.log10(1.0 / mse))


def main(argv: list[str] | None = None) -> int:
    from facelab.face_model import join_codes
    from facelab.synthetic import SyntheticFaces, render_batch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="checkpoints/swap-synthetic")
    p.add_argument("--faces", type=int, default=64, help="faces optimised (spread over the validation people)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "code_optimisation_gap.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = os.getloadavg()
    model = facelab.load(args.checkpoint, device="cpu")
    size, order = model.config.image_size, model.config.latents
    data = SyntheticFaces(**VALIDATION, size=size, progress=False)
    factors = data.factors
    people = np.array([f.identity for f in factors])

    def render(fs) -> torch.Tensor:
        return torch.as_tensor(render_batch(list(fs), size).transpose(0, 3, 1, 2).astype(np.float32) / 255)

    every = render(factors)
    codes = {a: np.concatenate([c[a] for c in (model.encode_tensor(x) for x in every.split(256))]) for a in order}
    own = torch.cat([model.decode_tensor(join_codes({a: codes[a][i:i + 256] for a in order}, order))
                     for i in range(0, len(every), 256)])
    rows = {"encoder, all faces": {"mse": float(((own - every) ** 2).mean())}}
    if "identity" in codes:  # each face with its person's mean identity code
        mean = codes["identity"].copy()
        for person in np.unique(people):
            mean[people == person] = codes["identity"][people == person].mean(0)
        swapped = torch.cat([model.decode_tensor(join_codes({**{a: codes[a][i:i + 256] for a in order},
                                                            "identity": mean[i:i + 256]}, order))
                             for i in range(0, len(every), 256)])
        rows["person's mean identity code, all faces"] = {"mse": float(((swapped - every) ** 2).mean())}

    pick = np.linspace(0, len(factors) - 1, args.faces).round().astype(int)
    x = every[pick]
    clean = render(factors[i].replace(noise=0.0) for i in pick)
    start = torch.as_tensor(join_codes({a: codes[a][pick] for a in order}, order))
    slices, at = {}, 0
    for a, d in order.items():
        slices[a], at = slice(at, at + d), at + d
    net = model.network.eval()
    for param in net.parameters():
        param.requires_grad_(False)

    def scored(name: str, z: torch.Tensor, moved: dict | None = None) -> None:
        with torch.no_grad():
            out = net.decode(z)
        rows[name] = {"mse": float(((out - x) ** 2).mean()), "mse_without_noise": float(((out - clean) ** 2).mean()),
                      **({"moved": moved} if moved else {})}

    scored("encoder", start)
    spread = start.std(0)
    for free in ([*order], *([a] for a in order)):
        mask = torch.zeros_like(start)
        for a in free:
            mask[:, slices[a]] = 1
        delta = torch.zeros_like(start, requires_grad=True)
        opt = torch.optim.Adam([delta], lr=args.lr)
        for _ in range(args.steps):
            loss = ((net.decode(start + delta * mask) - x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        step = (delta * mask).detach()
        # how far each sub-code moved, per face, in units of that sub-code's spread over the faces
        moved = {a: float(step[:, slices[a]].norm(dim=1).mean() / spread[slices[a]].norm()) for a in order}
        scored(f"optimised: {' + '.join(free)}", start + step, moved)
        print(f"  optimised {' + '.join(free)}", flush=True)

    noise = float(((x - clean) ** 2).mean())
    print(f"\n{args.checkpoint}: {len(pick)} validation faces, {args.steps} Adam steps on the code (decoder fixed)")
    print(f"{'codes':45s} {'MSE':>10s} {'PSNR':>7s} {'MSE w/o noise':>14s} {'PSNR':>7s}")
    for name, r in rows.items():
        clean_part = f"{r['mse_without_noise']:14.2e} {psnr(r['mse_without_noise']):7.2f}" if "mse_without_noise" in r else ""
        print(f"{name:45s} {r['mse']:10.2e} {psnr(r['mse']):7.2f} {clean_part}")
    print(f"{'the generator pixel noise itself':45s} {noise:10.2e} {psnr(noise):7.2f}")
    write_results({"checkpoint": args.checkpoint, "validation_set": VALIDATION, "faces": len(pick),
                   "steps": args.steps, "lr": args.lr, "rows": rows, "pixel_noise_mse": noise,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv), "when": timestamp()},
                  args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
