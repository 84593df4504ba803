"""A small multi-scale patch discriminator and its losses, for sharper generated frames.

Pixel losses (pyramid L1 + SSIM) reward the mean of the plausible frames, which is a blur.
A patch discriminator judges local texture instead; its feature-matching term (L1 between
the discriminator's features of the real and the generated frame) gives the generator a
stable, detail-aware signal without any pretrained backbone. Least-squares GAN losses, as in
the first-order motion model. Used only in training: the receiver never runs it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = (32, 64, 128)  # per stride-2 layer: small enough for CPU training


class PatchDiscriminator(nn.Module):
    """Per scale (full and half size): 4x4 stride-2 convolutions -> a map of real/fake scores."""

    def __init__(self, channels: tuple[int, ...] = CHANNELS, scales: int = 2) -> None:
        super().__init__()
        self.scales = nn.ModuleList(self._branch(channels) for _ in range(scales))

    @staticmethod
    def _branch(channels: tuple[int, ...]) -> nn.ModuleList:
        layers, cin = [], 3
        for c in channels:
            layers.append(nn.Sequential(nn.Conv2d(cin, c, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)))
            cin = c
        layers.append(nn.Conv2d(cin, 1, 3, 1, 1))
        return nn.ModuleList(layers)

    def forward(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        """images (B,3,H,W) in [0,1] -> per scale, the features of every layer; the last is the score map."""
        out = []
        x = images * 2 - 1
        for i, branch in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 2)
            feats, h = [], x
            for layer in branch:
                h = layer(h)
                feats.append(h)
            out.append(feats)
        return out


def generator_terms(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (adversarial loss: fake scores pushed to 1, feature matching: L1 to the real frame's features)."""
    adv = sum(((1 - f[-1]) ** 2).mean() for f in fake) / len(fake)
    fm = sum((a - b.detach()).abs().mean() for f, r in zip(fake, real) for a, b in zip(f[:-1], r[:-1]))
    return adv, fm / len(fake)


def discriminator_loss(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Least squares: real scores to 1, fake (detached by the caller) to 0."""
    return sum(((1 - r[-1]) ** 2).mean() + (f[-1] ** 2).mean() for f, r in zip(fake, real)) / len(fake)
