"""Change an inference setting of a trained checkpoint without retraining it.

    python -m train.configure --checkpoint checkpoints/real-disvae --mirror-expression
    python -m train.configure --checkpoint checkpoints/swap-synthetic --refine-steps 50 --refine-free identity
    python -m train.configure --checkpoint checkpoints/swap-synthetic --photo-tolerance 0.05 --photo-sigma 2

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
from facelab.config import REFINE_LR, ConfigError, save_config
from facelab.face_model import CONFIG_SETTINGS
from facelab.photo_layer import FALLOFF, SIGMA, TOLERANCE


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint directory (bundled names resolve too)")
    p.add_argument("--mirror-expression", action=argparse.BooleanOptionalAction, default=None,
                   help="z_exp = mean of the expression encoder's outputs for the face and its mirror image")
    add_refine_arguments(p)
    layer = p.add_argument_group("photo layer", "how edits are drawn on a face's own picture (facelab.photo_layer; "
                                 "bench/photo_layer_synthetic.py chooses them for a generator model)")
    layer.add_argument("--photo-tolerance", type=float, default=None,
                       help=f"mean absolute change at which the picture's own detail is gone (default {TOLERANCE})")
    layer.add_argument("--photo-sigma", type=float, default=None,
                       help=f"blur, in px at 64 px, over which that change is judged (default {SIGMA})")
    layer.add_argument("--photo-falloff", type=float, default=None,
                       help=f"how fast a changed person loses the picture's detail (default {FALLOFF})")
    layer.add_argument("--photo-default", action="store_true",
                       help="forget the checkpoint's own photo-layer setting (the layer's defaults apply)")
    return p.parse_args(argv)


def photo_layer_setting(args, model) -> dict | None | str:
    """The ``photo_layer`` setting the photo arguments ask for: the checkpoint's with the numbers given
    changed, None (--photo-default), or "unchanged" when none were given."""
    given = {k: v for k, v in {"tolerance": args.photo_tolerance, "sigma": args.photo_sigma,
                               "falloff": args.photo_falloff}.items() if v is not None}
    if args.photo_default:
        if given:
            raise SystemExit("--photo-default forgets the setting: it takes no --photo-* number")
        return None
    return {**(model.config.photo_layer or {}), **given} if given else "unchanged"


def add_refine_arguments(p: argparse.ArgumentParser) -> None:
    """--refine-steps/--refine-free/--refine-lr: codes refined against the image after encoding
    (facelab.code_refinement); shared with train.evaluate, which can try a setting before it is kept."""
    p.add_argument("--refine-steps", type=int, default=None, metavar="N",
                   help="Adam steps on each encoded code against its own image, the decoder fixed (0: off)")
    p.add_argument("--refine-free", nargs="+", default=None, metavar="SUB_CODE",
                   help="the sub-codes those steps move (default with --refine-steps: every sub-code)")
    p.add_argument("--refine-lr", type=float, default=None, help=f"Adam's step size (default {REFINE_LR})")


def refine_setting(args, model) -> dict | None | str:
    """The ``refine`` setting the refine arguments ask for: a dict, None (--refine-steps 0: off), or
    the string "unchanged" when none were given."""
    if args.refine_steps is None:
        if args.refine_free is not None or args.refine_lr is not None:
            raise SystemExit("--refine-free and --refine-lr need --refine-steps")
        return "unchanged"
    if args.refine_steps == 0:
        return None
    setting = {"steps": args.refine_steps, "free": args.refine_free or list(model.attributes)}
    return setting if args.refine_lr is None else {**setting, "lr": args.refine_lr}


def main(argv=None) -> Path:
    args = parse_args(argv)
    settings = {k: v for k, v in {"mirror_expression": args.mirror_expression}.items() if v is not None}
    model = facelab.load(args.checkpoint, device="cpu")
    own = CONFIG_SETTINGS  # ModelConfig's own fields; the rest are the method's options
    for name, value in (("refine", refine_setting(args, model)), ("photo_layer", photo_layer_setting(args, model))):
        if value != "unchanged":
            settings[name] = value
    if not settings:
        raise SystemExit("nothing to change: give a setting, e.g. --mirror-expression, --refine-steps or --photo-tolerance")
    directory = Path(model.directory)
    before = {k: getattr(model.config, k) if k in own else model.setting(k) for k in settings}
    try:
        model.configure(**settings)
    except (ValueError, ConfigError) as e:  # a setting this checkpoint's method does not have, a bad sub-code
        raise SystemExit(f"{args.checkpoint}: {e}") from None
    settings = {k: getattr(model.config, k) if k in own else v for k, v in settings.items()}  # as checked
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
