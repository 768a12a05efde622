"""Update rate of the live webcam mode: frames per second the server can turn into results.

    python bench/webcam_rate.py [--checkpoint real-disvae] [--frames 40] [--threads 2]
                                [--out bench/results/webcam_rate.json]

Each frame is a 640×480 webcam-sized picture (a London photo scaled onto it when the data folder
is present, else a generator face, which photo models may not detect) and goes through what the
app's streaming event runs per frame (:func:`facelab.demo.webcam.live_frame`: MTCNN detection +
5-point alignment, encode, decode, classify). The rate is 1 / mean time per frame; the server and
browser add their own transfer time on top (a no-op endpoint's cost: ``bench/app_latency.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import latency_stats, write_results  # noqa: E402
from PIL import Image  # noqa: E402

import facelab  # noqa: E402
from facelab.demo import data_root  # noqa: E402
from facelab.demo.webcam import live_frame  # noqa: E402


def webcam_frames(n: int, size=(640, 480)) -> tuple[list[np.ndarray], str]:
    """``n`` webcam-sized frames: London photos scaled into the frame, else generator faces."""
    photos = sorted((data_root() / "london" / "neutral_front").glob("*.jpg"))
    frames = []
    if photos:
        for path in photos[:n]:
            photo = Image.open(path).convert("RGB")
            photo.thumbnail(size)
            canvas = Image.new("RGB", size, (90, 90, 90))
            canvas.paste(photo, ((size[0] - photo.width) // 2, (size[1] - photo.height) // 2))
            frames.append(np.asarray(canvas))
        return frames, f"London photos ({len(frames)})"
    from facelab.demo import example_faces

    for face, _ in example_faces(n, size=size[1]):
        canvas = Image.new("RGB", size, (90, 90, 90))
        canvas.paste(face, ((size[0] - face.width) // 2, 0))
        frames.append(np.asarray(canvas))
    return frames, f"generator faces ({len(frames)}; no data folder)"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="real-disvae")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "webcam_rate.json"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = facelab.load(args.checkpoint, device="cpu")
    frames, source = webcam_frames(args.frames)
    for frame in frames[: args.warmup]:
        live_frame(model, frame)
    seconds, found = [], 0
    for frame in frames:
        t0 = time.perf_counter()
        result = live_frame(model, frame)
        seconds.append(time.perf_counter() - t0)
        found += result.found
    stats = latency_stats(seconds)
    rate = 1e3 / stats["mean_ms"]
    print(f"| checkpoint | frames | faces found | p50 ms | p95 ms | updates/s |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
          f"| {args.checkpoint} | {len(frames)} | {found} | {stats['p50_ms']:.0f} | {stats['p95_ms']:.0f} | {rate:.1f} |")
    result = {"checkpoint": args.checkpoint, "frames": source, "faces_found": found, "per_frame": stats,
              "updates_per_s": rate, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(), "machine": platform.machine(),
              "command": "python bench/webcam_rate.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
