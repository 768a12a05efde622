"""Latency of the demo app's live path: a slider move, as a client sees it, next to a no-op call.

    python bench/app_latency.py [--checkpoint synthetic-disvae] [--n 100] [--warmup 5] [--face PHOTO]
                                [--out bench/results/app_latency.json]

Starts the app (app.py) on a free 127.0.0.1 port with the checkpoint and, in one run, measures
p50/p95 over ``--n`` rounds (after ``--warmup``) of:

* ``sliders``  -- the /sliders endpoint through gradio_client (queue, decode, PNG, and the download of
  the result file when /sliders returns one; since it returns the face inline, an ``<img>`` with a data:
  URI, there is none); ``sliders_no_download`` is the same with ``Client(download_files=False)``;
* ``ping``     -- the /ping no-op endpoint of the same server (the server + client overhead);
* ``sliders_http`` / ``ping_http`` -- the same two over Gradio's plain HTTP API with one
  keep-alive httpx client (POST ``/gradio_api/call/<name>``, read the event stream, download the
  image), because gradio_client adds tens of ms of its own to every call: it polls its message
  queue every 50 ms, and builds a new httpx client, CA bundle and all, for each HTTP request
  outside its event stream (one for ping, two for a slider move: the call and the download);
* ``sliders_shared_ssl`` / ``ping_shared_ssl`` -- gradio_client again, given one SSL context to
  reuse (``Client(ssl_verify=context)``): the same calls without most of that per-request setup;
* ``download_http`` -- the image download alone, on the keep-alive client (~0 when /sliders answers inline);
* ``client_setup`` -- one ``httpx.Client()`` construction: what gradio_client spends per such request;
* ``decode``   -- the bare ``model.decode(code)`` call on the same model object;
* ``server_cpu_ms`` -- before the server starts: process CPU time per call of Gradio's own
  ``process_api`` (inputs, handler, outputs and result file; no HTTP) for sliders and ping, and of
  the bare decode: the server's work, which other load on the machine inflates far less.

Without ``--face`` the sliders edit the average face. ``--face PHOTO`` first encodes that photo in
each gradio_client session (``/encode``), so every slider move edits it and, on a photo model, is
drawn on the photo (``photo_detail``, its default there: a decode and the photo layer); ``decode``
is then ``model.decode(edited, layer)``. The plain-HTTP calls carry no session, so they still edit
the average face, and ``server_cpu_ms`` is measured without a face.

The calls are interleaved, one of each per round, so a change in the machine's load hits all of
them alike, and the headline is the ratio of p50s measured in this run: ``sliders / ping``
(gradio_client), the same with the shared SSL context, and ``sliders_http / ping_http``. Every
call moves one slider to a new value (nothing can be served from a cache). The load average is
recorded because other work on the machine inflates every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
from common import free_port, invocation, latency_stats, machine, timestamp, write_results  # noqa: E402


def _interleaved(calls: dict, n: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each ``calls[name](i)``, one of each per round (rounds < ``warmup`` untimed)."""
    out = {name: [] for name in calls}
    for i in range(warmup + n):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn(i)
            if i >= warmup:
                out[name].append(time.perf_counter() - t0)
    return out


def _server_cpu_ms(calls: dict, n: int, warmup: int) -> dict[str, float]:
    """Mean process CPU ms per call of each ``calls[name]()`` coroutine, interleaved like :func:`_interleaved`."""
    import asyncio

    async def measure():
        total = dict.fromkeys(calls, 0.0)
        for i in range(warmup + n):
            for name, call in calls.items():
                t0 = time.process_time()
                await call()
                if i >= warmup:
                    total[name] += time.process_time() - t0
        return {name: t / n * 1e3 for name, t in total.items()}

    return asyncio.run(measure())


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="bundled name or directory (default: as app.py)")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--face", default=None, help="a photo each client session encodes first (module docstring)")
    p.add_argument("--out", default=str(ROOT / "bench/results/app_latency.json"))
    args = p.parse_args(argv)

    import gradio
    import gradio_client
    import httpx
    import torch
    from gradio.state_holder import SessionState
    from gradio_client import Client

    import app
    import facelab
    from facelab import demo as D

    checkpoint = D.checkpoint_argument(args.checkpoint)
    t0 = time.perf_counter()
    model = facelab.load(checkpoint)
    demo = app.build_app(checkpoint)
    startup_s = time.perf_counter() - t0
    specs = D.slider_specs(model)
    detail = D.photo_detail_default(model)  # the switch after the sliders, at the page's default
    code, layer = D.mean_code(model), None
    if args.face:
        _, code, layer = D.encode_for_edits(model, D.read_upload(args.face), detail)
    rng = np.random.default_rng(0)

    def values():  # slider 0 swept to a fresh random position on every call
        v = [s.default for s in specs]
        v[0] = specs[0].minimum + float(rng.uniform()) * (specs[0].maximum - specs[0].minimum)
        return v

    fns = {fn.api_name: fn for fn in demo.fns.values()}
    session = SessionState(demo)

    async def decode():
        model.decode(D.apply_sliders(code, specs, values()), layer)

    server_cpu = _server_cpu_ms({
        "sliders": lambda: demo.process_api(fns["sliders"], [None, None, *values(), detail], session),
        "ping": lambda: demo.process_api(fns["ping"], [], session),
        "decode": decode}, args.n, args.warmup)
    t0 = time.perf_counter()
    port = free_port()
    _, url, _ = demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1",
                                                 server_port=port, quiet=True))
    startup_s += time.perf_counter() - t0
    try:
        client = Client(url, verbose=False)
        no_download = Client(url, verbose=False, download_files=False)
        shared_ssl = Client(url, verbose=False, ssl_verify=ssl.create_default_context())
        if args.face:  # each session edits that face from now on
            from gradio_client import handle_file

            for c in (client, no_download, shared_ssl):
                c.predict(handle_file(args.face), api_name="/encode")

        def call_sliders(i):
            client.predict(None, *values(), api_name="/sliders")

        def call_sliders_no_download(i):
            no_download.predict(None, *values(), api_name="/sliders")

        def call_ping(i):
            client.predict(api_name="/ping")

        def call_sliders_shared_ssl(i):
            shared_ssl.predict(None, *values(), api_name="/sliders")

        def call_ping_shared_ssl(i):
            shared_ssl.predict(api_name="/ping")

        http = httpx.Client(base_url=url, timeout=30)

        def call_http(name, data):
            event = http.post(f"/gradio_api/call/{name}", json={"data": data}).json()["event_id"]
            stream = http.get(f"/gradio_api/call/{name}/{event}").text
            if "event: complete" not in stream:
                raise RuntimeError(f"/{name} failed: {stream[:300]}")
            return json.loads(stream.split("data:", 1)[1].strip().splitlines()[0])

        last_image = {}

        def call_sliders_http(i):
            out = call_http("sliders", [None, *values(), detail])[0]
            if isinstance(out, dict):  # a file: fetch it, as the browser does
                last_image["url"] = out["url"]
                http.get(last_image["url"]).raise_for_status()
            elif "data:image/png;base64," not in out:  # inline <img>: the face came in the event's message
                raise RuntimeError(f"/sliders returned neither a file nor an inline image: {out[:200]}")

        def call_download_http(i):
            if "url" in last_image:  # nothing to download when /sliders answers inline
                http.get(last_image["url"]).raise_for_status()

        def call_ping_http(i):
            assert call_http("ping", []) == ["pong"]

        def call_client_setup(i):
            httpx.Client().close()

        def call_decode(i):
            model.decode(D.apply_sliders(code, specs, values()), layer)

        load_before = os.getloadavg()
        timings = _interleaved({"sliders": call_sliders, "sliders_no_download": call_sliders_no_download,
                                "ping": call_ping, "sliders_shared_ssl": call_sliders_shared_ssl,
                                "ping_shared_ssl": call_ping_shared_ssl, "sliders_http": call_sliders_http,
                                "download_http": call_download_http, "ping_http": call_ping_http,
                                "client_setup": call_client_setup, "decode": call_decode}, args.n, args.warmup)
        load_after = os.getloadavg()
    finally:
        demo.close()

    results = {name: latency_stats(t) for name, t in timings.items()}
    report = {
        "benchmark": "app_latency",
        "checkpoint": str(model.directory),
        "method": model.config.method,
        "image_size": model.config.image_size,
        "sliders": len(specs),
        "face": args.face,
        "photo_detail": layer is not None,
        "results": results,
        "ratio_p50": {f"{a}/{b}": results[a]["p50_ms"] / results[b]["p50_ms"]
                      for a, b in [("sliders", "ping"), ("sliders_shared_ssl", "ping_shared_ssl"),
                                   ("sliders_http", "ping_http")]},
        "overhead_ms_p50": results["sliders"]["p50_ms"] - results["decode"]["p50_ms"],
        "server_cpu_ms": server_cpu,
        "startup_s": startup_s,
        "machine": machine(load_before, load_after, torch_threads=torch.get_num_threads()),
        "versions": {"torch": torch.__version__, "gradio": gradio.__version__,
                     "gradio_client": gradio_client.__version__, "facelab": facelab.__version__},
        "command": invocation(argv),
        "when": timestamp(),
    }
    print(f"checkpoint {report['checkpoint']} ({model.config.method}, {model.config.image_size}px, "
          f"{len(specs)} sliders; editing {args.face or 'the average face'}"
          f"{', drawn on the photo' if layer is not None else ''}); "
          f"N={args.n} interleaved rounds after {args.warmup} warm-up rounds; startup {startup_s:.1f} s")
    print(f"{'call':<20}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}{'min ms':>10}")
    for name, r in results.items():
        print(f"{name:<20}{r['p50_ms']:>10.1f}{r['p95_ms']:>10.1f}{r['mean_ms']:>10.1f}{r['min_ms']:>10.1f}")
    print("p50 ratio: " + ", ".join(f"{k} {v:.2f}×" for k, v in report["ratio_p50"].items()))
    print("server CPU per call (process_api, no HTTP): " + ", ".join(f"{k} {v:.2f} ms" for k, v in server_cpu.items()))
    print(f"slider overhead over bare decode (p50): {report['overhead_ms_p50']:.1f} ms; "
          f"load average {load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    write_results(report, args.out)
    return report


if __name__ == "__main__":
    main()
