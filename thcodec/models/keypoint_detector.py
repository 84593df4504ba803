"""Key-point detector: K points, each (x,y) and a 2x2 Jacobian, from a 256x256 face region.

Distilled from dlib landmark-group targets (thcodec.face.landmarks). Runs on a 128x128 copy of
the input: heatmaps at 64x64, soft-argmax for positions, heatmap-weighted Jacobians.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thcodec.models.blocks import UNet, conv_block, make_coordinate_grid

INPUT_SIZE = 128


class KeypointDetector(nn.Module):
    def __init__(self, num_kp: int = 10, channels: tuple[int, ...] = (32, 64, 96, 128, 160), temperature: float = 0.1) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.temperature = temperature
        self.stem = conv_block(3, channels[0], 2)  # 128 -> 64
        self.unet = UNet(channels[0], channels)
        self.heat = nn.Conv2d(channels[0], num_kp, 7, padding=3)
        self.jac = nn.Conv2d(channels[0], 4 * num_kp, 7, padding=3)
        # Start the Jacobians at the identity, as first-order models do.
        nn.init.zeros_(self.jac.weight)
        with torch.no_grad():
            self.jac.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_kp))

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames: (B,3,S,S) float in [0,1] -> xy (B,K,2) in [-1,1], jacobian (B,K,2,2)."""
        x = F.interpolate(frames, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)
        feat = self.unet(self.stem(x))
        b, _, h, w = feat.shape
        logits = self.heat(feat).flatten(2) / self.temperature
        prob = logits.softmax(-1).view(b, self.num_kp, h, w)
        grid = make_coordinate_grid(h, w, frames.device, frames.dtype)
        xy = (prob[..., None] * grid).sum((2, 3))
        jac = self.jac(feat).view(b, self.num_kp, 4, h, w)
        jac = (jac * prob[:, :, None]).sum((3, 4)).view(b, self.num_kp, 2, 2)
        return xy, jac
