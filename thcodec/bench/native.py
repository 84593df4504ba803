"""Native-resolution measurement beside th256: super-resolution against bicubic up-scaling.

Two conditions per clip, scored at their own size:
  crop  the square face region at its original size (e.g. 512x512; clips whose region is
        larger than the model's 256x256), 25 fps, first 250 frames;
  wide  the whole frame resized to 1280x720 (16:9 clips): the face region is a part of it.
One stream per reference (the default encode settings), decoded once per method on the same
bytes: `net` (the shipped super-resolution network), `bicubic` (the baseline), `all-detail`
(every pixel of the warped pivot's detail added, no network: the most the pivot can give)
and, with --ablation NAME=best.pt, the network of a training checkpoint (e.g. without the
pivot input). Not a decode: `ceiling` is the reference itself reduced to 256x256 and
up-scaled bicubically, what up-scaling alone costs when the 256x256 face is perfect.
Reported: PSNR (RGB), VMAF, AKD (px at the output size), decode fps to memory (end to end
to MP4 on a one-minute 720p call: thcodec.bench.long_call).

Usage: python -m thcodec.bench.native --data ../shared/data --out out/native \\
           [--ablation nopivot=runs/sr_nopivot/best.pt] [--only mt_duda,ot_1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.codec import encode_thc
from thcodec.bench.quality import FaceMetrics, psnr_mean, vmaf_frames
from thcodec.bench.report import markdown_table
from thcodec.data.clips import split_rows
from thcodec.data.reference import Condition, make_reference
from thcodec.media.frames import to_tensor, to_uint8
from thcodec.models.super_resolution import SuperResolution
from thcodec.models.weights import load_model
from thcodec.options import MODEL_SIZE, EncodeOptions

CROP = Condition(name="crop", size=None)
WIDE = Condition(name="wide", wide=(1280, 720))


def ablation_net(path: Path) -> SuperResolution:
    ck = torch.load(path, map_location="cpu", weights_only=True)
    net = SuperResolution()
    net.load_state_dict(ck["ema"])
    return net.eval()


def all_detail_net() -> SuperResolution:
    """out = up-scaled frame + the warped pivot's detail everywhere (gate open, no correction)."""
    net = SuperResolution().eval()
    with torch.no_grad():
        net.out.weight.zero_()
        net.out.bias.copy_(torch.tensor([20.0, 0, 0, 0]))
    return net


def ceiling(frames: np.ndarray) -> np.ndarray:
    """The reference's face region at 256x256 (as the model sees it), up-scaled bicubically."""
    h, w = frames.shape[1:3]
    out = np.empty_like(frames)
    for i in range(0, len(frames), 25):
        t = to_tensor(frames[i : i + 25])
        small = torch.nn.functional.interpolate(
            t, size=(MODEL_SIZE, MODEL_SIZE), mode="bilinear", antialias=True, align_corners=False
        )
        out[i : i + 25] = to_uint8(torch.nn.functional.interpolate(small, size=(h, w), mode="bicubic", align_corners=False))
    return out


def run(data: Path, out: Path, ablations: dict[str, Path], only: set[str] | None) -> list[dict]:
    loaded = load_model()
    variants = {
        "net": (loaded, "net"),
        "bicubic": (loaded, "bicubic"),
        "all-detail": (dataclasses.replace(loaded, super_resolution=all_detail_net()), "net"),
    }
    for name, path in ablations.items():
        variants[name] = (dataclasses.replace(loaded, super_resolution=ablation_net(path)), "net")
    faces = FaceMetrics()
    rows = []
    out.mkdir(parents=True, exist_ok=True)
    clips = [r for r in split_rows(data, "val") if (only is None or Path(r["file"]).stem in only)]
    for r in clips:
        name, w, h = Path(r["file"]).stem, int(r["width"]), int(r["height"])
        conds = [CROP] + ([WIDE] if abs(w / h - 16 / 9) < 0.02 else [])
        for cond in conds:
            ref = make_reference(data / "clips" / r["file"], out / "refs", f"{name}_{cond.name}", cond)
            size = f"{ref.frames.shape[2]}x{ref.frames.shape[1]}"
            if cond is CROP and ref.size <= MODEL_SIZE:
                print(f"{name}: face region {size}, no larger than the model's frame: skipped", flush=True)
                continue
            coded = encode_thc(ref.path, out / f"{name}_{cond.name}.thc", loaded, EncodeOptions(audio=False))
            kbps = coded.stats.bytes_total * 8 / ref.duration_s / 1000
            ref_faces = faces.reference(ref.frames)
            for method, (model, sr) in variants.items():
                dec, decode_s = coded.decode(model, sr=sr)
                fps = len(dec) / decode_s
                s = faces.score(ref_faces, dec)
                row = {
                    "clip": name,
                    "condition": cond.name,
                    "size": size,
                    "method": method,
                    "kbps": round(kbps, 2),
                    "psnr": psnr_mean(dec, ref.frames),
                    "vmaf": vmaf_frames(dec, ref.path, ref.fps),
                    "akd": s.akd,
                    "fps": fps,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                del dec
            if cond is CROP:  # a wide frame is mostly the pivot's background: the ceiling says little there
                up = ceiling(ref.frames)
                row = {
                    "clip": name,
                    "condition": cond.name,
                    "size": size,
                    "method": "ceiling",
                    "kbps": None,
                    "psnr": psnr_mean(up, ref.frames),
                    "vmaf": vmaf_frames(up, ref.path, ref.fps),
                    "akd": None,
                    "fps": None,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    (out / "native.json").write_text(json.dumps(rows, indent=1))
    return rows


def table(rows: list[dict]) -> str:
    fmt = lambda v, d: "-" if v is None else f"{v:.{d}f}"
    body = [
        [
            r["clip"],
            r["condition"],
            r["size"],
            r["method"],
            fmt(r["kbps"], 2),
            fmt(r["psnr"], 2),
            fmt(r["vmaf"], 2),
            fmt(r["akd"], 2),
            fmt(r["fps"], 1),
        ]
        for r in rows
    ]
    return "\n".join(
        markdown_table(["clip", "condition", "output size", "method", "kbit/s", "PSNR", "VMAF", "AKD (px)", "decode fps"], body)
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("out/native"))
    p.add_argument("--ablation", action="append", default=[], metavar="NAME=CHECKPOINT")
    p.add_argument("--only", help="comma-separated clip names")
    p.add_argument("--table-from", type=Path, help="print the table of an earlier run's native.json and exit")
    a = p.parse_args()
    if a.table_from:
        print(table(json.loads(a.table_from.read_text())))
        return
    torch.set_num_threads(2)
    ablations = dict(x.split("=", 1) for x in a.ablation)
    rows = run(a.data, a.out, {k: Path(v) for k, v in ablations.items()}, set(a.only.split(",")) if a.only else None)
    print(table(rows))


if __name__ == "__main__":
    main()
