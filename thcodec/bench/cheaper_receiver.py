"""A cheaper receiver against the eager float32 one: how much faster, and whether the picture
moves. --variant bf16: bfloat16 convolutions (THC_PRECISION; docs/speed.md, "bfloat16 on AMX");
--variant light: the light generator (thc decode --generator light; docs/speed.md, "A light
generator").

    python -m thcodec.bench.cheaper_receiver --variant bf16|light --data ../shared/data --out OUT
        [--limit N] [--full-size CLIP] [--weights DIR]

The val clips as th256 references (made once under OUT/refs) are each encoded in keypoint mode
(the default) and in hybrid mode (`--mode hybrid --base-size 96 --base-kbps 6`). Each stream is
decoded to memory by both receivers, alternating, twice each (the times are the faster of the
two), and both pictures are scored against the reference like the bench: PSNR, VMAF, AKD, AED.
Issue 20 allows a cheaper receiver only where the picture stays within 0.1 dB PSNR, 0.5 VMAF
and 0.02 px AKD of the eager float32 one's. --full-size CLIP also codes that val clip at its own
size and decodes it with super-resolution (PSNR of the whole frame against the source, and the
times). Writes OUT/rows.jsonl and OUT/report.md.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from thcodec.bench import quality as Q
from thcodec.bench.codec import encode_with_cli
from thcodec.data.clips import split_clips
from thcodec.data.reference import make_reference, read_lossless
from thcodec.media.video_io import VideoReader
from thcodec.models.weights import LoadedModel, load_model
from thcodec.receiver.decoder import Frame, decode_stream

MODES = {"keypoints": [], "hybrid": ["--mode", "hybrid", "--base-size", "96", "--base-kbps", "6"]}
VARIANTS = ("bf16", "light")
TOLERANCE = {"psnr": 0.1, "vmaf": 0.5, "akd": 0.02}
# (the networks, the precision) of each receiver, by name: the yardstick first
Receivers = dict[str, tuple[LoadedModel, str]]


def receivers(loaded: LoadedModel, variant: str) -> Receivers:
    """The eager float32 receiver (the yardstick, "fp32") and the variant's."""
    cheaper = (loaded, "bf16") if variant == "bf16" else (loaded.with_light_generator(), "fp32")
    return {"fp32": (loaded, "fp32"), variant: cheaper}


def decode_timed(data: bytes, loaded: LoadedModel, precision: str) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    frames = [e.rgb for e in decode_stream(io.BytesIO(data), loaded, precision=precision) if isinstance(e, Frame)]
    return np.stack(frames), time.perf_counter() - start


def decode_both(data: bytes, pair: Receivers, runs: int = 2) -> dict[str, tuple[np.ndarray, float]]:
    """Each receiver's frames and its faster decode time, the receivers alternating."""
    out: dict[str, tuple[np.ndarray, float]] = {}
    for _ in range(runs):
        for name, (loaded, precision) in pair.items():
            frames, seconds = decode_timed(data, loaded, precision)
            out[name] = (frames, min(seconds, out[name][1]) if name in out else seconds)
    return out


def within(row: dict, variant: str) -> bool:
    return all(
        abs(row[f"{k}_{variant}"] - row[f"{k}_fp32"]) <= tol for k, tol in TOLERANCE.items() if row.get(f"{k}_fp32") is not None
    )


def face_rows(refs: list[Path], pair: Receivers, streams: Path) -> list[dict]:
    variant = list(pair)[1]
    fm, rows = Q.FaceMetrics(), []
    for ref in refs:
        frames = read_lossless(ref)
        faces = fm.reference(frames)
        for mode, args in MODES.items():
            data = encode_with_cli(ref, streams / f"{ref.stem}_{mode}.thc", args).read_bytes()
            row = dict(clip=ref.stem, mode=mode, frames=len(frames), kbps=len(data) * 8 / 1000 / (len(frames) / 25))
            for p, (out, seconds) in decode_both(data, pair).items():
                face = fm.score(faces, out)
                row |= {f"seconds_{p}": seconds, f"psnr_{p}": Q.psnr_pair(out, frames)[0], f"akd_{p}": face.akd}
                row |= {f"aed_{p}": face.aed, f"vmaf_{p}": Q.vmaf_frames(out, ref, 25)}
            row["within"] = within(row, variant)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def full_size_row(src: Path, pair: Receivers, streams: Path) -> dict:
    with VideoReader(src) as r:
        fps = float(r.info.fps)
        source = np.stack(list(r))
    data = encode_with_cli(src, streams / f"{src.stem}_full.thc", []).read_bytes()
    seconds = len(source) / fps
    row = dict(clip=src.stem, mode=f"keypoints, {source.shape[2]}x{source.shape[1]}, --sr net", frames=len(source))
    row["kbps"] = len(data) * 8 / 1000 / seconds
    for p, (out, seconds) in decode_both(data, pair, runs=1).items():
        row |= {f"seconds_{p}": seconds, f"psnr_{p}": Q.psnr_pair(out, source[: len(out)])[0]}
    row["within"] = within(row, list(pair)[1])
    print(json.dumps(row), flush=True)
    return row


def _cell(row: dict, key: str, fmt: str, variant: str) -> str:
    a, b = row.get(f"{key}_fp32"), row.get(f"{key}_{variant}")
    return "-" if a is None else f"{a:{fmt}} / {b:{fmt}}"


VARIANT_WORDS = {"bf16": "float32 / bfloat16 convolutions", "light": "the shipped generator / the light generator"}


def report(rows: list[dict], threads: int, variant: str) -> str:
    cell = lambda r, key, fmt: _cell(r, key, fmt, variant)
    lines = [
        f"Measured by `python -m thcodec.bench.cheaper_receiver --variant {variant}` on {threads} threads, torch "
        f"{torch.__version__}, AMX {'present' if torch.cpu._is_amx_tile_supported() else 'absent'}; "
        f"{VARIANT_WORDS[variant]} in each cell; decode to memory, the faster of two runs, alternating. "
        "Tolerance: PSNR 0.1 dB, VMAF 0.5, AKD 0.02 px.",
        "",
        "| clip | mode | kbit/s | decode s | fps | PSNR dB | VMAF | AKD px | AED | within |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        fps = f"{r['frames'] / r['seconds_fp32']:.0f} / {r['frames'] / r[f'seconds_{variant}']:.0f}"
        kbps = f"{r['kbps']:.1f}"
        lines.append(
            f"| {r['clip']} | {r['mode']} | {kbps} | {cell(r, 'seconds', '.2f')} | {fps} | {cell(r, 'psnr', '.3f')} "
            f"| {cell(r, 'vmaf', '.2f')} | {cell(r, 'akd', '.3f')} | {cell(r, 'aed', '.4f')} | {'yes' if r['within'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", choices=VARIANTS, required=True, help="the cheaper receiver")
    p.add_argument("--data", type=Path, required=True, help="the shared data folder (clips/ and MANIFEST.tsv)")
    p.add_argument("--weights", type=Path, help="a weights folder (default: the shipped weights)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int, default=0, help="the first N val clips (0: all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--full-size", metavar="CLIP", help="also a val clip at its own size with super-resolution (its stem)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    streams = a.out / "streams"
    streams.mkdir(parents=True, exist_ok=True)
    sources = split_clips(a.data, "val")[: a.limit or None]
    refs = []
    for src in sources:
        ref = a.out / "refs" / f"{src.stem}.mkv"
        if not ref.exists():
            make_reference(src, a.out / "refs", src.stem)
        refs.append(ref)
    pair = receivers(load_model(a.weights), a.variant)
    rows = face_rows(refs, pair, streams)
    if a.full_size:
        rows.append(full_size_row(next(s for s in split_clips(a.data, "val") if s.stem == a.full_size), pair, streams))
    (a.out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (a.out / "report.md").write_text(report(rows, a.threads, a.variant))
    print(report(rows, a.threads, a.variant))


if __name__ == "__main__":
    main()
