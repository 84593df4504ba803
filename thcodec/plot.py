"""A quality-over-time chart as a PNG, drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 30, 45
GREY, BLUE, RED, BLACK = (190, 190, 190), (30, 90, 200), (200, 40, 40), (0, 0, 0)


def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(1, ticks)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def quality_chart(values: list[float], fps: float, pivots: list[tuple[int, str]], title: str, path: Path) -> None:
    """Per-frame values (dB) with their per-second mean, and a red line at every pivot (frame, reason)."""
    v = np.minimum(np.asarray(values, np.float64), 60.0)
    n = len(v)
    seconds = max(n / fps, 1e-9)
    lo, hi = math.floor(v.min()) - 1, math.ceil(v.max()) + 1
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP

    def px(t: float) -> float:
        return x0 + (x1 - x0) * t / seconds

    def py(db: float) -> float:
        return y0 + (y1 - y0) * (db - lo) / (hi - lo)

    d.rectangle((x0, y1, x1, y0), outline=BLACK)
    step = _nice_step(hi - lo, 6)
    for k in range(math.ceil(lo / step), math.floor(hi / step) + 1):
        y = py(k * step)
        d.line((x0 - 4, y, x0, y), fill=BLACK)
        d.text((x0 - 8, y), f"{k * step:g}", fill=BLACK, font=font, anchor="rm")
    tstep = _nice_step(seconds, 10)
    for k in range(math.floor(seconds / tstep) + 1):
        x = px(k * tstep)
        d.line((x, y0, x, y0 + 4), fill=BLACK)
        d.text((x, y0 + 6), f"{k * tstep:g}", fill=BLACK, font=font, anchor="mt")
    d.text(((x0 + x1) / 2, HEIGHT - 14), "time (s)", fill=BLACK, font=font, anchor="mm")
    d.text((8, TOP - 18), "PSNR (dB)", fill=BLACK, font=font)
    d.text(((x0 + x1) / 2, 10), title, fill=BLACK, font=font, anchor="mm")
    if n > 1:
        d.line([(px(i / fps), py(val)) for i, val in enumerate(v)], fill=GREY, width=1)
    per_s = max(1, round(fps))
    means = [(min(i + per_s, n) + i) / 2 / fps for i in range(0, n, per_s)]
    avg = [float(v[i : i + per_s].mean()) for i in range(0, n, per_s)]
    if len(avg) > 1:
        d.line([(px(t), py(a)) for t, a in zip(means, avg)], fill=BLUE, width=3)
    for frame, reason in pivots:
        x = px(frame / fps)
        d.line((x, y1, x, y0), fill=RED, width=1)
        d.text((x + 3, y1 + 2), reason.replace("_", " "), fill=RED, font=font)
    img.save(path, format="PNG")
