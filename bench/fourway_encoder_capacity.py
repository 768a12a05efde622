"""Can an encoder of synthetic-fourway's size read expression and pose from its faces at all?

    python bench/fourway_encoder_capacity.py [--epochs 12] [--channels 16 32 64 128] [--channels 32 64 128 256]
        [--identities 200 --per-identity 35]

The four-attribute model's expression head reads under half of its own *training* faces, and its
autoencoder's z holds pose hardly better than raw pixels (``bench/fourway_z_probe.py``). Either the
encoder is too small for faces turned up to 35° and rolled up to 15° (the recipe can then do little),
or the recipe spends the encoder on other things. This trains the fourway encoder's conv trunk
(``facelab.models.blocks.ConvTrunk``, the same strided convs), plain and supervised: a linear
expression classifier (cross-entropy) and a linear yaw/pitch/roll regression (ℓ1, degrees / 30, as the
fourway pose loss) on the generator set the bundled checkpoint was trained on (all 7,000 faces; the
checkpoint's run held 10 % of them out for its own validation; ``--identities``/``--per-identity``
train on another number of generator people and faces each), then scores it on the
validation people (``identity_seed=2``, never the test set). A trunk that reads expression well here
says the recipe, not the size, is what limits. Writes ``bench/results/fourway_encoder_capacity.json``.

``--sub-codes`` asks the same of the bar's own measure. The trunk ends in a linear layer to three sub-codes
of the bundle's sizes (pose 3, expression 32, style 32). Each is supervised plainly on its group's labels:
- z_pose: the pose ℓ1 above;
- z_expression: a linear expression classifier and a linear intensity regression;
- z_style: a linear regression of background, light and noise (standardised).
Then the evaluation's probe matrix (``facelab.metrics.probe_matrix``, linear probes on the validation
people's codes, normalised so chance is 0) reads every factor from every sub-code. There is no decoder, no
swap and no disentangling term, so the own readings are a ceiling for what the fourway recipe's sub-codes
can reach with this trunk and data (issue 11's bar: ≥ 0.9). ``--energy`` adds the first stage's per-channel
energy before its norm to what the sub-codes see: deeper trunks lost the pixel noise (synthetic-fourway's LIMITS).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import invocation, machine, timestamp, write_results  # noqa: E402
from torch import nn  # noqa: E402

TRAIN = dict(identities=200, per_identity=35, min_intensity=0.25, pose_range=35, roll_range=15)
VALIDATION = dict(identities=48, per_identity=28, identity_seed=2, seed=2, min_intensity=0.25, pose_range=35,
                  roll_range=15)
POSE_SCALE = 30.0  # degrees per unit, as the fourway method's pose_scale


def tensors(spec: dict, device: torch.device | str = "cpu") -> tuple:
    """Images, expression labels, (yaw, pitch, roll) in degrees and every generator label
    (:func:`facelab.synthetic.factor_labels`) of a generator set. The images stay uint8, (N, S, S, 3), on
    ``device`` (:func:`pixels` makes a batch of them the dataset's float images): 8,000 people in float32 would
    take 11 GB per run."""
    from facelab.synthetic import SyntheticFaces, factor_labels

    data = SyntheticFaces(**spec, with_neutral=False, progress=False)  # no neutral targets: nothing here reads them
    images = torch.from_numpy(data.images).to(device)
    labels = torch.as_tensor([f.expression for f in data.factors], device=device)
    factors = factor_labels(data.factors)
    pose = torch.as_tensor(np.asarray(factors["pose"], dtype=np.float32), device=device)
    return images, labels, pose, factors


def pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, S, S, 3) → float (B, 3, S, S) in [0, 1], as ``SyntheticFaces`` hands its images out."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def _fit(net: nn.Module, labels: torch.Tensor, epochs: int, batch_loss, name: str) -> float:
    """AdamW on a one-cycle schedule over shuffled batches of 64; ``batch_loss(indices)`` gives the loss
    and the expression logits. Returns the last epoch's training expression accuracy."""
    steps = epochs * -(-len(labels) // 64)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps)
    for epoch in range(epochs):
        net.train()
        seen = right = 0
        for idx in torch.randperm(len(labels), device=labels.device).split(64):
            loss, logits = batch_loss(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            right += int((logits.argmax(1) == labels[idx]).sum())
            seen += len(idx)
        print(f"  {name} epoch {epoch + 1}/{epochs}: training expression accuracy {right / seen:.3f}", flush=True)
    net.eval()
    return right / seen


SUB_CODES = {"pose": 3, "expression": 32, "style": 32}  # the bundled synthetic-fourway's sizes


def _style_scale(factors: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and spread of the style columns (background r, g, b, light, noise) on the training set."""
    style = torch.as_tensor(factors["style"])
    return style.mean(0), style.std(0).clamp_min(1e-6)


def train_sub_codes(channels: list[int], data: tuple, val: tuple, epochs: int, seed: int = 0, depth: int = 0,
                    energy: bool = False) -> dict:
    """The trunk into three sub-codes, each supervised on its own group's labels only, then the
    evaluation's probe matrix on the validation people's codes (module docstring). ``energy`` also hands the
    sub-code layer each first-stage channel's log mean square *before* its GroupNorm: a diagnosis of the pixel
    noise that deep trunks lose (the norms divide every later layer by its own per-image spread)."""
    from facelab import metrics
    from facelab.evaluate import PROBE_FACTORS
    from facelab.models.blocks import ConvTrunk
    from facelab.synthetic import GROUP_OF_FACTOR

    torch.manual_seed(seed)
    device = data[0].device
    trunk = ConvTrunk(tuple(channels), depth)
    side = channels[0] if energy else 0
    net = nn.ModuleDict({"trunk": trunk, "codes": nn.Linear(trunk.out_features + side, sum(SUB_CODES.values())),
                         "expression": nn.Linear(SUB_CODES["expression"], 7),
                         "intensity": nn.Linear(SUB_CODES["expression"], 1),
                         "style": nn.Linear(SUB_CODES["style"], 5)}).to(device)
    images, labels, pose, factors = data
    intensity = torch.as_tensor(factors["intensity"], device=device)
    mean, spread = _style_scale(factors)
    style = ((torch.as_tensor(factors["style"]) - mean) / spread).to(device)

    def features(x: torch.Tensor) -> torch.Tensor:
        x = pixels(x)
        if not energy:
            return trunk(x)
        first = trunk.conv[0](x)  # the first strided conv, before its norm
        level = first.pow(2).mean((2, 3)).add(1e-6).log()
        return torch.cat([trunk.conv[1:](first).flatten(1), level], dim=1)

    def split(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(SUB_CODES, net["codes"](features(x)).split(list(SUB_CODES.values()), dim=1)))

    def batch_loss(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = split(images[idx])
        logits = net["expression"](c["expression"])
        return (nn.functional.cross_entropy(logits, labels[idx])
                + (c["pose"] - pose[idx] / POSE_SCALE).abs().mean()
                + (net["intensity"](c["expression"]).squeeze(1) - intensity[idx]).abs().mean() * 4
                + (net["style"](c["style"]) - style[idx]).abs().mean()), logits

    start = time.perf_counter()
    trained = _fit(net, labels, epochs, batch_loss, f"{channels} sub-codes")

    def probes(images: torch.Tensor, factors: dict) -> dict:
        with torch.no_grad():
            parts = [split(x) for x in images.split(256)]
            codes = {a: torch.cat([p[a] for p in parts]).cpu().numpy() for a in SUB_CODES}
        return metrics.probe_matrix(codes, {k: factors[k] for k in PROBE_FACTORS if k != "identity"})

    def own_of(m: dict) -> dict[str, float]:
        return {f: float(m["normalised"][i, m["codes"].index(GROUP_OF_FACTOR[f])]) for i, f in enumerate(m["factors"])}

    m = probes(val[0], val[3])
    own = own_of(m)
    other = {f: float(max(m["normalised"][i, j] for j, a in enumerate(m["codes"]) if a != GROUP_OF_FACTOR[f]))
             for i, f in enumerate(m["factors"])}
    # the same probes on as many training faces (the first people): a gap to the validation people is what the
    # trunk learnt of its training people that does not carry over
    n = len(val[0])
    seen_own = own_of(probes(images[:n], {k: np.asarray(v)[:n] for k, v in factors.items()}))
    return {"channels": channels, "depth": depth, "epochs": epochs, "sub_codes": SUB_CODES, "energy": energy,
            "training_expression_accuracy": trained, "probe_own": own, "probe_other_max": other,
            "probe_own_training_people": seen_own,
            "probe_matrix": {"factors": m["factors"], "codes": m["codes"], "normalised": m["normalised"].tolist()},
            "parameters": sum(p.numel() for p in trunk.parameters()), "seconds": time.perf_counter() - start}


def train_and_score(channels: list[int], data: tuple, val: tuple, epochs: int, seed: int = 0, depth: int = 0) -> dict:
    from facelab.models.blocks import ConvTrunk

    torch.manual_seed(seed)
    trunk = ConvTrunk(tuple(channels), depth)
    net = nn.ModuleDict({"trunk": trunk, "expression": nn.Linear(trunk.out_features, 7),
                         "pose": nn.Linear(trunk.out_features, 3)}).to(data[0].device)
    images, labels, pose = data[:3]
    def batch_loss(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = trunk(pixels(images[idx]))
        logits = net["expression"](h)
        return nn.functional.cross_entropy(logits, labels[idx]) \
            + (net["pose"](h) - pose[idx] / POSE_SCALE).abs().mean(), logits

    start = time.perf_counter()
    trained = _fit(net, labels, epochs, batch_loss, str(channels))
    with torch.no_grad():
        h = torch.cat([trunk(pixels(x)) for x in val[0].split(256)])
        read = (net["expression"](h).argmax(1) == val[1]).float().mean().item()
        mae = ((net["pose"](h) * POSE_SCALE - val[2]).abs().mean(0)).tolist()
    return {"channels": channels, "depth": depth, "epochs": epochs, "training_expression_accuracy": trained,
            "validation_expression_accuracy": read, "validation_pose_mae_degrees": dict(zip(("yaw", "pitch", "roll"), mae)),
            "parameters": sum(p.numel() for p in trunk.parameters()), "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--channels", type=int, nargs="+", action="append",
                   help="a trunk's channels per stage (repeatable; default: 16 32 64 128, the bundled fourway's)")
    p.add_argument("--identities", type=int, default=TRAIN["identities"],
                   help="generator people in the training set: does more data, not a wider trunk, lift it?")
    p.add_argument("--per-identity", type=int, default=TRAIN["per_identity"], help="faces per person")
    p.add_argument("--depth", type=int, default=0,
                   help="extra 3×3 convs per stage (the fourway option encoder_depth; default 0, the bundle's)")
    p.add_argument("--sub-codes", action="store_true",
                   help="end the trunk in pose/expression/style sub-codes and score them with the evaluation's "
                        "probe matrix (the ceiling of issue 11's own-reading bar; module docstring)")
    p.add_argument("--energy", action="store_true",
                   help="with --sub-codes: also give the sub-code layer the first stage's per-channel log energy "
                        "before its norm (does the pixel noise that deep trunks lose come back?)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto", help="cpu, cuda, … (default: cuda where there is one, else cpu)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fourway_encoder_capacity.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    train_spec = {**TRAIN, "identities": args.identities, "per_identity": args.per_identity}
    device = torch.device(args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu")
    data, val = tensors(train_spec, device), tensors(VALIDATION, device)
    majority = float(np.bincount(val[1].cpu().numpy()).max() / len(val[1]))
    channels = args.channels or [[16, 32, 64, 128]]
    if args.sub_codes:
        rows = [train_sub_codes(c, data, val, args.epochs, depth=args.depth, energy=args.energy) for c in channels]
        factors = list(rows[0]["probe_own"])
        print(f"\nown sub-code reading (normalised; chance 0), validation people\n{'trunk channels':22s} "
              + " ".join(f"{f:>10s}" for f in factors) + f" {'other max':>10s} {'s':>6s}")
        for r in rows:
            print(f"{'-'.join(map(str, r['channels'])):22s} " + " ".join(f"{r['probe_own'][f]:10.3f}" for f in factors)
                  + f" {max(r['probe_other_max'].values()):10.3f} {r['seconds']:6.0f}")
            print(f"{'  on training people':22s} " + " ".join(f"{r['probe_own_training_people'][f]:10.3f}" for f in factors))
        write_results({"training_set": train_spec, "validation_set": VALIDATION, "mode": "sub-codes", "rows": rows,
                       "device": str(device), "machine": machine(load_before, os.getloadavg()), "command": invocation(argv),
                       "when": timestamp()}, args.out)
        return 0
    rows = [train_and_score(c, data, val, args.epochs, depth=args.depth) for c in channels]
    print(f"\n{'trunk channels':22s} {'params':>9s} {'train expr':>11s} {'val expr':>9s} {'yaw °':>6s} "
          f"{'pitch °':>8s} {'roll °':>7s} {'s':>6s}")
    for r in rows:
        m = r["validation_pose_mae_degrees"]
        print(f"{'-'.join(map(str, r['channels'])):22s} {r['parameters']:9d} {r['training_expression_accuracy']:11.3f} "
              f"{r['validation_expression_accuracy']:9.3f} {m['yaw']:6.2f} {m['pitch']:8.2f} {m['roll']:7.2f} "
              f"{r['seconds']:6.0f}")
    print(f"majority class on validation: {majority:.3f}")
    write_results({"training_set": train_spec, "validation_set": VALIDATION, "majority": majority, "rows": rows,
                   "device": str(device), "machine": machine(load_before, os.getloadavg()), "command": invocation(argv), "when": timestamp()},
                  args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
