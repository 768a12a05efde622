"""Load on a live demo server: N concurrent clients, each making M mixed requests.

    python bench/load.py [--checkpoint synthetic-disvae] [--clients 20] [--requests 10]
                         [--out bench/results/load.json]

Starts ``python app.py`` as its own process on a free 127.0.0.1 port (a private Gradio cache,
removed afterwards), then runs ``--clients`` gradio_client sessions at once, each making
``--requests`` calls that cycle through encode / sliders / swap on the app's example faces —
as an audience does at a talk: many people click the same examples, so many results are
identical (the case that used to lose downloads to Gradio's cache rewrites). Every result file
is downloaded and decoded; a call that raises, or returns an image that does not decode, is an
error. Prints errors, p50/p95 per endpoint and throughput, plus the server log's tracebacks
(e.g. h11 ``Too little data for declared Content-Length``), and writes the JSON.

The clients share one SSL context: gradio_client otherwise loads the CA bundle for every HTTP
request it makes (tens of ms of CPU each, even for plain http), and on a small machine that load
generator would take the CPU the server is being measured on.
"""

from __future__ import annotations

import argparse
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
from common import free_port, invocation, latency_stats, machine, timestamp, write_results  # noqa: E402

KINDS = ("encode", "sliders", "swap")
SERVER_ERRORS = ("Traceback", "LocalProtocolError", "Exception in ASGI application")


def start_server(checkpoint: str, port: int, scratch: Path, timeout: float = 180.0) -> tuple[subprocess.Popen, str]:
    """``python app.py`` on ``port`` with its Gradio cache in ``scratch``; returns (process, url) once it answers."""
    import httpx

    env = dict(os.environ, GRADIO_TEMP_DIR=str(scratch / "gradio"), PYTHONUNBUFFERED="1")
    with open(scratch / "server.log", "w") as log:  # the server writes to its own copy of the handle
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--checkpoint", checkpoint,
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log = (scratch / "server.log").read_text()
            raise RuntimeError(f"app.py exited with {server.returncode}: {log[-2000:]}")
        try:
            if httpx.get(url + "gradio_api/info", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"app.py did not answer within {timeout:.0f} s")


def _check_images(result, expected: int) -> None:
    """Every image of a result must be a complete, decodable file (a truncated download is an error), or
    an inline ``<img>`` (/sliders: a data: URI) that decodes; other outputs (read-back text, figures) pass."""
    import os

    from PIL import Image

    from facelab.demo import image_from_inline

    items = [p for p in (result if isinstance(result, (list, tuple)) else [result]) if isinstance(p, str)]
    inline = [p for p in items if p.lstrip().startswith("<img")]
    paths = [p for p in items if p not in inline and os.path.isfile(p)]
    if len(paths) + len(inline) != expected:
        raise RuntimeError(f"expected {expected} images, got {result!r}")
    for markup in inline:
        image_from_inline(markup)
    for path in paths:
        with Image.open(path) as im:
            im.load()


def run_client(index: int, url: str, faces: list[str], specs, requests: int, start: threading.Barrier,
               downloads: Path, context: ssl.SSLContext) -> list[tuple[str, float, str]]:
    """One user's session: ``requests`` calls cycling encode / sliders / swap; returns (kind, seconds, error)."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=str(downloads), ssl_verify=context)
    rng = np.random.default_rng(index)
    out = []
    start.wait()
    for j in range(requests):
        kind = KINDS[(index + j) % len(KINDS)]
        a, b = rng.choice(len(faces), size=2, replace=False)
        t0 = time.perf_counter()
        try:
            if kind == "encode":
                _check_images(client.predict(handle_file(faces[a]), api_name="/encode")[:2], 2)
            elif kind == "sliders":  # one slider to one end, from the session's face (or the average one)
                values = [s.default for s in specs]
                k = int(rng.integers(len(specs)))
                values[k] = specs[k].maximum if rng.random() < 0.5 else specs[k].minimum
                _check_images(client.predict(None, *values, api_name="/sliders"), 1)
            else:
                _check_images(client.predict(handle_file(faces[a]), handle_file(faces[b]), "expression",
                                             api_name="/swap"), 6)
            error = ""
        except Exception as e:  # noqa: BLE001 -- every failure a user would see is counted
            error = f"{type(e).__name__}: {e}"[:300]
        out.append((kind, time.perf_counter() - t0, error))
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="bundled name or directory (default: as bench/app_latency.py)")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--requests", type=int, default=10, help="requests per client")
    p.add_argument("--out", default=str(ROOT / "bench/results/load.json"))
    args = p.parse_args(argv)

    import gradio
    import gradio_client

    import facelab
    from facelab import demo as D

    checkpoint = D.checkpoint_argument(args.checkpoint)
    model = facelab.load(checkpoint)
    specs = D.slider_specs(model)
    with tempfile.TemporaryDirectory(prefix="facelab-load-") as scratch:
        scratch = Path(scratch)
        # gradio_client leaves a folder per download in the temp dir: keep them in the scratch folder
        tempfile.tempdir = str(scratch)
        faces = [str(f) for f in D.save_examples(scratch / "faces", n=6, size=max(128, model.config.image_size))]
        t0 = time.perf_counter()
        server, url = start_server(checkpoint, free_port(), scratch)
        startup_s = time.perf_counter() - t0
        try:
            load_before = os.getloadavg()
            start = threading.Barrier(args.clients + 1, timeout=600)
            context = ssl.create_default_context()
            with ThreadPoolExecutor(args.clients) as pool:
                futures = [pool.submit(run_client, i, url, faces, specs, args.requests, start, scratch / "downloads",
                                       context) for i in range(args.clients)]
                start.wait()  # every client connected: go
                t0 = time.perf_counter()
                calls = [call for f in futures for call in f.result()]
                wall_s = time.perf_counter() - t0
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(30)
            tempfile.tempdir = None
        log = (scratch / "server.log").read_text()

    server_errors = Counter(key for line in log.splitlines() for key in SERVER_ERRORS if key in line)
    errors = [e for _, _, e in calls if e]
    per_kind = {}
    for kind in KINDS:
        mine = [(s, e) for k, s, e in calls if k == kind]
        per_kind[kind] = {"requests": len(mine), "errors": sum(bool(e) for _, e in mine),
                          **latency_stats([s for s, e in mine if not e])}
    report = {
        "benchmark": "load",
        "checkpoint": str(model.directory),
        "clients": args.clients,
        "requests_per_client": args.requests,
        "requests": len(calls),
        "errors": len(errors),
        "error_messages": dict(Counter(errors).most_common(10)),
        "server_log_errors": dict(server_errors),
        "wall_s": wall_s,
        "throughput_rps": len(calls) / wall_s,
        "results": per_kind,
        "startup_s": startup_s,
        "machine": machine(load_before, load_after),
        "versions": {"gradio": gradio.__version__, "gradio_client": gradio_client.__version__,
                     "facelab": facelab.__version__},
        "command": invocation(argv),
        "when": timestamp(),
    }
    print(f"{args.clients} clients × {args.requests} requests against {report['checkpoint']}; "
          f"load average {load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'endpoint':<10}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}")
    for kind, r in per_kind.items():
        print(f"{kind:<10}{r['requests']:>10}{r['errors']:>8}{r.get('p50_ms', float('nan')):>10.0f}"
              f"{r.get('p95_ms', float('nan')):>10.0f}")
    print(f"{'all':<10}{len(calls):>10}{len(errors):>8}    throughput {report['throughput_rps']:.1f} requests/s "
          f"({wall_s:.1f} s)")
    for message, count in report["error_messages"].items():
        print(f"  {count}× {message}")
    if server_errors:
        print("server log: " + ", ".join(f"{n}× {k}" for k, n in server_errors.items()))
    write_results(report, args.out)
    return report


if __name__ == "__main__":
    main()
