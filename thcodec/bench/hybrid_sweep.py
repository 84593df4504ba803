"""The hybrid mode's comparison (issue 19) as one `thc bench` run with a chosen plan.

Codecs: thcodec's keypoint mode at its default point and a lower-rate one, the hybrid ladder
(thc_hybrid's quick sweep), SVT-AV1 at full size and the scaled anchors (SVT-AV1 random access
and low delay, x265, at 64/96/128 px, up-scaled): their quick sweeps. Clips: the --split clips of --data, plus, with
--zoom CLIP, a zoom-in clip made from that clip (thcodec/bench/pivot_clips.py). The report
(OUT/report.md) ends with the rate-matched table of thcodec/bench/hybrid_report.py.

    python -m thcodec.bench.hybrid_sweep --data ../shared/data --zoom CLIP.mp4 --out out/bench_hybrid
"""

from __future__ import annotations

import argparse
from pathlib import Path

from thcodec.bench.ours import COARSE, default_setting, setting
from thcodec.bench.pivot_clips import zoom_clip
from thcodec.bench.run import BenchOptions, Progress, make_codecs, run_bench
from thcodec.data.clips import split_clips

CODECS = ("thc", "thc_hybrid", "svtav1", "svtav1_scaled", "svtav1_ld_scaled", "x265_scaled")


def plan_labels() -> tuple[str, ...]:
    """Settings measured: the keypoint mode's default and a cheaper point, every other codec's quick sweep."""
    ours = [default_setting().label, setting(30, 2, 0, COARSE, "landmarks").label]
    codecs = make_codecs(CODECS[1:])
    return tuple(ours + [s.label for c in codecs.values() for s in c.settings(True)])


class Printed(Progress):
    def start(self, total: int) -> None:
        self._total, self._n = total, 0

    def step(self, what: str) -> None:
        print(f"[{self._n + 1}/{self._total}] {what}", flush=True)

    def done(self) -> None:
        self._n += 1

    def warn(self, message: str) -> None:
        print(f"warning: {message}", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--split", default="val")
    p.add_argument("--zoom", help="also measure a zoom-in clip made from this clip of --data")
    p.add_argument("--limit", type=int, default=0, help="only the first N clips of the split (0: all)")
    p.add_argument("--out", type=Path, default=Path("out/bench_hybrid"))
    p.add_argument("--resume", action="store_true", help="keep the points already in OUT/points.csv")
    a = p.parse_args(argv)
    clips = split_clips(a.data, a.split)
    if a.limit:
        clips = clips[: a.limit]
    if a.zoom:
        a.out.mkdir(parents=True, exist_ok=True)
        zoom = a.out / f"zoom_{Path(a.zoom).stem}.mkv"
        if not zoom.exists():
            zoom_clip(a.data / "clips" / a.zoom, zoom)
        clips.append(zoom)
    opts = BenchOptions(codecs=CODECS, quick=True, only=plan_labels(), resume=a.resume)
    result = run_bench(clips, a.out, opts, Printed())
    print(f"{len(result.rows)} points: {result.csv}, {result.report}")


if __name__ == "__main__":
    main()
