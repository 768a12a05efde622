"""Shared by the benchmark scripts: where results go and how they are written, ports and latency figures."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path

import numpy as np

# the generator people that choices are made on: new to every model, never the held-out test people (identity_seed=1)
VALIDATION_SYNTHETIC = "synthetic:identities=48,per_identity=28,identity_seed=2,seed=2,min_intensity=0.25"


def write_results(result: dict, path: str | Path) -> Path:
    """Write ``result`` as indented JSON (creating ``bench/results/`` if needed) and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a benchmark's own server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def latency_stats(seconds) -> dict:
    """n, p50, p95, mean, min and max (ms) of a list of durations in seconds."""
    ms = np.asarray(seconds, dtype=float) * 1e3
    if not len(ms):
        return {"n": 0}
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def machine(load_before, load_after, **extra) -> dict:
    """Python, platform and CPUs, and the 1-minute load average before and after the run (other
    work on the machine inflates every figure), plus ``extra`` fields."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(), **extra,
            "loadavg_1m_before": load_before[0], "loadavg_1m_after": load_after[0]}


def invocation(argv=None) -> str:
    """How the benchmark was run: its command line, or ``main([...])`` when called from Python."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if argv is None else f"main({argv!r})"


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
