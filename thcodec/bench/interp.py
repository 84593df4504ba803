"""Issue 4 measurements: key points for every k-th frame, the rest made by the receiver.

    python -m thcodec.bench.interp --refs out/bench/refs --out out/interp [--only CLIP,...]

For every th256 reference in --refs (made by `thc bench`) and k = 1..4: encode with
`--interp k` (no audio), decode with the interpolation network and with the linear baseline,
and measure kbit/s, key-point bytes, AKD, AED, VMAF and decode fps (frames to memory).
Writes out/interp/interp.json and interp.md (means over clips).
"""

from __future__ import annotations

from pathlib import Path

from thcodec.bench.codec import Setting
from thcodec.bench.ours import Receiver, ThcSweep
from thcodec.bench.report import markdown_table
from thcodec.bench.sweep import Point, Scoring, mean, names, parser, read_points, stored_references, sweep, write_points
from thcodec.models.weights import load_model

METHODS = ("net", "linear")  # thc decode --interp-method


def points(steps: list[int]) -> list[Setting]:
    """interp=k decoded by the network, and for k > 1 also by the linear baseline (the same stream)."""
    return [Setting.of(interp=k, decoder=m) for k in steps for m in (METHODS if k > 1 else METHODS[:1])]


def main() -> None:
    ap = parser(__doc__, "out/interp")
    ap.add_argument("--steps", default="1,2,3,4")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.table_from:
        write_table(read_points(a.table_from), a.out)
        return
    loaded = load_model()
    if loaded.interpolator is None:
        raise SystemExit("the shipped weights have no interpolator")
    receivers = {m: Receiver(loaded, interp_method=m) for m in METHODS}
    thc = ThcSweep(points([int(k) for k in a.steps.split(",")]), loaded, receivers)
    write_table(sweep(stored_references(a.refs, names(a.only)), [thc], a.out, Scoring(aed_every=10, vmaf=True)), a.out)


def write_table(rows: list[Point], out: Path) -> None:
    """interp.json (every point) and interp.md (means over the clips measured at k=1)."""
    write_points(rows, out / "interp.json")
    base = {r.clip: r for r in rows if r.setting["interp"] == 1}
    rows = [r for r in rows if r.clip in base]
    table = []
    for k in sorted({r.setting["interp"] for r in rows}):
        for method in METHODS:
            sel = [r for r in rows if r.setting["interp"] == k and r.setting["decoder"] == method]
            if not sel:
                continue
            ratio = mean(sel, lambda r: r.parts["keypoints"] / base[r.clip].parts["keypoints"])
            table.append(
                [
                    str(k),
                    method if k > 1 else "-",
                    str(len(sel)),
                    f"{mean(sel, lambda r: r.kbps):.2f}",
                    f"{100 * ratio:.1f}%",
                    f"{mean(sel, lambda r: r.akd):.3f}",
                    f"{mean(sel, lambda r: r.aed):.3f}",
                    f"{mean(sel, lambda r: r.vmaf):.2f}",
                    f"{mean(sel, lambda r: r.decode_fps):.1f}",
                ]
            )
    lines = markdown_table(
        ["k", "decoder", "clips", "kbit/s", "key-point bytes vs k=1", "AKD px", "AED", "VMAF", "decode fps"], table
    )
    (out / "interp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
