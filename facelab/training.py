"""One trainer for every method: :func:`train` runs a registered method's stages, each stepping
its named optimizers in order per batch (alternating adversary/model steps), with seeding,
device, augmentation, learning-rate schedules, progress bars, TensorBoard, resumable saving
(:mod:`facelab.train_state`), bf16 autocast and data-parallel runs under torchrun
(:mod:`facelab.distributed`) shared.

A method never writes a training loop: it yields :class:`~facelab.methods.Stage` objects
(:mod:`facelab.methods`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from . import distributed
from .config import ModelConfig, TrainConfig
from .labels import EXPRESSIONS, MISSING
from .methods import Stage, get_method
from .train_state import Position, TrainingState, load_state, save_state


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


def follow_image(batch: dict) -> list[str]:
    """The batch's images that move with the input under augmentation: the input, its neutral
    ``target``, every swap target (``swap_target``, ``<attribute>_swap_target``) and the swap
    ``partner``, flipped with its row: the mirror of "A with B's pose" is mirrored A with mirrored
    B's pose, so a pose or light swap stays consistent only if B is mirrored too."""
    return [k for k in batch if k in ("image", "target", "partner") or k.endswith("swap_target")]


MIRRORED_ANGLES = ("yaw", "roll")  # a mirror image turns and tilts the head the other way; pitch stays


def mirror_half(batch: dict) -> dict:
    """Horizontally flip a random half of the batch's images (and their targets) in place of new data,
    negating the flipped faces' yaw and roll labels (``yaw``/``roll`` and ``pose``'s columns 0 and 2)."""
    flip = torch.rand(batch["image"].shape[0], device=batch["image"].device) < 0.5
    for key in follow_image(batch):
        batch[key] = torch.where(flip[:, None, None, None], batch[key].flip(-1), batch[key])
    sign = 1.0 - 2.0 * flip.float()
    for key in MIRRORED_ANGLES:
        if key in batch and torch.is_tensor(batch[key]):
            batch[key] = batch[key] * sign.to(batch[key].dtype)
    if "pose" in batch and torch.is_tensor(batch["pose"]):
        batch["pose"] = batch["pose"] * torch.stack([sign, torch.ones_like(sign), sign], 1).to(batch["pose"].dtype)
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
        keys = follow_image(batch)
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


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast: asked for, or ``auto`` on a GPU that has it. Not ``auto`` on a CPU: where it is fast (AMX-BF16:
    the fourway recipe 71 min against 99) it still changes the weights (synthetic-fourway's LIMITS)."""
    if precision == "bf16":
        return True
    return precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()


class EpochBatches:
    """Each epoch's batches as lists of indices, listed up front so a resumed run can skip the ones
    already trained on without loading them, and sharded across ranks under torchrun.

    The order comes from ``generator`` (shuffled loader), a method's batch sampler (which sees
    ``set_epoch``), or a DistributedSampler under torchrun; :meth:`loader` serves one epoch's
    remainder through a DataLoader whose worker seeds come from its own generator, so listing or
    resuming never draws from the global random stream that augmentation and sampling use."""

    def __init__(self, data, train_config: TrainConfig, generator: torch.Generator, batch_sampler=None):
        self.data, self.config, self.generator, self.sampler = data, train_config, generator, batch_sampler
        self.world = distributed.world_size()
        if batch_sampler is None and self.world > 1:
            from torch.utils.data import DistributedSampler

            self.sampler = torch.utils.data.BatchSampler(
                DistributedSampler(data, num_replicas=self.world, rank=distributed.rank(), shuffle=True,
                                   seed=train_config.seed, drop_last=True),
                train_config.batch_size, drop_last=True)
            self.sharded_by_sampler = True
        else:
            self.sharded_by_sampler = False
        if self.sampler is None:
            drop_last = len(data) > train_config.batch_size
            self.sampler = torch.utils.data.BatchSampler(
                torch.utils.data.RandomSampler(data, generator=generator), train_config.batch_size, drop_last)

    def __len__(self) -> int:
        return len(self.sampler) if self.sharded_by_sampler else len(self.sampler) // self.world

    def epoch(self, epoch: int) -> list[list[int]]:
        inner = getattr(self.sampler, "sampler", None)
        for s in (self.sampler, inner, self.data):  # the data too: SwapPairs(redraw=True) draws new partners
            if hasattr(s, "set_epoch"):
                s.set_epoch(epoch)
        batches = [list(b) for b in self.sampler]
        return batches if self.sharded_by_sampler else distributed.shard(batches)

    def sampler_count(self) -> int | None:
        """The passes made so far by a batch sampler that counts its own (the person sampler draws each
        pass's order from its seed and that count), else None: a resumed run needs it to list the same
        batches, as it needs the generator's state for the others."""
        count = getattr(self.sampler, "epoch", None)
        return count if isinstance(count, int) else None

    def set_sampler_count(self, count: int | None) -> None:
        if count is not None and self.sampler_count() is not None:
            self.sampler.epoch = count

    def restore(self, resumed: TrainingState) -> None:
        """The batch order as a saved state left it: the generator's state and the sampler's count."""
        self.generator.set_state(resumed.epoch_generator_state())
        self.set_sampler_count(resumed.sampler_count)

    def loader(self, batches: list[list[int]], epoch: int) -> DataLoader:
        workers = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        return DataLoader(self.data, batch_sampler=batches, num_workers=self.config.num_workers, generator=workers)


# a saved state's history holds the running stage's seconds so far under this key, so that a resumed run's
# stage_seconds count the whole stage and not only the part after the resume
RUNNING_SECONDS = "stage_seconds_running"


@dataclass
class RunContext:
    """What every stage of one run shares: device, logging, saving and where a resume starts."""

    device: torch.device
    remap: torch.Tensor
    train_config: TrainConfig
    writer: object = None
    progress: bool = True
    state_dir: Path | None = None
    configs: dict = field(default_factory=dict)
    resumed: TrainingState | None = None
    history: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    wall_before: float = 0.0
    stage_began: float = field(default_factory=time.perf_counter)
    stage_before: float = 0.0  # the running stage's seconds before a resume

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def stage_seconds(self) -> float:
        return self.stage_before + time.perf_counter() - self.stage_began


def run_stage(stage: Stage, network: torch.nn.Module, dataset: Dataset, train_config: TrainConfig, *,
              expressions: tuple[str, ...] = EXPRESSIONS, writer=None, progress: bool = True) -> dict[str, float]:
    """One stage on its own (shuffled batches of ``dataset``, no saving): see :func:`train` for a whole run."""
    batches = EpochBatches(dataset, train_config, seed_everything(train_config.seed))
    context = RunContext(device=resolve_device(train_config.device), remap=label_remap(expressions),
                         train_config=train_config, writer=writer, progress=progress)
    return _run_stage(stage, network, batches, context)


def _run_stage(
    stage: Stage,
    network: torch.nn.Module,
    batches: EpochBatches,
    context: RunContext,
    index: int = 0,
) -> dict[str, float]:
    """Train one stage: every batch steps each named optimizer of ``stage.steps`` in order, each on
    its own loss and parameters (an adversary's step, then the model's). Returns the last epoch's
    mean terms, prefixed ``optimizer/`` when the stage has several optimizers.

    Saves the run's state every ``save_every`` steps and at the end (when ``context.state_dir``
    is set); continues from ``context.resumed`` when it points inside this stage. Losses are read
    back from the device once per ``log_every`` steps, not per step."""
    tc, device = context.train_config, context.device
    if stage.setup is not None:
        stage.setup()
    if stage.fit is not None:
        return _fit_stage(stage, network, batches, context, index)
    module = stage.module if stage.module is not None else network
    memory = torch.channels_last if tc.channels_last else torch.contiguous_format
    network.to(device, memory_format=memory)
    module.to(device, memory_format=memory).train()
    runner = distributed.wrap(module, device)
    optimizers = {name: torch.optim.Adam(list(step.params()), lr=tc.lr * step.lr_scale, weight_decay=tc.weight_decay)
                  for name, step in stage.steps.items()}
    total = stage.epochs * len(batches) if tc.max_steps is None else min(tc.max_steps, stage.epochs * len(batches))
    schedulers = {}
    if tc.lr_schedule == "onecycle" and total > 1:
        schedulers = {name: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"], total_steps=total)
                      for name, opt in optimizers.items()}
    augment = random_affine(tc.affine) if tc.affine > 0 else None
    bf16 = use_bf16(tc.precision, device)
    several = len(stage.steps) > 1
    start_epoch, skip, step, sums = 0, 0, 0, {}
    resumed = context.resumed if context.resumed is not None and context.resumed.position.stage == index else None
    if resumed is not None:
        resumed.restore_weights(network, module)
        resumed.restore_optimizers(optimizers, schedulers)
        start_epoch, skip, step = resumed.position.epoch, resumed.position.batch, resumed.position.step
        sums = {k: torch.tensor(v, device=device) for k, v in resumed.sums.items()}
        batches.restore(resumed)
    main = distributed.is_main()
    writer = context.writer if main else None
    means: dict[str, float] = {}
    bar = tqdm(total=total, initial=step, desc=stage.name, unit="step", disable=not (context.progress and main),
               dynamic_ncols=True)

    def save(epoch: int, done: int, epoch_state: torch.Tensor, epoch_count: int | None) -> None:
        if context.state_dir is not None:
            save_state(context.state_dir, position=Position(index, epoch, done, step), network=network, module=module,
                       optimizers=optimizers, schedulers=schedulers, sums=_floats(sums),
                       history={**context.history, RUNNING_SECONDS: {stage.name: round(context.stage_seconds(), 2)}},
                       wall_time_s=context.wall_time(), epoch_generator_state=epoch_state, device=device,
                       configs=context.configs, sampler_count=epoch_count)

    for epoch in range(start_epoch, stage.epochs):
        epoch_state, epoch_count = batches.generator.get_state(), batches.sampler_count()
        order = batches.epoch(epoch)
        if resumed is not None and epoch == start_epoch:
            resumed.restore_random(device)  # the streams as they were after the last saved step
        else:
            skip, sums = 0, {}
        done = skip
        for batch in batches.loader(order[skip:], epoch):
            if tc.max_steps is not None and step >= tc.max_steps:
                break
            batch = to_device(batch, device, context.remap)
            if tc.channels_last:
                batch = {k: (v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.dim() == 4 else v)
                         for k, v in batch.items()}
            if tc.hflip:
                batch = mirror_half(batch)
            if augment is not None:
                batch = augment(batch)
            logged = {}
            for name, spec in stage.steps.items():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    terms = runner(spec.loss, batch)
                module.zero_grad(set_to_none=True)  # no gradient leaks between optimizers
                terms["loss"].float().backward()
                optimizers[name].step()
                if name in schedulers and step + 1 < total:
                    schedulers[name].step()
                logged.update({(f"{name}/{k}" if several else k): v.detach().float() for k, v in terms.items()})
            step += 1
            done += 1
            for k, v in logged.items():  # stays on the device: no sync here
                sums[k] = sums[k] + v if k in sums else v.clone()
            if main and (step % tc.log_every == 0 or step == total):
                values = dict(zip(logged, torch.stack(list(logged.values())).tolist()))  # one sync per log_every steps
                if writer is not None:
                    for k, v in values.items():
                        writer.add_scalar(f"{stage.name}/{k}", v, step)
                    _log_lr(writer, stage.name, optimizers, step)
                means_now = _floats(sums, done)
                bar.set_postfix(epoch=epoch + 1, **{k.split("/")[-1] if not several else k: f"{means_now[k]:.3g}"
                                                    for k in _shown(means_now)})
            bar.update(1)
            if tc.save_every and step % tc.save_every == 0 and step < total:
                save(epoch, done, epoch_state, epoch_count)
        if done:
            means = _floats(sums, done)
        if tc.max_steps is not None and step >= tc.max_steps:
            break
    bar.close()
    module.eval()
    network.eval()
    network.to(memory_format=torch.contiguous_format)
    _save_finished(stage, network, batches, context, index, means)
    return means


def _save_finished(stage: Stage, network: torch.nn.Module, batches: EpochBatches, context: RunContext, index: int,
                   means: dict) -> None:
    """The next stage's starting point: this stage's weights, history and batch-order state."""
    if context.state_dir is not None:
        save_state(context.state_dir, position=Position(index + 1), network=network, module=None, optimizers={},
                   schedulers={}, sums={},
                   history={**context.history, stage.name: means,
                            RUNNING_SECONDS: {stage.name: round(context.stage_seconds(), 2)}},
                   wall_time_s=context.wall_time(), epoch_generator_state=batches.generator.get_state(),
                   device=context.device, configs=context.configs, sampler_count=batches.sampler_count())


def _fit_stage(stage: Stage, network: torch.nn.Module, batches: EpochBatches, context: RunContext,
               index: int) -> dict[str, float]:
    """A stage solved in closed form: one pass over every training item in index order (not
    augmented, no sampler or random stream touched, so later stages see the batches they would
    without it; every rank reads all of it), then ``stage.fit``; rank 0's result is what every rank keeps."""
    device = context.device
    if context.resumed is not None and context.resumed.position.stage == index:
        # resumed here: the earlier stages' weights and random streams, as saved when they finished
        context.resumed.restore_weights(network, None)
        batches.restore(context.resumed)
        context.resumed.restore_random(device)
    network.to(device).eval()
    size, n = context.train_config.batch_size, len(batches.data)
    order = [list(range(i, min(i + size, n))) for i in range(0, n, size)]

    def stream():
        shown = context.progress and distributed.is_main()
        loader = DataLoader(batches.data, batch_sampler=order, num_workers=context.train_config.num_workers)
        for batch in tqdm(loader, total=len(order), desc=stage.name, unit="batch", disable=not shown,
                          dynamic_ncols=True):
            yield to_device(batch, device, context.remap)

    with torch.no_grad():
        means = {k: float(v) for k, v in stage.fit(stream()).items()}
    distributed.broadcast_state(network)
    if context.writer is not None and distributed.is_main():
        for k, v in means.items():
            context.writer.add_scalar(f"{stage.name}/{k}", v, 0)
    _save_finished(stage, network, batches, context, index, means)
    return means


def _floats(sums: dict, count: int = 1) -> dict[str, float]:
    """Device sums → Python floats (one sync), divided by ``count``."""
    if not sums:
        return {}
    values = torch.stack([v.float() for v in sums.values()]).cpu().tolist()
    return {k: v / count for k, v in zip(sums, values)}


def _shown(sums: dict) -> list[str]:
    """The progress bar's few terms: each optimizer's loss and accuracies."""
    keys = [k for k in sums if k.split("/")[-1] == "loss" or k.endswith("accuracy")]
    return keys[:4]


def final_losses(history: dict) -> dict[str, dict[str, float]]:
    """Each stage's last-epoch mean loss terms from :func:`train`'s history (its other entries are
    run facts: wall time, device, ``stage_seconds``)."""
    return {k: v for k, v in history.items() if isinstance(v, dict) and k != "stage_seconds"}


@torch.no_grad()
def code_statistics(network: torch.nn.Module, loader: DataLoader, device: torch.device,
                    quantiles: tuple[float, float] = (0.01, 0.99)) -> None:
    """Store per-dimension statistics of the training codes (posterior means) in the network:
    mean and std (slider defaults, random faces, dimension order) and the ``quantiles`` low and high,
    by default the 1st and 99th percentile (the ends of sliders, sweeps and traversals:
    ``FaceModel.code_bounds``)."""
    network.eval()
    codes = []
    for batch in loader:
        mu, _ = network.encode(batch["image"].to(device))
        codes.append(network.join(mu).cpu())
    codes = torch.cat(codes)
    network.code_mean.copy_(codes.mean(0))
    network.code_std.copy_(codes.std(0).clamp_min(1e-4))
    # numpy: torch.quantile refuses inputs of more than 2**24 values (a large set's codes)
    low, high = np.quantile(codes.double().numpy(), quantiles, axis=0)
    network.code_low.copy_(torch.from_numpy(low))
    network.code_high.copy_(torch.from_numpy(high))
    network.code_quantiles.copy_(torch.tensor(quantiles))


def _init_state(init) -> dict[str, torch.Tensor]:
    state = getattr(init, "network", init)
    state = state.state_dict() if isinstance(state, torch.nn.Module) else state
    return {k: torch.as_tensor(v).detach().cpu() for k, v in state.items()}


def _input_dims(network: torch.nn.Module) -> dict[str, int]:
    """State-dict name of every conv/linear weight → the dimension that indexes its input channels."""
    dims = {}
    for name, module in network.named_modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            dims[f"{name}.weight"] = 0
        elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            dims[f"{name}.weight"] = 1
    return dims


def load_grown(network: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Start ``network`` from ``state``, a checkpoint of it with fewer sub-codes (new ones appended),
    fewer blocks (new ones starting as the identity) or thinner decoder stages (widened).

    Why: a new sub-code (say one for pose and lighting) can then be fine-tuned into a trained model
    instead of training everything again. Tensors of equal shape are copied. A tensor that grew
    keeps the old values in its leading slice; a layer's weights from *new input* channels (the
    fusion layer's new sub-code columns, a widened stage's new channels) start at zero, so the grown
    network decodes exactly as before until they learn, while its new output channels keep their
    fresh initialisation (zeros there would stay zero: nothing would pass them a gradient). Grown
    buffers (the code statistics) are zero beyond the old slice; tensors new to the network (the
    new sub-code's encoder) keep their fresh initialisation. Returns the names of the tensors not
    copied whole.
    """
    own = network.state_dict()
    unused = sorted(set(state) - set(own))
    if unused:
        raise ValueError(f"the start point has weights this network lacks: {', '.join(unused[:5])}")
    parameters = {name for name, _ in network.named_parameters()}
    input_dim = _input_dims(network)
    partial = []
    with torch.no_grad():
        for key, value in own.items():
            old = state.get(key)
            if old is None:
                partial.append(key)
                continue
            if old.shape == value.shape:
                value.copy_(old)
                continue
            if old.dim() != value.dim() or any(o > n for o, n in zip(old.shape, value.shape)):
                raise ValueError(f"{key}: shape {tuple(old.shape)} cannot grow into {tuple(value.shape)}")
            if key not in parameters:
                value.zero_()
            elif key in input_dim:
                d = input_dim[key]
                value.narrow(d, old.shape[d], value.shape[d] - old.shape[d]).zero_()
            value[tuple(slice(0, n) for n in old.shape)].copy_(old)
            partial.append(key)
    return partial


def train(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    log_dir: str | Path | None = None,
    progress: bool = True,
    init=None,
    state_dir: str | Path | None = None,
    resume: bool = False,
) -> tuple[torch.nn.Module, dict]:
    """Train ``model_config.method`` on ``dataset``: its stages in order, on one trainer.

    ``init`` (a :class:`~facelab.face_model.FaceModel`, a network or a state dict of the same
    architecture) fine-tunes instead of training from scratch: the network starts from its weights
    and the method's stages run with ``fine_tune=True`` (DisVAE then skips identity pre-training).
    ``init`` itself is not modified. ``state_dir`` receives the run's state every
    ``train_config.save_every`` steps (:mod:`facelab.train_state`); ``resume=True`` continues from
    the last one there. Under ``torchrun`` (:mod:`facelab.distributed`) every rank trains its share
    of each batch list and rank 0 alone logs. Returns the network (CPU, eval mode) and per-stage
    mean terms.
    """
    method = get_method(model_config.method)
    gen = seed_everything(train_config.seed)
    device = distributed.local_device(resolve_device(train_config.device))
    network = method.build(model_config)
    if init is not None:
        state, own = _init_state(init), network.state_dict()
        if set(state) < set(own) or any(state[k].shape != v.shape for k, v in own.items() if k in state):
            # the network grew: sub-codes appended (train --init ... --latents) or blocks added
            # (--decoder-refine); anything else that does not fit still fails in load_grown
            grown = load_grown(network, state)
            if progress and distributed.is_main():
                print(f"grown from --init: {len(grown)} tensors new or enlarged", flush=True)
        else:
            network.load_state_dict(state)
    data = method.prepare_data(dataset, model_config) if method.prepare_data is not None else dataset
    sampler = method.batch_sampler(data, model_config, train_config, gen) if method.batch_sampler is not None else None
    batches = EpochBatches(data, train_config, gen, sampler)
    writer = None
    if log_dir is not None and distributed.is_main():
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(log_dir))
    configs = {"model": model_config.to_dict(), "training": train_config.to_dict(), "fine_tune": init is not None}
    resumed = load_state(state_dir, configs) if resume and state_dir is not None else None
    context = RunContext(device=device, remap=label_remap(model_config.expressions), train_config=train_config,
                         writer=writer, progress=progress, state_dir=Path(state_dir) if state_dir else None,
                         configs=configs, resumed=resumed)
    if init is not None:
        context.history["init"] = True
    running: dict[str, float] = {}
    if resumed is not None:
        context.history = dict(resumed.history)
        running = context.history.pop(RUNNING_SECONDS, {})
        context.wall_before = resumed.wall_time_s
    ran = False
    for index, stage in enumerate(method.stages(network, model_config, train_config, fine_tune=init is not None)):
        if resumed is not None and index < resumed.position.stage:
            if stage.name in running:  # saved as it finished, just before the interruption
                context.history.setdefault("stage_seconds", {}).setdefault(stage.name, running[stage.name])
            continue  # finished before the interruption; its weights are in the saved state
        context.stage_began = time.perf_counter()
        context.stage_before = running.get(stage.name, 0.0)  # only the stage a resume lands in is there
        context.history[stage.name] = _run_stage(stage, network, batches, context, index)
        context.history.setdefault("stage_seconds", {})[stage.name] = round(context.stage_seconds(), 2)
        ran = True
    if resumed is not None and not ran:  # interrupted after the last stage: only the statistics were left
        resumed.restore_weights(network, None)
    distributed.broadcast_state(network)
    code_statistics(network, DataLoader(dataset, batch_size=256), device)
    history = dict(context.history)
    history["wall_time_s"] = context.wall_time()
    history["device"] = str(device)
    history["world_size"] = distributed.world_size()
    if writer is not None:
        writer.close()
    return network.cpu().eval(), history
