"""Where bf16 autocast changes the fourway joint step: each loss term and each module's gradient, bf16 against fp32.

    python train/jobs/fourway_bf16_gradients.py CHECKPOINT [--batches 12] [--people 200]

From CHECKPOINT's weights (e.g. step 2 of a bf16 run, runs/fw40/long/synthetic-fourway) and its joint-stage
options, two copies of the joint loss (each with its own running readouts, probes and person means) are fed the same
generator batches, one in fp32 and one under CPU bf16 autocast, as train/fit.py steps them; no weights change. After
``--batches`` batches have filled the running state, it prints for the next batches each term's value in both and,
per term and per module (encoder, Φ, Φ⁻¹, heads, generator), the cosine between the two gradients (terms unweighted;
the whole loss as trained). A cosine near 1 says bf16 rounds that part harmlessly; a low one says much of the step
there is rounding.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from facelab.checkpoint import load_checkpoint  # noqa: E402
from facelab.methods import get_method  # noqa: E402
from facelab.methods.fourway import joint_loss  # noqa: E402
from facelab.synthetic import SyntheticFaces  # noqa: E402
from facelab.training import EpochBatches, label_remap, to_device  # noqa: E402

MODULES = ("encoder", "phi", "phi_inv", "heads", "generator")


def gradients(net, loss) -> dict[str, torch.Tensor]:
    net.zero_grad(set_to_none=True)
    loss.float().backward(retain_graph=True)
    out = {}
    for m in MODULES:
        grads = [p.grad.flatten() for p in getattr(net, m).parameters() if p.grad is not None]
        out[m] = torch.cat(grads) if grads else torch.zeros(1)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--batches", type=int, default=12, help="batches that fill the running state first")
    p.add_argument("--measure", type=int, default=4, help="batches measured after them")
    p.add_argument("--people", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, config, train_config, _ = load_checkpoint(args.checkpoint)
    net.train().requires_grad_(True)
    o = config.options
    method = get_method(config.method)
    faces = SyntheticFaces(identities=args.people, per_identity=8, size=config.image_size, seed=7, identity_seed=7,
                           min_intensity=0.25, pose_range=35, roll_range=15, progress=False)
    data = method.prepare_data(faces, config)
    gen = torch.Generator().manual_seed(0)
    tc = dataclasses.replace(train_config, device="cpu")
    batches = EpochBatches(data, tc, gen, method.batch_sampler(data, config, tc, gen))
    remap = label_remap(config.expressions)
    losses = {"fp32": joint_loss(o), "bf16": joint_loss(o)}
    rows, cosines = {}, {}
    for i, batch in enumerate(batches.loader(batches.epoch(0), 0)):
        if i >= args.batches + args.measure:
            break
        batch = to_device(batch, torch.device("cpu"), remap)
        grads = {}
        for name, loss in losses.items():
            torch.manual_seed(1000 + i)  # the same drawn cycle attributes, swaps and priors in both
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=name == "bf16"):
                terms = loss(net, batch)
            if i < args.batches:
                continue
            for k, v in terms.items():
                rows.setdefault(k, {}).setdefault(name, []).append(float(v.detach().float()))
            grads[name] = {k: gradients(net, v) for k, v in terms.items() if v.requires_grad}
        if i >= args.batches:
            for part in grads["fp32"]:
                for m in MODULES:
                    a, b = grads["fp32"][part][m], grads["bf16"][part][m]
                    c = float(torch.nn.functional.cosine_similarity(a, b, dim=0)) if a.norm() > 0 else float("nan")
                    cosines.setdefault((part, m), []).append(c)
        print(f"batch {i + 1}/{args.batches + args.measure}", file=sys.stderr, flush=True)
    mean = lambda v: sum(v) / len(v)
    print(f"{args.checkpoint}: {args.measure} batches after {args.batches}, {args.people} generator people (identity seed 7: neither the test nor the validation people)")
    print(f"{'term':36s} {'fp32':>10s} {'bf16':>10s}")
    for k, v in rows.items():
        print(f"{k:36s} {mean(v['fp32']):10.4f} {mean(v['bf16']):10.4f}")
    print("\ncosine(fp32 gradient, bf16 gradient) per term and module, mean over the measured batches (- : no gradient)")
    print(f"{'term':36s}" + "".join(f"{m:>10s}" for m in MODULES))
    for k in rows:
        if (k, MODULES[0]) in cosines:
            cells = [mean(cosines[(k, m)]) for m in MODULES]
            print(f"{k:36s}" + "".join(f"{c:10.3f}" if c == c else f"{'-':>10s}" for c in cells))


if __name__ == "__main__":
    main()
