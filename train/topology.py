"""Fit the UMAP maps the app's Topology tab shows, and store them beside the checkpoint.

    python -m train.topology --checkpoint checkpoints/synthetic-disvae --identities 40 --per-identity 56

Writes ``<checkpoint>/topology.npz``: gallery codes, 2-D embeddings per attribute, and the
generator factors of every gallery face (so the app re-renders neighbours instead of storing them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import facelab
from facelab.synthetic import SyntheticFaces
from facelab.topology import FILENAME, build_topology


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--identities", type=int, default=40, help="gallery identities (held out from training)")
    p.add_argument("--first-identity", type=int, default=20000)
    p.add_argument("--per-identity", type=int, default=56)
    p.add_argument("--n-neighbors", type=int, default=15)
    p.add_argument("--min-dist", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    model = facelab.load(args.checkpoint)
    gallery = SyntheticFaces(
        identities=range(args.first_identity, args.first_identity + args.identities),
        per_identity=args.per_identity,
        size=model.config.image_size,
        seed=args.seed,
        with_neutral=False,
    )
    topo = build_topology(model, gallery, n_neighbors=args.n_neighbors, min_dist=args.min_dist, seed=args.seed)
    out = Path(model.directory) / FILENAME
    topo.save(out)
    print(f"wrote {out} ({len(topo)} faces, {out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    return out


if __name__ == "__main__":
    main()
