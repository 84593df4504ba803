"""Coarser key-point codes chosen by the sender (thc encode --xy-step/--jac-step): bytes against quality.

    python -m thcodec.bench.keypoint_steps --refs out/bench/refs --out out/keypoint_steps [--only CLIP,...]

For every th256 reference in --refs (made by `thc bench`) and each step pair (positions x
Jacobians, in codes): encode at the given pivot quality and interp (no audio), decode, and
measure kbit/s, key-point bytes, AKD, AED and VMAF. Writes keypoint_steps.json and .md
(means over clips; key-point bytes against full precision, 1x1, clip by clip).
"""

from __future__ import annotations

from pathlib import Path

from thcodec.bench.codec import Setting
from thcodec.bench.ours import ThcSweep
from thcodec.bench.report import markdown_table
from thcodec.bench.sweep import Point, Scoring, mean, names, parser, read_points, stored_references, sweep, write_points
from thcodec.models.weights import load_model
from thcodec.options import EncodeOptions


def parse_steps(text: str) -> list[tuple[int, int]]:
    """ "1x1,4x8" -> [(1, 1), (4, 8)]; full precision is measured first, as the base of the ratios."""
    steps = [tuple(int(v) for v in s.split("x")) for s in text.split(",")]
    if any(len(s) != 2 for s in steps):
        raise SystemExit(f"--steps: pairs like 4x8, got {text}")
    return [(1, 1)] + [s for s in steps if s != (1, 1)]


def main() -> None:
    ap = parser(__doc__, "out/keypoint_steps")
    ap.add_argument("--steps", default="1x1,2x4,4x8,8x16", help="position x Jacobian steps, comma-separated")
    ap.add_argument("--pivot-quality", type=int, default=EncodeOptions.pivot_quality)
    ap.add_argument("--interp", type=int, default=EncodeOptions.interp)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.table_from:
        write_table(read_points(a.table_from), a.out)
        return
    base = EncodeOptions(pivot_quality=a.pivot_quality, interp=a.interp, audio=False)
    points = [Setting.of(xy_step=xy, jac_step=jac) for xy, jac in parse_steps(a.steps)]
    thc = ThcSweep(points, load_model(), base=base)
    write_table(sweep(stored_references(a.refs, names(a.only)), [thc], a.out, Scoring(aed_every=10, vmaf=True)), a.out)


def write_table(points: list[Point], out: Path) -> None:
    write_points(points, out / "keypoint_steps.json")
    step = lambda p: (p.setting["xy_step"], p.setting["jac_step"])
    base = {p.clip: p for p in points if step(p) == (1, 1)}
    table = []
    for s in dict.fromkeys(map(step, points)):
        sel = [p for p in points if step(p) == s and p.clip in base]
        ratio = mean(sel, lambda p: p.parts["keypoints"] / base[p.clip].parts["keypoints"])
        table.append(
            [
                f"{s[0]}x{s[1]}",
                str(len(sel)),
                f"{mean(sel, lambda p: p.kbps):.2f}",
                f"{100 * ratio:.1f}%",
                f"{mean(sel, lambda p: p.akd):.3f}",
                f"{mean(sel, lambda p: p.aed):.3f}",
                f"{mean(sel, lambda p: p.vmaf):.2f}",
            ]
        )
    lines = markdown_table(["steps (xy x J)", "clips", "kbit/s", "key-point bytes vs 1x1", "AKD px", "AED", "VMAF"], table)
    (out / "keypoint_steps.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
