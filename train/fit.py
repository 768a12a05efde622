"""Train a checkpoint with any registered method (``--method``; its options become flags).

    python -m train --method swap --name synthetic-swap --data synthetic:identities=160,per_identity=42
    python -m train --method adversarial --help       # that method's options

Writes ``checkpoints/<name>/`` (weights, config, a provisional card) and TensorBoard logs under
``runs/<name>/``; the training state is saved every ``--save-every`` steps under ``runs/<name>/state``,
and the same command with ``--resume`` continues a killed run from there. Under
``torchrun --nproc_per_node N -m train ...`` it trains data-parallel (see facelab/distributed.py). Run ``python -m train.evaluate --checkpoint checkpoints/<name> --card`` next to
fill the card with measured figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from facelab import datasets, distributed
from facelab.align import AlignConfig
from facelab.checkpoint import save_checkpoint
from facelab.config import ConfigError, ModelConfig, TrainConfig
from facelab.methods import METHODS, get_method
from facelab.train_state import ResumeError
from facelab.training import final_losses, train

from .cli import add_dataclass_args, dataclass_from_args, given, parse_latents


DEFAULT_LATENTS = {"identity": 16, "expression": 8}


_IMPORTED = time.perf_counter()


def process_seconds() -> float:
    """Seconds since this process began: what a user waits for, start-up, data and rendering included
    (the run's ``wall_time_s`` counts from the first stage's set-up). From ``/proc`` where there is one,
    else since this module was imported."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        began = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in clock ticks after boot
        return float(Path("/proc/uptime").read_text().split()[0]) - began
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


def parse_args(argv=None, method: str | None = None) -> argparse.Namespace:
    """Two passes: ``--method`` first, then that method's own options become flags too."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--method", default=method or "disvae", choices=sorted(METHODS))
    chosen = first.parse_known_args(argv)[0].method
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default=chosen, choices=sorted(METHODS),
                   help="training method (its options below follow it; see `--method NAME --help`)")
    p.add_argument("--name", default=None, help="checkpoint name (directory under --out; default synthetic-METHOD)")
    p.add_argument("--out", default="checkpoints", help="parent directory of the checkpoint")
    p.add_argument("--logs", "--tensorboard", dest="logs", default="runs",
                   help="TensorBoard log directory ('' to disable; spell it --tensorboard under torchrun, "
                        "whose own --logs-specs flag takes --logs)")
    p.add_argument("--image-size", type=int, default=64, choices=(64, 128))
    p.add_argument("--latents", nargs="+", default=None, metavar="NAME=SIZE",
                   help="named sub-codes and sizes, in code order (default: identity=16 expression=8)")
    p.add_argument("--identity-dim", type=int, default=None, help=argparse.SUPPRESS)  # older spelling of --latents
    p.add_argument("--expression-dim", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--channels", type=int, nargs="+", default=None,
                   help="conv channels per stage (default 16 32 64 128 at 64 px, plus 128 at 128 px)")
    p.add_argument("--fusion-dim", type=int, default=None, help="width of the fusion layer (default 256)")
    p.add_argument("--init", default=None,
                   help="checkpoint to fine-tune from (same architecture, or with new sub-codes appended by "
                        "--latents; DisVAE skips stage 1)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run from its last saved state (same command otherwise; see --save-every)")
    p.add_argument("--state-dir", default=None,
                   help="where the training state is saved for --resume (default: runs/NAME/state)")
    add_dataclass_args(p.add_argument_group("training"), TrainConfig)
    add_dataclass_args(p.add_argument_group(f"{chosen} options"), get_method(chosen).options)
    return p.parse_args(argv)


def _latents(args) -> dict[str, int]:
    latents = parse_latents(args.latents) or dict(DEFAULT_LATENTS)
    for name, size in (("identity", args.identity_dim), ("expression", args.expression_dim)):
        if size is not None:
            latents[name] = size
    return latents


def main(argv=None, method: str | None = None, program: str = "train") -> Path | None:
    """Train and save (rank 0 only under torchrun: every rank trains, one writes)."""
    args = parse_args(argv, method)
    with distributed.process_group():
        return _main(args, argv, program)


def _main(args, argv, program: str) -> Path | None:
    say = print if distributed.is_main() else (lambda *a, **k: None)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.name or f"synthetic-{args.method}"
    train_config = dataclass_from_args(TrainConfig, args)
    options_cls = get_method(args.method).options
    channels = tuple(args.channels) if args.channels else (16, 32, 64, 128) + ((128,) if args.image_size == 128 else ())
    photos = any(datasets.parse_data_arg(spec).name != "synthetic" for spec in train_config.data)
    align_config = AlignConfig(size=args.image_size) if photos else None
    try:
        model_config = ModelConfig(
            method=args.method,
            image_size=args.image_size,
            channels=channels,
            latents=_latents(args),
            fusion_dim=args.fusion_dim or 256,
            options=dataclass_from_args(options_cls, args),
            # photos are aligned by MTCNN in training, so the app must align uploads the same way
            alignment="mtcnn" if photos else "center",
            align=align_config.to_dict() if photos else None,
        )
        get_method(args.method).preflight(model_config)  # a missing tool fails here, before any data loads
    except ConfigError as e:
        sys.exit(f"error: {e}")
    dataset = datasets.load(list(train_config.data), size=args.image_size, align_config=align_config)
    if train_config.holdout > 0 or train_config.validation > 0:
        split = datasets.training_splits(dataset, train_config.holdout, train_config.validation, seed=train_config.seed)
        if len(split["test"]):
            say(f"holding out {len(split['test'])} images (identity-disjoint) for evaluation")
        if len(split["val"]):
            say(f"keeping {len(split['val'])} images out for validation (train.evaluate --split val)")
        dataset = torch.utils.data.Subset(dataset, split["train"])
    say(f"training on {len(dataset)} images from {', '.join(train_config.data)}")
    log_dir = Path(args.logs) / name if args.logs else None
    started = time.strftime("%Y-%m-%d %H:%M")
    init, init_run = None, None
    if args.init:
        import facelab

        init = facelab.load(args.init, device="cpu")
        if init.config.method != args.method:
            sys.exit(f"{args.init} is a {init.config.method} checkpoint; fine-tune it with --method {init.config.method}")
        # fine-tuning keeps the architecture (and alignment) of the start point; options given now apply,
        # and --latents may append new sub-codes (the old ones keep their weights: training.load_grown)
        latents = dict(init.config.latents)
        if args.latents:
            wanted = _latents(args)
            if list(wanted.items())[:len(latents)] != list(latents.items()) or len(wanted) == len(latents):
                sys.exit(f"{args.init} has latents {' '.join(f'{k}={v}' for k, v in latents.items())}; with --init, "
                         "--latents must repeat them in order and append new sub-codes (or be left out)")
            latents = wanted
        try:
            model_config = dataclasses.replace(
                init.config, latents=latents,
                options=dataclasses.replace(init.config.options, **given(options_cls, args)))
        except ConfigError as e:
            sys.exit(f"error: {e}")
        held = init.training
        drawn = lambda c: (c.holdout, c.validation, c.seed)  # noqa: E731
        if held is not None and (held.holdout > 0 or held.validation > 0 or train_config.validation > 0) \
                and drawn(held) != drawn(train_config):
            # Held-out and validation parts are drawn from these values: another draw would train on them.
            sys.exit(
                f"{args.init} was trained with --holdout {held.holdout} --validation {held.validation} --seed {held.seed}; "
                "fine-tune with the same three values, or images it held out end up in the training set "
                "(or ones it trained on in the validation part)"
            )
        # Keep the start point's own run record: the card then lists every command that made the weights.
        init_record = Path(init.directory) / "training_run.json"
        init_run = json.loads(init_record.read_text()) if init_record.is_file() else {"command": f"(unrecorded: {args.init})"}
    state_dir = Path(args.state_dir) if args.state_dir else Path("runs") / name / "state"
    try:
        model, history = train(dataset, model_config, train_config, log_dir=log_dir, init=init,
                               state_dir=state_dir, resume=args.resume)
    except (ResumeError, ConfigError) as e:
        sys.exit(f"error: {e}")
    if not distributed.is_main():
        return None
    directory = save_checkpoint(Path(args.out) / name, model, model_config, train_config)
    run = {
        "command": f"python -m {program} " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "started": started,
        "wall_time_s": round(history["wall_time_s"], 1),
        "device": history["device"] + (f" × {history['world_size']} processes" if history["world_size"] > 1 else ""),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.processor() or platform.system()}",
        "images": len(dataset),
        "stage_seconds": history.get("stage_seconds", {}),
        "final_losses": final_losses(history),
    }
    run["elapsed_s"] = round(process_seconds(), 1)
    if init_run is not None:
        run["init"] = init_run
    (directory / "training_run.json").write_text(json.dumps(run, indent=2) + "\n")
    print(json.dumps(run, indent=2))
    print(f"saved {directory}; next: python -m train.evaluate --checkpoint {directory} --card")
    return directory


if __name__ == "__main__":
    main()
