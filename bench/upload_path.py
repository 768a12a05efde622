"""The photo model's upload path next to MTCNN detection alone, on the same photos.

    python bench/upload_path.py [--checkpoint real-disvae] [--data ../shared/data/london]
                                [--limit 40] [--warmup 3] [--threads 1]
                                [--out bench/results/upload_path.json]
    python bench/upload_path.py --checkpoint photo-swap --sharper --out bench/results/upload_path_sharper.json

Each London photo goes through the Encode tab's steps with facelab's public functions, as the
app calls them: ``read_image`` (what ``read_upload`` does with the uploaded file), then
``FaceModel.prepare`` (MTCNN and the 5-point alignment), ``encode``, ``decode`` and ``classify``.
MTCNN alone is ``MTCNNDetector.detect`` with the model's own alignment settings on the same decoded
photo. The two are interleaved photo by photo (alternating which goes first) so that load from
other work on a shared machine hits both alike. Issue 13's bar: total ≤ 1.5× MTCNN alone (p50).
Runs where the app would (a GPU when there is one); ``--threads`` sets torch's CPU threads. Skips,
saying so, when the data folder is missing: the repository holds no photos.
``--sharper`` encodes as the app's *Sharper (slower)* switch does (``FaceModel.sharper_setting``: the
code refined against the view), to say what that switch costs an upload.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np
from common import invocation, latency_stats, machine, timestamp, write_results  # bench/ is on sys.path

BAR = 1.5
STAGES = ("read", "prepare", "encode", "decode", "classify")


def london_photos(data: Path, limit: int) -> list[Path]:
    """Neutral and smiling photos, alternating, so any prefix has both expressions."""
    neutral = sorted((data / "neutral_front").glob("*.jpg"))
    smiling = sorted((data / "smiling_front").glob("*.jpg"))
    photos = [p for pair in zip(neutral, smiling) for p in pair]
    return photos[:limit] if limit > 0 else photos


def main(argv=None) -> dict | None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="real-disvae", help="a photo (MTCNN-aligned) checkpoint")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "london"))
    p.add_argument("--limit", type=int, default=40, help="at most this many photos (0 = all)")
    p.add_argument("--warmup", type=int, default=3, help="leading photos left out of the figures")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--sharper", action="store_true", help="encode with the app's Sharper switch on")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "upload_path.json"))
    args = p.parse_args(argv)

    photos = london_photos(Path(args.data), args.limit)
    if not photos:
        print(f"skipped: no London photos under {args.data} (the data folder is not part of the "
              "repository; point --data at .../shared/data/london)")
        return None

    import torch

    import facelab
    from facelab.align import MTCNNDetector
    from facelab.imageio import read_image

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = facelab.load(args.checkpoint)
    load_s = time.perf_counter() - t0
    if model.config.alignment != "mtcnn":
        raise SystemExit(f"{args.checkpoint} is not a photo model (alignment {model.config.alignment!r})")
    cfg = model.align_config()
    detector = MTCNNDetector.from_config(cfg)  # the same cached MTCNN that prepare() uses
    labelled = "expression" if "expression" in model.class_names() else None
    sharper = model.sharper_setting() if args.sharper else True

    def upload(path, times):
        t = time.perf_counter()
        image = read_image(path)
        times["read"] = time.perf_counter() - t
        t = time.perf_counter()
        view = model.prepare(image)
        times["prepare"] = time.perf_counter() - t
        t = time.perf_counter()
        code = model.encode(view, align=False, refine=sharper)
        times["encode"] = time.perf_counter() - t
        t = time.perf_counter()
        model.decode(code)
        times["decode"] = time.perf_counter() - t
        t = time.perf_counter()
        top = next(iter(model.classify(code, labelled))) if labelled else None
        times["classify"] = time.perf_counter() - t
        return image, top

    def mtcnn(image):
        t = time.perf_counter()
        found = detector.detect(image)
        return time.perf_counter() - t, len(found)

    rows = {k: [] for k in (*STAGES, "total", "mtcnn")}
    ratios, first, faces, predicted = [], [], [], {}
    load_before = os.getloadavg()
    for i, path in enumerate(photos):
        times = {}
        if i % 2:
            image, top = upload(path, times)
            alone, n = mtcnn(image)
        else:
            alone, n = mtcnn(read_image(path))
            image, top = upload(path, times)
        total = sum(times.values())
        if i < args.warmup:
            first.append(round(total * 1e3, 1))
            continue
        for k in STAGES:
            rows[k].append(times[k])
        rows["total"].append(total)
        rows["mtcnn"].append(alone)
        ratios.append(total / alone)
        faces.append(n)
        predicted[top] = predicted.get(top, 0) + 1
    load_after = os.getloadavg()

    stats = {k: latency_stats(v) for k, v in rows.items()}
    ratio = stats["total"]["p50_ms"] / stats["mtcnn"]["p50_ms"]
    result = {
        "benchmark": "upload_path",
        "checkpoint": str(model.directory),
        "data": str(args.data),
        "photos": len(photos),
        "sharper": sharper if args.sharper else None,
        "warmup_photos_total_ms": first,
        "stats": stats,
        "ratio_p50": ratio,
        "ratio_per_photo_median": float(np.median(ratios)),
        "bar": BAR,
        "passes": ratio <= BAR,
        "faces_found_by_mtcnn": {str(k): int(c) for k, c in zip(*np.unique(faces, return_counts=True))},
        "predicted_expressions": predicted,
        "model_load_s": load_s,
        "machine": machine(load_before, load_after, device=str(detector.device), torch=torch.__version__,
                           torch_threads=torch.get_num_threads()),
        "command": invocation(argv),
        "when": timestamp(),
    }

    n = stats["total"]["n"]
    print(f"{model.directory.name} on {n} London photos after {args.warmup} warm-up ones; "
          f"{result['machine']['device']}, {result['machine']['torch_threads']} torch threads")
    print(f"{'stage':<22}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    labels = {"read": "read_image", "prepare": "prepare (detect+align)", "total": "upload path total",
              "mtcnn": "MTCNN alone"}
    for k in (*STAGES, "total", "mtcnn"):
        s = stats[k]
        print(f"{labels.get(k, k):<22}{s['p50_ms']:>10.1f}{s['p95_ms']:>10.1f}{s['mean_ms']:>10.1f}")
    print(f"total / MTCNN alone: {ratio:.2f}× at p50 (per-photo median {result['ratio_per_photo_median']:.2f}×); "
          f"bar ≤ {BAR}× {'met' if result['passes'] else 'NOT met'}; "
          f"load average {load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
