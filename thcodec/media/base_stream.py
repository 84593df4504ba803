"""The hybrid mode's base layer: a small classical video stream of the face region.

The sender down-scales the face region (already cropped to the model's 256x256) to a base size
(64-128 px) and codes it with SVT-AV1 in its low-delay structure (one packet per frame, no
look-ahead, no reordering); the receiver decodes the packets with dav1d and up-scales them
back. Both codecs come with PyAV's wheel. Packets are the encoder's raw AV1 OBUs (the
low-overhead format), so no container framing is paid per frame; the `.thc` chunk around
them carries the frame index.
"""

from __future__ import annotations

import functools
import os
from fractions import Fraction

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from thcodec.errors import ThcError

CODEC_AV1 = 1  # the only base codec of format 2 (id written in the BASE header chunk)
MIN_SIZE, MAX_SIZE = 16, 256
MIN_CRF, MAX_CRF = 1, 63
# SVT-AV1's speed preset. At 64-128 px a picture takes milliseconds even at the slower presets,
# and they code it better at the same rate (docs/hybrid.md, "A slower base-layer preset" and
# "Preset 3").
PRESET = 3
# pred-struct=1: low delay, every frame coded as it comes, in order. lp=1: one thread of its own; at
# 64-128 px more only contend with the networks' for the two cores (the same bytes, a faster
# sender: docs/hybrid.md, "Preset 3").
_SVT_PARAMS = "pred-struct=1:lp=1"
# A target rate takes CBR: SVT-AV1 refuses VBR in the low-delay structure (and PyAV's bit_rate
# alone asks for VBR, so the mode is named here).
_SVT_CBR_PARAMS = _SVT_PARAMS + ":rc=2"
MIN_KBPS = 0.5


def dimensions(size: int | tuple[int, int]) -> tuple[int, int]:
    """A base picture's (width, height): a side for the square face layer, or both for the scene layer."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def downscale(picture: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """(H,W,3) uint8 -> the base picture's size, uint8 (bicubic, as the bench's scaled anchors)."""
    width, height = dimensions(size)
    if picture.shape[0] == height and picture.shape[1] == width:
        return picture
    return np.asarray(Image.fromarray(picture).resize((width, height), Image.BICUBIC))


@functools.lru_cache(maxsize=8)
def _bicubic_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in): torch's bicubic resampling of one axis as a matrix, read off an identity
    picture (its other axis keeps its size, where the bicubic kernel is the identity)."""
    eye = torch.eye(n_in)[None, None]
    return F.interpolate(eye, size=(n_out, n_in), mode="bicubic", align_corners=False)[0, 0]


def upscale(small: torch.Tensor, size: int) -> torch.Tensor:
    """(B,3,s,s) in [0,1] -> (B,3,size,size) bicubic, clamped to [0,1].

    Two matrix products, one per axis: F.interpolate's bicubic to float rounding, and several
    times faster than it on a CPU (docs/speed.md)."""
    if small.shape[-1] == size:
        return small
    rows = _bicubic_matrix(small.shape[-2], size).to(small.dtype)
    cols = _bicubic_matrix(small.shape[-1], size).to(small.dtype)
    return (rows @ small @ cols.T).clamp(0, 1)


class BaseEncoder:
    """Frames in, AV1 packets out, one packet per frame (low delay).

    kbps > 0: coded at that target rate (CBR) instead of at crf; rate is the frames' rate, which
    the target is spread over (a base layer of every n-th frame is coded at fps/n)."""

    def __init__(self, size: int | tuple[int, int], crf: int, rate: Fraction, kbps: float = 0.0) -> None:
        width, height = dimensions(size)
        for side in (width, height):
            if not MIN_SIZE <= side <= MAX_SIZE or side % 2:
                raise ThcError(f"base size {side} must be even and within {MIN_SIZE}-{MAX_SIZE}")
        if kbps and kbps < MIN_KBPS:
            raise ThcError(f"base rate {kbps:g} kbit/s is under {MIN_KBPS:g}")
        if not kbps and not MIN_CRF <= crf <= MAX_CRF:
            raise ThcError(f"base CRF {crf} must be within {MIN_CRF}-{MAX_CRF}")
        self.size = size
        # SVT-AV1 prints its configuration to stderr unless SVT_LOG says otherwise (it reads no
        # option for it): errors only, unless the user set it.
        os.environ.setdefault("SVT_LOG", "1")
        ctx = av.CodecContext.create("libsvtav1", "w")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = 1 / Fraction(rate)
        ctx.framerate = Fraction(rate)
        ctx.gop_size = 1 << 30  # one key frame: the pivots already restart the picture
        if kbps:
            ctx.bit_rate = round(kbps * 1000)
            ctx.options = {"preset": str(PRESET), "svtav1-params": _SVT_CBR_PARAMS}
        else:
            ctx.options = {"crf": str(crf), "preset": str(PRESET), "svtav1-params": _SVT_PARAMS}
        self._ctx = ctx
        self._pts = 0

    def encode(self, picture: np.ndarray) -> list[bytes]:
        """picture: (H,W,3) uint8, the face region or the whole frame -> the packets now ready."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(downscale(picture, self.size)), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        return [bytes(p) for p in self._ctx.encode(frame)]

    def flush(self) -> list[bytes]:
        return [bytes(p) for p in self._ctx.encode(None)]


class BaseDecoder:
    """AV1 packets in, (s,s,3) uint8 frames out."""

    def __init__(self) -> None:
        self._ctx = av.CodecContext.create("libdav1d", "r")
        self._ctx.options = {"max_frame_delay": "1"}  # a picture per packet, at once (frame threading holds two back)

    def decode(self, packet: bytes) -> list[np.ndarray]:
        try:
            frames = self._ctx.decode(av.Packet(packet))
        except av.error.FFmpegError as e:
            raise ThcError(f"damaged file: base-layer packet cannot be decoded ({e})") from None
        return [f.to_ndarray(format="rgb24") for f in frames]

    def flush(self) -> list[np.ndarray]:
        try:
            return [f.to_ndarray(format="rgb24") for f in self._ctx.decode(None)]
        except av.error.FFmpegError:
            return []


def code_sequence(
    faces: list[np.ndarray] | np.ndarray, size: int | tuple[int, int], crf: int, rate: Fraction, kbps: float = 0.0
) -> tuple[list[bytes], list[np.ndarray]]:
    """Code a run of faces as the sender would -> (packets, decoded (s,s,3) frames), one each."""
    enc, dec = BaseEncoder(size, crf, rate, kbps), BaseDecoder()
    packets: list[bytes] = []
    for face in faces:
        packets += enc.encode(face)
    packets += enc.flush()
    decoded: list[np.ndarray] = []
    for p in packets:
        decoded += dec.decode(p)
    decoded += dec.flush()
    if len(decoded) != len(faces):
        raise ThcError(f"base layer: {len(faces)} frames coded, {len(decoded)} decoded")
    return packets, decoded
