"""Train every registered method on the same synthetic split and compare them on new people.

    python -m train.compare --threads 2                          # every method, 12 epochs each
    python -m train.compare --methods disvae swap --epochs 12 --save-dir checkpoints
    python -m train.compare --data synthetic:identities=4,per_identity=7 --max-steps 2 --channels 8 16 16 16

A fair comparison holds everything but the method fixed: the same training images, the same
architecture (``--channels``, ``--latents``, fusion width), batch size, learning rate and seed, and
the same image budget: ``--epochs N`` passes over the data for every method, set through its epoch
options (two-stage DisVAE: ``identity_epochs = N // 3``, ``disvae_epochs = N - N // 3``; every
other method's ``epochs = N``); other options stay at the method's defaults. Each model is then
scored on people no method trained on (``train.evaluate``'s held-out synthetic set) with the
functions the model cards use (:func:`~facelab.evaluate.representation_scores`,
:func:`~facelab.evaluate.swap_fidelity`). Prints one table, one row per method, and writes JSON
(``--out``): the command, settings, and per method its options, times and every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from facelab import datasets
from facelab.checkpoint import save_checkpoint
from facelab.config import ModelConfig, TrainConfig
from facelab.evaluate import encode_dataset, representation_scores, swap_fidelity, synthetic_view
from facelab.face_model import FaceModel
from facelab.methods import METHODS, get_method
from facelab.training import final_losses, resolve_device, train

from .cli import parse_latents
from .evaluate import HELD_OUT_SYNTHETIC, _jsonable, epoch_fields, split_epochs, write_json

TRAIN_DATA = "synthetic:identities=200,per_identity=35,min_intensity=0.25"
# DisVAE: a third of the passes pre-train z_id; the swap method's teacher warm-up needs dlib's teacher, off here
EPOCH_WEIGHTS = {"identity_epochs": 1, "disvae_epochs": 2, "teacher_warmup_epochs": 0}
COLUMNS = [  # (figure key, header, format)
    ("expression_accuracy", "expr acc", "{:.1%}"),
    ("leakage_accuracy", "leakage", "{:.1%}"),
    ("majority_rate", "chance", "{:.1%}"),
    ("identity_auc", "id AUC", "{:.3f}"),
    ("identity_top1", "id top-1", "{:.1%}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("swap_expression_accuracy", "swap expr", "{:.1%}"),
    ("swap_identity_kept", "swap id kept", "{:.1%}"),
    ("swap_psnr", "swap PSNR", "{:.2f}"),
    ("noswap_psnr", "no-swap PSNR", "{:.2f}"),
    ("train_time_s", "train s", "{:.1f}"),
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                   help="methods to train (default: every registered one, in registration order)")
    p.add_argument("--epochs", type=int, default=12,
                   help="passes over the training data per method (default 12: sized so that every method together trains in under an hour on 2 CPU cores)")
    p.add_argument("--data", default=TRAIN_DATA, help=f"training set (default {TRAIN_DATA})")
    p.add_argument("--eval-data", default=HELD_OUT_SYNTHETIC, help="held-out people to score on (default: "
                   "train.evaluate's held-out synthetic set)")
    p.add_argument("--max-steps", type=int, default=None, help="at most this many steps per stage (smoke runs)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128], help="conv channels per stage")
    p.add_argument("--latents", nargs="+", default=["identity=32", "expression=16"], metavar="NAME=SIZE",
                   help="named sub-codes and sizes, shared by every method (default identity=32 expression=16)")
    p.add_argument("--fusion-dim", type=int, default=256)
    p.add_argument("--swap-pairs", type=int, default=256, help="(A, B) pairs for the swap figures")
    p.add_argument("--seed", type=int, default=0, help="training, probe and pair-sampling seed")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--save-dir", default=None, metavar="DIR",
                   help="also save each trained model as DIR/<method>-synthetic/ (evaluate it with train.evaluate)")
    p.add_argument("--out", default="bench/results/compare.json", help="JSON file (default bench/results/compare.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def method_config(method: str, args) -> ModelConfig:
    """The shared architecture with ``method``'s default options and ``args.epochs`` passes over the data."""
    options = get_method(method).options()
    weights = {f: EPOCH_WEIGHTS.get(f, 1) for f in epoch_fields(options)}
    return ModelConfig(method=method, channels=tuple(args.channels), latents=parse_latents(args.latents),
                       fusion_dim=args.fusion_dim, options=split_epochs(options, args.epochs, weights, minimum=0))


def _cell(value, fmt: str) -> str:
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return fmt.format(value)


def table(results: dict) -> str:
    """One row per method, one column per headline figure (leakage next to its chance level)."""
    header = ["method", *(h for _, h, _ in COLUMNS)]
    rows = [[name, *(_cell(r["figures"].get(k, r.get(k)), f) for k, _, f in COLUMNS)] for name, r in results.items()]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m train.compare " + shlex.join(argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M")
    configs = {m: method_config(m, args) for m in args.methods}  # fail on a bad setting before any training
    train_set = datasets.load([args.data], progress=not args.quiet)
    eval_set = datasets.load([args.eval_data], progress=not args.quiet)
    view = synthetic_view(eval_set)
    device = resolve_device()
    train_config = TrainConfig(data=(args.data,), batch_size=args.batch_size, max_steps=args.max_steps, seed=args.seed)
    results = {}
    for name in tqdm(args.methods, desc="methods", unit="method", disable=args.quiet, dynamic_ncols=True):
        model_config = configs[name]
        network, history = train(train_set, model_config, train_config, progress=not args.quiet)
        t1 = time.perf_counter()
        model = FaceModel(network.to(device).eval(), model_config, train_config, device=device)
        figures = representation_scores(model, encode_dataset(model, eval_set, progress=not args.quiet), seed=args.seed)
        if view is not None:
            figures.update(swap_fidelity(model, view, n_pairs=args.swap_pairs, seed=args.seed))
        results[name] = {
            "options": dataclasses.asdict(model_config.options),
            "stage_epochs": {f: getattr(model_config.options, f) for f in epoch_fields(model_config.options)},
            "train_time_s": round(history["wall_time_s"], 1),
            "eval_time_s": round(time.perf_counter() - t1, 1),
            "device": history["device"],
            "final_losses": final_losses(history),
            "figures": figures,
        }
        if args.save_dir:
            directory = save_checkpoint(Path(args.save_dir) / f"{name}-synthetic", network.cpu(), model_config,
                                        train_config)
            run = {"command": command, "started": started,
                   "wall_time_s": results[name]["train_time_s"], "device": history["device"],
                   "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                   "images": len(train_set)}
            (directory / "training_run.json").write_text(json.dumps(run, indent=2) + "\n")
            results[name]["checkpoint"] = str(directory)
        tqdm.write(f"{name}: trained {results[name]['train_time_s']} s, evaluated {results[name]['eval_time_s']} s")

    capped = f" (at most {args.max_steps} steps per stage)" if args.max_steps else ""
    print(f"\n{len(train_set)} training images ({args.data}), {args.epochs} epochs per method{capped}; "
          f"scored on {len(eval_set)} images of new people ({args.eval_data})")
    print(table(results))
    report = {
        "command": command, "started": started, "data": args.data, "eval_data": args.eval_data,
        "epochs": args.epochs, "train_images": len(train_set), "eval_images": len(eval_set),
        "architecture": {"channels": list(args.channels), "latents": parse_latents(args.latents),
                         "fusion_dim": args.fusion_dim},
        "training": _jsonable(train_config.to_dict()), "swap_pairs": args.swap_pairs,
        "methods": _jsonable(results),
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
    }
    write_json(Path(args.out), report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
