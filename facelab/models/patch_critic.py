"""A PatchGAN image critic: one real/fake logit per patch, and its features for feature matching.

Why patches: a critic that scores each ~22-px window (at 64 px) judges local detail (the edge of an
iris, the line of a mouth) rather than whole-face layout, which the pixel losses already get right;
that local detail is what a squared-error decoder blurs. Its intermediate features also serve as a
learned perceptual distance between a reconstruction and its photo (feature matching).
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import critic_layers


class PatchDiscriminator(nn.Module):
    """(B, 3, S, S) → (patch logits (B, 1, S/2^k, S/2^k), [features after each stage]).

    The image critics' trunk (:func:`~facelab.models.blocks.critic_layers`, one stage per entry of
    ``channels``), then a 3×3 convolution to one logit per position instead of one per image.
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        self.conv = nn.Sequential(*critic_layers(channels))
        self.out = nn.Conv2d(channels[-1], 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for layer in self.conv:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):  # the end of a stage
                features.append(x)
        return self.out(x), features
