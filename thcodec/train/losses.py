"""Reconstruction losses built without pretrained backbones: pyramid L1 + SSIM."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pyramid_l1(pred: torch.Tensor, target: torch.Tensor, levels: int = 4) -> torch.Tensor:
    loss = pred.new_zeros(())
    for i in range(levels):
        if i:
            pred = F.avg_pool2d(pred, 2)
            target = F.avg_pool2d(target, 2)
        loss = loss + (pred - target).abs().mean()
    return loss / levels
