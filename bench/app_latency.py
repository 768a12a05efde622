"""Latency of the demo app's live path: a slider move, as a client sees it.

    python bench/app_latency.py [--checkpoint synthetic-disvae] [--n 50] [--warmup 5]
                                [--out bench/results/app_latency.json]

Starts the app (app.py) on a free 127.0.0.1 port with the checkpoint and, in one run, measures
p50/p95 over ``--n`` calls (after ``--warmup`` calls) of:

* ``sliders``  -- the /sliders endpoint through gradio_client (queue, decode, PNG, download);
  ``sliders_no_download`` is the same with ``Client(download_files=False)`` (the image's URL only);
* ``ping``     -- the /ping no-op endpoint of the same server (the server + client overhead);
* ``decode``   -- the bare ``model.decode(code)`` call on the same model object.

so ``sliders ≈ ping + decode + PNG encoding/transfer`` shows where a slider move's time goes.
The same two endpoints are also timed over Gradio's plain HTTP API with httpx (``*_http``: POST
``/gradio_api/call/<name>``, read the event stream, download the image), because gradio_client
polls its message queue every 50 ms and so adds tens of ms of its own to every call.
Every call moves one slider to a new value (nothing can be served from a cache). The load
average is recorded because other work on the machine inflates every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stats(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def _timed(fn, n: int, warmup: int) -> list[float]:
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(warmup + i)
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="bundled name or directory (default: as app.py)")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", default=str(ROOT / "bench/results/app_latency.json"))
    args = p.parse_args(argv)

    import gradio
    import gradio_client
    import httpx
    import torch
    from gradio_client import Client

    import app
    import facelab
    from facelab import demo as D

    checkpoint = D.checkpoint_argument(args.checkpoint)
    t0 = time.perf_counter()
    model = facelab.load(checkpoint)
    demo = app.build_app(checkpoint)
    port = _free_port()
    _, url, _ = demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1",
                                                 server_port=port, quiet=True))
    startup_s = time.perf_counter() - t0
    try:
        client = Client(url, verbose=False)
        no_download = Client(url, verbose=False, download_files=False)
        specs = D.slider_specs(model)
        code = D.mean_code(model)
        rng = np.random.default_rng(0)
        moves = rng.uniform(0.0, 1.0, size=args.n + args.warmup)

        def values(i):  # slider 0 swept to a fresh position on every call
            v = [s.default for s in specs]
            v[0] = specs[0].minimum + float(moves[i]) * (specs[0].maximum - specs[0].minimum)
            return v

        def call_sliders(i):
            client.predict(None, *values(i), api_name="/sliders")

        def call_sliders_no_download(i):
            no_download.predict(None, *values(i), api_name="/sliders")

        def call_ping(i):
            client.predict(api_name="/ping")

        http = httpx.Client(base_url=url, timeout=30)

        def call_http(name, data):
            event = http.post(f"/gradio_api/call/{name}", json={"data": data}).json()["event_id"]
            stream = http.get(f"/gradio_api/call/{name}/{event}").text
            if "event: complete" not in stream:
                raise RuntimeError(f"/{name} failed: {stream[:300]}")
            return json.loads(stream.split("data:", 1)[1].strip().splitlines()[0])

        def call_sliders_http(i):
            image = call_http("sliders", [None, *values(i)])[0]
            http.get(image["url"]).raise_for_status()

        def call_ping_http(i):
            assert call_http("ping", []) == ["pong"]

        def call_decode(i):
            model.decode(D.apply_sliders(code, specs, values(i)))

        load_before = os.getloadavg()
        timings = {
            "sliders": _timed(call_sliders, args.n, args.warmup),
            "sliders_no_download": _timed(call_sliders_no_download, args.n, args.warmup),
            "ping": _timed(call_ping, args.n, args.warmup),
            "sliders_http": _timed(call_sliders_http, args.n, args.warmup),
            "ping_http": _timed(call_ping_http, args.n, args.warmup),
            "decode": _timed(call_decode, args.n, args.warmup),
        }
        load_after = os.getloadavg()
    finally:
        demo.close()

    results = {name: _stats(t) for name, t in timings.items()}
    report = {
        "benchmark": "app_latency",
        "checkpoint": str(model.directory),
        "method": model.config.method,
        "image_size": model.config.image_size,
        "sliders": len(specs),
        "results": results,
        "overhead_ms_p50": results["sliders"]["p50_ms"] - results["decode"]["p50_ms"],
        "startup_s": startup_s,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "loadavg_1m_before": load_before[0], "loadavg_1m_after": load_after[0]},
        "versions": {"torch": torch.__version__, "gradio": gradio.__version__,
                     "gradio_client": gradio_client.__version__, "facelab": facelab.__version__},
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if argv is None else f"main({argv!r})",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"checkpoint {report['checkpoint']} ({model.config.method}, {model.config.image_size}px, "
          f"{len(specs)} sliders); "
          f"N={args.n} after {args.warmup} warm-up calls; startup {startup_s:.1f} s")
    print(f"{'call':<20}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}{'min ms':>10}")
    for name, r in results.items():
        print(f"{name:<20}{r['p50_ms']:>10.1f}{r['p95_ms']:>10.1f}{r['mean_ms']:>10.1f}{r['min_ms']:>10.1f}")
    print(f"slider overhead over bare decode (p50): {report['overhead_ms_p50']:.1f} ms; "
          f"load average {load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    write_results(report, args.out)
    return report


if __name__ == "__main__":
    main()
