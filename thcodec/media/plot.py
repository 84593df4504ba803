"""Line charts as PNG, drawn with Pillow (no plotting library needed): quality over time for
`thc stats --plot`, loss and validation curves for the training report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 30, 45
GREY, BLUE, RED, GREEN, BLACK = (190, 190, 190), (30, 90, 200), (200, 40, 40), (30, 150, 60), (0, 0, 0)


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float]
    color: tuple[int, int, int] = BLUE
    width: int = 2


def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(1, ticks)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def line_chart(series: list[Series], title: str, x_label: str, y_label: str, path: Path,
               markers: list[tuple[float, str]] = ()) -> None:
    """Series on shared axes, a legend, and red vertical markers (x, label)."""
    xs = np.concatenate([np.asarray(s.x, float) for s in series])
    ys = np.concatenate([np.asarray(s.y, float) for s in series])
    x_lo, x_hi = float(xs.min()), float(max(xs.max(), xs.min() + 1e-9))
    step_y = _nice_step(max(ys.max() - ys.min(), 1e-9), 6)
    y_lo, y_hi = math.floor(ys.min() / step_y) * step_y, math.ceil(ys.max() / step_y) * step_y
    if y_hi <= y_lo:
        y_hi = y_lo + step_y
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP

    def px(v: float) -> float:
        return x0 + (x1 - x0) * (v - x_lo) / (x_hi - x_lo)

    def py(v: float) -> float:
        return y0 + (y1 - y0) * (v - y_lo) / (y_hi - y_lo)

    d.rectangle((x0, y1, x1, y0), outline=BLACK)
    for k in range(round(y_lo / step_y), round(y_hi / step_y) + 1):
        y = py(k * step_y)
        d.line((x0 - 4, y, x0, y), fill=BLACK)
        d.text((x0 - 8, y), f"{k * step_y:.4g}", fill=BLACK, font=font, anchor="rm")
    step_x = _nice_step(x_hi - x_lo, 10)
    for k in range(math.ceil(x_lo / step_x), math.floor(x_hi / step_x) + 1):
        x = px(k * step_x)
        d.line((x, y0, x, y0 + 4), fill=BLACK)
        d.text((x, y0 + 6), f"{k * step_x:g}", fill=BLACK, font=font, anchor="mt")
    d.text(((x0 + x1) / 2, HEIGHT - 14), x_label, fill=BLACK, font=font, anchor="mm")
    d.text((8, TOP - 18), y_label, fill=BLACK, font=font)
    d.text(((x0 + x1) / 2, 10), title, fill=BLACK, font=font, anchor="mm")
    for s in series:
        pts = [(px(a), py(b)) for a, b in zip(s.x, s.y)]
        if len(pts) > 1:
            d.line(pts, fill=s.color, width=s.width)
        elif pts:
            d.ellipse((pts[0][0] - 3, pts[0][1] - 3, pts[0][0] + 3, pts[0][1] + 3), fill=s.color)
    for x, label in markers:
        d.line((px(x), y1, px(x), y0), fill=RED, width=1)
        d.text((px(x) + 3, y1 + 2), label, fill=RED, font=font)
    legend_y = y1 + 4
    for s in series:
        if s.label:
            d.line((x1 - 170, legend_y + 7, x1 - 150, legend_y + 7), fill=s.color, width=3)
            d.text((x1 - 145, legend_y), s.label, fill=BLACK, font=font)
            legend_y += 16
    img.save(path, format="PNG")


def quality_chart(values: list[float], fps: float, pivots: list[tuple[int, str]], title: str, path: Path) -> None:
    """Per-frame PSNR (dB), its per-second mean, and a marker at every pivot (frame, reason)."""
    v = np.minimum(np.asarray(values, np.float64), 60.0)
    per_s = max(1, round(fps))
    centres = [(i + min(i + per_s, len(v))) / 2 / fps for i in range(0, len(v), per_s)]
    means = [float(v[i : i + per_s].mean()) for i in range(0, len(v), per_s)]
    line_chart(
        [Series("frame", [i / fps for i in range(len(v))], list(v), GREY, 1), Series("1-second mean", centres, means, BLUE, 3)],
        title, "time (s)", "PSNR (dB)", path, [(f / fps, why.replace("_", " ")) for f, why in pivots],
    )
