"""What a method is: options dataclass + network builder + training stages, one registry entry.

A stage names its optimizers; each optimizer has its own loss and parameters, and the trainer
steps them in order on every batch (an adversary's step, then the model's). Losses are plain
functions ``loss(module, batch) -> {"loss": tensor, **terms}`` built from :mod:`facelab.losses`.
Alternating steps, schedules, progress, logging and saving live in :mod:`facelab.training`,
never in a method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

Loss = Callable[[nn.Module, dict], dict]


@dataclass
class Step:
    """One named optimizer within a stage: what it optimises and on which loss."""

    params: Callable[[], Iterable[nn.Parameter]]  # called when the stage starts (after its setup)
    loss: Loss
    lr_scale: float = 1.0


@dataclass
class Stage:
    """A training stage: ``epochs`` over the data, stepping each of ``steps`` per batch, in order.

    ``module`` is what runs in train mode and is handed to the losses (default: the network);
    ``setup`` runs when the stage starts (freezing, copying weights from an earlier stage).
    ``fit``, for a stage solved in closed form rather than stepped, is called once instead of
    any steps with one pass over the training items in batches (in index order, on the device,
    not augmented) and returns the figures to log.
    """

    name: str
    epochs: int
    steps: dict[str, Step]
    module: nn.Module | None = None
    setup: Callable[[], None] | None = None
    fit: Callable[[Iterable[dict]], dict[str, float]] | None = None


@dataclass(frozen=True)
class Method:
    """A registry entry. ``stages(network, model_config, train_config, fine_tune)`` yields stages
    lazily, so a later stage can be built from what an earlier one trained.

    ``summary(model_config)`` is the model card's Method paragraph; ``follows`` the paper.
    ``prepare_data(dataset, model_config)`` may wrap the training set (swap partners, pairs) and
    ``batch_sampler(dataset, model_config, train_config, generator)`` may group batches (by person, expression).
    ``legacy_keys`` renames state-dict prefixes of older checkpoints of this method.
    ``preflight(model_config)`` checks what training with that config needs besides the config
    itself (an optional tool installed) and raises :class:`~facelab.config.ConfigError`; unlike
    ``validate`` it does not run when a checkpoint loads, so a model trained with such a tool
    still loads without it. ``python -m train`` runs it before loading any data.
    """

    name: str
    options: type
    build: Callable[[Any], nn.Module]
    stages: Callable[..., Iterator[Stage]]
    summary: Callable[[Any], str]
    follows: str = ""
    validate: Callable[[Any], None] = lambda config: None
    prepare_data: Callable[[Any, Any], Any] | None = None
    batch_sampler: Callable[[Any, Any, Any, torch.Generator], Any] | None = None
    legacy_keys: dict[str, str] = field(default_factory=dict)
    preflight: Callable[[Any], None] = lambda config: None


def trainable(*modules: nn.Module) -> Callable[[], list[nn.Parameter]]:
    """A ``Step.params`` that collects the parameters of ``modules`` still requiring gradients."""
    return lambda: [p for m in modules for p in m.parameters() if p.requires_grad]
