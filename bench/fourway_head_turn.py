"""Does the head-turn edit turn the head? The pose edit's picture against the generator's own render.

    python bench/fourway_head_turn.py CHECKPOINT [CHECKPOINT ...] [--faces 96] [--yaws -30 -15 15 30]
        [--out bench/results/fourway_head_turn.json] [--figure PATH.png]

The swap bar reads a pose swap through the model's own encoder; this reads the picture. For faces of the
cards' validation people (never the test people), each checkpoint encodes the face, writes a yaw into
z_pose (``facelab.demo.headpose.set_pose``: the app's head-turn slider) and decodes. The generator renders
the same face at that yaw: the truth. Per yaw: the PSNR of the turned decode against that truth, its gain
over the unturned reconstruction against the same truth (> 0: the edit moved the picture towards the
turned face), the same gain for the model's own reconstruction of the true turned face (what this decoder
draws of the turn when the code comes from the turned face itself), the input render's PSNR to the turned
one (how far the turn is), and the yaw read back from the turned decode re-encoded. ``--figure`` draws a few faces: input, the turns, the truth.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import invocation, machine, timestamp, write_results  # noqa: E402
from fourway_z_probe import VALIDATION  # noqa: E402

import facelab  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-image PSNR (dB) of images in [0, 1] (facelab.metrics.reconstruction_scores): a difference of
    two such means is the mean of the per-image differences."""
    from facelab.metrics import reconstruction_scores

    return reconstruction_scores(a, b)["psnr"]


def main(argv: list[str] | None = None) -> int:
    from facelab.demo.headpose import read_pose, set_pose
    from facelab.face_model import Code, join_codes
    from facelab.synthetic import MAX_YAW, SyntheticFaces, render_batch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--faces", type=int, default=96, help="validation faces (the first of each person's, in turn)")
    p.add_argument("--yaws", type=float, nargs="+", default=[-30.0, -15.0, 15.0, 30.0], help="degrees")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fourway_head_turn.json"))
    p.add_argument("--figure", default=None, help="a PNG of 4 faces per checkpoint (generator faces only)")
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    torch.set_num_threads(1)
    data = SyntheticFaces(**VALIDATION, progress=False)
    per = VALIDATION["per_identity"]
    picks = [(i % VALIDATION["identities"]) * per + i // VALIDATION["identities"] for i in range(args.faces)]
    factors = [data.factors[i] for i in picks]
    images = torch.stack([data[i]["image"] for i in picks])
    size = images.shape[-1]

    def truth(yaw_degrees: float) -> np.ndarray:
        fs = [f.replace(yaw=math.radians(yaw_degrees) / MAX_YAW) for f in factors]
        return render_batch(fs, size).transpose(0, 3, 1, 2).astype(np.float32) / 255.0

    truths = {y: truth(y) for y in args.yaws}
    rows, result, figure_rows = [], {}, []
    for path in args.checkpoints:
        model = facelab.load(path, device="cpu")
        order = model.config.latents
        parts = model.encode_tensor(images)
        codes = [Code({k: v[i] for k, v in parts.items()}) for i in range(len(factors))]
        unturned = model.decode_tensor(join_codes(parts, order)).numpy()
        per_yaw, tiles = {}, [images.numpy()[:4], unturned[:4]]
        for yaw in args.yaws:
            turned_codes = [set_pose(model, c, yaw=yaw) for c in codes]
            turned = model.decode_tensor(np.stack([join_codes(c.parts, order) for c in turned_codes])).numpy()
            again = model.encode_tensor(torch.from_numpy(turned))
            read = np.array([read_pose(model, Code({k: v[i] for k, v in again.items()}))["yaw"]
                             for i in range(len(factors))])
            target = truths[yaw]
            # the model's own reconstruction of the true turned face: what this decoder draws of the turn
            redrawn = model.decode_tensor(join_codes(model.encode_tensor(torch.from_numpy(target)), order)).numpy()
            unturned_psnr = psnr(unturned, target)
            per_yaw[str(yaw)] = {
                "psnr_turned": psnr(turned, target),
                "psnr_unturned": unturned_psnr,
                "gain_db": psnr(turned, target) - unturned_psnr,
                "redrawn_gain_db": psnr(redrawn, target) - unturned_psnr,
                "psnr_input_to_truth": psnr(images.numpy(), target),  # how far the turn is
                "yaw_read_back": float(read.mean()),
                "yaw_read_back_mae": float(np.abs(read - yaw).mean()),
            }
            tiles.append(turned[:4])
            rows.append((path, yaw, per_yaw[str(yaw)]))
        tiles.append(truths[args.yaws[-1]][:4])
        figure_rows.append(tiles)
        result[path] = {"per_yaw": per_yaw, "reconstruction_psnr": psnr(unturned, images.numpy())}
    print(f"{len(factors)} validation faces; gain: turned decode's PSNR to the true turned render minus the "
          f"unturned reconstruction's (dB); redrawn: the same gain for the model's reconstruction of the true turned "
          f"face (what the decoder draws of the turn); input: the input render's PSNR to the turned one")
    print(f"{'checkpoint':40} {'yaw':>6} {'PSNR':>7} {'gain':>7} {'redrawn':>8} {'input':>7} {'read back':>10}"
          f" {'|err|':>7}")
    for path, yaw, r in rows:
        print(f"{path[-40:]:40} {yaw:6.0f} {r['psnr_turned']:7.2f} {r['gain_db']:+7.2f} {r['redrawn_gain_db']:+8.2f}"
              f" {r['psnr_input_to_truth']:7.2f}"
              f" {r['yaw_read_back']:10.1f}"
              f" {r['yaw_read_back_mae']:7.1f}")
    if args.figure:
        from PIL import Image

        grid = np.concatenate([np.concatenate([np.concatenate(list(t), axis=1) for t in tiles], axis=2)
                               for tiles in figure_rows], axis=1)
        Image.fromarray((grid.transpose(1, 2, 0).clip(0, 1) * 255).astype(np.uint8)).save(args.figure)
        print(f"wrote {args.figure} (per checkpoint, 4 faces down; across: input, reconstruction, "
              f"yaw {', '.join(f'{y:g}' for y in args.yaws)}, truth at {args.yaws[-1]:g})")
    write_results({"faces": len(factors), "validation_set": VALIDATION, "yaws": args.yaws, "checkpoints": result,
                   "machine": machine(load_before, os.getloadavg()), "command": invocation(argv),
                   "when": timestamp()}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
