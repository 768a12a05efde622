"""Fit the UMAP maps the app's Topology tab shows, and store them beside the checkpoint.

    python -m train.topology --checkpoint checkpoints/synthetic-disvae --identities 40 --per-identity 56
    python -m train.topology --checkpoint checkpoints/real-disvae \\
        --data fer2013:../shared/data/fer2013 london:../shared/data/london --per-class 150

Writes ``<checkpoint>/topology.npz``: gallery codes, 2-D embeddings per attribute and the gallery's
labels. A synthetic checkpoint's gallery is generator faces of people no model trains on, stored as
their factors (the app re-renders them). A photo checkpoint's gallery (or any checkpoint given
``--data``) is the photos it never trained on — its own held-out split drawn again, FER2013's test
split, any other dataset whole — stored as labels and each file's path in its dataset folder, never
pixels (the app reads the files from the data folder when present, else decodes the codes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import facelab
from facelab.synthetic import SyntheticFaces
from facelab.topology import FILENAME, build_topology, held_out_photos


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", nargs="+", default=None, metavar="NAME:PATH[?options]",
                   help="photo datasets for the gallery (default for a photo checkpoint: the data it trained on)")
    p.add_argument("--per-class", type=int, default=150,
                   help="photos per dataset and expression at most (a balanced random subset; 0: all)")
    p.add_argument("--identities", type=int, default=40, help="gallery identities (held out from training)")
    p.add_argument("--first-identity", type=int, default=20000)
    p.add_argument("--per-identity", type=int, default=56)
    p.add_argument("--n-neighbors", type=int, default=15)
    p.add_argument("--min-dist", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    model = facelab.load(args.checkpoint)
    specs = args.data or (list(model.training.data) if model.config.alignment == "mtcnn" and model.training else None)
    if specs:
        gallery, labels, params = held_out_photos(model, specs, per_class=args.per_class or None, seed=args.seed)
        print("\n".join(params["gallery"]))
    else:
        gallery = SyntheticFaces(
            identities=range(args.first_identity, args.first_identity + args.identities),
            per_identity=args.per_identity,
            size=model.config.image_size,
            seed=args.seed,
            with_neutral=False,
        )
        labels = params = None
    topo = build_topology(model, gallery, labels, params, n_neighbors=args.n_neighbors, min_dist=args.min_dist,
                          seed=args.seed)
    out = Path(model.directory) / FILENAME
    topo.save(out)
    print(f"wrote {out} ({len(topo)} faces, {out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    return out


if __name__ == "__main__":
    main()
