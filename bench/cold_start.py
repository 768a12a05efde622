"""Cold start of the demo: ``python app.py`` until its URL answers HTTP 200, and where the time goes.

    python bench/cold_start.py [--repeat 3] [--checkpoint NAME ...] [--timeout 300]
                               [--out bench/results/cold_start.json]

Each repeat starts ``python app.py --host 127.0.0.1 --port <free port>`` as a new process and
polls ``GET /`` every 50 ms until it answers 200; the "loading ..." line app.py prints once its
imports are done splits that into imports and building + serving the app. The process is then
stopped with Ctrl+C (SIGINT), as a user would.

Two cheaper views of the same start say which part dominates: one more fresh process that runs
the same steps in-process with timers around them (imports of gradio, torch and facelab + app;
checkpoint loading, topology files, example faces, the rest of building the UI; Gradio's
launch; the first answer), and ``python -X importtime -c "import app"`` for the heaviest top-level imports. The
first repeat may read files from disk; later ones find them in the OS cache.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from common import free_port, invocation, machine, timestamp, write_results  # bench/ is on sys.path

POLL_S = 0.05


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def cold_start(checkpoints: list[str], timeout: float) -> dict:
    """One ``python app.py`` from process start to the first HTTP 200, split at its "loading" line."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)]
    for c in checkpoints:
        cmd += ["--checkpoint", c]
    loaded: list[float] = []  # when app.py printed "loading ...": its imports are done
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []

    def read():
        for line in proc.stdout:
            log.append(line.rstrip())
            if line.startswith("loading") and not loaded:
                loaded.append(time.perf_counter() - t0)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while not answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n" + "\n".join(log[-20:]))
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"no HTTP 200 from {url} within {timeout:.0f} s:\n" + "\n".join(log[-20:]))
            time.sleep(POLL_S)
        total = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    if not loaded:
        raise RuntimeError("app.py answered before printing its 'loading' line:\n" + "\n".join(log[-20:]))
    return {"total_s": total, "imports_s": loaded[0], "build_and_serve_s": total - loaded[0]}


def phases(checkpoints: list[str]) -> dict:
    """The start-up steps of app.py in this (fresh) process, each timed; run via ``--phases``."""
    timings: dict[str, float] = {}

    def clock(name, t):
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t

    t = time.perf_counter()
    import gradio  # noqa: F401

    clock("import gradio", t)
    t = time.perf_counter()
    import torch  # noqa: F401

    clock("import torch", t)
    t = time.perf_counter()
    import app
    import facelab
    from facelab import demo as D

    clock("import facelab + app", t)

    def timed(module, name, label):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                clock(label, t)

        setattr(module, name, wrapper)

    timed(facelab, "load", "load checkpoints")
    timed(D, "load_topology", "read topology files")
    timed(D, "save_examples", "render example faces")
    parts = ("load checkpoints", "read topology files", "render example faces")
    t = time.perf_counter()
    demo = app.build_app(checkpoints or None)
    build = time.perf_counter() - t
    timings = {k: v for k, v in timings.items() if k not in parts} | {k: timings.get(k, 0.0) for k in parts}
    timings["build the Gradio UI (rest of build_app)"] = build - sum(timings[k] for k in parts)
    t = time.perf_counter()
    _, url, _ = demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1",
                                                 server_port=free_port(), quiet=True))
    clock("Gradio launch", t)
    t = time.perf_counter()
    while not answers(url):
        time.sleep(POLL_S)
    clock("first HTTP 200", t)
    demo.close()
    return timings


def heaviest_imports(n: int = 8) -> list[dict]:
    """Packages ``import app`` pulls in, by cumulative import time (``-X importtime``, which inflates
    it a little). Nested: a package's time includes the packages it is first to import."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)([\w]+)$", line)  # packages, not submodules
        if m and m.group(3) != "app":
            rows.append({"package": m.group(3), "cumulative_s": int(m.group(1)) / 1e6, "depth": len(m.group(2)) // 2})
    return sorted(rows, key=lambda r: -r["cumulative_s"])[:n]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--checkpoint", action="append", default=[],
                   help="as app.py's --checkpoint (default: what app.py serves with none)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one start")
    p.add_argument("--phases", action="store_true", help=argparse.SUPPRESS)  # the in-process child
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "cold_start.json"))
    args = p.parse_args(argv)
    if args.phases:
        os.chdir(ROOT)
        print(json.dumps(phases(args.checkpoint)))
        return {}

    load_before = os.getloadavg()
    runs = []
    for i in range(args.repeat):
        runs.append(cold_start(args.checkpoint, args.timeout))
        r = runs[-1]
        print(f"start {i + 1}: {r['total_s']:.1f} s to HTTP 200 (imports {r['imports_s']:.1f} s, "
              f"build + serve {r['build_and_serve_s']:.1f} s)", flush=True)
    again = [a for c in args.checkpoint for a in ("--checkpoint", c)]
    child = subprocess.run([sys.executable, __file__, "--phases", *again], capture_output=True, text=True, check=True)
    steps = json.loads(child.stdout.strip().splitlines()[-1])
    imports = heaviest_imports()
    load_after = os.getloadavg()

    groups = {"imports": sum(v for k, v in steps.items() if k.startswith("import")),
              "checkpoints, topology, examples": sum(steps[k] for k in ("load checkpoints", "read topology files",
                                                                        "render example faces")),
              "Gradio UI build": steps["build the Gradio UI (rest of build_app)"],
              "Gradio launch to first answer": steps["Gradio launch"] + steps["first HTTP 200"]}
    totals = sorted(r["total_s"] for r in runs)
    result = {
        "benchmark": "cold_start",
        "command": "python app.py --host 127.0.0.1 --port <free>" + "".join(f" --checkpoint {c}" for c in args.checkpoint),
        "runs": runs,
        "median_total_s": totals[len(totals) // 2],
        "min_total_s": totals[0],
        "phases_s": steps,
        "phase_groups_s": groups,
        "dominant": max(groups, key=groups.get),
        "heaviest_imports": imports,
        "machine": machine(load_before, load_after),
        "bench_command": invocation(argv),
        "when": timestamp(),
    }
    print(f"cold start to HTTP 200: median {result['median_total_s']:.1f} s, min {result['min_total_s']:.1f} s "
          f"over {len(runs)} starts; load average {load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'phase (one more start, in-process timers)':<44}{'s':>8}")
    for k, v in steps.items():
        print(f"{k:<44}{v:>8.2f}")
    print("by part: " + ", ".join(f"{k} {v:.1f} s" for k, v in groups.items()) + f"; dominant: {result['dominant']}")
    print("heaviest imports (-X importtime, nested): "
          + ", ".join(f"{r['package']} {r['cumulative_s']:.2f} s" for r in imports))
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
