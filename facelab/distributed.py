"""Data-parallel training under ``torchrun``: torch.distributed + DistributedDataParallel, nothing home-made.

    torchrun --nproc_per_node 4 -m train --method swap ...                     # one machine, 4 GPUs (nccl)
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 \\
             --rdzv_backend c10d --rdzv_endpoint HOST:29400 -m train ...        # two machines (run on each)

torchrun starts the processes and sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; :func:`process_group`
joins them (gloo on CPU, nccl on GPUs). Every rank builds the same batch order from the same seed
and takes its own share of it (:func:`shard`), gradients are averaged by DDP, and only rank 0
logs, shows progress, writes TensorBoard and saves. Without torchrun every function here is the
single-process identity.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if distributed() else 1


def is_main() -> bool:
    """Rank 0 (or the only process): the one that logs, shows progress and saves."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextmanager
def process_group():
    """Join torchrun's process group for the duration (a no-op outside torchrun or when already joined)."""
    if not launched_by_torchrun() or distributed():
        yield
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """Under torchrun each process drives its own GPU (``LOCAL_RANK``)."""
    if device.type == "cuda" and distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def shard(batches: list, rank_: int | None = None, world: int | None = None) -> list:
    """This rank's share of an epoch's batches: every ``world``-th, the same count on every rank
    (DDP needs all ranks to step together; the remainder is dropped, as DistributedSampler's drop_last)."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    if world == 1:
        return batches
    per_rank = len(batches) // world
    return batches[rank_::world][:per_rank]


class LossModule(nn.Module):
    """Runs a method's loss as the module's forward, so DDP's gradient hooks see every step.

    Methods call ``net.encode``/``net.decode`` rather than ``forward``; DDP only synchronises what
    goes through ``forward``, so the loss function itself is what it wraps."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, loss, batch: dict) -> dict:
        return loss(self.module, batch)


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``wrapped(loss, batch)`` → ``loss(module, batch)``; under torchrun a DDP module averaging gradients.

    ``find_unused_parameters``: a stage steps several optimizers per batch (an adversary, then the
    model), each touching only part of the module; frozen parameters are left out by DDP itself."""
    runner = LossModule(module)
    if not distributed():
        return runner
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(runner, device_ids=ids, find_unused_parameters=True)


def broadcast_state(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (statistics kept outside DDP's step)."""
    if not distributed():
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def barrier() -> None:
    if distributed():
        dist.barrier()


def gather_tensors(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor (e.g. RNG states to save), in rank order."""
    if not distributed():
        return [tensor]
    local = tensor.to(_collective_device())
    out = [torch.empty_like(local) for _ in range(world_size())]
    dist.all_gather(out, local)
    return [t.cpu() for t in out]


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
