"""Contact sheets of the synthetic renderer, for the README and for eyeballing changes.

    python -m train.contact_sheet --out docs/contact_sheet.png --identities 6 --size 64 --scale 2

Writes a grid (rows = identities, columns = the 7 expressions at intensity 1) and, unless
``--no-intensity``, a second sheet of one identity at intensities 0, .25, .5, .75, 1 per
expression next to it (``intensity_sheet.png``). Upscaling is nearest-neighbour so the sheet
shows the real pixels the models see.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facelab.synthetic import EXPRESSION_NAMES, N_EXPRESSIONS, FaceFactors, render_batch

INTENSITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
LABEL_H = 14  # pixels reserved for a text label
PAD = 2
SHEET_BG = (255, 255, 255)
TEXT = (20, 20, 20)


def grid(images: np.ndarray, col_labels: Sequence[str], row_labels: Sequence[str] = (), scale: int = 2) -> Image.Image:
    """Tile ``images`` (rows, cols, H, W, 3) with column labels on top and optional row labels."""
    rows, cols, h, w, _ = images.shape
    font = ImageFont.load_default()
    cell_w, cell_h = w * scale + PAD, h * scale + PAD
    left = max((int(font.getlength(s)) for s in row_labels), default=0) + (2 * PAD if row_labels else 0)
    sheet = Image.new("RGB", (left + cols * cell_w + PAD, LABEL_H + rows * cell_h + PAD), SHEET_BG)
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(col_labels):
        x = left + c * cell_w + PAD + (w * scale - font.getlength(label)) / 2
        draw.text((x, 1), label, fill=TEXT, font=font)
    for r in range(rows):
        y0 = LABEL_H + r * cell_h + PAD
        if r < len(row_labels):
            draw.text((PAD, y0 + h * scale / 2 - 5), row_labels[r], fill=TEXT, font=font)
        for c in range(cols):
            tile = Image.fromarray(images[r, c]).resize((w * scale, h * scale), Image.NEAREST)
            sheet.paste(tile, (left + c * cell_w + PAD, y0))
    return sheet


def expression_sheet(identities: Sequence[int], size: int, scale: int, **style) -> Image.Image:
    fs = [FaceFactors(i, e, 1.0 if e else 0.0, **style) for i in identities for e in range(N_EXPRESSIONS)]
    imgs = render_batch(fs, size).reshape(len(identities), N_EXPRESSIONS, size, size, 3)
    return grid(imgs, EXPRESSION_NAMES, [f"id {i}" for i in identities], scale)


def intensity_sheet(identity: int, size: int, scale: int, **style) -> Image.Image:
    """Rows = expressions, columns = intensities: shows that the blend is smooth."""
    fs = [FaceFactors(identity, e, s, **style) for e in range(1, N_EXPRESSIONS) for s in INTENSITIES]
    imgs = render_batch(fs, size).reshape(N_EXPRESSIONS - 1, len(INTENSITIES), size, size, 3)
    return grid(imgs, [f"{s:g}" for s in INTENSITIES], EXPRESSION_NAMES[1:], scale)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/contact_sheet.png")
    p.add_argument("--identities", type=int, default=6, help="rows: identities 0..n-1")
    p.add_argument("--first", type=int, default=0, help="first identity")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--scale", type=int, default=2, help="nearest-neighbour zoom for viewing")
    p.add_argument("--yaw", type=float, default=0.0)
    p.add_argument("--pitch", type=float, default=0.0)
    p.add_argument("--light", type=float, default=0.0)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--intensity-out", default=None, help="default: intensity_sheet.png next to --out")
    p.add_argument("--no-intensity", action="store_true", help="skip the intensity sheet")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    style = dict(yaw=args.yaw, pitch=args.pitch, light=args.light, noise=args.noise)
    ids = list(range(args.first, args.first + args.identities))
    expression_sheet(ids, args.size, args.scale, **style).save(out)
    print(f"wrote {out}")
    if not args.no_intensity:
        iout = Path(args.intensity_out) if args.intensity_out else out.with_name("intensity_sheet.png")
        intensity_sheet(ids[0], args.size, args.scale, **style).save(iout)
        print(f"wrote {iout}")


if __name__ == "__main__":
    main()
