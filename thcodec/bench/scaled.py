"""Scaled anchors: a classical codec run on the reference down-scaled to 64-128 px and up-scaled
bicubically back to the reference size, as a user short of bandwidth would run it.

Each is the full-size anchor's encoder (thcodec/bench/anchors.py) behind a bicubic down-scale;
its settings are (size, rate parameter) pairs (on a non-square reference, e.g. a whole 1280x720
frame, the size is the short side and the long side keeps the aspect ratio), and the report takes, per codec, the best size
at each rate (the convex hull over sizes) as that codec's curve. Sizes and sweeps are chosen
to reach the rates the keypoint and hybrid modes work at (about 3-25 kbit/s on th256).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from thcodec.bench.anchors import SVTAV1, SVTAV1_LOW_DELAY, VVENC, X265, FFmpegAnchor
from thcodec.bench.codec import Coded, Setting
from thcodec.bench.ffmpeg import COLOR_TAGS, TO_YUV, decode_rgb, run_ffmpeg
from thcodec.data.reference import Reference

SIZES = (64, 96, 128)


def scaled_size(width: int, height: int, size: int) -> tuple[int, int]:
    """The (width, height) a reference is coded at for a setting's size: size x size for a square
    reference; else the short side is size and the long side keeps the aspect ratio, made even
    (4:2:0 needs even sides)."""
    if width == height:
        return size, size
    long = max(2, round(size * max(width, height) / min(width, height) / 2) * 2)
    return (long, size) if width > height else (size, long)


def bicubic_up(frames: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """(N,h,w,3) uint8 -> (N,size,size,3) uint8, or (N,H,W,3) for size (W,H); bicubic (the
    receiver up-scales its base layer alike)."""
    width, height = (size, size) if isinstance(size, int) else size
    out = []
    for start in range(0, len(frames), 64):
        x = torch.from_numpy(np.ascontiguousarray(frames[start : start + 64])).permute(0, 3, 1, 2).float()
        y = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)
        out.append(y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


@dataclass(frozen=True)
class ScaledAnchor:
    inner: FFmpegAnchor
    sweep: tuple[int, ...]
    quick_sweep: tuple[int, ...]
    sizes: tuple[int, ...] = SIZES

    @property
    def name(self) -> str:
        return f"{self.inner.name}_scaled"

    @property
    def label(self) -> str:
        return f"{self.inner.label}, {'/'.join(map(str, self.sizes))} px up-scaled"

    def settings(self, quick: bool) -> list[Setting]:
        sweep = self.quick_sweep if quick else self.sweep
        return [Setting.of(size=s, **{self.inner.param: v}) for s in self.sizes for v in sweep]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        value = setting[self.inner.param]
        height, width = ref.frames.shape[1:3]
        w, h = scaled_size(width, height, int(setting["size"]))
        out = out_dir / f"{self.name}_{setting.slug}.{self.inner.ext}"
        args = [
            "-i", str(ref.path), "-map", "0:v:0", "-an", "-frames:v", str(ref.count),
            "-vf", f"scale={w}:{h}:flags=bicubic,{TO_YUV},format={self.inner.pix_fmt}", *COLOR_TAGS,
            *self.inner.encoder_args, f"-{self.inner.param}", str(value), "-f", self.inner.muxer, str(out),
        ]  # fmt: skip
        t0 = time.perf_counter()
        run_ffmpeg(args, f"{self.name} {setting.label} on {ref.name}")
        t1 = time.perf_counter()
        decoded = bicubic_up(decode_rgb(out, w, h), (width, height))
        t2 = time.perf_counter()
        return Coded(out, out.stat().st_size, decoded, t1 - t0, t2 - t1, bitstream_vmaf=False)


SCALED = {
    c.name: c
    for c in (
        ScaledAnchor(SVTAV1, (47, 55, 63), (55, 63)),
        ScaledAnchor(SVTAV1_LOW_DELAY, (39, 47, 55, 63), (47, 55)),
        ScaledAnchor(X265, (41, 46, 51), (46, 51)),
        ScaledAnchor(VVENC, (51, 57, 63), (57, 63)),
    )
}


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(rate, quality) points -> the upper-left hull: for each point kept, no other point has a
    lower rate and a higher quality, and the kept points form a concave curve (what the best size
    at each rate reaches, switching sizes between points)."""
    pts = sorted(set(points))
    front: list[tuple[float, float]] = []
    for p in pts:
        if front and p[1] <= front[-1][1]:
            continue  # dominated: a cheaper point is at least as good
        while len(front) >= 2:
            (x1, y1), (x2, y2) = front[-2], front[-1]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):  # front[-1] lies under the chord
                front.pop()
            else:
                break
        front.append(p)
    return front


def hull_at(points: list[tuple[float, float]], rate: float) -> float | None:
    """Quality of the hull at `rate` (linear between hull points); None below its lowest rate."""
    hull = convex_hull(points)
    if not hull or rate < hull[0][0]:
        return None
    for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
        if x1 <= rate <= x2:
            return y1 + (y2 - y1) * (rate - x1) / (x2 - x1)
    return hull[-1][1]
