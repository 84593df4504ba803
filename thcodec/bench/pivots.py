"""Issue 6 measurements: the adaptive pivot policy against one pivot, on a hard cut, a drift
and ordinary clips, and the rate cap's worst 10-second window.

    python -m thcodec.bench.pivots --data ../shared/data --out out/pivots --cut mt_justin,mt_duda --drift mt_duda

Builds out/pivots/cut.mkv and drift.mkv (thcodec.bench.pivot_clips) from the val clips'
th256 references (made by `thc bench` under --refs, or here), encodes every clip with one
pivot and with the adaptive policy (and the cut and drift clips also under --max-kbps), and
writes out/pivots/pivots.md and pivots.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from thcodec.bench.codec import decode_frames
from thcodec.bench.pivot_clips import cut_clip, drift_clip
from thcodec.bench.quality import FaceMetrics
from thcodec.bench.report import markdown_table
from thcodec.bench.run import val_clips
from thcodec.data.reference import make_reference, read_lossless
from thcodec.models.weights import load_model
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import FADE_FRAMES
from thcodec.sender.encoder import encode
from thcodec.stats import stream_stats

FPS = 25


@dataclass
class Row:
    clip: str
    mode: str
    kbps: float
    worst_10s_kbps: float
    pivots: str  # "frame:reason:bytes ..."
    akd: float
    aed: float
    akd_first_s: float
    akd_last_s: float
    aed_cut_first_s: float | None  # frames [cut, cut+25): the first second after the cut
    aed_cut_after_1s: float | None  # frames from cut+25 on
    encode_fps: float
    switch_jump: float | None  # largest decoded frame step across a switch / the source's largest there (1 = as the content)


def measure(
    clip: Path, mode: str, opts: EncodeOptions, out_dir: Path, faces: FaceMetrics, ref_faces, loaded, cut: int | None = None
) -> Row:
    stream = out_dir / f"{clip.stem}_{mode}.thc"
    t0 = time.perf_counter()
    with open(stream, "wb") as f:
        r = encode(clip, f, loaded, opts)
    enc_s = time.perf_counter() - t0
    s = stream_stats(stream)
    frames = decode_frames(stream, loaded)
    sc = faces.score(ref_faces, frames)
    source = read_lossless(clip)
    jumps = []  # largest decoded step across each switch (fade included) / the source's largest there
    for p in s.pivots[1:]:
        span = range(p.frame, min(p.frame + FADE_FRAMES + 1, len(frames)))
        dec = max(np.abs(frames[t].astype(np.float64) - frames[t - 1]).mean() for t in span)
        src = max(np.abs(source[t].astype(np.float64) - source[t - 1]).mean() for t in span)
        jumps.append(dec / max(src, 1.0))

    def aed_between(lo: int, hi: int) -> float | None:
        d = [v for i, v in sc.per_frame_aed.items() if lo <= i < hi]
        return float(np.mean(d)) if d else None

    return Row(
        clip=clip.stem,
        mode=mode,
        kbps=s.kbps,
        worst_10s_kbps=s.worst_window_kbps,
        pivots=" ".join(f"{p.frame}:{p.reason}:{p.bytes}" for p in s.pivots),
        akd=sc.akd,
        aed=sc.aed,
        akd_first_s=float(np.nanmean(sc.per_frame_akd[:FPS])),
        akd_last_s=float(np.nanmean(sc.per_frame_akd[-FPS:])),
        aed_cut_first_s=None if cut is None else aed_between(cut, cut + FPS),
        aed_cut_after_1s=None if cut is None else aed_between(cut + FPS, len(frames)),
        encode_fps=r.frames / enc_s,
        switch_jump=max(jumps) if jumps else None,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("out/pivots"))
    ap.add_argument("--refs", type=Path, default=Path("out/bench/refs"))
    ap.add_argument("--cap-kbps", default="12,16", help="--max-kbps values for the cut and drift clips (comma-separated)")
    ap.add_argument("--cut", metavar="A,B", help="the two val clips the cut clip joins (default: the manifest's first two)")
    ap.add_argument("--drift", metavar="CLIP", help="the wide val clip the drift clip films (default: the cut's second)")
    ap.add_argument("--only", default="", help="comma-separated clip names to measure (default: all)")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    refs, sources = {}, {}
    for src in val_clips(args.data, "val"):
        sources[src.stem] = src
        path = args.refs / f"{src.stem}.mkv"
        if not path.exists():
            make_reference(src, args.refs, src.stem)
        refs[src.stem] = path
    first, second = args.cut.split(",") if args.cut else list(refs)[:2]
    cut_at = cut_clip(read_lossless(refs[first]), read_lossless(refs[second]), out / "cut.mkv")
    drift_clip(sources[args.drift or second], out / "drift.mkv")
    clips = {"cut": (out / "cut.mkv", cut_at), "drift": (out / "drift.mkv", None)}
    clips.update({k: (v, None) for k, v in refs.items()})
    if args.only:
        clips = {k: v for k, v in clips.items() if k in args.only.split(",")}
    loaded, faces = load_model(), FaceMetrics()
    rows = []
    for name, (path, cut) in clips.items():
        ref_faces = faces.reference(read_lossless(path), every=5)
        modes = {"single": EncodeOptions(audio=False, adaptive=False), "adaptive": EncodeOptions(audio=False)}
        if name in ("cut", "drift"):
            for cap in map(float, args.cap_kbps.split(",")):
                modes[f"adaptive_cap{cap:g}"] = EncodeOptions(audio=False, max_kbps=cap)
        for mode, opts in modes.items():
            row = measure(path, mode, opts, out, faces, ref_faces, loaded, cut)
            print(json.dumps(asdict(row)), flush=True)
            rows.append(row)
    write_table(rows, out)


def write_table(rows: list[Row], out: Path) -> None:
    """pivots.json (every row) and pivots.md."""
    (out / "pivots.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
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
                r.mode,
                f"{r.kbps:.2f}",
                f"{r.worst_10s_kbps:.2f}",
                r.pivots,
                f"{r.akd:.2f}",
                f"{r.aed:.3f}",
                f"{r.akd_first_s:.2f}",
                f"{r.akd_last_s:.2f}",
                opt(r.aed_cut_first_s, ".3f"),
                opt(r.aed_cut_after_1s, ".3f"),
                f"{r.encode_fps:.1f}",
                opt(r.switch_jump, ".2f"),
            ]
            for r in rows
        ],
    )
    (out / "pivots.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
