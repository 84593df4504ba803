"""Line charts as PNG with matplotlib (the `eval` extra, imported when a chart is drawn): quality
over time for `thc stats --plot`, loss and validation curves for the training report, memory
over time for the long-call bench."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thcodec.errors import ThcError

WIDTH, HEIGHT, DPI = 960, 360, 100
GREY, BLUE, RED, GREEN, BLACK = (190, 190, 190), (30, 90, 200), (200, 40, 40), (30, 150, 60), (0, 0, 0)


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float]
    color: tuple[int, int, int] = BLUE
    width: int = 2


def _rgb(color: tuple[int, int, int]) -> tuple[float, float, float]:
    return tuple(c / 255 for c in color)


def _figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ThcError("charts need matplotlib: pip install 'thcodec[eval]'") from None
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def line_chart(
    series: list[Series], title: str, x_label: str, y_label: str, path: Path, markers: list[tuple[float, str]] = ()
) -> None:
    """Series on shared axes, a legend, and red vertical markers (x, label); a WIDTH x HEIGHT PNG."""
    fig = _figure()
    ax = fig.add_subplot()
    for s in series:
        style = {"marker": "o"} if len(s.x) == 1 else {}
        ax.plot(s.x, s.y, color=_rgb(s.color), linewidth=s.width, label=s.label or None, **style)
    for x, label in markers:
        ax.axvline(x, color=_rgb(RED), linewidth=1)
        ax.annotate(
            label,
            (x, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            color=_rgb(RED),
            fontsize=8,
        )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(alpha=0.3)
    if any(s.label for s in series):
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)


def quality_chart(values: list[float], fps: float, pivots: list[tuple[int, str]], title: str, path: Path) -> None:
    """Per-frame PSNR (dB; stats passes PSNR Y), its per-second mean, and a marker at every pivot (frame, reason)."""
    v = np.minimum(np.asarray(values, np.float64), 60.0)
    per_s = max(1, round(fps))
    centres = [(i + min(i + per_s, len(v))) / 2 / fps for i in range(0, len(v), per_s)]
    means = [float(v[i : i + per_s].mean()) for i in range(0, len(v), per_s)]
    line_chart(
        [Series("frame", [i / fps for i in range(len(v))], list(v), GREY, 1), Series("1-second mean", centres, means, BLUE, 3)],
        title,
        "time (s)",
        "PSNR Y (dB)",
        path,
        [(f / fps, why.replace("_", " ")) for f, why in pivots],
    )
