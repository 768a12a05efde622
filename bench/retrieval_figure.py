"""Per-sub-code retrieval (issue 11, after Browatzki & Wallraven): a figure and its numbers.

    python bench/retrieval_figure.py --checkpoint checkpoints/synthetic-fourway \
        --out bench/results/retrieval_fourway_synthetic
    python bench/retrieval_figure.py --checkpoint checkpoints/synthetic-fourway --data london:../shared/data/london \\
        --out bench/results/retrieval_fourway_london

Encodes a gallery, picks ``--queries`` random query faces (``--seed``) and draws, per query, the
``--k`` nearest other gallery faces by each sub-code of the checkpoint alone (``OUT.png``), and
tabulates for every sub-code × labelled factor how much more those neighbours share the factor than
random gallery faces do (``facelab.retrieval.retrieval_table``, leave-one-out over the whole
gallery; ``OUT.json``, with the command in ``command``; printed too).

Without ``--data`` the gallery is the generator people the checkpoint's card was evaluated on
(``evaluation.json``'s ``data``), else ``train.evaluate``'s default held-out generator people.
Photo data is aligned as the checkpoint aligns and, for a checkpoint trained on photos, only the
photos it never trained on are used (``facelab.topology.held_out_photos``).

Licences: the PNG holds the gallery's pictures. Generator faces may be committed; photo crops
(London is CC-BY, FER2013 research-only) may not, so for photo data the PNG goes to
``runs/retrieval/NAME.png`` (git ignores ``runs/``) unless ``--png`` says otherwise, and carries the
dataset's credit line. The JSON holds numbers only and may be committed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np
import torch
from common import invocation, machine, timestamp, write_results

import facelab
from facelab import datasets
from facelab.evaluate import encode_dataset, factor_labels_of
from facelab.retrieval import retrieval_grid, retrieval_table, retrieve
from facelab.topology import CREDITS, held_out_photos

ROOT = Path(__file__).resolve().parents[1]


def default_data(model) -> str:
    """The generator spec the checkpoint's card was measured on, else train.evaluate's held-out people."""
    from train.evaluate import HELD_OUT_SYNTHETIC

    card = Path(model.directory or ".") / "evaluation.json"
    specs = json.loads(card.read_text()).get("data", []) if card.is_file() else []
    return specs[0] if len(specs) == 1 and specs[0].startswith("synthetic") else HELD_OUT_SYNTHETIC


def gallery(model, spec: str):
    """The dataset to retrieve from: generator faces as given, photos the checkpoint never trained on."""
    if datasets.parse_data_arg(spec).name == "synthetic":
        return datasets.load(spec, size=model.config.image_size, progress=False)
    return held_out_photos(model, [spec], per_class=None, progress=False)[0]


def print_table(table: dict) -> None:
    """Rows = factors, columns = sub-codes: the value (score: 0 chance, 1 best), then chance and best."""
    codes = table["codes"]
    print(f"top-{table['k']} neighbours by sub-code, {table['n']} gallery faces; value (score: 0 = chance, 1 = best)")
    print(f"{'factor':26s}" + "".join(f"{c:>16s}" for c in codes) + f"{'chance':>10s}{'best':>8s}")
    for f, kind, row, score, chance, best in zip(table["factors"], table["kinds"], table["value"], table["score"],
                                                 table["chance"], table["best"]):
        name = f"{f} ({'p@' + str(table['k']) if kind == 'precision' else 'mean |diff|'})"
        print(f"{name:26s}" + "".join(f"{v:9.3f} ({s:+.2f})" for v, s in zip(row, score))
              + f"{chance:10.3f}{best:8.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", default=None, help="one dataset spec (default: the card's held-out generator people)")
    p.add_argument("--queries", type=int, default=6, help="rows of the figure")
    p.add_argument("--k", type=int, default=5, help="neighbours per sub-code")
    p.add_argument("--seed", type=int, default=0, help="picks the queries")
    p.add_argument("--out", required=True, help="OUT.json (and OUT.png for generator data)")
    p.add_argument("--png", default=None, help="figure path (default: OUT.png; runs/retrieval/NAME.png for photos)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    torch.set_num_threads(args.threads)
    model = facelab.load(args.checkpoint, device="cpu")
    spec = args.data or default_data(model)
    name = datasets.parse_data_arg(spec).name
    out = Path(args.out)
    png = Path(args.png) if args.png else (out.with_suffix(".png") if name == "synthetic"
                                           else ROOT / "runs" / "retrieval" / f"{out.name}.png")
    data = gallery(model, spec)
    enc = encode_dataset(model, data, progress=False)
    codes = {a: enc.codes[a] for a in model.attributes}
    factors = factor_labels_of(enc, data)
    table = retrieval_table(codes, factors, k=args.k)
    print(f"{args.checkpoint} on {len(data)} faces of {spec}")
    print_table(table)

    queries = np.random.default_rng(args.seed).choice(len(data), min(args.queries, len(data)), replace=False)
    ids, expressions = factors.get("identity"), factors.get("expression")

    def caption(i: int) -> str:  # "#12 happiness": the person and the expression, where labelled
        e = expressions[i] if expressions is not None else -1
        return " ".join(filter(None, [f"#{ids[i]}" if ids is not None else "", model.expressions[e] if e >= 0 else ""]))

    neighbours = retrieve(codes, queries, k=args.k)
    png.parent.mkdir(parents=True, exist_ok=True)
    captions = [caption(i) for i in range(len(data))]
    retrieval_grid(enc.images, queries, neighbours, captions, note=CREDITS.get(name)).save(png)
    print(f"wrote {png}")

    table_json = {key: v.tolist() if isinstance(v, np.ndarray) else v for key, v in table.items()}
    run = Path(args.checkpoint) / "training_run.json"
    write_results({"checkpoint": args.checkpoint, "data": spec, "table": table_json, "queries": queries.tolist(),
                   "neighbours": {a: v.tolist() for a, v in neighbours.items()},
                   "figure": os.path.relpath(png, ROOT),
                   "trained_by": json.loads(run.read_text()).get("command") if run.is_file() else None,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv), "when": timestamp()},
                  out.with_suffix(".json"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
