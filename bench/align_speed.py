"""Speed of photo reading, MTCNN detection and alignment -- what one app request or one
dataset-building step costs on CPU.

    python bench/align_speed.py [--data ../shared/data/london] [--limit 0] [--size 64]
                                [--threads 1] [--out bench/results/align_speed.json]

Runs on every ``*.jpg``/``*.png`` under ``--data`` (the Face Research Lab London Set when it is
there), else on a generated 1600×1200 image with no face. The first ``--warmup`` images are
timed but kept out of the percentiles: torch's CPU kernels warm up over the first few calls
(seconds each), which is a one-off cost per process, not per photo.
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
from PIL import Image  # noqa: E402

from facelab.align import AlignConfig, MTCNNDetector, faces  # noqa: E402
from facelab.imageio import ImageError, read_image  # noqa: E402
from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)


class TimedDetector:
    """Wraps a detector to split faces() time into detection and alignment."""

    def __init__(self, inner):
        self.inner = inner
        self.last_s = 0.0

    def detect(self, img):
        t0 = time.perf_counter()
        out = self.inner.detect(img)
        self.last_s = time.perf_counter() - t0
        return out


def _stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms)
    return {
        "n": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "mean_ms": round(float(a.mean()), 2),
        "max_ms": round(float(a.max()), 2),
    }


def _generated_sources(repeat: int) -> list:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1200, 0:1600]
    base = np.stack([x / 1600 * 255, y / 1200 * 255, np.full_like(x, 128.0)], -1)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(noisy)
    return [img] * repeat


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "london"))
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "align_speed.json"))
    p.add_argument("--limit", type=int, default=0, help="at most this many photos (0 = all)")
    p.add_argument("--size", type=int, default=64, help="aligned crop size")
    p.add_argument("--warmup", type=int, default=5, help="leading images left out of the percentiles")
    p.add_argument("--repeat", type=int, default=20, help="runs on the generated image (no --data)")
    p.add_argument(
        "--threads", type=int, default=1,
        help="torch threads (0 = torch default); 1 is reproducible on a shared box",
    )
    args = p.parse_args(argv)

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    data = Path(args.data)
    if data.is_dir():
        sources = sorted(q for q in data.rglob("*") if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
        label = str(data)
    else:
        sources = []
    if not sources:
        sources = _generated_sources(args.repeat + args.warmup)
        label = "generated 1600x1200 image (no face)"
    if args.limit > 0:
        sources = sources[: args.limit]

    cfg = AlignConfig(size=args.size)
    mtcnn = MTCNNDetector.from_config(cfg)
    t0 = time.perf_counter()
    _ = mtcnn.model
    build_ms = (time.perf_counter() - t0) * 1000
    det = TimedDetector(mtcnn)

    rows = {"read_image": [], "detect": [], "align": [], "faces": [], "total": []}
    warm_total, n_faces, errors, sizes = [], [], [], set()
    for i, src in enumerate(sources):
        t0 = time.perf_counter()
        try:
            img = read_image(src, max_pixels=cfg.max_pixels)
        except ImageError as e:  # a bad file is reported, not fatal
            errors.append(str(e))
            continue
        t1 = time.perf_counter()
        found = faces(img, cfg, det)
        t2 = time.perf_counter()
        read_ms, faces_ms = (t1 - t0) * 1000, (t2 - t1) * 1000
        sizes.add(img.size)
        if i < args.warmup:
            warm_total.append(round(read_ms + faces_ms, 1))
            continue
        n_faces.append(len(found))
        rows["read_image"].append(read_ms)
        rows["detect"].append(det.last_s * 1000)
        rows["align"].append(faces_ms - det.last_s * 1000)
        rows["faces"].append(faces_ms)
        rows["total"].append(read_ms + faces_ms)

    stats = {k: _stats(v) for k, v in rows.items()}
    result = {
        "data": label,
        "images": len(sources),
        "image_sizes": sorted(f"{w}x{h}" for w, h in sizes),
        "device": str(mtcnn.device),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "config": cfg.to_dict(),
        "config_key": cfg.key(),
        "model_build_ms": round(build_ms, 1),
        "warmup_total_ms": warm_total,
        "stats": stats,
        "faces_per_image": {str(k): int(v) for k, v in zip(*np.unique(n_faces, return_counts=True))},
        "errors": errors,
    }

    print(f"{label}: {len(sources)} images {', '.join(result['image_sizes'][:4])}; "
          f"{result['device']}, {result['torch_threads']} torch threads")
    print(f"model build {build_ms:.0f} ms; warm-up images (ms): {warm_total}")
    print(f"{'stage':<12}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for k, s in stats.items():
        if s["n"]:
            print(f"{k:<12}{s['n']:>6}{s['p50_ms']:>10.1f}{s['p95_ms']:>10.1f}{s['mean_ms']:>10.1f}")
    print(f"faces per image: {result['faces_per_image']}; unreadable: {len(errors)}")

    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
