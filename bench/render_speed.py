"""Single-core throughput of the synthetic face renderer.

    python bench/render_speed.py [--sizes 32 64 128] [--n 2000] [--out bench/results/render_speed.json]

Threads are pinned to one *before* numpy/torch are imported, because the requirement
(>= 500 faces/s at 64x64) is per core: dataset building must not depend on a big machine.
Factors are sampled with all nuisances on (pose, light, background, noise), the realistic case.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402

from facelab.synthetic import RENDER_VERSION, render_batch, sample_factors  # noqa: E402
from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

TARGET_FACES_PER_S = 500  # at 64x64, one core


def measure(size: int, n: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` faces/s for ``n`` faces at ``size``: (wall clock, process CPU time).

    CPU time is reported too because a busy machine slows the wall clock but not the work
    done per CPU second; with one thread the two agree on an idle machine.
    """
    factors = sample_factors(n, range(100), np.random.default_rng(0), nuisance=True)
    render_batch(factors, size)  # warm-up: allocations, identity cache
    wall = cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        render_batch(factors, size)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return n / wall, n / cpu


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--n", type=int, default=1000, help="faces per measurement (at 64x64; scaled by area)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="bench/results/render_speed.json")
    args = p.parse_args(argv)

    try:  # torch is not used by the renderer, but pin it too in case it was imported elsewhere
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    rows = []
    print(f"{'size':>6} {'n':>6} {'faces/s':>10} {'faces/cpu-s':>12}")
    for size in args.sizes:
        n = max(64, int(args.n * (64 / size) ** 2))
        fps, fps_cpu = measure(size, n, args.repeats)
        rows.append({"size": size, "n": n, "faces_per_s": round(fps, 1), "faces_per_cpu_s": round(fps_cpu, 1)})
        print(f"{size:>6} {n:>6} {fps:>10.1f} {fps_cpu:>12.1f}")

    at64 = next((r["faces_per_s"] for r in rows if r["size"] == 64), None)
    result = {
        "render_version": RENDER_VERSION,
        "threads": 1,
        "target_faces_per_s_at_64": TARGET_FACES_PER_S,
        "meets_target": None if at64 is None else at64 >= TARGET_FACES_PER_S,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "results": rows,
    }
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
