"""Results of a benchmark: the CSV of every point, the Markdown report, the rate-quality plots.

- Rate-matched comparison: an anchor's metric at our rate is interpolated linearly in
  log(rate) between its two sweep points around that rate; none outside its swept range.
- BD-rate (Bjøntegaard): each codec's Pareto points (rate up, quality up) give log(rate) as a
  monotone piecewise cubic (scipy's PCHIP, Fritsch-Carlson) of quality; the mean difference of the two
  over the overlapping quality interval is the rate change at equal quality, in %
  (negative: ours needs fewer bits). None where the quality ranges do not overlap or a curve
  has fewer than two Pareto points. For AKD and AED (lower is better) the quality is -AKD.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from itertools import product
from pathlib import Path

import numpy as np

from thcodec.media.atomic import atomic_output

OURS = "thc"
LOWER_IS_BETTER = {"akd", "aed", "ear_error", "mar_error"}


@dataclass
class Row:
    """One codec at one setting on one clip."""

    clip: str
    codec: str
    label: str
    setting: str
    frames: int
    bytes: int
    kbps: float
    bpp: float
    psnr: float
    psnr_mse: float
    ssim: float
    vmaf: float | None
    akd: float | None
    akd_frames: int
    aed: float | None
    aed_frames: int
    face_miss: float | None
    encode_fps: float
    decode_fps: float
    pivot_bytes: int | None
    keypoint_bytes: int | None
    stream: str
    ear_error: float | None = None  # expression scores (thcodec/bench/expression.py)
    mar_error: float | None = None
    blink_recall: float | None = None
    base_bytes: int | None = None  # the hybrid mode's base layer


_INT = {"frames", "bytes", "akd_frames", "aed_frames", "pivot_bytes", "keypoint_bytes", "base_bytes"}
_STR = {"clip", "codec", "label", "setting", "stream"}


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def write_csv(rows: list[Row], path: Path) -> None:
    with atomic_output(path, force=True) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(Row)])
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)) for k, v in asdict(r).items()})


def read_csv(path: Path) -> list[Row]:
    def conv(k: str, v: str):
        if k in _STR:
            return v
        if v == "":
            return None
        return int(v) if k in _INT else float(v)

    with open(path, newline="") as f:
        return [Row(**{k: conv(k, v) for k, v in d.items()}) for d in csv.DictReader(f)]


# --------------------------------------------------------------------------- curves


def pareto(rates, quals) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by rate that improve on every cheaper point: strictly increasing in both."""
    pts = sorted((r, q) for r, q in zip(rates, quals) if q is not None and r > 0 and math.isfinite(q))
    out_r, out_q = [], []
    for r, q in pts:
        if out_q and q <= out_q[-1]:
            continue
        if out_r and r == out_r[-1]:  # same rate, better quality: replace
            out_r.pop()
            out_q.pop()
        out_r.append(r)
        out_q.append(q)
    return np.array(out_r, float), np.array(out_q, float)


def pchip(x: np.ndarray, y: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Monotone piecewise cubic Hermite interpolation (scipy's PCHIP) of y(x) at xs; x strictly increasing."""
    from scipy.interpolate import PchipInterpolator  # the eval extra

    return PchipInterpolator(np.asarray(x, float), np.asarray(y, float))(np.asarray(xs, float))


def bd_rate(anchor_rates, anchor_q, test_rates, test_q, samples: int = 1001) -> float | None:
    """Bjøntegaard delta rate (%) of the test curve against the anchor curve at equal quality."""
    ra, qa = pareto(anchor_rates, anchor_q)
    rt, qt = pareto(test_rates, test_q)
    if len(qa) < 2 or len(qt) < 2:
        return None
    lo, hi = max(qa[0], qt[0]), min(qa[-1], qt[-1])
    if not hi > lo:
        return None
    qs = np.linspace(lo, hi, samples)
    diff = pchip(qt, np.log(rt), qs) - pchip(qa, np.log(ra), qs)
    mean = float(np.sum((diff[1:] + diff[:-1]) / 2) / (samples - 1))  # trapezoid rule
    return (math.exp(mean) - 1) * 100


def at_rate(rates, values, rate: float) -> float | None:
    """A curve's value at `rate`, linear in log(rate) between its points; None outside them."""
    pts = sorted((r, v) for r, v in zip(rates, values) if v is not None and r > 0)
    if not pts:
        return None
    r = np.log([p[0] for p in pts])
    v = np.array([p[1] for p in pts], float)
    x = math.log(rate)
    if x < r[0] - 1e-9 or x > r[-1] + 1e-9:
        return None
    return float(np.interp(x, r, v))


def quality_of(row: Row, metric: str) -> float | None:
    v = getattr(row, metric)
    return None if v is None else (-v if metric in LOWER_IS_BETTER else v)


def bd_rate_rows(anchor: list[Row], ours: list[Row], metric: str) -> float | None:
    return bd_rate(
        [r.kbps for r in anchor],
        [quality_of(r, metric) for r in anchor],
        [r.kbps for r in ours],
        [quality_of(r, metric) for r in ours],
    )


# --------------------------------------------------------------------------- Markdown


def _f(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _pct(v: float | None) -> str:
    return "n/o" if v is None else f"{v:+.0f}%"


def _short(setting: str) -> str:
    return (
        setting.replace("pivot_quality=", "q")
        .replace(",interp=", " i")
        .replace(",refine=", " r")
        .replace("jpeg_quality=", "q")
        .replace(",motion=landmarks", " L")
        .replace(",xy_step=", " s")
        .replace(",jac_step=", "x")
    )


# Our senders, each its own rate curve: the default (motion from dlib's landmarks, encode
# --motion landmarks), the key-point detector's motion (--motion detector, and every point
# measured before landmark motion existed), and the slow sender (--refine), listed beside them.
SENDERS = {"landmarks": "landmark motion (L, the default)", "detector": "the detector's motion"}


def _sender(r: Row) -> str:
    parts = r.setting.split(",")
    if any(p.startswith("refine=") for p in parts):
        return "refined"
    return "landmarks" if "motion=landmarks" in parts else "detector"


def _curve(rows: list[Row], sender: str) -> list[Row]:
    return [r for r in rows if _sender(r) == sender]


def _group(rows: list[Row]) -> dict[str, dict[str, list[Row]]]:
    g: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        g[r.clip][r.codec].append(r)
    return g


def _anchor_cell(anchor: list[Row], kbps: float) -> str:
    vals = [at_rate([a.kbps for a in anchor], [getattr(a, m) for a in anchor], kbps) for m in ("vmaf", "akd", "aed")]
    if all(v is None for v in vals):
        lo = min(a.kbps for a in anchor)
        return f"(≥ {lo:.1f} kbps)" if kbps < lo else f"(≤ {max(a.kbps for a in anchor):.1f} kbps)"
    return f"{_f(vals[0])} / {_f(vals[1], 2)} / {_f(vals[2], 3)}"


def _mean(vals: list[float | None]) -> tuple[float | None, int]:
    ok = [v for v in vals if v is not None]
    return (float(np.mean(ok)) if ok else None), len(ok)


def _summary(g: dict[str, dict[str, list[Row]]], labels: dict[str, str], anchors: list[str]) -> list[str]:
    """Per thcodec setting: its means over clips, and each anchor's rate-matched means over the clips where it reaches that rate."""
    settings = list(dict.fromkeys(r.setting for c in g.values() for r in c.get(OURS, [])))
    if not settings:
        return []
    out = ["", "## All clips: each anchor at thcodec's rate", "",
           "Means over clips. Anchor cells: VMAF / AKD at thcodec's rate on each clip, averaged over the n clips where "
           "the anchor's sweep reaches that rate.", ""]  # fmt: skip
    head = ["thcodec", "clips", "kbps", "VMAF", "AKD", "AED", *[labels[a] for a in anchors]]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in settings:
        ours = {
            c: next(r for r in by[OURS] if r.setting == s) for c, by in g.items() if any(r.setting == s for r in by.get(OURS, []))
        }
        cells = [_short(s), str(len(ours))]
        for m, d in (("kbps", 2), ("vmaf", 1), ("akd", 2), ("aed", 3)):
            cells.append(_f(_mean([getattr(r, m) for r in ours.values()])[0], d))
        for a in anchors:
            v, n = _mean(
                [at_rate([x.kbps for x in g[c][a]], [x.vmaf for x in g[c][a]], r.kbps) for c, r in ours.items() if g[c].get(a)]
            )
            k, _ = _mean(
                [at_rate([x.kbps for x in g[c][a]], [x.akd for x in g[c][a]], r.kbps) for c, r in ours.items() if g[c].get(a)]
            )
            cells.append(f"{_f(v)} / {_f(k, 2)} (n={n})" if n else "–")
        out.append("| " + " | ".join(cells) + " |")
    return out


CRITERIA = (("akd", 2), ("aed", 3), ("vmaf", 1))


def _versus(ours: Row, anchor: list[Row]) -> tuple[str, float, dict[str, float | None]]:
    """The anchor against our point -> (where, its rate, its metrics): at our rate on its curve
    ("rate"); at its lowest rate when ours lies below its whole sweep ("lowest": it cannot go as
    low); at its highest when ours lies above ("highest": fewer bits than ours)."""
    low, high = min(anchor, key=lambda r: r.kbps), max(anchor, key=lambda r: r.kbps)
    for where, end in (("lowest", low), ("highest", high)):
        if (ours.kbps < end.kbps) if where == "lowest" else (ours.kbps > end.kbps):
            return where, end.kbps, {m: getattr(end, m) for m, _ in CRITERIA}
    return (
        "rate",
        ours.kbps,
        {m: at_rate([a.kbps for a in anchor], [getattr(a, m) for a in anchor], ours.kbps) for m, _ in CRITERIA},
    )


def _criteria(g: dict[str, dict[str, list[Row]]], labels: dict[str, str], anchors: list[str], default: str) -> list[str]:
    """Our default operating point against each anchor, clip by clip, at the same rate (or at the
    anchor's lowest rate where ours lies below it): mean of each metric and on how many clips we
    do better (AKD, AED lower; VMAF higher)."""
    ours = {c: r for c, by in g.items() for r in by.get(OURS, []) if r.setting == default}
    if not ours:
        return []
    out = ["", f"## The default operating point ({_short(default)}) against each anchor", "",
           ("Per clip: the anchor at our rate on its rate curve; where our rate lies below its whole sweep, at its lowest rate "
            "(more bits than ours); where above, at its highest (fewer bits). Cells: our mean / the anchor's mean (clips where we "
            "do better)."), "",
           "| anchor | compared | clips | our kbps | anchor kbps | AKD px | AED | VMAF |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for a in anchors:
        found = {c: _versus(r, g[c][a]) for c, r in ours.items() if g[c].get(a)}
        for where, name in (("rate", "at our rate"), ("lowest", "its lowest rate"), ("highest", "its highest rate")):
            clips = [c for c, v in found.items() if v[0] == where]
            if not clips:
                continue
            cells = [labels[a], name, str(len(clips))] + [
                _f(float(np.mean(v)), 2) for v in ([ours[c].kbps for c in clips], [found[c][1] for c in clips])
            ]
            for m, d in CRITERIA:
                pairs = [(getattr(ours[c], m), found[c][2][m]) for c in clips]
                pairs = [(o, t) for o, t in pairs if o is not None and t is not None]
                if not pairs:
                    cells.append("–")
                    continue
                better = sum((o < t) if m in LOWER_IS_BETTER else (o > t) for o, t in pairs)
                cells.append(
                    f"{np.mean([o for o, _ in pairs]):.{d}f} / {np.mean([t for _, t in pairs]):.{d}f} ({better}/{len(pairs)})"
                )
            out.append("| " + " | ".join(cells) + " |")
    return out


def markdown(rows: list[Row], labels: dict[str, str], title: str, notes: list[str], default: str | None = None) -> str:
    g = _group(rows)
    anchors = [c for c in labels if c != OURS]
    out = [f"# {title}", ""]
    out += [f"- {n}" for n in notes]
    out += ["", "## BD-rate of thcodec against each anchor (rate change at equal quality, mean over clips)", ""]
    out += [
        "One curve per sender: " + "; ".join(f"{v}" for v in SENDERS.values()) + " (refined points, r, are listed beside them).",
        "",
    ]
    out += ["n/o: the quality ranges do not overlap (or too few points). Negative: thcodec needs fewer bits.", ""]
    out += ["| anchor | thcodec | BD-rate on VMAF | clips | BD-rate on AKD | clips |", "|---|---|---|---|---|---|"]
    for a, sender in product(anchors, SENDERS):
        cells = []
        for m in ("vmaf", "akd"):
            vals = [bd_rate_rows(g[c][a], _curve(g[c][OURS], sender), m) for c in g if g[c][a] and _curve(g[c][OURS], sender)]
            ok = [v for v in vals if v is not None]
            cells += [_pct(float(np.mean(ok)) if ok else None), f"{len(ok)}/{len(vals)}"]
        if any(c != "0/0" for c in cells[1::2]):
            out.append(f"| {labels[a]} | {sender} | {' | '.join(cells)} |")
    if default:
        out += _criteria(g, labels, anchors, default)
    out += _summary(g, labels, anchors)
    for clip, by_codec in g.items():
        ours = sorted(by_codec.get(OURS, []), key=lambda r: r.kbps)
        out += ["", f"## {clip}", ""]
        if ours:
            out += [
                "Each anchor at thcodec's rate (interpolated on its rate curve): VMAF / AKD px / AED; "
                "(≥ x kbps): thcodec's rate is below the anchor's lowest.",
                "",
            ]
            head = ["thcodec", "kbps", "VMAF", "AKD", "AED", "PSNR", *[labels[a] for a in anchors if by_codec.get(a)]]
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for r in ours:
                cells = [_short(r.setting), _f(r.kbps, 2), _f(r.vmaf), _f(r.akd, 2), _f(r.aed, 3), _f(r.psnr, 2)]
                cells += [_anchor_cell(by_codec[a], r.kbps) for a in anchors if by_codec.get(a)]
                out.append("| " + " | ".join(cells) + " |")
            out += [
                "",
                "| anchor | thcodec | BD-rate VMAF | BD-rate AKD | BD-rate AED | lowest rate kbps (VMAF, AKD) |",
                "|---|---|---|---|---|---|",
            ]
            for a, sender in product(anchors, SENDERS):
                if not (by_codec.get(a) and _curve(ours, sender)):
                    continue
                low = min(by_codec[a], key=lambda r: r.kbps)
                bds = [_pct(bd_rate_rows(by_codec[a], _curve(ours, sender), m)) for m in ("vmaf", "akd", "aed")]
                out.append(f"| {labels[a]} | {sender} | {' | '.join(bds)} | {low.kbps:.1f} ({_f(low.vmaf)}, {_f(low.akd, 2)}) |")
        out += [
            "",
            "All points:",
            "",
            "| codec | setting | bytes | kbps | bpp | PSNR | PSNR of MSE | SSIM | VMAF | AKD | AED | face miss | enc fps | dec fps |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for codec, rs in by_codec.items():
            for r in sorted(rs, key=lambda r: r.kbps):
                out.append(
                    f"| {codec} | {_short(r.setting)} | {r.bytes} | {r.kbps:.2f} | {r.bpp:.5f} | {r.psnr:.2f} | {r.psnr_mse:.2f} | {r.ssim:.4f} | "
                    f"{_f(r.vmaf)} | {_f(r.akd, 2)} | {_f(r.aed, 3)} | {_f(r.face_miss, 2)} | "
                    f"{r.encode_fps:.1f} | {r.decode_fps:.1f} |"
                )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- plots

SENDER_COLORS = {"landmarks": "tab:cyan", "detector": "black", "refined": "tab:brown"}  # apart from the anchors
PLOT_METRICS = (
    ("vmaf", "VMAF"),
    ("akd", "AKD (px, lower is better)"),
    ("aed", "AED (lower is better)"),
    ("psnr", "PSNR RGB (dB)"),
)


def plot_clip(rows: list[Row], labels: dict[str, str], path: Path, title: str) -> None:
    """Rate (log kbps) against VMAF, AKD, AED and PSNR for every codec of one clip, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(11, 8.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    by_codec: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_codec[r.codec].append(r)
    for ax, (metric, name) in zip(axes.flat, PLOT_METRICS):
        for codec, rs in by_codec.items():
            rs = sorted((r for r in rs if getattr(r, metric) is not None), key=lambda r: r.kbps)
            if not rs:
                continue
            x, y = [r.kbps for r in rs], [getattr(r, metric) for r in rs]
            if codec == OURS:
                for (interp, marker), (sender, color) in product(((1, "o"), (2, "s"), (3, "^"), (4, "v")), SENDER_COLORS.items()):
                    sel = [i for i, r in enumerate(rs) if f"interp={interp}" in r.setting.split(",") and _sender(r) == sender]
                    if sel:
                        ax.scatter(
                            [x[i] for i in sel],
                            [y[i] for i in sel],
                            marker=marker,
                            s=40,
                            zorder=3,
                            color=color,
                            label=f"{labels.get(codec, codec)}, interp {interp}, {sender}",
                        )
                for xi, yi, r in zip(x, y, rs):
                    ax.annotate(_short(r.setting), (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
            else:
                style = "--" if codec == "frozen" else "-"
                ax.plot(x, y, style, marker=".", label=labels.get(codec, codec))
        ax.set_xscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis="x", which="minor", labelsize=6)
        ax.set_xlabel("kbit/s")
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
