"""Generator: warp the pivot's own pixels with the dense flow, then correct what the warp
cannot explain (mouth interior, disocclusions) with a small network.

output = warped + alpha * (painted - warped). The warp runs at the model size (256), so the pivot's
detail survives; alpha and painted come from a small network at half size (speed),
fed with the warped pivot, the occlusion map and the driving key-point heatmaps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thcodec.models.blocks import ResBlock, Up, channels_first, channels_last, conv_block, convolutions, gaussian_heatmaps, warp


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


class Generator(nn.Module):
    def __init__(self, num_kp: int = 10, channels: tuple[int, int] = (24, 48), blocks: int = 2) -> None:
        super().__init__()
        c1, c2 = channels
        self.channels, self.blocks = (c1, c2), blocks
        self.inp = conv_block(4, c1)  # warped RGB + occlusion, half size
        self.down = conv_block(c1 + num_kp, c2, 2)
        self.body = nn.Sequential(*(ResBlock(c2) for _ in range(blocks)))
        self.up = Up(c2, c1, c1)
        self.out = nn.Conv2d(c1, 4, 3, padding=1)

    @classmethod
    def fitting(cls, state: dict[str, torch.Tensor], num_kp: int = 10) -> Generator:
        """A generator of the width and depth a state dict was saved from (the light generator's
        weights say their own shape: docs/speed.md, "A light generator")."""
        c1, c2 = state["inp.0.weight"].shape[0], state["down.0.weight"].shape[0]
        blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
        return cls(num_kp, (c1, c2), blocks)

    def forward(self, pivot: torch.Tensor, flow: torch.Tensor, occlusion: torch.Tensor, drive_xy: torch.Tensor) -> torch.Tensor:
        """pivot: (B,3,S,S) in [0,1], flow: (B,h,w,2), occlusion: (B,1,h,w) -> frame (B,3,S,S) in [0,1]."""
        s = pivot.shape[-1]
        # NCHW before resizing: the permuted view looks channels-last to torch, whose resize of
        # 2 channels is several times slower in that layout (the same values either way)
        grid = resize(flow.permute(0, 3, 1, 2).contiguous(), s).permute(0, 2, 3, 1)
        warped = warp(pivot, grid)
        half = s // 2
        x = channels_last(torch.cat([resize(warped, half), resize(occlusion, half)], 1))
        heat = channels_last(gaussian_heatmaps(drive_xy, half, half, 0.05))
        with convolutions():
            f1 = self.inp(x)
            f2 = self.body(self.down(torch.cat([f1, heat.to(f1.dtype)], 1)))
            out = self.out(self.up(f2, f1))
        out = resize(channels_first(out.float()), s)
        alpha = torch.sigmoid(out[:, :1] - 2.0)  # starts near 0: trust the warp first
        painted = torch.sigmoid(out[:, 1:])
        return warped + alpha * (painted - warped)
