"""Issue 4 measurements: key points for every k-th frame, the rest made by the receiver.

    python -m thcodec.bench.interp --refs out/bench/refs --out out/interp

For every th256 reference in --refs (made by `thc bench`) and k = 1..4: encode with
`--interp k` (no audio), decode with the interpolation network and with the linear baseline,
and measure kbit/s, key-point bytes, AKD, AED, VMAF and decode fps (frames to memory).
Writes out/interp/interp.json and interp.md (means over clips).
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
    interp: int
    method: str
    kbps: float
    keypoint_bytes: int
    akd: float
    aed: float
    vmaf: float
    decode_fps: float


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refs", type=Path, default=Path("out/bench/refs"))
    ap.add_argument("--out", type=Path, default=Path("out/interp"))
    ap.add_argument("--steps", default="1,2,3,4")
    ap.add_argument(
        "--table-from", type=Path, help="only write the table, from the JSON lines of an earlier (or cut-short) run's output"
    )
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.table_from:
        rows = [Row(**json.loads(line)) for line in a.table_from.read_text().splitlines() if line.startswith("{")]
        write_table(rows, a.out)
        return
    loaded, faces = load_model(), FaceMetrics()
    if loaded.interpolator is None:
        raise SystemExit("the shipped weights have no interpolator")
    rows = []
    for ref in sorted(a.refs.glob("*.mkv")):
        frames_ref = read_lossless(ref)
        ref_faces = faces.reference(frames_ref, every=10)
        for k in map(int, a.steps.split(",")):
            coded = encode_thc(ref, a.out / f"{ref.stem}_interp{k}.thc", loaded, EncodeOptions(interp=k, audio=False))
            s = coded.stats
            for method in ("net", "linear") if k > 1 else ("net",):
                dec, decode_s = coded.decode(loaded, interp_method=method)
                fps = len(dec) / decode_s
                sc = faces.score(ref_faces, dec)
                row = Row(
                    ref.stem,
                    k,
                    method,
                    s.kbps,
                    s.bytes_by_category["keypoints"],
                    sc.akd,
                    sc.aed,
                    vmaf_frames(dec, ref, TH256.fps),
                    fps,
                )
                print(json.dumps(asdict(row)), flush=True)
                rows.append(row)
    write_table(rows, a.out)


def write_table(rows: list[Row], out: Path) -> None:
    """interp.json (every row) and interp.md (means over the clips measured at k=1)."""
    (out / "interp.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    base = {r.clip: r for r in rows if r.interp == 1}
    rows = [r for r in rows if r.clip in base]
    table = []
    for k in sorted({r.interp for r in rows}):
        for method in ("net", "linear"):
            sel = [r for r in rows if r.interp == k and r.method == method]
            if not sel:
                continue
            mean = lambda field: np.mean([getattr(r, field) for r in sel])  # noqa: B023 (used within the iteration)
            ratio = np.mean([r.keypoint_bytes / base[r.clip].keypoint_bytes for r in sel])
            table.append(
                [
                    str(k),
                    method if k > 1 else "-",
                    str(len(sel)),
                    f"{mean('kbps'):.2f}",
                    f"{100 * ratio:.1f}%",
                    f"{mean('akd'):.3f}",
                    f"{mean('aed'):.3f}",
                    f"{mean('vmaf'):.2f}",
                    f"{mean('decode_fps'):.1f}",
                ]
            )
    lines = markdown_table(
        ["k", "decoder", "clips", "kbit/s", "key-point bytes vs k=1", "AKD px", "AED", "VMAF", "decode fps"], table
    )
    (out / "interp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
