"""Coarser key-point codes chosen by the sender (thc encode --xy-step/--jac-step): bytes against quality.

    python -m thcodec.bench.keypoint_steps --refs out/bench/refs --out out/keypoint_steps

For every th256 reference in --refs (made by `thc bench`) and each step pair (positions x
Jacobians, in codes): encode at the given pivot quality and interp (no audio), decode, and
measure kbit/s, key-point bytes, AKD, AED and VMAF. Writes keypoint_steps.json and .md
(means over clips; key-point bytes against full precision, 1x1, clip by clip).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from thcodec.bench.codec import encode_thc
from thcodec.bench.quality import FaceMetrics, vmaf_frames
from thcodec.bench.report import markdown_table
from thcodec.data.reference import TH256, read_lossless
from thcodec.models.weights import load_model
from thcodec.options import EncodeOptions


@dataclass
class Row:
    clip: str
    xy_step: int
    jac_step: int
    kbps: float
    keypoint_bytes: int
    akd: float
    aed: float
    vmaf: float


def parse_steps(text: str) -> list[tuple[int, int]]:
    """ "1x1,4x8" -> [(1, 1), (4, 8)]; full precision is measured first, as the base of the ratios."""
    steps = [tuple(int(v) for v in s.split("x")) for s in text.split(",")]
    if any(len(s) != 2 for s in steps):
        raise SystemExit(f"--steps: pairs like 4x8, got {text}")
    return [(1, 1)] + [s for s in steps if s != (1, 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refs", type=Path, default=Path("out/bench/refs"))
    ap.add_argument("--out", type=Path, default=Path("out/keypoint_steps"))
    ap.add_argument("--steps", default="1x1,2x4,4x8,8x16", help="position x Jacobian steps, comma-separated")
    ap.add_argument("--pivot-quality", type=int, default=EncodeOptions.pivot_quality)
    ap.add_argument("--interp", type=int, default=EncodeOptions.interp)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    loaded, faces = load_model(), FaceMetrics()
    rows = []
    for ref in sorted(a.refs.glob("*.mkv")):
        frames_ref = read_lossless(ref)
        ref_faces = faces.reference(frames_ref, every=10)
        for xy, jac in parse_steps(a.steps):
            opts = EncodeOptions(pivot_quality=a.pivot_quality, interp=a.interp, audio=False, xy_step=xy, jac_step=jac)
            coded = encode_thc(ref, a.out / f"{ref.stem}_s{xy}x{jac}.thc", loaded, opts)
            s = coded.stats
            dec, _ = coded.decode(loaded)
            sc = faces.score(ref_faces, dec)
            row = Row(
                ref.stem, xy, jac, s.kbps, s.bytes_by_category["keypoints"], sc.akd, sc.aed, vmaf_frames(dec, ref, TH256.fps)
            )
            print(json.dumps(asdict(row)), flush=True)
            rows.append(row)
    write_table(rows, a.out)


def write_table(rows: list[Row], out: Path) -> None:
    (out / "keypoint_steps.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    base = {r.clip: r for r in rows if (r.xy_step, r.jac_step) == (1, 1)}
    table = []
    for step in dict.fromkeys((r.xy_step, r.jac_step) for r in rows):
        sel = [r for r in rows if (r.xy_step, r.jac_step) == step and r.clip in base]

        def mean(field: str, sel=sel) -> float:
            return float(np.mean([getattr(r, field) for r in sel]))

        ratio = np.mean([r.keypoint_bytes / base[r.clip].keypoint_bytes for r in sel])
        table.append(
            [
                f"{step[0]}x{step[1]}",
                str(len(sel)),
                f"{mean('kbps'):.2f}",
                f"{100 * ratio:.1f}%",
                f"{mean('akd'):.3f}",
                f"{mean('aed'):.3f}",
                f"{mean('vmaf'):.2f}",
            ]
        )
    lines = markdown_table(["steps (xy x J)", "clips", "kbit/s", "key-point bytes vs 1x1", "AKD px", "AED", "VMAF"], table)
    (out / "keypoint_steps.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
