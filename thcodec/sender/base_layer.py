"""The hybrid mode's base layer on the sender: every base_step-th frame of a segment,
down-scaled and coded by SVT-AV1 as it comes (thcodec/media/base_stream.py), as one or two
streams: the face region (BASE), and on whole-frame calls the whole frame (SCNE, the scene
layer: what moves outside the face region, the body, a speaker shifting in the frame).

Each segment has its own streams (a pivot may move the region, and a receiver joining at a
pivot needs a key frame there). Packets wait here until the key-point block that covers their
frames is written: `until(frame)` hands out the chunks of every packet at or before it, so a
receiver always has a frame's base pictures by the time its key points arrive.
"""

from __future__ import annotations

from collections import deque
from contextlib import suppress
from fractions import Fraction

import numpy as np

from thcodec.face.region import Region
from thcodec.format import container as C
from thcodec.media.base_stream import MAX_SIZE, BaseEncoder
from thcodec.options import MIN_SCENE_KBPS, MODEL_SIZE, SCENE_SHARE, EncodeOptions

MAX_PACKETS = 0xFFFF  # per BASE chunk
CBR_OVERSHOOT = 1.1  # achieved / target of SVT-AV1's CBR on face clips (docs/hybrid.md, measured on train clips)


def scene_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The scene layer's picture: the frame scaled so its short side is short_side (its long
    side at most the base codec's MAX_SIZE, for very wide frames), both even."""
    scale = min(short_side / min(width, height), MAX_SIZE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def has_scene_layer(opts: EncodeOptions, width: int, height: int) -> bool:
    """A stream may carry a scene layer (format 3) when the frame is larger than the model's
    face picture and a rate target leaves the scene enough; it does when its first face region
    is not the whole frame."""
    rate_ok = not opts.base_kbps or opts.base_kbps * SCENE_SHARE >= MIN_SCENE_KBPS
    return opts.mode == "hybrid" and opts.scene_size > 0 and max(width, height) > MODEL_SIZE and rate_ok


class LayerStream:
    """One low-delay stream of the base layer: a new encoder per segment, packets held until due."""

    def __init__(self, size, crf: int, kbps: float, rate: Fraction, step: int, kind: type[C.BasePackets]) -> None:
        self.size, self.crf, self._kind, self.step = size, crf, kind, step
        # SVT-AV1's CBR spends more than its target on these small pictures: asked for less, it
        # lands near its target (0: coded at the CRF).
        self.kbps = kbps / CBR_OVERSHOOT
        self._rate = rate
        self._encoder: BaseEncoder | None = None
        self._submitted: deque[int] = deque()  # frames given to the encoder, packets not out yet
        self._ready: list[tuple[int, bytes]] = []  # (frame, packet) waiting for their key points

    def start(self) -> None:
        """A new segment: the old stream ends, a new one begins (key frame)."""
        self.end_segment()
        # The encoder runs at the base frames' rate (fps / step), so the target is per second of call.
        self._encoder = BaseEncoder(self.size, self.crf, self._rate, self.kbps)

    def encode(self, index: int, picture: np.ndarray) -> None:
        self._submitted.append(index)
        self._take(self._encoder.encode(picture))

    def end_segment(self) -> None:
        """The segment's last packets out of the encoder."""
        if self._encoder is not None:
            self._take(self._encoder.flush())
            self._encoder = None

    def discard(self) -> None:
        """An error stopped the call part way: end the encoder's stream, its packets dropped
        (SVT-AV1 complains on stderr of an encoder closed without one)."""
        if self._encoder is not None:
            with suppress(Exception):  # the error that stopped the call is the one to report
                self._encoder.flush()
            self._encoder = None

    def _take(self, packets: list[bytes]) -> None:
        for p in packets:
            self._ready.append((self._submitted.popleft(), p))

    def until(self, frame: int | None) -> list[C.BasePackets]:
        """Chunks of the ready packets of frames <= frame (None: all), in order."""
        n = len(self._ready) if frame is None else sum(1 for i, _ in self._ready if i <= frame)
        due, self._ready = self._ready[:n], self._ready[n:]
        chunks: list[C.BasePackets] = []
        run: list[tuple[int, bytes]] = []
        for item in due:  # a chunk is a run at the base step (a new segment's grid breaks it)
            if run and (item[0] - run[-1][0] != self.step or len(run) == MAX_PACKETS):
                chunks.append(self._chunk(run))
                run = []
            run.append(item)
        if run:
            chunks.append(self._chunk(run))
        return chunks

    def _chunk(self, run: list[tuple[int, bytes]]) -> C.BasePackets:
        return self._kind(first_frame=run[0][0], step=self.step, packets=tuple(p for _, p in run))


class BaseLayerSender:
    def __init__(self, opts: EncodeOptions, fps: Fraction, frame_size: tuple[int, int]) -> None:
        self.step = opts.base_step
        self._rate = Fraction(fps) / self.step
        self._opts, self._frame_size = opts, frame_size
        self.scene: LayerStream | None = None  # made by scene_header, when the call needs one
        share = SCENE_SHARE if has_scene_layer(opts, *frame_size) else 0.0
        self.face = LayerStream(opts.base_size, opts.base_crf, opts.base_kbps * (1 - share), self._rate, self.step, C.BasePackets)
        self._start = 0
        self.next_frame = 0  # the next frame that may be fed (frames come in order)

    def header(self, fusion_sha256: bytes) -> C.BaseHeader:
        crf = 0 if self.face.kbps else self.face.crf  # 0: coded at a target rate, no CRF
        return C.BaseHeader(codec=C.BaseCodec.AV1, size=self.face.size, step=self.step, crf=crf, fusion_sha256=fusion_sha256)

    def scene_header(self, region: Region) -> C.SceneHeader | None:
        """The scene layer's header, before the first pivot (region: its face region), or None
        when the call has no scene layer (the face region is the whole frame)."""
        width, height = self._frame_size
        if not has_scene_layer(self._opts, width, height) or (region.w, region.h) == (width, height):
            return None
        size = scene_size(width, height, self._opts.scene_size)
        self.scene = LayerStream(
            size, self._opts.base_crf, self._opts.base_kbps * SCENE_SHARE, self._rate, self.step, C.ScenePackets
        )
        crf = 0 if self.scene.kbps else self.scene.crf
        return C.SceneHeader(codec=C.BaseCodec.AV1, width=size[0], height=size[1], step=self.step, crf=crf)

    @property
    def _streams(self) -> list[LayerStream]:
        return [self.face] if self.scene is None else [self.face, self.scene]

    def start(self, index: int) -> None:
        """A new segment at frame index: the old streams end, new ones begin (key frames)."""
        for s in self._streams:
            s.start()
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
            self.face.encode(index, region.crop(frame, MODEL_SIZE))
            if self.scene is not None:
                self.scene.encode(index, frame)

    def end_segment(self) -> None:
        for s in self._streams:
            s.end_segment()

    def until(self, frame: int | None) -> list[C.BasePackets]:
        """BASE (then SCNE) chunks of the ready packets of frames <= frame (None: all)."""
        return [c for s in self._streams for c in s.until(frame)]

    def close(self) -> None:
        """The encoders' streams ended (after `end_segment` there is nothing left to end)."""
        for s in self._streams:
            s.discard()
