"""A PatchGAN image critic: one real/fake logit per patch, and its features for feature matching.

Why patches: a critic that scores each ~22-px window (at 64 px) judges local detail (the edge of an
iris, the line of a mouth) rather than whole-face layout, which the pixel losses already get right;
that local detail is what a squared-error decoder blurs. Its intermediate features also serve as a
learned perceptual distance between a reconstruction and its photo (feature matching).
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import _norm


class PatchDiscriminator(nn.Module):
    """(B, 3, S, S) → (patch logits (B, 1, S/2^k, S/2^k), [features after each stage]).

    Strided 4×4 convolutions with leaky ReLUs, one stage per entry of ``channels`` (GroupNorm after
    the first, as the rest of facelab), then a 3×3 convolution to one logit per position.
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        stages, c_in = [], 3
        for i, c_out in enumerate(channels):
            layers = [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]
            if i > 0:
                layers.append(_norm(c_out))
            layers.append(nn.LeakyReLU(0.2))
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.out = nn.Conv2d(c_in, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return self.out(x), features
