"""Pivot pictures as JPEG or as one AV1 key frame (thc encode --pivot-codec): docs/pivot_image.md.

    python -m thcodec.bench.pivot_codec --refs out/bench/refs --out out/pivot_codec [--only CLIP,...]
    python -m thcodec.bench.pivot_codec --refs out/bench/refs --out out/pivot_codec --calibrate

--calibrate: on the first frame of every reference, for each JPEG quality, the highest AV1 CRF
whose mean PSNR is at least the JPEG's (the table media/pivot_image.py maps --pivot-quality
with); no networks. Otherwise: each reference through the keypoint mode and the hybrid mode
(96 px, CRF 55, every 2nd frame) with JPEG and AV1 pivots, scored (kbit/s, pivot bytes, PSNR,
VMAF, AKD, AED). Writes pivot_codec.json and .md (means over clips, then clip by clip).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thcodec.bench.codec import Setting
from thcodec.bench.ours import ThcSweep
from thcodec.bench.report import markdown_table
from thcodec.bench.sweep import Point, Scoring, mean, names, parser, read_points, stored_references, sweep, write_points
from thcodec.data.reference import read_lossless
from thcodec.media.metrics import psnr
from thcodec.media.pivot_image import av1_still, decode_pivot, encode_pivot
from thcodec.models.weights import load_model
from thcodec.options import EncodeOptions

HYBRID = {"mode": "hybrid", "base_size": 96, "base_crf": 55, "base_step": 2}
POINTS = [
    Setting.of(mode="keypoints", pivot_codec="jpeg", pivot_quality=50),
    Setting.of(mode="keypoints", pivot_codec="av1", pivot_quality=50),
    Setting.of(mode="keypoints", pivot_codec="av1", pivot_quality=30),
    Setting.of(mode="hybrid", pivot_codec="jpeg", pivot_quality=30),
    Setting.of(mode="hybrid", pivot_codec="av1", pivot_quality=30),
    Setting.of(mode="hybrid", pivot_codec="av1", pivot_quality=50),
]
QUALITIES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)


def main() -> None:
    ap = parser(__doc__, "out/pivot_codec")
    ap.add_argument("--calibrate", action="store_true", help="only the JPEG quality -> AV1 CRF table (no networks)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.calibrate:
        pictures = [read_lossless(ref.path)[0] for ref in stored_references(a.refs, names(a.only))]
        return print_lines(calibration(pictures), a.out / "calibration.md")
    if a.table_from:
        return write_table(read_points(a.table_from), a.out)
    thc = ThcSweep(POINTS, load_model(), modes={"keypoints": {}, "hybrid": HYBRID}, base=EncodeOptions(audio=False))
    points = sweep(stored_references(a.refs, names(a.only)), [thc], a.out, Scoring(aed_every=5, vmaf=True, psnr=True))
    write_table(points, a.out)


def _mean_db_bytes(pictures: list[np.ndarray], code) -> tuple[float, float]:
    coded = [code(p) for p in pictures]
    dbs = [psnr(decode_pivot(data, codec, p.shape[1], p.shape[0]), p) for (data, codec), p in zip(coded, pictures)]
    return float(np.mean(dbs)), float(np.mean([len(data) for data, _ in coded]))


def calibration(pictures: list[np.ndarray]) -> list[str]:
    """For each JPEG quality: the highest CRF whose AV1 pictures reach the JPEGs' mean PSNR."""
    av1 = {crf: _mean_db_bytes(pictures, lambda p, c=crf: (av1_still(p, c), "av1")) for crf in range(63, 0, -2)}
    rows = []
    for q in QUALITIES:
        db, size = _mean_db_bytes(pictures, lambda p, q=q: (encode_pivot(p, q, "jpeg"), "jpeg"))
        crf = max((c for c, (d, _) in av1.items() if d >= db), default=None)
        theirs = [str(crf), f"{av1[crf][0]:.2f}", f"{av1[crf][1]:.0f}"] if crf is not None else ["-", "-", "-"]
        rows.append([str(q), f"{db:.2f}", f"{size:.0f}", *theirs])
    return markdown_table(["JPEG quality", "JPEG dB", "JPEG bytes", "AV1 CRF", "AV1 dB", "AV1 bytes"], rows)


def _row(sel: list[Point], *first: str) -> list[str]:
    return [
        *first,
        f"{mean(sel, lambda p: p.kbps):.2f}",
        f"{mean(sel, lambda p: p.parts.get('pivot', 0)):.0f}",
        f"{mean(sel, lambda p: p.psnr):.2f}",
        f"{mean(sel, lambda p: p.vmaf):.1f}",
        f"{mean(sel, lambda p: p.akd):.2f}",
        f"{mean(sel, lambda p: p.aed):.3f}",
    ]


def write_table(points: list[Point], out: Path) -> None:
    write_points(points, out / "pivot_codec.json")
    head = ["kbit/s", "pivot bytes", "PSNR dB", "VMAF", "AKD px", "AED"]
    labels = list(dict.fromkeys(p.label for p in points))
    means = [_row([p for p in points if p.label == lb], lb, str(sum(p.label == lb for p in points))) for lb in labels]
    clips = [_row([p], p.clip, p.label) for p in points]
    lines = markdown_table(["setting", "clips", *head], means) + [""] + markdown_table(["clip", "setting", *head], clips)
    print_lines(lines, out / "pivot_codec.md")


def print_lines(lines: list[str], path: Path) -> None:
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
