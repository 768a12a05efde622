"""Training throughput of the bundled recipes, against this machine's own matmul roofline.

    python bench/train_throughput.py [--steps 10] [--warmup 2] [--matmul 1024] [--threads N]
                                     [--out bench/results/train_throughput.json]

For each bundled checkpoint, its recipe (method, channels, sub-code sizes, batch size from its
config.json) is rebuilt untrained and its main stage's optimizer steps are timed on generator
faces (throughput does not depend on what the pixels show), in fp32 with the default memory
layout and with ``channels_last``, the variants alternating over three rounds (median kept) so
other load on the machine falls on each alike; bf16 autocast too when ``--bf16`` is given (off by default:
on a CPU the trainer leaves it off; on a GPU it is the trainer's default). A step's FLOPs (forward +
backward of every optimizer's loss) are counted once with ``torch.utils.flop_counter``; the
achieved FLOP/s is set next to a plain fp32 ``--matmul``-sized matrix product's FLOP/s measured
in the same run, so ``roofline`` says how much of the machine's dense-math speed training uses.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import write_results  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from facelab.card import run_chain  # noqa: E402
from facelab.checkpoint import CONFIG, bundled_names, checkpoint_root  # noqa: E402
from facelab.config import load_config  # noqa: E402
from facelab.methods import get_method  # noqa: E402
from facelab.synthetic import SyntheticFaces  # noqa: E402
from facelab.training import EpochBatches, label_remap, to_device, use_bf16  # noqa: E402
from train.cli import given  # noqa: E402
from train.fit import parse_args  # noqa: E402


def main_stage(model_config, directory: Path):
    """(config, stage name): the stage that trained longest in the checkpoint's training records, and the
    config its command gave. A fine-tune's own config may hold only its short last stages (synthetic-fourway's
    is the nulling and a refit of Φ⁻¹ and the heads); the options that command gave are applied to it. Without
    records: the config as saved and its last stage with optimizer steps."""
    path, best = directory / "training_run.json", None
    for record in run_chain(json.loads(path.read_text()) if path.is_file() else {}):
        for stage, seconds in record.get("stage_seconds", {}).items():
            if best is None or seconds > best[0]:
                best = (seconds, stage, record.get("command", ""))
    if best is None:
        return model_config, None
    argv = shlex.split(best[2])
    if argv[:3] != ["python", "-m", "train"]:  # another program's record: its flags are not train's
        return model_config, None
    args = parse_args(argv[3:])
    options = dataclasses.replace(model_config.options, **given(type(model_config.options), args))
    return dataclasses.replace(model_config, options=options), best[1]


def matmul_flops(n: int, repeats: int = 20) -> float:
    """Achieved FLOP/s of an n×n fp32 matrix product (2n³ FLOPs each)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


def recipe_batch(model_config, train_config, faces) -> dict:
    """One training batch of the recipe's size, shaped by the method's own data preparation."""
    method = get_method(model_config.method)
    data = method.prepare_data(faces, model_config) if method.prepare_data is not None else faces
    gen = torch.Generator().manual_seed(0)
    sampler = method.batch_sampler(data, model_config, train_config, gen) if method.batch_sampler else None
    batches = EpochBatches(data, train_config, gen, sampler)
    loader = batches.loader(batches.epoch(0)[:1], 0)
    return to_device(next(iter(loader)), torch.device("cpu"), label_remap(model_config.expressions))


def step_function(model_config, train_config, batch, channels_last: bool, bf16: bool, stage_name: str | None):
    """One optimizer step of the recipe's main stage (every optimizer, in order), ready to time: the one named
    ``stage_name``, else the last with optimizer steps."""
    method = get_method(model_config.method)
    network = method.build(model_config)
    stages = [s for s in method.stages(network, model_config, train_config) if s.steps]
    stage = next((s for s in stages if s.name == stage_name), stages[-1])
    if stage.setup is not None:
        stage.setup()
    module = stage.module or network
    memory = torch.channels_last if channels_last else torch.contiguous_format
    module.to(memory_format=memory).train()
    if channels_last:
        batch = {k: (v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.dim() == 4 else v)
                 for k, v in batch.items()}
    optimizers = {n: torch.optim.Adam(list(s.params()), lr=1e-4) for n, s in stage.steps.items()}

    def step():
        for name, spec in stage.steps.items():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = spec.loss(module, batch)["loss"]
            module.zero_grad(set_to_none=True)
            loss.float().backward()
            optimizers[name].step()

    return step


def time_variants(steps: dict, n: int, warmup: int, rounds: int = 3) -> dict[str, float]:
    """Median seconds per step of each variant, timed in alternating rounds so that other load on
    the machine falls on every variant alike."""
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t0) / n)
    return {name: float(np.median(t)) for name, t in times.items()}


def count_flops(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--matmul", type=int, default=1024)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--bf16", action="store_true", help="also time bf16 autocast (CPU)")
    p.add_argument("--checkpoints", nargs="*", default=None, help="bundled names (default: all)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_throughput.json"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = matmul_flops(args.matmul)
    faces = SyntheticFaces(identities=24, per_identity=8, size=64, seed=0, progress=False)
    variants = [("fp32", False, False), ("fp32 channels_last", True, False)]
    if args.bf16:
        variants.append(("bf16 autocast", False, True))
    rows = []
    for name in args.checkpoints or bundled_names():
        model_config, train_config = load_config(checkpoint_root() / name / CONFIG)
        model_config, stage_name = main_stage(model_config, checkpoint_root() / name)
        train_config = dataclasses.replace(train_config, device="cpu")
        if model_config.image_size != faces.size:
            faces = SyntheticFaces(identities=24, per_identity=8, size=model_config.image_size, seed=0, progress=False)
        batch = recipe_batch(model_config, train_config, faces)
        steps = {label: step_function(model_config, train_config, batch, channels_last, bf16, stage_name)
                 for label, channels_last, bf16 in variants}
        flops = count_flops(next(iter(steps.values())))
        seconds = time_variants(steps, args.steps, args.warmup)
        peak = float(np.median([peak, matmul_flops(args.matmul)]))  # re-measured beside each recipe
        for label, sec in seconds.items():
            row = {"checkpoint": name, "method": model_config.method, "stage": stage_name, "batch_size": train_config.batch_size,
                   "variant": label, "step_ms": sec * 1e3, "images_per_s": train_config.batch_size / sec,
                   "flops_per_step": flops, "flops_per_s": flops / sec}
            row["roofline"] = row["flops_per_s"] / peak
            rows.append(row)
            print(f"{name:24s} {label:20s} {row['images_per_s']:8.1f} img/s  {row['flops_per_s'] / 1e9:7.2f} GFLOP/s"
                  f"  roofline {row['roofline']:.1%}", flush=True)
    print(f"\nfp32 {args.matmul}² matmul: {peak / 1e9:.1f} GFLOP/s")
    print("\n| checkpoint | variant | batch | step (ms) | images/s | GFLOP/step | GFLOP/s | of matmul |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['checkpoint']} | {r['variant']} | {r['batch_size']} | {r['step_ms']:.0f} | {r['images_per_s']:.0f} "
              f"| {r['flops_per_step'] / 1e9:.2f} | {r['flops_per_s'] / 1e9:.1f} | {r['roofline']:.1%} |")
    result = {
        "matmul_gflops": peak / 1e9, "matmul_n": args.matmul, "rows": rows,
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.machine(),
        "processor": platform.processor(), "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
        "gpu_bf16_default": use_bf16("auto", torch.device("cuda")) if torch.cuda.is_available() else None,
        "command": "python bench/train_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
