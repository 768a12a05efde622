"""Recompute a checkpoint's code statistics from its training data and store them in its weights.

    python -m train.statistics --checkpoint checkpoints/synthetic-disvae
    python -m train.statistics --checkpoint checkpoints/real-disvae --threads 1   # needs ../shared/data

The statistics are what training stores at its end (``facelab.training.code_statistics``): per code
dimension the mean and std of the training codes and their 1st and 99th percentile, which range the
app's sliders, sweeps and traversals (``FaceModel.code_bounds``). Checkpoints saved before the
percentiles were stored range edits by mean ± 3 std instead; this command measures them without
retraining: it encodes the training set again — the ``training.data`` specs of ``config.json`` (or
``--data``, e.g. the same data somewhere else), split with the checkpoint's own holdout, validation
and seed as training split it — and rewrites ``model.safetensors`` with only the statistics buffers
changed (every other tensor is checked to be bit-identical, under its original name) and the new
``weights_sha256`` in ``config.json`` (nothing else there changes). It prints each dimension's range
before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Subset

import facelab
from facelab import datasets
from facelab.checkpoint import CONFIG, WEIGHTS, resolve, sha256_file
from facelab.models.network import QUANTILE_BUFFERS
from facelab.training import code_statistics, resolve_device

STATISTICS = ("code_mean", "code_std") + QUANTILE_BUFFERS  # the only tensors this command may change
BATCH_SIZE = 256  # as train() encodes the training set for its statistics


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint directory or bundled name")
    p.add_argument("--data", nargs="+", default=None, metavar="SPEC",
                   help="training data specs (default: the checkpoint's training.data); split as the checkpoint's")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="auto", help="where to encode (default: cuda if available, else cpu)")
    p.add_argument("--dry-run", action="store_true", help="print the ranges before and after, write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def training_set(model: facelab.FaceModel, data=None, progress: bool = True):
    """The images ``model`` was trained on, as ``python -m train`` built them: its ``training.data``
    (or ``data``) at its resolution, aligned as it aligns, and the ``train`` part of
    :func:`facelab.datasets.training_splits` under its holdout, validation and seed."""
    training = model.training
    specs = list(data or (training.data if training is not None else ()))
    if not specs:
        raise SystemExit(f"{model.directory}: config.json records no training data; pass --data")
    align_config = model.align_config() if model.config.align is not None else None
    dataset = datasets.load(specs, size=model.config.image_size, align_config=align_config, progress=progress)
    if training is not None and (training.holdout > 0 or training.validation > 0):
        split = datasets.training_splits(dataset, training.holdout, training.validation, seed=training.seed)
        dataset = Subset(dataset, split["train"])
    return dataset, specs


def bounds(model: facelab.FaceModel) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """{attribute: (low, high, mean, std)} of every sub-code, as the app ranges its sliders."""
    return {a: (*model.code_bounds(a), *model.code_range(a)) for a in model.attributes}


def write_weights(directory: Path, statistics: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``model.safetensors`` with ``statistics`` set (the rest as stored: names, dtypes, bytes, metadata)
    and the new checksum in ``config.json``; → the tensors written."""
    path = directory / WEIGHTS
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
    stored = load_file(str(path))
    stored.update({k: v.detach().cpu().to(stored[k].dtype if k in stored else v.dtype).contiguous()
                   for k, v in statistics.items()})
    tmp = directory / f".{WEIGHTS}.tmp{os.getpid()}"
    save_file(stored, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    config = json.loads((directory / CONFIG).read_text())
    config["weights_sha256"] = sha256_file(path)  # replaced in place: every other key and its order kept
    tmp = directory / f".{CONFIG}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, directory / CONFIG)
    return stored


def check_unchanged(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> None:
    """Every tensor but the statistics is present after, with the same dtype, shape and bytes."""
    changed = [k for k in before if k not in STATISTICS and (
        k not in after or before[k].dtype != after[k].dtype or before[k].shape != after[k].shape
        or not torch.equal(before[k], after[k]))]
    extra = sorted(set(after) - set(before) - set(STATISTICS))
    if changed or extra:
        raise SystemExit(f"refusing: tensors besides the statistics would change: {(changed + extra)[:5]}")


def _fmt(low: float, high: float) -> str:
    return f"[{low:+8.3f}, {high:+8.3f}]"


def print_ranges(old: dict, new: dict, old_source: str, new_source: str) -> None:
    print(f"before: {old_source}\nafter:  {new_source}")
    for attribute, (low, high, mean, std) in new.items():
        o_low, o_high, o_mean, o_std = old[attribute]
        print(f"\n{attribute}  (dimensions by training std, as the sliders)")
        print(f"  {'dim':>4}  {'mean':>8}  {'std':>7}  {'range before':>20}  {'range after':>20}  width after/before")
        for d in np.argsort(-std):
            ratio = (high[d] - low[d]) / max(o_high[d] - o_low[d], 1e-12)
            print(f"  {d:>4}  {mean[d]:+8.3f}  {std[d]:7.3f}  {_fmt(o_low[d], o_high[d])}  {_fmt(low[d], high[d])}  "
                  f"{ratio:.2f}")
        print(f"  mean moved by at most {np.abs(mean - o_mean).max():.2g}, std by at most "
              f"{np.abs(std - o_std).max():.2g} (0 when the images and the way codes are read are those of training)")


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    directory = resolve(args.checkpoint)
    device = resolve_device(args.device)
    with warnings.catch_warnings():  # "stores no quantiles": what this command is here to fix
        warnings.simplefilter("ignore")
        model = facelab.load(directory, device=str(device))
    old, old_source = bounds(model), model.bounds_source
    dataset, specs = training_set(model, args.data, progress=not args.quiet)
    print(f"encoding {len(dataset)} training images of {directory} from {', '.join(specs)} on {device}")
    code_statistics(model.network, DataLoader(dataset, batch_size=BATCH_SIZE), device)
    new = bounds(model)
    print_ranges(old, new, old_source, model.bounds_source)
    state = model.network.state_dict()
    statistics = {k: state[k] for k in STATISTICS}
    if args.dry_run:
        print("\n--dry-run: nothing written")
        return new
    before = load_file(str(directory / WEIGHTS))
    written = write_weights(directory, statistics)
    after = load_file(str(directory / WEIGHTS))
    check_unchanged(before, after)
    if any(not torch.equal(after[k], written[k]) for k in STATISTICS):
        raise SystemExit(f"{directory / WEIGHTS}: the statistics read back differ from those written")
    reloaded = facelab.load(directory, device="cpu")  # the checksum in config.json matches the new file
    if not all(np.array_equal(reloaded.code_bounds(a)[i], new[a][i]) for a in new for i in (0, 1)):
        raise SystemExit(f"{directory}: the reloaded checkpoint's code ranges differ from those measured")
    unchanged = len([k for k in before if k not in STATISTICS])
    print(f"\nwrote {directory / WEIGHTS} ({unchanged} other tensors bit-identical) and weights_sha256 "
          f"{sha256_file(directory / WEIGHTS)[:12]}… in {directory / CONFIG}")
    return new


if __name__ == "__main__":
    main()
