"""The whole-frame benchmark's report (thcodec/bench/whole_frame.py), per clip:

1. each thcodec point beside the scaled anchor read off its convex hull over sizes at that
   point's rate (linear between hull points, never extrapolated: "-" where the anchor's points
   do not reach the rate), per metric: "ours / anchor";
2. the PSNR outside the face region by second, for each thcodec point and the anchor point
   nearest to it in rate (the shift runs from 3 to 6 s);
3. every anchor point.
"""

from __future__ import annotations

import math

from thcodec.bench.report import markdown_table
from thcodec.bench.scaled import hull_at
from thcodec.bench.sweep import Point

# (column, Point field or extra key), all higher-is-better
METRICS = (
    ("PSNR", "psnr"),
    ("VMAF", "vmaf"),
    ("worst-second PSNR", "psnr_worst_s"),
    ("outside-face PSNR", "outside_psnr"),
    ("worst-second outside-face PSNR", "outside_worst_s"),
)


def value(p: Point, key: str) -> float | None:
    v = getattr(p, key) if hasattr(p, key) else p.extra.get(key)
    return v if v is not None and math.isfinite(v) else None


def anchor_at(points: list[Point], key: str, rate: float) -> float | None:
    """key of the anchor's hull over its points (every size) at rate kbit/s; None outside their rates."""
    pts = [(p.kbps, v) for p in points if p.kbps is not None and (v := value(p, key)) is not None]
    if not pts or rate > max(r for r, _ in pts):
        return None
    return hull_at(pts, rate)


def _f(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def matched(ours: list[Point], anchor: list[Point]) -> list[str]:
    """Table 1: each thcodec point, and the anchor at its rate."""
    rows = []
    for p in ours:
        cells = [p.codec.removeprefix("thc_"), p.label or "(defaults)", _f(p.kbps)]
        cells += [f"{_f(value(p, k))} / {_f(anchor_at(anchor, k, p.kbps))}" for _, k in METRICS]
        rows.append(cells)
    return markdown_table(["point", "EncodeOptions", "kbit/s", *(f"{c} (ours / anchor)" for c, _ in METRICS)], rows)


def by_second(ours: list[Point], anchor: list[Point]) -> list[str]:
    """Table 2: outside-face PSNR by second, thcodec's points and the anchor points nearest in rate."""
    nearest = [min(anchor, key=lambda a: abs(a.kbps - p.kbps)) for p in ours] if anchor else []
    shown = ours + list({id(a): a for a in nearest}.values())
    seconds = max((len(p.extra.get("outside_by_s", [])) for p in shown), default=0)
    rows = []
    for p in shown:
        name = p.codec.removeprefix("thc_") if p in ours else f"anchor {p.label}"
        per = p.extra.get("outside_by_s", [])
        rows.append([name, _f(p.kbps)] + [_f(per[i], 1) if i < len(per) else "-" for i in range(seconds)])
    return markdown_table(["point", "kbit/s", *(f"{i}-{i + 1} s" for i in range(seconds))], rows)


def anchor_table(anchor: list[Point]) -> list[str]:
    """Table 3: every anchor point."""
    rows = [[p.label, _f(p.kbps)] + [_f(value(p, k)) for _, k in METRICS] for p in sorted(anchor, key=lambda p: p.kbps)]
    return markdown_table(["setting", "kbit/s", *(c for c, _ in METRICS)], rows)


def report(points: list[Point], anchor_name: str) -> str:
    """Markdown: the three tables for each clip of points."""
    lines = ["# Whole-frame calls", "", __doc__.split("\n\n", 1)[1].strip(), ""]
    for clip in dict.fromkeys(p.clip for p in points):
        mine = [p for p in points if p.clip == clip and p.kbps is not None]
        anchor = [p for p in mine if p.codec == anchor_name]
        ours = sorted((p for p in mine if p.codec != anchor_name), key=lambda p: p.kbps)
        lines += [f"## {clip}", "", *matched(ours, anchor), "", "Outside-face PSNR by second:", ""]
        lines += [*by_second(ours, anchor), "", f"{anchor_name}, every point:", "", *anchor_table(anchor), ""]
    return "\n".join(lines)
