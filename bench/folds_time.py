"""Wall time of the 10-fold subject-independent protocol on a ~1,000-image labelled set.

    python bench/folds_time.py                       # 10 folds, 36 people × 28 = 1008 images
    python bench/folds_time.py --folds 3 --identities 8 --per-identity 25    # a quick check

The requirement: ``python -m train.evaluate --checkpoint checkpoints/synthetic-disvae --data
<~1,000 images> --folds 10`` finishes within 20 minutes on the 2-core CPU machine, training the
checkpoint's method from scratch in every fold. The set is synthetic people the checkpoint never
saw (identity seed space 1); every fold trains with the checkpoint's own settings (batch size,
learning rate, method options) for ``--fold-epochs`` epochs in all, split over the method's stages
in the checkpoint's ratio (DisVAE's identity_epochs + disvae_epochs, 10 + 20 → 1 : 2). It runs :func:`train.evaluate.main` exactly as the command
line does (per-fold progress lines and the wall time are printed), then writes the timings and
the mean ± std figures to ``bench/results/folds_time.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import torch  # noqa: E402
from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)

BUDGET_S = 20 * 60
# 10 folds × ~907 training images = 14 steps of 64 per epoch. The DisVAE at 64 px (channels 16-128)
# takes about 0.3 s per step in either stage on 2 idle cores, so 15 epochs (5 + 10) are ~210 steps,
# ~65 s per fold plus a few seconds of scoring: ~11-12 min for 10 folds, with room for a slower CPU.
# bench/results/folds_time.json holds the measured time.
DEFAULT_FOLD_EPOCHS = 15
HEADLINE = ("expression_accuracy", "expression_probe_accuracy", "leakage_accuracy", "leakage_mlp_accuracy",
            "majority_rate", "identity_auc", "identity_auc_expression_code", "identity_top1", "psnr", "ssim",
            "swap_psnr", "noswap_psnr", "swap_identity_kept", "mig", "dci_disentanglement")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="checkpoints/synthetic-disvae")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--identities", type=int, default=36, help="people in the set (default 36)")
    p.add_argument("--per-identity", type=int, default=28, help="images per person (default 28: 1008 images)")
    p.add_argument("--fold-epochs", type=int, default=DEFAULT_FOLD_EPOCHS,
                   help=f"training epochs per fold, all stages together (default {DEFAULT_FOLD_EPOCHS})")
    p.add_argument("--max-steps", type=int, default=None, help="cap per stage and fold (smoke runs only)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2: the target machine)")
    p.add_argument("--out", default="bench/results/folds_time.json")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-fold lines stay)")
    return p.parse_args(argv)


def fold_steps(n_train: int, fold_training: dict) -> int:
    """Batches of one fold over all its stages, as the training loader batches (drop_last); a stage
    with several optimizers (an adversary's and the model's) steps each once per batch."""
    batch = fold_training["batch_size"]
    per_epoch = n_train // batch if n_train > batch else 1
    steps = 0
    for epochs in fold_training["stage_epochs"].values():
        epochs = epochs or 0  # None: a stage the fine-tune skips
        total = epochs * per_epoch
        steps += min(total, fold_training["max_steps"]) if fold_training["max_steps"] else total
    return steps


def main(argv=None) -> dict:
    args = parse_args(argv)
    from train import evaluate

    torch.set_num_threads(args.threads)
    spec = (f"synthetic:identities={args.identities},per_identity={args.per_identity},"
            "identity_seed=1,seed=1,min_intensity=0.25")
    argv_eval = ["--checkpoint", args.checkpoint, "--data", spec, "--folds", str(args.folds),
                 "--fold-epochs", str(args.fold_epochs), "--threads", str(args.threads)]
    if args.max_steps is not None:
        argv_eval += ["--max-steps", str(args.max_steps)]
    if args.quiet:
        argv_eval.append("--quiet")
    print("python -m train.evaluate " + " ".join(argv_eval))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures = evaluate.main(argv_eval + ["--out", str(Path(tmp) / "evaluation.json")])
    total = time.perf_counter() - t0
    ft = figures["fold_training"]
    folds = []
    for f in figures["folds"]:
        row = {k: f[k] for k in ("fold", "n_train", "n_test", "train_time_s", "eval_time_s")}
        row["train_steps"] = fold_steps(f["n_train"], ft)
        row["train_s_per_step"] = round(f["train_time_s"] / max(1, row["train_steps"]), 3)
        folds.append(row)
    result = {
        "command": "python -m train.evaluate " + " ".join(argv_eval),
        "data": spec,
        "images": figures["n_images"],
        "identities": figures["n_identities"],
        "folds": args.folds,
        "fold_training": figures["fold_training"],
        "wall_time_s": round(total, 1),
        "fold_time_s_mean": figures["fold_time_s_mean"],
        "train_time_s_mean": round(sum(f["train_time_s"] for f in folds) / len(folds), 2),
        "eval_time_s_mean": round(sum(f["eval_time_s"] for f in folds) / len(folds), 2),
        "train_s_per_step": round(sum(f["train_time_s"] for f in folds) / max(1, sum(f["train_steps"] for f in folds)), 3),
        "budget_s": BUDGET_S,
        "within_budget": total <= BUDGET_S,
        "per_fold": folds,
        "figures": {k: [figures.get(f"{k}_mean"), figures.get(f"{k}_std")] for k in HEADLINE
                    if f"{k}_mean" in figures},
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - total)),
    }
    print(f"{args.folds} folds on {result['images']} images: total wall time {total:.1f} s "
          f"({result['fold_time_s_mean']} s per fold: train {result['train_time_s_mean']} s, "
          f"eval {result['eval_time_s_mean']} s; {result['train_s_per_step']} s per training step); budget {BUDGET_S} s: "
          f"{'within' if result['within_budget'] else 'OVER'}")
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
