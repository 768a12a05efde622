"""Why the swap method's expression head has cross-entropy beside the paper's BCE.

    python bench/expression_head_losses.py [--epochs 5] [--identities 40]

Trains the swap method's expression encoder + head alone on generator faces (40 people, nuisance
on, intensities 0.25–1), once with the graded BCE of :func:`facelab.losses.graded_bce` and once with
plain cross-entropy, same seed and data, and prints the training accuracy per epoch (chance: 1/7).
Writes ``bench/results/expression_head_losses.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facelab import losses as L  # noqa: E402
from facelab.config import ModelConfig  # noqa: E402
from facelab.methods import build_network  # noqa: E402
from facelab.synthetic import SyntheticFaces  # noqa: E402
from facelab.training import label_remap, seed_everything, to_device  # noqa: E402

from common import write_results  # noqa: E402


def run(loss_name: str, data, epochs: int) -> list[float]:
    gen = seed_everything(0)
    config = ModelConfig(method="swap", latents={"identity": 32, "expression": 16})
    net = build_network(config)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, generator=gen)
    remap = label_remap(config.expressions)
    accuracy = []
    for _ in range(epochs):
        hits = []
        for batch in loader:
            batch = to_device(batch, torch.device("cpu"), remap)
            mu, _ = net.encode(batch["image"])
            logits = net.classify(mu["expression"])
            if loss_name == "bce":
                loss = L.graded_bce(logits, batch["expression"], batch["intensity"])
            else:
                loss = L.labelled_cross_entropy(logits, batch["expression"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            hits.append(float(L.labelled_accuracy(logits, batch["expression"])))
        accuracy.append(sum(hits) / len(hits))
        print(f"{loss_name:>4} epoch {len(accuracy)}: training accuracy {accuracy[-1]:.1%}", flush=True)
    return accuracy


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--identities", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "expression_head_losses.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = SyntheticFaces(identities=args.identities, per_identity=35, min_intensity=0.25, progress=False)
    result = {"bce": run("bce", data, args.epochs), "cross_entropy": run("ce", data, args.epochs)}
    print("\nepoch  graded BCE  cross-entropy")
    for i, (b, c) in enumerate(zip(result["bce"], result["cross_entropy"]), start=1):
        print(f"{i:>5}  {b:>10.1%}  {c:>13.1%}")
    write_results({"command": "python bench/expression_head_losses.py " + " ".join(argv or sys.argv[1:]),
                   "images": len(data), "epochs": args.epochs, "chance": 1 / 7, "training_accuracy": result,
                   "threads": args.threads, "torch": torch.__version__, "python": platform.python_version()},
                  args.out)
    return result


if __name__ == "__main__":
    main()
