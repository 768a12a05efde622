"""Benchmark: build (detect + align + cache) the London set at 64×64, then load it again warm.

    python bench/dataset_build.py                      # ../shared/data/london, fresh temp cache
    python bench/dataset_build.py --data london:/path/to/london --grid /tmp/london_grid.png

``--data`` is a dataset spec (``NAME:PATH[?options]``) or a folder (the shared data root or the
London folder itself). By default the crop cache is a fresh temporary folder so the first build
is cold; ``--cache-dir`` reuses a persistent one. Writes ``bench/results/dataset_build.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facelab import datasets  # noqa: E402
from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)


def resolve_spec(data: str) -> str:
    if ":" in data and not Path(data).exists():
        return data
    root = Path(data)
    if (root / "london").is_dir():
        root = root / "london"
    return f"london:{root}"


def save_grid(ds, path: Path, columns: int = 12, rows: int = 6) -> None:
    import numpy as np
    from PIL import Image

    n = min(len(ds), columns * rows)
    idx = np.linspace(0, len(ds) - 1, n).round().astype(int)
    s = ds.size
    grid = Image.new("RGB", (columns * s, -(-n // columns) * s))
    for k, i in enumerate(idx):
        grid.paste(Image.fromarray(ds.image_array(int(i))), ((k % columns) * s, (k // columns) * s))
    grid = grid.resize((grid.width * 2, grid.height * 2), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="dataset spec or folder")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--cache-dir", default=None, help="crop cache (default: a fresh temporary folder)")
    ap.add_argument("--min-face-size", type=int, default=None, help="override AlignConfig.min_face_size")
    ap.add_argument("--max-detect-side", type=int, default=None, help="override AlignConfig.max_detect_side")
    ap.add_argument("--grid", default=None, help="save a PNG grid of aligned crops here")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "dataset_build.json"))
    args = ap.parse_args(argv)

    import torch

    from facelab.align import AlignConfig

    overrides = {k: v for k, v in (("min_face_size", args.min_face_size), ("max_detect_side", args.max_detect_side))
                 if v is not None}
    align_config = AlignConfig(size=args.size, **overrides)
    spec = resolve_spec(args.data)
    tmp = None
    cache_dir = args.cache_dir
    if cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="facelab-bench-")
        cache_dir = tmp.name
    print(f"building {spec} at {args.size}×{args.size} (align {overrides or 'defaults'}), cache {cache_dir}", flush=True)

    t0 = time.perf_counter()
    scan = datasets.scan(*datasets.parse_data_arg(spec)[:2])
    scan_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    cold = datasets.load(spec, size=args.size, align_config=align_config, cache_dir=cache_dir, progress=True)
    cold_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    warm = datasets.load(spec, size=args.size, align_config=align_config, cache_dir=cache_dir, progress=False)
    warm_s = time.perf_counter() - t0
    assert warm.stats["computed"] == 0, "second load should come entirely from the cache"

    n = len(scan.records)
    computed = cold.stats["computed"]
    result = {
        "spec": spec,
        "size": args.size,
        "align_key": cold.prep.key(),
        "align_overrides": overrides,
        "images": n,
        "kept": len(cold),
        "skipped": len(cold.skipped),
        "skipped_by_reason": cold.skipped_by_reason(),
        "skipped_files": [[os.path.relpath(p, scan.root), r] for p, r in cold.skipped],
        "scan_seconds": round(scan_s, 3),
        "build_seconds": round(cold_s, 2),
        "build_ms_per_image": round(1000 * cold_s / max(n, 1), 1),
        "build_images_per_second": round(computed / cold_s, 2) if cold_s else None,
        "warm_load_seconds": round(warm_s, 3),
        "warm_ms_per_image": round(1000 * warm_s / max(n, 1), 2),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    print(
        f"{spec}: {n} images, {len(cold)} kept, {len(cold.skipped)} skipped {cold.skipped_by_reason()}; "
        f"cold build {cold_s:.1f} s = {result['build_ms_per_image']} ms/image "
        f"({result['build_images_per_second']} img/s on {result['device']}); warm load {warm_s:.2f} s"
    )
    if args.grid:
        save_grid(cold, Path(args.grid))
        print(f"grid of crops: {args.grid}")
    write_results(result, args.out)
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
