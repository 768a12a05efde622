"""Training loops: one generic :func:`fit` and the DisVAE two-stage recipe built from it.

A new method is a new model/loss pair plus a recipe function registered in :data:`RECIPES`;
the loop itself (device, seeding, progress bar, TensorBoard, step caps) is shared.
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
from .losses import DisVAELoss, IdentityVAELoss
from .models import DisVAE, IdentityVAE


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


def _to_device(batch: dict, device: torch.device, remap: torch.Tensor) -> dict:
    out = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
    if "expression" in out:
        labels = out["expression"].long()
        known = labels != MISSING
        mapped = torch.full_like(labels, MISSING)
        mapped[known] = remap.to(labels.device)[labels[known]]
        out["expression"] = mapped
    return out


def mirror_half(batch: dict) -> dict:
    """Horizontally flip a random half of the batch's images (and their targets) in place of new data."""
    flip = torch.rand(batch["image"].shape[0], device=batch["image"].device) < 0.5
    for key in ("image", "target"):
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
        keys = [k for k in ("image", "target") if k in batch]
        rows = []
        for i in range(batch["image"].shape[0]):
            out = transform(*[tv_tensors.Image(batch[k][i]) for k in keys])
            rows.append(out if isinstance(out, tuple) else (out,))
        for j, k in enumerate(keys):
            batch[k] = torch.stack([r[j].as_subclass(torch.Tensor) for r in rows])
        return batch

    return apply


def fit(
    model: torch.nn.Module,
    loss_fn: Callable,
    loader: DataLoader,
    epochs: int,
    *,
    lr: float,
    weight_decay: float = 0.0,
    device: torch.device,
    remap: torch.Tensor,
    max_steps: int | None = None,
    writer=None,
    tag: str = "train",
    progress: bool = True,
    hflip: bool = False,
    affine: float = 0.0,
    lr_schedule: str = "constant",
) -> dict[str, float]:
    """Optimise the trainable parameters of ``model`` on ``loss_fn``; returns the last epoch's mean terms."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    model.to(device).train()
    step, means = 0, {}
    total = epochs * len(loader) if max_steps is None else min(max_steps, epochs * len(loader))
    scheduler = None
    if lr_schedule == "onecycle" and total > 1:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    augment = random_affine(affine) if affine > 0 else None
    bar = tqdm(total=total, desc=tag, unit="step", disable=not progress, dynamic_ncols=True)
    for epoch in range(epochs):
        sums, count = {}, 0
        for batch in loader:
            batch = _to_device(batch, device, remap)
            if hflip:
                batch = mirror_half(batch)
            if augment is not None:
                batch = augment(batch)
            terms = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            if scheduler is not None and step + 1 < total:
                scheduler.step()
            step += 1
            count += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
                if writer is not None:
                    writer.add_scalar(f"{tag}/{k}", float(v.detach()), step)
            if writer is not None:
                writer.add_scalar(f"{tag}/lr", opt.param_groups[0]["lr"], step)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, **{k: f"{sums[k] / count:.3g}" for k in list(sums)[:3]})
            if max_steps is not None and step >= max_steps:
                break
        means = {k: v / max(count, 1) for k, v in sums.items()}
        if max_steps is not None and step >= max_steps:
            break
    bar.close()
    model.eval()
    return means


@torch.no_grad()
def code_statistics(model: DisVAE, loader: DataLoader, device: torch.device) -> None:
    """Store per-dimension mean/std of the training codes in the model (used to range sliders)."""
    model.eval()
    codes = []
    for batch in loader:
        mu, _ = model.encode(batch["image"].to(device))
        codes.append(model.join(mu).cpu())
    codes = torch.cat(codes)
    model.code_mean.copy_(codes.mean(0))
    model.code_std.copy_(codes.std(0).clamp_min(1e-4))


def train_disvae(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    log_dir: str | Path | None = None,
    progress: bool = True,
    init=None,
) -> tuple[DisVAE, dict]:
    """The DisVAE recipe: identity VAE pre-training, then the expression branch with z_id frozen.

    ``init`` (a :class:`~facelab.face_model.FaceModel`, a ``DisVAE`` or its state dict, of the same
    architecture) fine-tunes instead of training from scratch: stage 1 is skipped, the DisVAE starts
    from ``init``'s weights (identity encoder frozen, as always) and stage 2 runs for
    ``train_config.disvae_epochs``; ``identity_epochs`` is ignored. ``init`` itself is not modified.
    """
    gen = seed_everything(train_config.seed)
    device = resolve_device(train_config.device)
    loader = DataLoader(
        dataset,
        batch_size=train_config.batch_size,
        shuffle=True,
        drop_last=len(dataset) > train_config.batch_size,
        num_workers=train_config.num_workers,
        generator=gen,
    )
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(log_dir))
    remap = label_remap(model_config.expressions)
    common = dict(
        lr=train_config.lr,
        weight_decay=train_config.weight_decay,
        device=device,
        remap=remap,
        max_steps=train_config.max_steps,
        writer=writer,
        progress=progress,
        hflip=train_config.hflip,
        affine=train_config.affine,
        lr_schedule=train_config.lr_schedule,
    )
    t0 = time.perf_counter()
    if init is None:
        stage1 = IdentityVAE(model_config)
        history = {
            "identity_vae": fit(
                stage1,
                IdentityVAELoss(train_config.beta_identity, train_config.identity_target),
                loader,
                train_config.identity_epochs,
                tag="identity_vae",
                **common,
            )
        }
        model = DisVAE.from_identity_vae(stage1, model_config)
    else:  # fine-tune a pre-trained model: no stage 1, stage 2 from its weights
        state = getattr(init, "network", init)
        state = state.state_dict() if isinstance(state, torch.nn.Module) else state
        model = DisVAE(model_config)
        model.load_state_dict({k: torch.as_tensor(v).detach().cpu() for k, v in state.items()})
        model.identity_encoder.requires_grad_(False)
        history = {"init": True}
    history["disvae"] = fit(
        model,
        DisVAELoss(train_config.beta_expression, train_config.classifier_weight),
        loader,
        train_config.disvae_epochs,
        tag="disvae",
        **common,
    )
    code_statistics(model, DataLoader(dataset, batch_size=256), device)
    history["wall_time_s"] = time.perf_counter() - t0
    history["device"] = str(device)
    if writer is not None:
        writer.close()
    return model.cpu().eval(), history


RECIPES = {"disvae": train_disvae}
