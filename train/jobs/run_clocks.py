"""The clocks behind a checkpoint: each training command's stage seconds, its wall_time_s (from the first
stage's set-up) and its elapsed_s (from the process's start: start-up, the generator's set and the swap-target
renders as well), with totals over the commands given and over every command that made each checkpoint.

    python train/jobs/run_clocks.py CHECKPOINT_DIR [CHECKPOINT_DIR ...]

A record without elapsed_s (those from before 2026-12-06) shows "-" there; its time outside the stages is then
unknown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from facelab.card import run_chain  # noqa: E402


def rows(run: dict) -> list[tuple[str, float, float, float | None]]:
    out = []
    for step in run_chain(run):
        out_dir = step.get("command", "").rsplit("--out ", 1)[-1].split()[0] if "--out " in step.get("command", "") else "?"
        out.append((out_dir, sum(step.get("stage_seconds", {}).values()), step.get("wall_time_s"), step.get("elapsed_s")))
    return out


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s ({seconds / 60:.1f} min)"


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    for directory in argv:
        run = json.loads((Path(directory) / "training_run.json").read_text())
        print(f"{directory}")
        print(f"  {'command --out':32s} {'stages s':>9s} {'wall s':>8s} {'elapsed s':>9s} {'outside the stages s':>20s}")
        table = rows(run)
        for out_dir, stages, wall, elapsed in table:
            outside = "-" if elapsed is None else f"{elapsed - stages:.1f}"
            print(f"  {out_dir:32s} {stages:9.1f} {wall or 0:8.1f} {elapsed if elapsed is not None else '-':>9} {outside:>20s}")
        stages = sum(r[1] for r in table)
        elapsed = [r[3] for r in table]
        print(f"  this command: stages {minutes(table[-1][1])}, elapsed {minutes(table[-1][3])}")
        print(f"  every command behind it: stages {minutes(stages)}, elapsed "
              f"{minutes(sum(elapsed)) if all(e is not None for e in elapsed) else '- (a record lacks elapsed_s)'}")


if __name__ == "__main__":
    main(sys.argv[1:])
