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
           [--ablation nopivot=runs/sr_nopivot/best.pt] [--only CLIP,...]
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.codec import Coded, Setting
from thcodec.bench.ours import Receiver, ThcSweep
from thcodec.bench.quality import FaceMetrics
from thcodec.bench.report import markdown_table
from thcodec.bench.sweep import Point, Scoring, names, parser, read_points, sweep, write_points
from thcodec.data.clips import split_rows
from thcodec.data.reference import Condition, Reference, make_reference
from thcodec.media.frames import to_tensor, to_uint8
from thcodec.models.super_resolution import SuperResolution
from thcodec.models.weights import load_model
from thcodec.options import MODEL_SIZE

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


class Ceiling:
    """Not a codec: the reference's face region at the model's size, up-scaled bicubically (nothing sent)."""

    name = label = "ceiling"

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of()]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        t0 = time.perf_counter()
        up = ceiling(ref.frames)
        return Coded(None, 0, up, 0.0, time.perf_counter() - t0, bitstream_vmaf=False)


def receivers(ablations: dict[str, Path]) -> dict[str, Receiver]:
    """The decoders compared on each stream: net, bicubic, all-detail and the ablations' networks."""
    loaded = load_model()
    out = {
        "net": Receiver(loaded),
        "bicubic": Receiver(loaded, sr="bicubic"),
        "all-detail": Receiver(dataclasses.replace(loaded, super_resolution=all_detail_net())),
    }
    for name, path in ablations.items():
        out[name] = Receiver(dataclasses.replace(loaded, super_resolution=ablation_net(path)))
    return out


def run(data: Path, out: Path, ablations: dict[str, Path], only: set[str] | None) -> list[Point]:
    decoders = receivers(ablations)
    net = decoders["net"].loaded
    thc = ThcSweep([Setting.of(decoder=d) for d in decoders], net, decoders)  # the default encode settings
    fm, points = FaceMetrics(), []
    out.mkdir(parents=True, exist_ok=True)
    for r in split_rows(data, "val"):
        name, w, h = Path(r["file"]).stem, int(r["width"]), int(r["height"])
        if only is not None and name not in only:
            continue
        for cond in [CROP] + ([WIDE] if abs(w / h - 16 / 9) < 0.02 else []):
            ref = make_reference(data / "clips" / r["file"], out / "refs" / cond.name, name, cond)
            size = f"{ref.frames.shape[2]}x{ref.frames.shape[1]}"
            if cond is CROP and ref.size <= MODEL_SIZE:
                print(f"{name}: face region {size}, no larger than the model's frame: skipped", flush=True)
                continue
            codecs = [thc, Ceiling()] if cond is CROP else [thc]  # a wide frame is mostly the pivot's background
            given = lambda ref, coded, faces, c=cond.name, s=size: {"condition": c, "size": s}
            points += sweep([ref], codecs, out / cond.name, Scoring(psnr=True, vmaf=True), measure=given, fm=fm)
    write_points(points, out / "native.json")
    return points


def table(rows: list[Point]) -> str:
    fmt = lambda v, d: "-" if v is None else f"{v:.{d}f}"
    body = [
        [
            r.clip,
            r.extra["condition"],
            r.extra["size"],
            r.setting.get("decoder", r.codec),
            fmt(r.kbps, 2),
            fmt(r.psnr, 2),
            fmt(r.vmaf, 2),
            fmt(r.akd, 2),
            fmt(r.decode_fps, 1),
        ]
        for r in rows
    ]
    return "\n".join(
        markdown_table(["clip", "condition", "output size", "method", "kbit/s", "PSNR", "VMAF", "AKD (px)", "decode fps"], body)
    )


def main() -> None:
    p = parser(__doc__, "out/native", refs=False)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--ablation", action="append", default=[], metavar="NAME=CHECKPOINT")
    a = p.parse_args()
    if a.table_from:
        print(table(read_points(a.table_from)))
        return
    torch.set_num_threads(2)
    ablations = dict(x.split("=", 1) for x in a.ablation)
    rows = run(a.data, a.out, {k: Path(v) for k, v in ablations.items()}, set(names(a.only)) or None)
    print(table(rows))


if __name__ == "__main__":
    main()
