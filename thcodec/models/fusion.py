"""Fusion (hybrid mode): the up-scaled base-layer frame and the animated pivot -> the face.

The base layer (a 64-128 px classical stream) knows what the face is doing: eyes closing, a
smile, a zoom; the animated pivot (the generator's output) knows who it is: its detail comes
from the pivot's own pixels. Per pixel the network sees both, their difference and the
occlusion map, and outputs at half size (smooth maps, cheap on a CPU):
  - a small flow that re-aligns the animated frame with the base (key points miss zooms,
    head turns),
  - a gate on the animated frame's detail layer (its high frequencies) - closed where the
    base says the pivot's detail is wrong (a closed eye, an open mouth),
  - a weight on the animated frame's low frequencies against the base's (a base coded at a
    high CRF is blocky where the animation is right), at most LOW_BAND_SHARE,
  - a small colour correction.
  out = base + detail_gate * high(a) + low_weight * (low(a) - base) + correction, a = aligned animation.
The output layer starts at zero: an untrained network gives that formula with fixed gates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thcodec.models.blocks import (
    ResBlock,
    Up,
    channels_first,
    channels_last,
    conv_block,
    convolutions,
    make_coordinate_grid,
    warp,
)

LOW_PASS = 4  # the low band: average over 4x4 pixels at 256 (a 64-px base holds no more)
# The most of the animation's low band that replaces the base's. v1 and v2 were trained with 1,
# on base layers poorer than the ones the --kbps ladder sends since (SVT-AV1 at preset 5, then 3; 96-128 px);
# on those, half of what they learned measured better in VMAF, AKD and mostly AED, and the full
# share worse than the base picture alone in PSNR (docs/hybrid.md, "The animation's low band").
LOW_BAND_SHARE = 0.5
MAX_SHIFT = 0.06  # largest re-alignment, in [-1, 1] units (about 8 px at 256)


def low_pass(x: torch.Tensor) -> torch.Tensor:
    s = x.shape[-1]
    small = F.avg_pool2d(x, LOW_PASS)
    return F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)


def _half(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


class Fusion(nn.Module):
    def __init__(self, channels: tuple[int, int] = (24, 48), blocks: int = 2) -> None:
        super().__init__()
        c1, c2 = channels
        self.inp = conv_block(10, c1)  # base, animated, base - animated, occlusion at half size
        self.down = conv_block(c1, c2, 2)
        self.body = nn.Sequential(*(ResBlock(c2) for _ in range(blocks)))
        self.up = Up(c2, c1, c1)
        self.out = nn.Conv2d(c1, 7, 3, padding=1)  # shift (2), detail gate, low weight, correction (3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, base: torch.Tensor, animated: torch.Tensor, occlusion: torch.Tensor) -> torch.Tensor:
        """base: (B,3,S,S) up-scaled base frame in [0,1]; animated: (B,3,S,S) the generator's frame
        in [0,1]; occlusion: (B,1,h,w) -> the face (B,3,S,S), unclamped."""
        s = base.shape[-1]
        half = s // 2
        b, a = _half(base, half), _half(animated, half)
        x = channels_last(torch.cat([b, a, b - a, _half(occlusion, half)], 1))
        with convolutions():
            f1 = self.inp(x)
            maps = self.out(self.up(self.body(self.down(f1)), f1))
        maps = channels_first(maps.float())
        maps = F.interpolate(maps, size=(s, s), mode="bilinear", align_corners=False)
        shift = MAX_SHIFT * torch.tanh(maps[:, :2]).permute(0, 2, 3, 1)
        grid = make_coordinate_grid(s, s, base.device, base.dtype)[None] + shift
        aligned = warp(animated, grid)
        low = low_pass(aligned)
        detail_gate = torch.sigmoid(maps[:, 2:3] + 2.0)  # starts near 0.88: keep the pivot's detail
        low_weight = LOW_BAND_SHARE * torch.sigmoid(maps[:, 3:4] - 1.0)  # starts near 0.13: mostly the base's structure
        return base + detail_gate * (aligned - low) + low_weight * (low - base) + 0.1 * maps[:, 4:]
