"""Training part `fusion`: the hybrid mode's fusion network (thcodec/models/fusion.py).

Pairs come from the fusion cache (thcodec/train/fusion_cache.py): the animated pivot, its
occlusion map and the up-scaled base-layer frame (two codec settings per clip), against the
cached original frame. A quarter of the samples take the base frame of the clip's previous
cached frame (80 ms older): a base layer at a lower frame rate than the call leaves the
network frames whose base lags the key points; with --between, the previous and next cached
frames' base pictures blended instead, as the receiver blends the two around a frame between
them. Loss: L1 of the picture + L1 of its gradients (sharpness where the base is blurred), and
optionally the detail-energy term (--energy-weight)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from thcodec.data.frame_cache import FrameCache
from thcodec.media.frames import to_tensor
from thcodec.media.metrics import psnr
from thcodec.models.checkpoint import network_weights
from thcodec.models.fusion import Fusion, low_pass
from thcodec.train.fusion_cache import BASES, FusionCache
from thcodec.train.options import RunConfig, option
from thcodec.train.part import Part
from thcodec.train.run import Schedule

STALE_SHARE = 0.25
ENERGY_PATCH = 8
VAL_FRAMES = 128


@dataclass(frozen=True)
class FusionConfig:
    fusion_cache: Path = option(Path(".cache/fusion"), "the cache of python -m thcodec.train.fusion_cache: train/ and val/")
    frames: Path = option(Path(".cache/frames"), "the frame cache the fusion cache was made from (its targets)")
    gradient_weight: float = option(0.5, "weight of the L1 of image gradients against the L1 of pixels")
    energy_weight: float = option(
        0.0, "weight of the detail-energy term: the L1 of the local mean of |detail band| (no penalty for detail out of place)"
    )
    crop: int = option(128, "side of the training crops (the network is convolutional: smaller crops, faster steps)")
    expression_weight: float = option(
        0.0,
        "extra weight of the loss inside boxes around the target's eyes and mouth (its dlib landmarks; 0: none): blinks "
        "and mouth shapes are a small share of the pixels",
    )
    between: bool = option(
        False,
        "the stale quarter's base: the previous and next cached frames' blended, as the receiver blends between base pictures",
    )
    init: Path | None = option(  # one --init with the motion parts' (thcodec/train/face_pairs.py), whose help says both
        None, "start from these weights: weights/fusion.pt or a run's best.pt / snap_<step>.pt (fine-tuning)", type=Path
    )


def gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def detail_energy(x: torch.Tensor) -> torch.Tensor:
    """How much fine detail each 8x8 patch holds: the mean |x - low_pass(x)|. Pixel losses pay
    for detail in the wrong place more than for none (so they learn blur); this does not."""
    return F.avg_pool2d((x - low_pass(x)).abs(), ENERGY_PATCH)


EYES_AND_MOUTH = (slice(36, 42), slice(42, 48), slice(48, 68))  # dlib's 68 landmarks: the eyes, the mouth
BOX_MARGIN = 0.5  # each box grown by half its size on every side (eyelids, brows' shadow, lips' edges)


def expression_weights(landmarks: np.ndarray, size: int, extra: float) -> torch.Tensor:
    """(B,68,2) landmarks in [-1,1] -> (B,1,size,size) per-pixel loss weights: 1, and 1 + extra
    inside a box around each eye and the mouth (1 everywhere on a frame without landmarks: NaN)."""
    w = torch.ones(len(landmarks), 1, size, size)
    px = (landmarks + 1) * size / 2
    for n, points in enumerate(px):
        if not np.isfinite(points).all():
            continue
        for part in EYES_AND_MOUTH:
            (x0, y0), (x1, y1) = points[part].min(0), points[part].max(0)
            mx, my = BOX_MARGIN * (x1 - x0) + 2, BOX_MARGIN * (y1 - y0) + 2
            xa, xb = (int(np.clip(v, 0, size)) for v in (x0 - mx, x1 + mx + 1))
            ya, yb = (int(np.clip(v, 0, size)) for v in (y0 - my, y1 + my + 1))
            w[n, :, ya:yb, xa:xb] = 1 + extra
    return w


def _weighted_mean(x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return x.mean() if weight is None else (x * weight).mean() / weight.mean()


def fusion_loss(
    out: torch.Tensor,
    target: torch.Tensor,
    gradient_weight: float,
    energy_weight: float = 0.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """weight: (B,1,H,W) per-pixel weights of the pixel and gradient terms (expression_weights), or None."""
    (ox, oy), (tx, ty) = gradients(out), gradients(target)
    wx, wy = (None, None) if weight is None else (weight[..., :, 1:], weight[..., 1:, :])
    loss = _weighted_mean((out - target).abs(), weight) + gradient_weight * (
        _weighted_mean((ox - tx).abs(), wx) + _weighted_mean((oy - ty).abs(), wy)
    )
    if energy_weight:
        loss = loss + energy_weight * (detail_energy(out) - detail_energy(target)).abs().mean()
    return loss


def batch_of(
    cache: FusionCache,
    picks: np.ndarray,
    bases: np.ndarray,
    base_rows: np.ndarray | None = None,
    blend_rows: np.ndarray | None = None,
):
    """-> (base, animated, occlusion, target) tensors for cache rows `picks` with base settings
    `bases`, the base frames taken from `base_rows` (default: picks), averaged with those of
    `blend_rows` where given."""
    rows = picks if base_rows is None else base_rows
    base = to_tensor(np.stack([cache.base[i, k] for i, k in zip(rows, bases)]))
    if blend_rows is not None:
        base = (base + to_tensor(np.stack([cache.base[i, k] for i, k in zip(blend_rows, bases)]))) / 2
    gen = to_tensor(np.stack([cache.gen[i] for i in picks]))
    occ = torch.from_numpy(np.stack([cache.occ[i] for i in picks]).astype(np.float32) / 255)[:, None]
    target = to_tensor(np.stack([cache.frames[cache.targets[i]] for i in picks]))
    return base, gen, occ, target


class FusionPart(Part):
    log_every = 25
    ema_most = 0.995
    schedule = Schedule(warmup=100, floor=0.05)

    def __init__(self, run: RunConfig, cfg: FusionConfig, device=None, world: int = 1) -> None:
        super().__init__(Fusion())
        if cfg.init:
            self.model.load_state_dict(network_weights(cfg.init))
        self.cfg, self.batch = cfg, run.batch
        self.train = FusionCache(cfg.fusion_cache / "train", FrameCache(cfg.frames / "train"))
        self.val = FusionCache(cfg.fusion_cache / "val", FrameCache(cfg.frames / "val"))
        starts, ends = np.zeros(len(self.train), bool), np.zeros(len(self.train), bool)  # no previous / next base
        for c in self.train.index["clips"]:
            starts[c["frames"][0]], ends[c["frames"][1] - 1] = True, True
        # The rows whose base may come from their neighbours: a previous one (and a next, --between).
        self._may_lag = ~starts if not cfg.between else ~starts & ~ends

    def sample(self, rng: np.random.Generator):
        picks = rng.integers(0, len(self.train), self.batch)
        bases = rng.integers(0, BASES, self.batch)
        stale = (rng.random(self.batch) < STALE_SHARE) & self._may_lag[picks]
        blend = picks + stale if self.cfg.between else None
        base, gen, occ, target = batch_of(self.train, picks, bases, picks - stale, blend)
        extra = self.cfg.expression_weight
        weight = expression_weights(self.train.landmarks[self.train.targets[picks]], target.shape[-1], extra) if extra else None
        f = torch.from_numpy(rng.random(self.batch) < 0.5)
        base[f], gen[f], occ[f], target[f] = (t[f].flip(-1) for t in (base, gen, occ, target))
        if weight is not None:
            weight[f] = weight[f].flip(-1)
        # One crop for the batch, on the 8-pixel grid the half-size maps and the low band share.
        c = self.cfg.crop
        y, x = (int(v) * 8 for v in rng.integers(0, (base.shape[-1] - c) // 8 + 1, 2))
        crop = lambda t: t[..., y : y + c, x : x + c]
        o = occ.shape[-1] / base.shape[-1]
        occ = occ[..., int(y * o) : int((y + c) * o), int(x * o) : int((x + c) * o)]
        return crop(base), crop(gen), occ, crop(target), None if weight is None else crop(weight)

    def loss(self, batch, rng):
        base, gen, occ, target, weight = batch
        out = self.model(base, gen, occ)
        loss = fusion_loss(out, target, self.cfg.gradient_weight, self.cfg.energy_weight, weight)
        return loss, {"loss": round(loss.item(), 5)}, None

    @torch.no_grad()
    def validate(self, ema) -> dict:
        n = len(self.val)
        picks = np.linspace(0, n - 1, min(n, VAL_FRAMES)).round().astype(int)
        scores = {"psnr": [], "psnr_base": [], "psnr_animated": []}
        for s in range(0, len(picks), 16):
            p = picks[s : s + 16]
            for k in range(BASES):
                base, gen, occ, target = batch_of(self.val, p, np.full(len(p), k))
                out = ema(base, gen, occ).clamp(0, 1)
                t = (target * 255).round().numpy()
                for key, img in (("psnr", out), ("psnr_base", base), ("psnr_animated", gen)):
                    scores[key] += [psnr((x * 255).round().numpy(), y) for x, y in zip(img, t)]
        return {k: float(np.mean(v)) for k, v in scores.items()} | {"pairs": float(len(picks) * BASES)}

    def score(self, v: dict) -> float:
        return v["psnr"]
