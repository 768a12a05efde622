"""Several training runs side by side on one machine, each sized to finish within a wall-clock budget.

    python -m train.timed --budget 330 --jobs jobs.txt [--probe-steps 30] [--safety 0.8]

``jobs.txt`` holds one ``python -m train`` argument list per line (``#`` comments allowed), e.g.
``--method swap --name swap-big --data synthetic:identities=3000 --epochs 1 --batch-size 256``.
For a lent accelerator with a fixed time: every job is first *probed* (the same arguments,
``--max-steps N`` per stage, all jobs at once so that they share the machine as they will later);
the probe's seconds per step set how many steps fit in ``--budget`` seconds, and each job's
``--*epochs`` flags are scaled by one factor to that many (each at least 1, their ratios kept).
Then the jobs run at once with those epochs. The chosen command of each job is printed and
recorded in its checkpoint's ``training_run.json`` like any other run, so it reruns anywhere
without this tool. The probe also builds (and caches) each job's data, so the timed run starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

EPOCH_FLAG = re.compile(r"^--([a-z]+-)*epochs$")


def read_jobs(path: str | Path) -> list[list[str]]:
    """Argument lists, one per non-empty, non-comment line."""
    jobs = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            jobs.append(shlex.split(line))
    return jobs


def flag_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def with_flag(args: list[str], flag: str, value: str) -> list[str]:
    """``args`` with ``flag value`` set (replaced if present)."""
    out = list(args)
    if flag in out:
        out[out.index(flag) + 1] = value
    else:
        out += [flag, value]
    return out


def epoch_flags(args: list[str]) -> dict[str, int]:
    return {a: int(args[i + 1]) for i, a in enumerate(args[:-1]) if EPOCH_FLAG.match(a)}


def scale_epochs(args: list[str], steps: int, steps_per_epoch: int) -> list[str]:
    """Scale every ``--*epochs`` flag by one factor so their total is about ``steps`` steps."""
    flags = epoch_flags(args) or {"--epochs": 1}
    total = sum(flags.values()) * steps_per_epoch
    factor = steps / max(total, 1)
    out = list(args)
    for flag, n in flags.items():
        out = with_flag(out, flag, str(max(1, math.floor(n * factor))))
    return out


def _launch(args: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "train", *args], stdout=log.open("w"), stderr=subprocess.STDOUT)


def _wait_all(procs: list[tuple[str, subprocess.Popen, Path]], deadline: float | None = None) -> list[int]:
    codes = []
    for name, proc, log in procs:
        try:
            code = proc.wait(timeout=None if deadline is None else max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.terminate()
            code = proc.wait()
        codes.append(code)
        print(f"[{name}] exit {code}; log {log}", flush=True)
        if code != 0:
            print(log.read_text()[-3000:], flush=True)
    return codes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", required=True, help="file with one `python -m train` argument list per line")
    p.add_argument("--budget", type=float, required=True, help="seconds of training per job (after the probe)")
    p.add_argument("--probe-steps", type=int, default=30, help="steps per stage in the probe")
    p.add_argument("--safety", type=float, default=0.8, help="share of the budget planned for (setup, evaluation)")
    p.add_argument("--logs", default="runs/timed", help="folder for each job's log")
    p.add_argument("--probe-only", action="store_true", help="stop after the probe (print the plan)")
    args = p.parse_args(argv)
    jobs = read_jobs(args.jobs)
    names = [flag_value(j, "--name") or f"job{i}" for i, j in enumerate(jobs)]
    logs = Path(args.logs)

    started = time.monotonic()
    probes = []
    for name, job in zip(names, jobs):
        probe = with_flag(with_flag(with_flag(job, "--max-steps", str(args.probe_steps)), "--out", str(logs / "probe")),
                          "--save-every", "0")
        probes.append((name, _launch(probe, logs / f"{name}-probe.log"), logs / f"{name}-probe.log"))
    probe_codes = _wait_all(probes)
    if all(probe_codes):
        print("every probe failed: nothing was trained", flush=True)
        return 1
    print(f"probes done in {time.monotonic() - started:.0f} s", flush=True)
    for name, code in zip(names, probe_codes):
        if code:
            print(f"[{name}] skipped: its probe failed", flush=True)
    names = [n for n, c in zip(names, probe_codes) if not c]
    jobs = [j for j, c in zip(jobs, probe_codes) if not c]

    plans = []
    for name, job in zip(names, jobs):
        run = json.loads((logs / "probe" / name / "training_run.json").read_text())
        stages = max(1, len(run["stage_seconds"]))
        batch = int(flag_value(job, "--batch-size") or 64)
        steps_per_epoch = max(1, math.ceil(run["images"] / batch))
        seconds_per_step = sum(run["stage_seconds"].values()) / (stages * args.probe_steps)
        steps = int(args.budget * args.safety / seconds_per_step)
        plan = scale_epochs(job, steps, steps_per_epoch)
        plans.append(plan)
        print(f"[{name}] {seconds_per_step * 1000:.0f} ms/step, {steps_per_epoch} steps/epoch → "
              f"{steps} steps: python -m train {shlex.join(plan)}", flush=True)
    if args.probe_only:
        return 0
    runs = [(name, _launch(plan, logs / f"{name}.log"), logs / f"{name}.log") for name, plan in zip(names, plans)]
    codes = _wait_all(runs, deadline=time.monotonic() + args.budget * 1.15 + 60)
    print(f"all done in {time.monotonic() - started:.0f} s", flush=True)
    return int(any(codes) or any(probe_codes))


if __name__ == "__main__":
    sys.exit(main())
