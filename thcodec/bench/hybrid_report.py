"""The hybrid mode against the keypoint mode and every anchor at the same rate (issue 19's test).

Per clip and target rate R (6-16 kbit/s), each codec is read off its convex hull over all its
points (for the scaled anchors, over every size: the best size at each rate), linearly
between hull points, never extrapolated: a codec whose lowest point costs more than R has no
value there. "Best anchor" is, per metric, the best value any anchor (full-size or scaled)
reaches at R. Lower-is-better metrics (AKD, AED, EAR/MAR errors) are negated for the hull.
"""

from __future__ import annotations

import math

from thcodec.bench.report import LOWER_IS_BETTER, Row, markdown_table
from thcodec.bench.scaled import hull_at

HYBRID, KEYPOINTS = "thc_hybrid", "thc"
RATES = (6.0, 8.0, 10.0, 12.0, 14.0, 16.0)
METRICS = ("vmaf", "akd", "aed", "ear_error", "mar_error")


def value_at(rows: list[Row], metric: str, rate: float) -> float | None:
    """metric of these rows' hull at rate (kbit/s), or None outside their range."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    pts = [(r.kbps, sign * v) for r in rows if (v := getattr(r, metric)) is not None and math.isfinite(v)]
    v = hull_at(pts, rate) if pts else None
    if v is None or rate > max(p[0] for p in pts):
        return None
    return sign * v


def best_anchor(rows: list[Row], metric: str, rate: float) -> tuple[float | None, str]:
    """The best value any anchor reaches at rate, and which anchor."""
    best, who = None, ""
    for codec in sorted({r.codec for r in rows} - {HYBRID, KEYPOINTS, "frozen"}):
        v = value_at([r for r in rows if r.codec == codec], metric, rate)
        if v is None:
            continue
        if best is None or (v < best if metric in LOWER_IS_BETTER else v > best):
            best, who = v, codec
    return best, who


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def hybrid_section(rows: list[Row]) -> list[str]:
    """Markdown lines: per clip and rate, hybrid | keypoint | best anchor for each metric."""
    if not any(r.codec == HYBRID for r in rows):
        return []
    lines = ["## Hybrid mode at matched rates", "", __doc__.split("\n\n", 1)[1].strip(), ""]
    header = ["clip", "kbit/s"] + [f"{m} {who}" for m in METRICS for who in ("hyb", "kp", "anchor")]
    table = []
    for clip in dict.fromkeys(r.clip for r in rows):
        mine = [r for r in rows if r.clip == clip]
        hyb, kp = [r for r in mine if r.codec == HYBRID], [r for r in mine if r.codec == KEYPOINTS]
        for rate in RATES:
            cells = [clip, f"{rate:g}"]
            for m in METRICS:
                anchor, who = best_anchor(mine, m, rate)
                cells += [_fmt(value_at(hyb, m, rate)), _fmt(value_at(kp, m, rate)), f"{_fmt(anchor)} {who}".strip()]
            table.append(cells)
    lines += markdown_table(header, table)
    return lines + [""]
