"""Does averaging z_exp over a face and its mirror image read expressions better? Decided on validation data.

    python bench/mirror_validation.py --train          # train the short check model, then compare (~23 min)
    python bench/mirror_validation.py --checkpoint DIR # compare on an existing checkpoint's validation part

``mirror_expression`` (a DisVAE option, ``model.setting("mirror_expression")``) is a choice about
how a trained model reads expressions, so it is made on images kept out of training, not on the test set the card reports.
The bundled real-disvae trained on all of FER2013's training split, so it has no validation part;
``--train`` therefore trains a short model with the same recipe (architecture, augmentation, losses)
— 1 + 4 epochs instead of 3 + 20 + 4 — with ``--validation 0.1``: a tenth of FER2013 train (and of
the non-held-out London people) kept out. Both settings are then scored on that validation part
with the functions the cards use (the figures ``python -m train.evaluate --checkpoint DIR --split val
--[no-]mirror-expression`` prints), paired per image, and written to
``bench/results/mirror_validation.json``. Needs ``../shared/data`` (or ``--data-root``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import torch  # noqa: E402
from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

# The real-disvae recipe (README), shortened, with a validation part.
RECIPE = [
    "--holdout", "0.2", "--validation", "0.1", "--hflip", "--affine", "1", "--lr-schedule", "onecycle",
    "--lr", "0.002", "--identity-target", "input", "--identity-dim", "24", "--expression-dim", "16",
    "--expression-channels", "32", "64", "128", "256", "--expression-depth", "1",
    "--identity-epochs", "1", "--disvae-epochs", "4",
    "--beta-identity", "0.05", "--beta-expression", "0.1", "--classifier-weight", "1000",
]
SHOWN = ("expression_accuracy", "expression_balanced_accuracy", "expression_probe_accuracy", "psnr", "n_images")


def compare(checkpoint: Path, data: list[str]) -> tuple[dict, dict]:
    """Score both settings on the checkpoint's validation part — the figures ``train.evaluate
    --split val --[no-]mirror-expression`` prints, from the same functions — and pair them per image:
    which images mirror averaging turns right or wrong, with the exact McNemar test (binomial on
    the discordant pairs) of whether that is chance. The data is loaded once, encoded once per setting."""
    import torch
    from scipy.stats import binomtest

    import facelab
    from facelab import datasets
    from facelab.evaluate import encode_dataset, representation_scores
    from facelab.labels import MISSING

    model = facelab.load(checkpoint, device="cpu")
    t = model.training
    if t is None or t.validation <= 0:
        raise SystemExit(f"{checkpoint} was trained without --validation: it has no validation part")
    dataset = datasets.load(data, size=model.config.image_size, progress=False)
    val = torch.utils.data.Subset(dataset, datasets.training_splits(dataset, t.holdout, t.validation, t.seed)["val"])
    rows, right = {}, {}
    for setting, mirror in (("single view", False), ("mirror-averaged", True)):
        t0 = time.perf_counter()
        enc = encode_dataset(model.configure(mirror_expression=mirror), val, progress=False)
        scores = representation_scores(model, enc)
        rows[setting] = {k: scores[k] for k in SHOWN if k in scores}
        rows[setting]["mirror_expression"] = model.setting("mirror_expression")
        rows[setting]["wall_time_s"] = round(time.perf_counter() - t0, 1)
        known = enc.labels["expression"] != MISSING
        right[mirror] = enc.logits[known].argmax(1) == enc.labels["expression"][known]
    fixed, broken = int((right[True] & ~right[False]).sum()), int((~right[True] & right[False]).sum())
    p = binomtest(fixed, fixed + broken, 0.5).pvalue if fixed + broken else 1.0
    paired = {"labelled": int(len(right[False])), "fixed": fixed, "broken": broken, "mcnemar_p": float(p),
              "single_view_right": int(right[False].sum()), "mirror_right": int(right[True].sum())}
    return rows, paired


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="/tmp/facelab-mirror-check/val-check",
                   help="a checkpoint trained with --validation (written here with --train)")
    p.add_argument("--train", action="store_true", help="train the short check model first")
    p.add_argument("--data-root", default="../shared/data", help="folder holding london/ and fer2013/")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "mirror_validation.json"))
    args = p.parse_args(argv)

    from train import disvae

    data = [f"london:{args.data_root}/london", f"fer2013:{args.data_root}/fer2013"]
    checkpoint = Path(args.checkpoint)
    if args.train:
        disvae.main(["--name", checkpoint.name, "--out", str(checkpoint.parent), "--logs", "",
                     "--threads", str(args.threads), "--data", *data, *RECIPE])
    torch.set_num_threads(args.threads)
    rows, paired = compare(checkpoint, data)

    print(f"\nvalidation part of {checkpoint} ({rows['single view'].get('n_images')} images)")
    print(f"{'setting':<16} {'accuracy':>9} {'balanced':>9} {'probe':>7} {'PSNR dB':>8}")
    for setting, r in rows.items():
        print(f"{setting:<16} {r['expression_accuracy']:>9.1%} {r['expression_balanced_accuracy']:>9.1%} "
              f"{r['expression_probe_accuracy']:>7.1%} {r['psnr']:>8.2f}")
    gain = rows["mirror-averaged"]["expression_accuracy"] - rows["single view"]["expression_accuracy"]
    print(f"mirror averaging: {gain * 100:+.1f} accuracy points on validation; it fixes {paired['fixed']} "
          f"images and breaks {paired['broken']} (exact McNemar p = {paired['mcnemar_p']:.3g})")
    record = checkpoint / "training_run.json"
    run = json.loads(record.read_text()) if record.is_file() else {}
    result = {"checkpoint": str(checkpoint), "train_command": run.get("command"),
              "train_wall_time_s": run.get("wall_time_s"), "settings": rows, "accuracy_gain": gain,
              "paired": paired}
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
