"""A training run's state on disk, so ``--resume`` continues after a crash, a SIGKILL or a closed laptop.

Saved every ``save_every`` steps and at the end of each stage: the network (and a stage's own
module), each optimizer and learning-rate schedule, where the run is (stage, epoch, batch within
the epoch, step), the epoch's running loss sums, the finished stages' history, and every random
stream of every rank (torch, CUDA, numpy, Python, and the batch-order generator as it was when
the epoch began). Resuming lists the interrupted epoch's batches again from that generator state
and skips the ones already trained on, so where the backend is deterministic the resumed run
ends with the same weights as an uninterrupted one; at most one save interval is lost.

Nothing is pickled: tensors go to safetensors, the rest to JSON. Each save is a new directory;
a one-line ``latest`` file is switched to it with an atomic rename only once it is complete, so a
kill mid-save leaves the previous state intact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import distributed

LATEST = "latest"
VERSION = 1
# Settings that may change between sittings without changing what is trained.
MAY_DIFFER = ("save_every", "log_every", "num_workers", "device")


class ResumeError(RuntimeError):
    """A saved state that cannot continue this run (none there, or a different configuration)."""


@dataclass
class Position:
    """Where a run is: ``batch`` batches of ``epoch`` done, ``step`` steps into stage ``stage``."""

    stage: int = 0
    epoch: int = 0
    batch: int = 0
    step: int = 0


@dataclass
class TrainingState:
    position: Position
    history: dict
    sums: dict[str, float]
    wall_time_s: float
    tensors: dict[str, torch.Tensor]
    meta: dict = field(default_factory=dict)

    def restore_weights(self, network: torch.nn.Module, module: torch.nn.Module | None) -> None:
        network.load_state_dict(_prefixed(self.tensors, "network."))
        if module is not None and module is not network and any(k.startswith("module.") for k in self.tensors):
            module.load_state_dict(_prefixed(self.tensors, "module."))

    def restore_optimizers(self, optimizers: dict, schedulers: dict) -> None:
        for name, opt in optimizers.items():
            saved = self.meta["optimizers"].get(name)
            if saved is None:
                continue
            state = {int(pid): {**{k: self.tensors[f"optimizer.{name}.{pid}.{k}"] for k in keys["tensors"]},
                                **keys["values"]}
                     for pid, keys in saved["state"].items()}
            opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
        for name, sched in schedulers.items():
            if name in self.meta["schedulers"]:
                sched.load_state_dict(self.meta["schedulers"][name])

    @property
    def sampler_count(self) -> int | None:
        return self.meta.get("sampler_count")

    def epoch_generator_state(self) -> torch.Tensor:
        return self.tensors[f"rng.{distributed.rank()}.batch_order"]

    def restore_random(self, device: torch.device) -> None:
        """This rank's random streams as they were at the save."""
        r = distributed.rank()
        torch.set_rng_state(self.tensors[f"rng.{r}.torch"])
        if device.type == "cuda" and f"rng.{r}.cuda" in self.tensors:
            torch.cuda.set_rng_state(self.tensors[f"rng.{r}.cuda"], device)
        keys, (pos, has_gauss, gauss) = np.split(self.tensors[f"rng.{r}.numpy"].numpy(), [624])
        np.random.set_state(("MT19937", keys.astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
        random.setstate((3, tuple(self.tensors[f"rng.{r}.python"].tolist()), None))


def _prefixed(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _random_streams(device: torch.device, batch_order: torch.Generator) -> dict[str, torch.Tensor]:
    _, keys, pos, has_gauss, gauss = np.random.get_state()  # float64 holds the uint32 keys exactly
    streams = {
        "torch": torch.get_rng_state(),
        "batch_order": batch_order.get_state(),
        "numpy": torch.from_numpy(np.concatenate([keys.astype(np.float64), [pos, has_gauss, gauss]])),
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }
    if device.type == "cuda":
        streams["cuda"] = torch.cuda.get_rng_state(device)
    return streams


def save_state(
    directory: str | os.PathLike,
    *,
    position: Position,
    network: torch.nn.Module,
    module: torch.nn.Module | None,
    optimizers: dict,
    schedulers: dict,
    sums: dict[str, float],
    history: dict,
    wall_time_s: float,
    epoch_generator_state: torch.Tensor,
    device: torch.device,
    configs: dict,
    sampler_count: int | None = None,
) -> Path | None:
    """Save the run's state (collective under torchrun: every rank calls it; rank 0 writes).
    ``sampler_count``: the passes a batch sampler that counts its own had made at the saved epoch's start."""
    gen = torch.Generator()
    gen.set_state(epoch_generator_state)
    streams = _random_streams(device, gen)
    gathered = {name: distributed.gather_tensors(t) for name, t in streams.items()}
    if not distributed.is_main():
        distributed.barrier()
        return None
    directory = Path(directory)
    name = f"stage{position.stage}-epoch{position.epoch}-batch{position.batch}"
    target = directory / name
    tmp = directory / f".{name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {f"network.{k}": v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    if module is not None and module is not network:
        # a stage's module shares tensors with the network; safetensors wants each stored once
        tensors.update({f"module.{k}": v.detach().cpu().clone() for k, v in module.state_dict().items()})
    meta_optimizers = {}
    for opt_name, opt in optimizers.items():
        sd = opt.state_dict()
        state = {}
        for pid, values in sd["state"].items():
            keys = {"tensors": [], "values": {}}
            for k, v in values.items():
                if torch.is_tensor(v):
                    tensors[f"optimizer.{opt_name}.{pid}.{k}"] = v.detach().cpu().contiguous()
                    keys["tensors"].append(k)
                else:
                    keys["values"][k] = v
            state[str(pid)] = keys
        meta_optimizers[opt_name] = {"state": state, "param_groups": sd["param_groups"]}
    for stream, per_rank in gathered.items():
        for r, t in enumerate(per_rank):
            tensors[f"rng.{r}.{stream}"] = t.contiguous()
    save_file(tensors, str(tmp / "state.safetensors"))
    meta = {
        "version": VERSION,
        "position": position.__dict__,
        "history": history,
        "sums": sums,
        "wall_time_s": wall_time_s,
        "world_size": distributed.world_size(),
        "configs": configs,
        "optimizers": meta_optimizers,
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "sampler_count": sampler_count,
    }
    (tmp / "state.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    pointer = directory / f".{LATEST}.tmp{os.getpid()}"
    pointer.write_text(name + "\n")
    os.replace(pointer, directory / LATEST)  # the switch: atomic, and only once the state is complete
    for old in directory.iterdir():
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    distributed.barrier()
    return target


def load_state(directory: str | os.PathLike, configs: dict) -> TrainingState:
    """The last complete state under ``directory``, checked against this run's ``configs``."""
    directory = Path(directory)
    pointer = directory / LATEST
    if not pointer.is_file():
        raise ResumeError(f"nothing to resume in {directory}: no saved training state there")
    saved = directory / pointer.read_text().strip()
    meta = json.loads((saved / "state.json").read_text())
    if meta.get("version") != VERSION:
        raise ResumeError(f"{saved} is a training state of version {meta.get('version')}; this facelab reads {VERSION}")
    if meta["world_size"] != distributed.world_size():
        raise ResumeError(f"{saved} was saved by {meta['world_size']} processes; resume it with the same number "
                          f"(this run has {distributed.world_size()})")
    differences = _differences(meta["configs"], configs)
    if differences:
        raise ResumeError(f"{saved} was saved by a run with other settings ({'; '.join(differences)}); "
                          "resume with the same command, or start afresh without --resume")
    return TrainingState(position=Position(**meta["position"]), history=meta["history"], sums=meta["sums"],
                         wall_time_s=meta["wall_time_s"], tensors=load_file(str(saved / "state.safetensors")),
                         meta=meta)


def _differences(saved: dict, now: dict) -> list[str]:
    out = []
    now = json.loads(json.dumps(now))  # tuples → lists, as saved
    for part in sorted(set(saved) | set(now)):
        a, b = saved.get(part, {}), now.get(part, {})
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                out.append(f"{part}: {a!r} then, {b!r} now")
            continue
        for key in sorted(set(a) | set(b)):
            if key in MAY_DIFFER or a.get(key) == b.get(key):
                continue
            out.append(f"{part}.{key}: {a.get(key)!r} then, {b.get(key)!r} now")
    return out
