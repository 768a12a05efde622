"""Change an inference setting of a trained checkpoint without retraining it.

    python -m train.configure --checkpoint checkpoints/real-disvae --mirror-expression

Rewrites the model section of ``config.json`` (the weights are untouched), records the command
in ``training_run.json`` so the card lists it after the training commands, and regenerates the
card. Re-run ``python -m train.evaluate ... --card`` afterwards: the figures already in the card
were measured under the old setting.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import facelab
from facelab.card import write_card
from facelab.config import save_config


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint directory (bundled names resolve too)")
    p.add_argument("--mirror-expression", action=argparse.BooleanOptionalAction, default=None,
                   help="z_exp = mean of the expression encoder's outputs for the face and its mirror image")
    return p.parse_args(argv)


def main(argv=None) -> Path:
    args = parse_args(argv)
    settings = {k: v for k, v in {"mirror_expression": args.mirror_expression}.items() if v is not None}
    if not settings:
        raise SystemExit("nothing to change: give a setting, e.g. --mirror-expression")
    model = facelab.load(args.checkpoint, device="cpu")
    directory = Path(model.directory)
    before = {k: model.setting(k) for k in settings}
    try:
        model.configure(**settings)
    except ValueError as e:  # a setting this checkpoint's method does not have
        raise SystemExit(f"{args.checkpoint}: {e}") from None
    save_config(directory / "config.json", model.config, model.training)
    record = directory / "training_run.json"
    run = json.loads(record.read_text()) if record.is_file() else {}
    run.setdefault("configured", []).append({
        "command": "python -m train.configure " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "changed": {k: [before[k], v] for k, v in settings.items()},
    })
    record.write_text(json.dumps(run, indent=2) + "\n")
    for k, v in settings.items():
        print(f"{directory}: {k} {before[k]} → {v}")
    print(f"wrote {write_card(directory)}; re-run train.evaluate --card: its figures predate this change")
    return directory


if __name__ == "__main__":
    main()
