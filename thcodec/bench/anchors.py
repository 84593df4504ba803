"""The anchors: x264, x265, vvenc (H.266), SVT-AV1 through ffmpeg, and the frozen-first-frame floor.

Every anchor is fed the lossless RGB reference, converted to YUV 4:2:0 (BT.601, limited range,
written into the stream's colour description), and writes a raw elementary stream (Annex B
H.264/H.265/H.266, AV1 low-overhead OBUs): the file size is the bitstream size. One intra
frame starts the clip and no other is forced (key-frame interval longer than the clip).

- x264 and x265: preset veryslow, no B-frames (low delay, like a call), CRF sweep up to 51.
  x264's encoder-settings SEI (~700 bytes of text) is stripped with the filter_units bitstream
  filter and x265's with info=0: they carry no picture and would dominate the lowest rates.
- vvenc: its default random-access GOP (hierarchical, so with reordering: a stronger anchor
  than a low-delay one), its default preset "medium" rather than "slow"/"slower", to finish in
  time (measured on a 250-frame th256 clip: "fast" is 2.2x faster than "medium" but loses 2.5-5
  VMAF at equal bytes, so "medium" it is), QP sweep up to 63, no access-unit delimiters
  (optional NAL units, 6 bytes a frame: 1.2 kbit/s at 25 fps).
- SVT-AV1: preset 8, its default random-access GOP, CRF sweep up to 63; `svtav1_ld` the same
  in its low-delay structure (what a call, and the hybrid mode's base layer, can use).
- frozen: frame 0 as a JPEG (Pillow, optimized), shown for the whole clip: the floor that any
  codec must beat. Sweep over JPEG quality.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from thcodec.bench.codec import Coded, Setting
from thcodec.bench.ffmpeg import COLOR_TAGS, TO_YUV, decode_rgb, run_ffmpeg
from thcodec.data.reference import Reference
from thcodec.media.frames import jpeg_decode, jpeg_encode

KEYINT = 100000  # frames between forced intra frames: never within a clip


@dataclass(frozen=True)
class FFmpegAnchor:
    name: str
    label: str
    param: str  # "crf" or "qp"
    sweep: tuple[int, ...]
    quick_sweep: tuple[int, ...]
    ext: str
    muxer: str
    pix_fmt: str
    encoder_args: tuple[str, ...]  # after -c:v; the rate parameter is appended

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of(**{self.param: v}) for v in (self.quick_sweep if quick else self.sweep)]

    def command(self, ref: Path, setting: Setting, out: Path, frames: int) -> list[str]:
        return [
            "-i", str(ref), "-map", "0:v:0", "-an", "-frames:v", str(frames),
            "-vf", f"{TO_YUV},format={self.pix_fmt}", *COLOR_TAGS,
            *self.encoder_args, f"-{self.param}", str(setting[self.param]),
            "-f", self.muxer, str(out),
        ]  # fmt: skip

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        out = out_dir / f"{self.name}_{setting.slug}.{self.ext}"
        t0 = time.perf_counter()
        run_ffmpeg(self.command(ref.path, setting, out, ref.count), f"{self.name} {setting.label} on {ref.name}")
        t1 = time.perf_counter()
        decoded = decode_rgb(out, ref.size, ref.size)
        t2 = time.perf_counter()
        return Coded(out, out.stat().st_size, decoded, t1 - t0, t2 - t1, bitstream_vmaf=True)


X264 = FFmpegAnchor(
    "x264",
    "H.264 (x264 veryslow)",
    "crf",
    (26, 31, 36, 41, 46, 51),
    (36, 44, 51),
    "264",
    "h264",
    "yuv420p",
    ("-c:v", "libx264", "-preset", "veryslow", "-bf", "0", "-g", str(KEYINT), "-bsf:v", "filter_units=remove_types=6"),
)
X265 = FFmpegAnchor(
    "x265",
    "H.265 (x265 veryslow)",
    "crf",
    (26, 31, 36, 41, 44, 46, 48, 51),
    (36, 41, 44, 46, 48, 51),
    "hevc",
    "hevc",
    "yuv420p",
    ("-c:v", "libx265", "-preset", "veryslow", "-g", str(KEYINT), "-x265-params", "bframes=0:info=0:log-level=error"),
)
VVENC = FFmpegAnchor(
    "vvenc",
    "H.266 (vvenc medium)",
    "qp",
    (33, 39, 45, 51, 57, 63),
    (45, 54, 63),
    "266",
    "vvc",
    "yuv420p10le",
    ("-c:v", "libvvenc", "-preset", "medium", "-period", "3600", "-vvenc-params", "AccessUnitDelimiter=0"),
)
SVTAV1 = FFmpegAnchor(
    "svtav1",
    "AV1 (SVT-AV1 preset 8)",
    "crf",
    (33, 39, 45, 51, 57, 63),
    (45, 54, 63),
    "obu",
    "obu",
    "yuv420p",
    ("-c:v", "libsvtav1", "-preset", "8", "-g", str(KEYINT), "-svtav1-params", "verbosity=0"),
)

# The same encoder in its low-delay structure (pred-struct=1: every frame coded as it comes, no
# reordering, no look-ahead), what a call can use and what the hybrid mode's base layer runs.
SVTAV1_LOW_DELAY = replace(
    SVTAV1,
    name="svtav1_ld",
    label="AV1 (SVT-AV1 preset 8, low delay)",
    encoder_args=("-c:v", "libsvtav1", "-preset", "8", "-g", str(KEYINT), "-svtav1-params", "verbosity=0:pred-struct=1"),
)


@dataclass(frozen=True)
class FrozenFrame:
    """Send frame 0 as a JPEG, repeat it for every frame."""

    name: str = "frozen"
    label: str = "frozen first frame (JPEG)"
    sweep: tuple[int, ...] = (10, 30, 50, 75, 90, 95)
    quick_sweep: tuple[int, ...] = (30, 75, 95)

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of(jpeg_quality=q) for q in (self.quick_sweep if quick else self.sweep)]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        out = out_dir / f"{self.name}_{setting.slug}.jpg"
        t0 = time.perf_counter()
        data = jpeg_encode(ref.frames[0], setting["jpeg_quality"])
        t1 = time.perf_counter()
        first = jpeg_decode(data, ref.size, ref.size)
        decoded = np.repeat(first[None], ref.count, axis=0)
        t2 = time.perf_counter()
        out.write_bytes(data)
        return Coded(out, len(data), decoded, t1 - t0, t2 - t1, bitstream_vmaf=False, parts={"pivot": len(data)})


ANCHORS = {c.name: c for c in (X264, X265, VVENC, SVTAV1, SVTAV1_LOW_DELAY, FrozenFrame())}
