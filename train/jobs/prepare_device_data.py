"""Make the copies of ``../shared/data`` that travelled to the lent GPU machine (2026-11-30).

    python -m train.jobs.prepare_device_data [--data ../shared/data] [--out .devdata]

The device takes at most 64 MiB of files, so London's JPEGs are resized to 400 px on their long side
(MTCNN still sees each face at about 240 px, far above the 64-px crop) and only FER2013's ``train/``
folder is copied (its ``test/`` folder is the official test split, never trained on). The photo
checkpoints trained there record ``london:.devdata/london fer2013:.devdata/fer2013``; this rebuilds them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

LONG_SIDE = 400


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default=".devdata")
    args = p.parse_args(argv)
    src, dst = Path(args.data), Path(args.out)
    for path in sorted((src / "london").rglob("*")):
        target = dst / "london" / path.relative_to(src / "london")
        if path.is_dir():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in (".jpg", ".jpeg"):
            with Image.open(path) as im:
                im = im.convert("RGB")
                scale = LONG_SIDE / max(im.size)
                im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS).save(target, quality=92)
        else:
            shutil.copyfile(path, target)
    shutil.copytree(src / "fer2013" / "train", dst / "fer2013" / "train", dirs_exist_ok=True)
    print(f"wrote {dst / 'london'} and {dst / 'fer2013' / 'train'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
