"""The pivot picture's two codecs: baseline JPEG (every format) and one AV1 key frame (format 2).

A pivot is the one picture of the speaker a segment has, and on a short call it is most of the
stream. SVT-AV1's intra coding reaches the PSNR of our JPEG at a given quality in about half
the bytes up to quality 70 (docs/pivot_image.md), so `--pivot-codec av1` maps `--pivot-quality`
to the CRF that gives the same PSNR and the quality knob keeps its meaning.

The stream tells the two apart by their first bytes (thcodec/format/container.py: Pivot.codec).
Both decoders are given the size the stream's HEAD declares as a hard limit before they decode
a pixel."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

from thcodec.errors import ThcError
from thcodec.media.frames import jpeg_decode, jpeg_encode

PIVOT_CODECS = ("jpeg", "av1")
AV1_PRESET = 8  # a pivot is one picture a segment: a slower preset costs little time
# --pivot-quality -> CRF with the same mean PSNR as our JPEG at that quality, measured on the
# first frames of five th256 clips (docs/pivot_image.md).
_QUALITY = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
_CRF = (63, 63, 55, 45, 39, 35, 31, 27, 21, 11, 1, 0)


def av1_crf(quality: int) -> int:
    """The AV1 CRF that matches a JPEG of this quality (1-100) in PSNR."""
    return int(round(float(np.interp(quality, _QUALITY, _CRF))))


def encode_pivot(frame: np.ndarray, quality: int, codec: str) -> bytes:
    """(H,W,3) uint8 -> the pivot's bytes in `codec` ("jpeg" or "av1") at JPEG-like `quality`."""
    if codec == "jpeg":
        return jpeg_encode(frame, quality, restart=True)  # restart markers: a damaged byte spoils one strip
    if codec != "av1":
        raise ValueError(f"unknown pivot codec {codec!r}")
    return av1_still(frame, av1_crf(quality))


def av1_still(frame: np.ndarray, crf: int) -> bytes:
    """(H,W,3) uint8 -> one AV1 key frame at this CRF (SVT-AV1, 4:2:0), low-overhead OBUs."""
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration banner otherwise
    h, w = frame.shape[:2]
    ctx = av.CodecContext.create("libsvtav1", "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, 25)
    ctx.options = {"crf": str(crf), "preset": str(AV1_PRESET)}
    picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(format="yuv420p")
    picture.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(picture), *ctx.encode(None)])


def decode_pivot(data: bytes, codec: str, width: int, height: int) -> np.ndarray:
    """A pivot's bytes in `codec` -> (height,width,3) uint8; another size is damage."""
    if codec == "jpeg":
        return jpeg_decode(data, width, height)
    if codec != "av1":
        raise ThcError(f"damaged file: pivot image in an unknown codec ({codec})")
    ctx = av.CodecContext.create("libdav1d", "r")
    # dav1d refuses a frame larger than this before allocating it; one thread: a single picture.
    ctx.options = {"max_pixels": str(width * height), "max_frame_delay": "1", "threads": "1"}
    try:
        frames = [*ctx.decode(av.Packet(data)), *ctx.decode(None)]
    except (av.error.FFmpegError, ValueError) as e:
        raise ThcError(f"damaged file: pivot image cannot be decoded ({e})") from None
    if len(frames) != 1:
        raise ThcError(f"damaged file: pivot image holds {len(frames)} pictures, expected 1")
    if (frames[0].width, frames[0].height) != (width, height):
        raise ThcError(f"damaged file: pivot image is {frames[0].width}x{frames[0].height}, expected {width}x{height}")
    return frames[0].to_ndarray(format="rgb24")
