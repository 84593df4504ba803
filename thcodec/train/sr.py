"""`--part sr`: train the super-resolution network on the SR cache.

The cache comes from `python -m thcodec.train.sr_cache` (.cache/sr/{train,val}): 512x512
face regions and the shipped model's 256x256 frames animated from JPEG pivots. A sample is
one pair at a random output size T in [320, 512] (x1.25..x2 from 256); in X4_SHARE of them the
generated frame is first reduced to 128, so the network also learns x2.5..x4. Training runs
on a random PATCH x PATCH window of the output, computed exactly as one decoder tile is. Loss:
L1 plus L1 of the image gradients (rewards edges in the right place, not blur).
`--no-pivot` trains the ablation: the same network with its pivot inputs zeroed.
Validation: every val pair at 512x512 from the 256 frame (x2) and from it reduced to 128 (x4):
PSNR of the network and of plain bicubic up-scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from thcodec.media.frames import to_tensor, to_uint8
from thcodec.media.metrics import psnr
from thcodec.models.blocks import axis_coords
from thcodec.models.super_resolution import PivotDetail, SuperResolution
from thcodec.train.options import RunConfig, option
from thcodec.train.part import Part
from thcodec.train.sr_cache import SrCache, small

PATCH = 96
X4_SHARE = 0.3


def resized(img: torch.Tensor, size: int) -> torch.Tensor:
    if img.shape[-1] == size:
        return img
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class Pair:
    """One cached pair as tensors: target and pivot at an output size, the model's outputs."""

    def __init__(self, cache: SrCache, i: int, size: int, low: int = 256) -> None:
        piv = cache.pivots[cache.pair_pivot[i]]
        self.target = resized(to_tensor(cache.frames[cache.pair_frame[i]]), size)
        self.pivot = PivotDetail(resized(to_tensor(piv), size), to_tensor(small(piv)))
        self.gen = resized(to_tensor(cache.gen[i]), low)
        self.flow = torch.from_numpy(cache.flow[i].astype(np.float32))[None]
        self.occlusion = torch.from_numpy(cache.occlusion[i].astype(np.float32))[None, None]


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 of the difference of horizontal and vertical pixel steps."""
    d = a - b
    return (d[..., :, 1:] - d[..., :, :-1]).abs().mean() + (d[..., 1:, :] - d[..., :-1, :]).abs().mean()


def sample(model: SuperResolution, cache: SrCache, batch: int, rng: np.random.Generator):
    xs, ups, details, targets = [], [], [], []
    for i in rng.integers(0, len(cache), batch):
        size = int(rng.integers(320, 513))
        low = 128 if rng.random() < X4_SHARE else 256
        pair = Pair(cache, int(i), size, low)
        y0, x0 = (int(v) for v in rng.integers(0, size - PATCH + 1, 2))
        ys = axis_coords(y0, y0 + PATCH, size)
        xc = axis_coords(x0, x0 + PATCH, size)
        x, up, detail = model.inputs(pair.gen, pair.flow, pair.occlusion, pair.pivot, ys, xc)
        xs.append(x), ups.append(up), details.append(detail)
        targets.append(pair.target[:, :, y0 : y0 + PATCH, x0 : x0 + PATCH])
    return torch.cat(xs), torch.cat(ups), torch.cat(details), torch.cat(targets)


@torch.no_grad()
def validate(model: SuperResolution, cache: SrCache) -> dict:
    out = {}
    for name, low in (("x2", 256), ("x4", 128)):
        net, bicubic = [], []
        for i in range(len(cache)):
            pair = Pair(cache, i, cache.index["size"], low)
            pred = model(pair.gen, pair.flow, pair.occlusion, pair.pivot).clamp(0, 1)
            up = F.interpolate(pair.gen, size=pred.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
            tgt = to_uint8(pair.target)
            net.append(psnr(to_uint8(pred), tgt))
            bicubic.append(psnr(to_uint8(up), tgt))
        out[f"{name}_psnr"] = float(np.mean(net))
        out[f"{name}_bicubic_psnr"] = float(np.mean(bicubic))
    out["psnr"] = (out["x2_psnr"] + out["x4_psnr"]) / 2
    return out


@dataclass(frozen=True)
class SrConfig:
    sr_cache: Path = option(Path(".cache/sr"), "the cache of python -m thcodec.train.sr_cache: train/ and val/")
    no_pivot: bool = option(False, "the ablation without the pivot inputs")


class SrPart(Part):
    ema_most = 0.998
    log_every = 50

    def __init__(self, run: RunConfig, cfg: SrConfig, device=None, world: int = 1) -> None:
        super().__init__(SuperResolution(use_pivot=not cfg.no_pivot))
        self.batch = run.batch
        self.data, self.val = SrCache(cfg.sr_cache / "train"), SrCache(cfg.sr_cache / "val")

    def sample(self, rng):
        return sample(self.model, self.data, self.batch, rng)

    def loss(self, batch, rng):
        h = self.model.halo  # the patch's own edge is not a tile edge of the decoder: no loss there
        x, up, detail, tgt = batch
        pred = self.model.head(x, up, detail)[..., h:-h, h:-h]
        tgt = tgt[..., h:-h, h:-h]
        loss = (pred - tgt).abs().mean() + gradient_l1(pred, tgt)
        return loss, {"loss": loss.item()}, None

    def validate(self, ema):
        return validate(ema, self.val)

    def score(self, v: dict) -> float:
        return v["psnr"]
