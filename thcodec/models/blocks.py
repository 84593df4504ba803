"""Building blocks shared by the networks, sized for a 2-core CPU."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + batch-free norm (GroupNorm is batch-size independent) + ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.GroupNorm(min(8, cout // 4), cout),
        nn.ReLU(inplace=True),
    )


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_block(ch, ch), nn.Conv2d(ch, ch, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Up(nn.Module):
    """x2 bilinear up-sampling, concatenation with a skip, conv."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv = conv_block(cin + cskip, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], 1))


class UNet(nn.Module):
    """Small encoder-decoder: channels[i] at 1/2^i of the input size; output at input size."""

    def __init__(self, cin: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = conv_block(cin, channels[0])
        self.down = nn.ModuleList(conv_block(a, b, 2) for a, b in zip(channels[:-1], channels[1:]))
        self.up = nn.ModuleList(Up(b, a, a) for a, b in zip(channels[:-1], channels[1:]))
        self.out_channels = channels[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for d in self.down:
            skips.append(d(skips[-1]))
        x = skips.pop()
        for u in reversed(self.up):
            x = u(x, skips.pop())
        return x


def axis_coords(start: int, stop: int, size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised centres of pixels start..stop-1 of `size` (align_corners=False convention)."""
    return (2 * torch.arange(start, stop, device=device, dtype=dtype) + 1) / size - 1


def make_coordinate_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(h,w,2) grid of (x,y) pixel centres in [-1,1] (align_corners=False convention)."""
    gy, gx = torch.meshgrid(axis_coords(0, h, h, device, dtype), axis_coords(0, w, w, device, dtype), indexing="ij")
    return torch.stack([gx, gy], -1)


def warp(img: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """img: (B,C,H,W); grid: (B,h,w,2) source coordinates in [-1,1] -> (B,C,h,w)."""
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_heatmaps(xy: torch.Tensor, h: int, w: int, sigma: float = 0.1) -> torch.Tensor:
    """xy: (B,K,2) in [-1,1] -> (B,K,h,w) unnormalised Gaussians of std `sigma` (grid units).

    Separable: the product of a row and a column Gaussian, so exp runs on h + w values per
    key point instead of h * w."""
    gx = torch.exp(-0.5 * (axis_coords(0, w, w, xy.device, xy.dtype) - xy[..., :1]) ** 2 / sigma**2)  # (B,K,w)
    gy = torch.exp(-0.5 * (axis_coords(0, h, h, xy.device, xy.dtype) - xy[..., 1:]) ** 2 / sigma**2)  # (B,K,h)
    return gy[..., :, None] * gx[..., None, :]


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """The CPU's convolutions (oneDNN) run much faster on channels-last tensors at our small,
    odd channel counts (docs/speed.md); a network converts its input once, its layers keep it."""
    return x.contiguous(memory_format=torch.channels_last)


def _fused_conv_op():
    """oneDNN's convolution with a ReLU applied to its output in the same call (the op torch's
    own compiler emits for conv + ReLU on CPUs), or None where this torch build lacks it."""
    if not torch.backends.mkldnn.is_available():
        return None
    return getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)


_FUSED_CONV = _fused_conv_op()


def conv_relu_stack(layers: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The layers applied in turn, each ReLU done inside the convolution before it (one pass over
    the output instead of two: docs/speed.md). Eager modules where a gradient is wanted, the op
    is missing or the graph is being exported (ONNX has no such op); the values are the same."""
    mods = list(layers)
    if _FUSED_CONV is None or torch.is_grad_enabled() or torch.compiler.is_compiling() or torch.jit.is_tracing():
        for m in mods:
            x = m(x)
        return x
    i = 0
    while i < len(mods):
        conv = mods[i]
        relu = i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)
        if not isinstance(conv, nn.Conv2d) or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            x, i = conv(x), i + 1
            continue
        # under autocast the eager convolution would run in its dtype: cast as it would
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        bias = None if conv.bias is None else conv.bias.to(dtype)
        x = _FUSED_CONV(
            x.to(dtype), conv.weight.to(dtype), bias, list(conv.padding), list(conv.stride), list(conv.dilation),
            conv.groups, "relu" if relu else "none", [], "",
        )  # fmt: skip
        i += 1 + relu
    return x


def channels_first(x: torch.Tensor) -> torch.Tensor:
    """Back to NCHW after a network's last convolution: a channel slice of a channels-last
    tensor is strided, and the element-wise work on its maps runs several times slower on it."""
    return x.contiguous()


_BF16 = contextvars.ContextVar("thc_bf16_convolutions", default=False)


@contextmanager
def bf16_convolutions(enabled: bool = True) -> Iterator[None]:
    """Inside this block the networks run their convolution stacks in bfloat16 (the receiver,
    on CPUs with AMX units: docs/speed.md). Outside it, and always for the sender, whose
    bytes must not depend on the machine, they run in float32."""
    token = _BF16.set(enabled)
    try:
        yield
    finally:
        _BF16.reset(token)


def convolutions() -> torch.autocast:
    """Wraps a network's convolution stack: bfloat16 inside `bf16_convolutions()`, else a no-op.
    Coordinates, flows, warps and blends stay outside it, in float32: a bfloat16 coordinate
    is off by up to half a pixel at 256."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=_BF16.get())
