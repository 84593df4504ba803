"""Patch-wise super-resolution: the 256x256 generated region -> the region at its output size.

The full-resolution pivot already holds the person's fine detail, so the network does not
invent it: per output pixel it sees
  - the generated frame, up-sampled (bicubic),
  - the full-resolution pivot, warped by the up-sampled motion field,
  - the pivot's detail layer (pivot minus its 256x256 version up-sampled), warped the same way,
  - the occlusion map (where the warp cannot explain the frame),
and outputs a gate on the warped detail plus a small correction:
  out = up + gate * detail + correction.
`use_pivot=False` (the ablation) zeroes both pivot inputs: a plain SR network of the same size.

Every input is sampled for one tile at a time from the low-resolution sources and the pivot,
and the convolutions reach only `halo` pixels, so tiles overlapping by that much give exactly
the output of one pass over the whole region, with memory set by the tile size: any output
size works, at any scale (x2, x4, non-square).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thcodec.models.blocks import axis_coords, channels_first, channels_last, conv_relu_stack, convolutions, warp

TILE = 160  # output pixels per tile side (before the halo)


def sample(img: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """img (B,C,h,w) sampled at the grid ys x xs of normalised coordinates -> (B,C,len(ys),len(xs))."""
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx, gy], -1)[None].expand(img.shape[0], -1, -1, -1)
    return F.grid_sample(img, grid, mode=mode, padding_mode="border", align_corners=False)


class PivotDetail:
    """A segment's full-resolution pivot region and its detail layer, made once per pivot.

    pivot: (1,3,H,W) in [0,1] at the output size; small: (1,3,256,256) the model's pivot input.
    """

    def __init__(self, pivot: torch.Tensor, small: torch.Tensor) -> None:
        h, w = pivot.shape[-2:]
        up = F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)
        self.pivot = pivot
        self.detail = pivot - up

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pivot.shape[-2]), int(self.pivot.shape[-1])


class SuperResolution(nn.Module):
    def __init__(self, channels: int = 24, layers: int = 4, use_pivot: bool = True) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        cin = 10  # up (3) + warped pivot (3) + warped detail (3) + occlusion (1)
        for _ in range(layers - 1):
            convs += [nn.Conv2d(cin, channels, 3, padding=1), nn.ReLU(inplace=True)]
            cin = channels
        self.body = nn.Sequential(*convs)
        self.out = nn.Conv2d(cin, 4, 3, padding=1)
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)
        self.halo = layers  # one pixel per 3x3 convolution
        self.register_buffer("use_pivot", torch.tensor(use_pivot))

    def inputs(self, gen, flow, occlusion, pivot: PivotDetail, ys, xs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network's input for output rows ys x columns xs (normalised) -> (x, up, detail)."""
        b = gen.shape[0]
        up = sample(gen, ys, xs, "bicubic")
        occ = sample(occlusion, ys, xs)
        if not bool(self.use_pivot):
            zeros = torch.zeros_like(up)
            return torch.cat([up, zeros, zeros, occ], 1), up, zeros
        where = sample(flow.permute(0, 3, 1, 2), ys, xs).permute(0, 2, 3, 1)  # pivot coordinates
        warped = warp(pivot.pivot.expand(b, -1, -1, -1), where)
        detail = warp(pivot.detail.expand(b, -1, -1, -1), where)
        return torch.cat([up, warped, detail, occ], 1), up, detail

    def head(self, x: torch.Tensor, up: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        with convolutions():
            o = conv_relu_stack([*self.body, self.out], channels_last(x))
        o = channels_first(o.float())
        return up + torch.sigmoid(o[:, :1]) * detail + o[:, 1:]

    def forward(self, gen, flow, occlusion, pivot: PivotDetail, tile: int = TILE) -> torch.Tensor:
        """gen (B,3,256,256), flow (B,h,w,2) pivot coordinates, occlusion (B,1,h,w)
        -> (B,3,H,W) unclamped, at the pivot's size, computed tile by tile."""
        h, w = pivot.size
        out = gen.new_empty(gen.shape[0], 3, h, w)
        m = self.halo
        for y0 in range(0, h, tile):
            y1 = min(y0 + tile, h)
            for x0 in range(0, w, tile):
                x1 = min(x0 + tile, w)
                ya, yb, xa, xb = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
                ys = axis_coords(ya, yb, h, gen.device, gen.dtype)
                xs = axis_coords(xa, xb, w, gen.device, gen.dtype)
                res = self.head(*self.inputs(gen, flow, occlusion, pivot, ys, xs))
                out[:, :, y0:y1, x0:x1] = res[:, :, y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        return out
