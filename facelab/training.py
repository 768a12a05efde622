"""One trainer for every method: :func:`train` runs a registered method's stages, each stepping
its named optimizers in order per batch (alternating adversary/model steps), with seeding,
device, augmentation, learning-rate schedules, progress bars and TensorBoard shared.

A method never writes a training loop: it yields :class:`~facelab.methods.Stage` objects
(:mod:`facelab.methods`).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .config import ModelConfig, TrainConfig
from .labels import EXPRESSIONS, MISSING
from .methods import Stage, get_method


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def label_remap(expressions: tuple[str, ...]) -> torch.Tensor:
    """Vocabulary index → this model's class index (MISSING for classes the model lacks)."""
    table = torch.full((len(EXPRESSIONS),), MISSING, dtype=torch.long)
    for i, name in enumerate(expressions):
        table[EXPRESSIONS.index(name)] = i
    return table


def remap_labels(labels, remap):
    """Vocabulary indices → model class indices through ``remap`` (:func:`label_remap`), MISSING kept.
    Works on tensors and numpy arrays alike."""
    if isinstance(labels, np.ndarray):
        table = remap.numpy() if torch.is_tensor(remap) else np.asarray(remap)
        out = np.full_like(labels, MISSING)
        known = labels != MISSING
        out[known] = table[labels[known]]
        return out
    labels = labels.long()
    known = labels != MISSING
    mapped = torch.full_like(labels, MISSING)
    mapped[known] = remap.to(labels.device)[labels[known]]
    return mapped


EXPRESSION_KEYS = ("expression", "partner_expression")  # batch keys holding vocabulary expression labels


def to_device(batch: dict, device: torch.device, remap: torch.Tensor) -> dict:
    out = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
    for key in EXPRESSION_KEYS:
        if key in out:
            out[key] = remap_labels(out[key], remap)
    return out


FOLLOW_IMAGE = ("image", "target", "swap_target")  # images that move with the input under augmentation


def mirror_half(batch: dict) -> dict:
    """Horizontally flip a random half of the batch's images (and their targets) in place of new data."""
    flip = torch.rand(batch["image"].shape[0], device=batch["image"].device) < 0.5
    for key in FOLLOW_IMAGE:
        if key in batch:
            batch[key] = torch.where(flip[:, None, None, None], batch[key].flip(-1), batch[key])
    return batch


def random_affine(strength: float):
    """A batch transform: an independent torchvision RandomAffine per image (same draw for its target).

    Real photos vary in framing even after alignment; small rotations, shifts and zooms teach the
    encoders not to care. ``strength`` 1 means ±10°, ±10 % shift, ×0.9–1.1 zoom.
    """
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    s = float(strength)
    transform = v2.RandomAffine(degrees=10 * s, translate=(0.1 * s, 0.1 * s), scale=(1 - 0.1 * s, 1 + 0.1 * s))

    def apply(batch: dict) -> dict:
        keys = [k for k in FOLLOW_IMAGE if k in batch]
        rows = []
        for i in range(batch["image"].shape[0]):
            out = transform(*[tv_tensors.Image(batch[k][i]) for k in keys])
            rows.append(out if isinstance(out, tuple) else (out,))
        for j, k in enumerate(keys):
            batch[k] = torch.stack([r[j].as_subclass(torch.Tensor) for r in rows])
        return batch

    return apply


def _log_lr(writer, tag: str, optimizers: dict, step: int) -> None:
    for name, opt in optimizers.items():
        writer.add_scalar(f"{tag}/lr" if len(optimizers) == 1 else f"{tag}/{name}/lr", opt.param_groups[0]["lr"], step)


def run_stage(
    stage: Stage,
    network: torch.nn.Module,
    loader: DataLoader,
    *,
    lr: float,
    weight_decay: float = 0.0,
    device: torch.device,
    remap: torch.Tensor,
    max_steps: int | None = None,
    writer=None,
    progress: bool = True,
    hflip: bool = False,
    affine: float = 0.0,
    lr_schedule: str = "constant",
) -> dict[str, float]:
    """Train one stage: every batch steps each named optimizer of ``stage.steps`` in order, each on
    its own loss and parameters (an adversary's step, then the model's). Returns the last epoch's
    mean terms, prefixed ``optimizer/`` when the stage has several optimizers."""
    if stage.setup is not None:
        stage.setup()
    module = stage.module if stage.module is not None else network
    network.to(device)
    module.to(device).train()
    optimizers = {name: torch.optim.Adam(list(step.params()), lr=lr * step.lr_scale, weight_decay=weight_decay)
                  for name, step in stage.steps.items()}
    total = stage.epochs * len(loader) if max_steps is None else min(max_steps, stage.epochs * len(loader))
    schedulers = {}
    if lr_schedule == "onecycle" and total > 1:
        schedulers = {name: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"], total_steps=total)
                      for name, opt in optimizers.items()}
    augment = random_affine(affine) if affine > 0 else None
    several = len(stage.steps) > 1
    step, means = 0, {}
    bar = tqdm(total=total, desc=stage.name, unit="step", disable=not progress, dynamic_ncols=True)
    for epoch in range(stage.epochs):
        sums, count = {}, 0
        for batch in loader:
            if max_steps is not None and step >= max_steps:
                break
            batch = to_device(batch, device, remap)
            if hflip:
                batch = mirror_half(batch)
            if augment is not None:
                batch = augment(batch)
            logged = {}
            for name, spec in stage.steps.items():
                terms = spec.loss(module, batch)
                module.zero_grad(set_to_none=True)  # no gradient leaks between optimizers
                terms["loss"].backward()
                optimizers[name].step()
                if name in schedulers and step + 1 < total:
                    schedulers[name].step()
                logged.update({(f"{name}/{k}" if several else k): v.detach() for k, v in terms.items()})
            step += 1
            count += 1
            values = {k: float(v) for k, v in logged.items()}  # one device sync per step, not per term
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
                if writer is not None:
                    writer.add_scalar(f"{stage.name}/{k}", v, step)
            if writer is not None:
                _log_lr(writer, stage.name, optimizers, step)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, **{k.split("/")[-1] if not several else k: f"{sums[k] / count:.3g}"
                                                for k in _shown(sums)})
        if count:
            means = {k: v / count for k, v in sums.items()}
        if max_steps is not None and step >= max_steps:
            break
    bar.close()
    module.eval()
    network.eval()
    return means


def _shown(sums: dict) -> list[str]:
    """The progress bar's few terms: each optimizer's loss and accuracies."""
    keys = [k for k in sums if k.split("/")[-1] == "loss" or k.endswith("accuracy")]
    return keys[:4]


@torch.no_grad()
def code_statistics(network: torch.nn.Module, loader: DataLoader, device: torch.device) -> None:
    """Store per-dimension mean/std of the training codes in the network (used to range sliders)."""
    network.eval()
    codes = []
    for batch in loader:
        mu, _ = network.encode(batch["image"].to(device))
        codes.append(network.join(mu).cpu())
    codes = torch.cat(codes)
    network.code_mean.copy_(codes.mean(0))
    network.code_std.copy_(codes.std(0).clamp_min(1e-4))


def _init_state(init) -> dict[str, torch.Tensor]:
    state = getattr(init, "network", init)
    state = state.state_dict() if isinstance(state, torch.nn.Module) else state
    return {k: torch.as_tensor(v).detach().cpu() for k, v in state.items()}


def train(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    log_dir: str | Path | None = None,
    progress: bool = True,
    init=None,
) -> tuple[torch.nn.Module, dict]:
    """Train ``model_config.method`` on ``dataset``: its stages in order, on one trainer.

    ``init`` (a :class:`~facelab.face_model.FaceModel`, a network or a state dict of the same
    architecture) fine-tunes instead of training from scratch: the network starts from its weights
    and the method's stages run with ``fine_tune=True`` (DisVAE then skips identity pre-training).
    ``init`` itself is not modified. Returns the network (CPU, eval mode) and per-stage mean terms.
    """
    method = get_method(model_config.method)
    gen = seed_everything(train_config.seed)
    device = resolve_device(train_config.device)
    network = method.build(model_config)
    if init is not None:
        network.load_state_dict(_init_state(init))
    data = method.prepare_data(dataset, model_config) if method.prepare_data is not None else dataset
    if method.batch_sampler is not None:
        sampler = method.batch_sampler(data, model_config, train_config, gen)
        loader = DataLoader(data, batch_sampler=sampler, num_workers=train_config.num_workers)
    else:
        loader = DataLoader(data, batch_size=train_config.batch_size, shuffle=True,
                            drop_last=len(data) > train_config.batch_size, num_workers=train_config.num_workers,
                            generator=gen)
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(log_dir))
    common = dict(lr=train_config.lr, weight_decay=train_config.weight_decay, device=device,
                  remap=label_remap(model_config.expressions), max_steps=train_config.max_steps, writer=writer,
                  progress=progress, hflip=train_config.hflip, affine=train_config.affine,
                  lr_schedule=train_config.lr_schedule)
    t0 = time.perf_counter()
    history: dict = {"init": True} if init is not None else {}
    for stage in method.stages(network, model_config, train_config, fine_tune=init is not None):
        history[stage.name] = run_stage(stage, network, loader, **common)
    code_statistics(network, DataLoader(dataset, batch_size=256), device)
    history["wall_time_s"] = time.perf_counter() - t0
    history["device"] = str(device)
    if writer is not None:
        writer.close()
    return network.cpu().eval(), history

