"""Issue 6 measurements: the adaptive pivot policy against one pivot, on a hard cut, a drift
and ordinary clips, and the rate cap's worst 10-second window.

    python -m thcodec.bench.pivots --data ../shared/data --out out/pivots [--cut CLIP_A,CLIP_B --drift CLIP_B]

Builds out/pivots/cut.mkv and drift.mkv (thcodec.bench.pivot_clips) from the val clips'
th256 references (made by `thc bench` under --refs, or here), encodes every clip with one
pivot and with the adaptive policy (and the cut and drift clips also under --max-kbps), and
writes out/pivots/pivots.md and pivots.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thcodec.bench.codec import Coded, Setting
from thcodec.bench.ours import ThcSweep
from thcodec.bench.pivot_clips import cut_clip, drift_clip
from thcodec.bench.quality import FaceMetrics, FaceScores
from thcodec.bench.report import markdown_table
from thcodec.bench.sweep import Point, Scoring, names, parser, read_points, stored_reference, sweep, write_points
from thcodec.data.clips import split_clips
from thcodec.data.reference import Reference, make_reference, read_lossless
from thcodec.models.weights import load_model
from thcodec.receiver.decoder import FADE_FRAMES

FPS = 25
MODES = {"single": {"adaptive": False}, "adaptive": {}}  # EncodeOptions beside audio=False


def switch_jump(frames: np.ndarray, source: np.ndarray, pivots: list) -> float | None:
    """Largest decoded frame step across a switch (fade included) / the source's largest there
    (1 = as the content); None with one pivot."""
    jumps = []
    for frame, _, _ in pivots[1:]:
        span = range(frame, min(frame + FADE_FRAMES + 1, len(frames)))
        dec = max(np.abs(frames[t].astype(np.float64) - frames[t - 1]).mean() for t in span)
        src = max(np.abs(source[t].astype(np.float64) - source[t - 1]).mean() for t in span)
        jumps.append(dec / max(src, 1.0))
    return max(jumps) if jumps else None


def measures(cuts: dict[str, int]):
    """The pivot sweep's own measures of a point (cuts: the frame of the cut, by clip)."""

    def measure(ref: Reference, coded: Coded, sc: FaceScores | None) -> dict:
        cut = cuts.get(ref.name)

        def aed_between(lo: int, hi: int) -> float | None:
            d = [v for i, v in sc.per_frame_aed.items() if lo <= i < hi]
            return float(np.mean(d)) if d else None

        return {
            "akd_first_s": float(np.nanmean(sc.per_frame_akd[:FPS])),
            "akd_last_s": float(np.nanmean(sc.per_frame_akd[-FPS:])),
            "aed_cut_first_s": None if cut is None else aed_between(cut, cut + FPS),  # [cut, cut+25): the 1st s after the cut
            "aed_cut_after_1s": None if cut is None else aed_between(cut + FPS, ref.count),
            "switch_jump": switch_jump(coded.decoded, ref.frames, coded.info["pivots"]),
        }

    return measure


def main() -> None:
    ap = parser(__doc__, "out/pivots")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cap-kbps", default="12,16", help="--max-kbps values for the cut and drift clips (comma-separated)")
    ap.add_argument("--cut", metavar="A,B", help="the two val clips the cut clip joins (default: the manifest's first two)")
    ap.add_argument("--drift", metavar="CLIP", help="the wide val clip the drift clip films (default: the cut's second)")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.table_from:
        write_table(read_points(args.table_from), out)
        return
    refs, sources = {}, {}
    for src in split_clips(args.data, "val"):
        sources[src.stem] = src
        path = args.refs / f"{src.stem}.mkv"
        if not path.exists():
            make_reference(src, args.refs, src.stem)
        refs[src.stem] = path
    first, second = args.cut.split(",") if args.cut else list(refs)[:2]
    cut_at = cut_clip(read_lossless(refs[first]), read_lossless(refs[second]), out / "cut.mkv")
    drift_clip(sources[args.drift or second], out / "drift.mkv")
    only = names(args.only)
    wanted = lambda name: not only or name in only
    caps = {f"adaptive_cap{c:g}": {"max_kbps": c} for c in map(float, args.cap_kbps.split(","))}
    loaded, fm = load_model(), FaceMetrics()
    measure = measures({"cut": cut_at})
    made_refs = (stored_reference(out / f"{n}.mkv") for n in ("cut", "drift") if wanted(n))
    plain_refs = (stored_reference(p) for n, p in refs.items() if wanted(n))
    rows = []
    for clips, modes in ((made_refs, MODES | caps), (plain_refs, MODES)):
        thc = ThcSweep([Setting.of(mode=m) for m in modes], loaded, modes=modes)
        rows += sweep(clips, [thc], out, Scoring(aed_every=5), measure=measure, fm=fm)
    write_table(rows, out)


def write_table(rows: list[Point], out: Path) -> None:
    """pivots.json (every point) and pivots.md."""
    write_points(rows, out / "pivots.json")
    header = [
        "clip",
        "mode",
        "kbit/s",
        "worst 10 s kbit/s",
        "pivots (frame:reason:bytes)",
        "AKD px",
        "AED",
        "AKD 1st s",
        "AKD last s",
        "AED 1st s after cut",
        "AED after that",
        "encode fps",
        "jump at switch",
    ]
    opt = lambda v, f: "" if v is None else f"{v:{f}}"
    lines = markdown_table(
        header,
        [
            [
                r.clip,
                r.setting["mode"],
                f"{r.kbps:.2f}",
                f"{r.extra['worst_window_kbps']:.2f}",
                " ".join(f"{f}:{why}:{n}" for f, why, n in r.extra["pivots"]),
                f"{r.akd:.2f}",
                f"{r.aed:.3f}",
                f"{r.extra['akd_first_s']:.2f}",
                f"{r.extra['akd_last_s']:.2f}",
                opt(r.extra["aed_cut_first_s"], ".3f"),
                opt(r.extra["aed_cut_after_1s"], ".3f"),
                f"{r.encode_fps:.1f}",
                opt(r.extra["switch_jump"], ".2f"),
            ]
            for r in rows
        ],
    )
    (out / "pivots.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
