"""Codes refined against the picture they came from, with the decoder fixed.

An encoder is one forward pass trained to serve every face: for a given face its code is close to,
but not, the code that makes the decoder draw that face best (the amortisation gap,
``bench/code_optimisation_gap.py``). A few Adam steps on the code itself, starting from the
encoder's and judged by the pixels' squared error, close part of that gap: the hybrid of an
encoder and per-image optimisation that GAN-inversion tools use. Only the sub-codes named free
move, so a sub-code whose meaning edits rely on (the expression a swap carries) can be kept as
the encoder read it. The decoder's weights never change.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .config import REFINE_LR

# the app's opt-in "sharper" encoding (FaceModel.sharper_setting) where a checkpoint sets none: the
# setting measured on photo-swap's validation views (+0.9 dB; 0.38 s an upload on one CPU thread,
# `python bench/upload_path.py --checkpoint photo-swap --sharper`)
SHARPER_STEPS = 50
SHARPER_LR = 0.03


def refine_codes(network: torch.nn.Module, x: torch.Tensor, codes: dict[str, torch.Tensor],
                 order: dict[str, int], free: Sequence[str], steps: int, lr: float = REFINE_LR) -> dict[str, torch.Tensor]:
    """``codes`` (sub-code name → (B, d), in ``order``) with the ``free`` sub-codes moved by ``steps``
    Adam steps to make ``network.decode`` of the joined code reproduce ``x`` (B, 3, S, S). Each image's
    code moves on its own error alone. Returns new tensors; the inputs are left as they were."""
    unknown = sorted(set(free) - set(order))
    if unknown:
        raise ValueError(f"not a sub-code of this model: {', '.join(unknown)} (sub-codes: {', '.join(order)})")
    if steps <= 0 or not free:
        return {a: codes[a].detach().clone() for a in order}
    deltas = {a: torch.zeros_like(codes[a], requires_grad=True) for a in free}
    optimiser = torch.optim.Adam(deltas.values(), lr=lr)
    was_training = network.training
    network.eval()
    with torch.enable_grad():
        for _ in range(steps):
            z = torch.cat([codes[a].detach() + deltas[a] if a in deltas else codes[a].detach() for a in order], 1)
            # summed over images, so each image's code follows its own error whatever the batch size
            loss = ((network.decode(z) - x) ** 2).flatten(1).mean(1).sum()
            grads = torch.autograd.grad(loss, list(deltas.values()))
            for delta, grad in zip(deltas.values(), grads):
                delta.grad = grad
            optimiser.step()
    network.train(was_training)
    return {a: (codes[a] + deltas[a]).detach() if a in deltas else codes[a].detach().clone() for a in order}
