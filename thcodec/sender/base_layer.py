"""The hybrid mode's base layer on the sender: the face region of every base_step-th frame of
a segment, down-scaled and coded by SVT-AV1 as it comes (thcodec/media/base_stream.py).

Each segment has its own base stream (a pivot may move the region, and a receiver joining at a
pivot needs a key frame there). Packets wait here until the key-point block that covers their
frames is written: `until(frame)` hands out BASE chunks of every packet at or before it, so a
receiver always has a frame's base picture by the time its key points arrive.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import numpy as np

from thcodec.face.region import Region
from thcodec.format import container as C
from thcodec.media.base_stream import BaseEncoder
from thcodec.options import MODEL_SIZE, EncodeOptions

MAX_PACKETS = 0xFFFF  # per BASE chunk
CBR_OVERSHOOT = 1.1  # achieved / target of SVT-AV1's CBR on face clips (docs/hybrid.md, measured on train clips)


class BaseLayerSender:
    def __init__(self, opts: EncodeOptions, fps: Fraction) -> None:
        self._size, self._crf, self.step = opts.base_size, opts.base_crf, opts.base_step
        # SVT-AV1's CBR spends more than its target on these small pictures: asked for less, it
        # lands near --base-kbps (0: coded at the CRF).
        self._kbps = opts.base_kbps / CBR_OVERSHOOT
        self._rate = Fraction(fps) / self.step
        self._encoder: BaseEncoder | None = None
        self._start = 0
        self._submitted: deque[int] = deque()  # frames given to the encoder, packets not out yet
        self._ready: list[tuple[int, bytes]] = []  # (frame, packet) waiting for their key points
        self.next_frame = 0  # the next frame that may be fed (frames come in order)

    def header(self, fusion_sha256: bytes) -> C.BaseHeader:
        crf = 0 if self._kbps else self._crf  # 0: coded at a target rate, no CRF
        return C.BaseHeader(codec=C.BaseCodec.AV1, size=self._size, step=self.step, crf=crf, fusion_sha256=fusion_sha256)

    def start(self, index: int) -> None:
        """A new segment at frame index: the old base stream ends, a new one begins (key frame)."""
        self.end_segment()
        # The encoder runs at the base frames' rate (fps / step), so the target is per second of call.
        self._encoder = BaseEncoder(self._size, self._crf, self._rate, self._kbps)
        self._start = index
        self.next_frame = index

    def feed(self, items: list[tuple[int, np.ndarray]], region: Region) -> None:
        """Frames (index, full picture) of the current segment, in order; those on the segment's
        base grid are coded. Frames already fed are skipped (callers may pass overlapping runs)."""
        for index, frame in items:
            if index < self.next_frame:
                continue
            self.next_frame = index + 1
            if (index - self._start) % self.step:
                continue
            self._submitted.append(index)
            self._take(self._encoder.encode(region.crop(frame, MODEL_SIZE)))

    def end_segment(self) -> None:
        """The segment's last packets out of the encoder."""
        if self._encoder is not None:
            self._take(self._encoder.flush())
            self._encoder = None

    def _take(self, packets: list[bytes]) -> None:
        for p in packets:
            self._ready.append((self._submitted.popleft(), p))

    def until(self, frame: int | None) -> list[C.BasePackets]:
        """BASE chunks of the ready packets of frames <= frame (None: all), in order."""
        n = len(self._ready) if frame is None else sum(1 for i, _ in self._ready if i <= frame)
        due, self._ready = self._ready[:n], self._ready[n:]
        chunks: list[C.BasePackets] = []
        run: list[tuple[int, bytes]] = []
        for item in due:  # a chunk is a run at the base step (a new segment's grid breaks it)
            if run and (item[0] - run[-1][0] != self.step or len(run) == MAX_PACKETS):
                chunks.append(_chunk(run, self.step))
                run = []
            run.append(item)
        if run:
            chunks.append(_chunk(run, self.step))
        return chunks


def _chunk(run: list[tuple[int, bytes]], step: int) -> C.BasePackets:
    return C.BasePackets(first_frame=run[0][0], step=step, packets=tuple(p for _, p in run))
