"""The sender's output: chunks written in time order, audio interleaved with the pictures'
chunks, the kept frames' key points gathered into KPTS blocks; every chunk's size and time
reported (to the rate controller's ledger)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np

from thcodec.face.region import Region
from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.format.rate import chunk_time
from thcodec.media.video_io import AudioPacketData
from thcodec.sender.base_layer import BaseLayerSender

AUDIO_CHUNK_S = 1.0  # an AUDI chunk is closed once it holds this much audio (so at most 1 s + one packet)

Written = Callable[[float, int, bool], None]  # (stream time s, bytes, is a pivot chunk)


class AudioInterleaver:
    """Writes audio packets up to a point in time, so chunks stay in time order.

    The packets due at each call are grouped into AudioPackets chunks: a chunk is a run of
    packets each starting where the previous one ends, closed once it holds AUDIO_CHUNK_S of
    audio, so the 24 bytes of chunk and timing overhead are paid about once a second instead
    of once per packet.
    """

    def __init__(self, emit: Callable[[object], None], time_base: Fraction, packets: Iterator[AudioPacketData]) -> None:
        self._emit, self._tb, self._it = emit, time_base, packets
        self._pending: AudioPacketData | None = next(self._it, None)
        self._chunk_span = max(1, round(Fraction(AUDIO_CHUNK_S) / time_base))  # in time-base units

    def until(self, seconds: float | None) -> None:
        run: list[AudioPacketData] = []
        span = 0
        while self._pending is not None and (seconds is None or self._pending.pts * self._tb < seconds):
            p = self._pending
            if run and (p.pts != run[-1].pts + run[-1].duration or span >= self._chunk_span or len(run) == 0xFFFF):
                self._write(run)
                run, span = [], 0
            run.append(p)
            span += p.duration
            self._pending = next(self._it, None)
        if run:
            self._write(run)

    def _write(self, run: list[AudioPacketData]) -> None:
        self._emit(C.AudioPackets(pts=run[0].pts, packets=tuple((p.duration, p.data) for p in run)))


class KeypointBlocks:
    """Collects the kept frames' quantized key points and writes them as KPTS blocks.
    independent_every: every n-th block of a segment is coded on its own (not predicted from the
    block before), so a lost block costs frames only up to the next such block; 0: only the first."""

    def __init__(self, emit: Callable[[object], None], step: int, block: int, independent_every: int = 0) -> None:
        self._emit, self._step, self._block, self._every = emit, step, block, independent_every
        self._frames: list[int] = []
        self._fields: list[np.ndarray] = []
        self._prev: np.ndarray | None = None
        self._in_segment = 0  # blocks written in the current segment

    def add(self, index: int, fields: np.ndarray) -> None:
        # A block is a run at a fixed step; the segment's last frame may break the run.
        if self._frames and index - self._frames[-1] != self._step:
            self.flush()
        self._frames.append(index)
        self._fields.append(fields)
        if len(self._frames) == self._block:
            self.flush()

    def flush(self) -> None:
        if not self._frames:
            return
        f = np.stack(self._fields)
        if self._every and self._in_segment % self._every == 0:
            self._prev = None
        self._in_segment += 1
        flags = C.KPTS_FLAG_PREDICTED if self._prev is not None else 0
        data = kpq.compress_block(f, self._prev)
        self._emit(C.KeypointBlock(first_frame=self._frames[0], count=len(self._frames), step=self._step, flags=flags, data=data))
        self._prev = f[-1]
        self._frames, self._fields = [], []

    def end_segment(self) -> None:
        """Before a new pivot: the receiver predicts nothing across it."""
        self.flush()
        self._prev = None
        self._in_segment = 0


class ChunkWriter:
    """Everything the sender writes after the stream header, in stream order."""

    def __init__(
        self,
        writer: C.ContainerWriter,
        fps: Fraction,
        interp: int,
        block_frames: int,
        written: Written,
        base: BaseLayerSender | None = None,
        independent_every: int = 0,
    ) -> None:
        self._writer, self._fps, self._written, self._base = writer, fps, written, base
        self.audio_tb: Fraction | None = None
        self._interleave: AudioInterleaver | None = None
        self._blocks = KeypointBlocks(self.emit, interp, block_frames, independent_every)

    def set_audio(self, header: C.AudioHeader, packets: Iterator[AudioPacketData]) -> None:
        self.emit(header)
        self.audio_tb = Fraction(header.time_base_num, header.time_base_den)
        self._interleave = AudioInterleaver(self.emit, self.audio_tb, packets)

    def emit(self, chunk, end_s: float = 0.0) -> None:
        if isinstance(chunk, C.KeypointBlock):  # base pictures and audio up to the block's last frame go first
            last = chunk.first_frame + (chunk.count - 1) * chunk.step
            self._base_until(last)
            self.audio_until(last)
        before = self._writer.bytes_written
        self._writer.write(chunk)
        t = chunk_time(chunk, self._fps, self.audio_tb, end_s)
        self._written(t, self._writer.bytes_written - before, isinstance(chunk, (C.Pivot, C.PivotSwitch)))

    def audio_until(self, index: int | None) -> None:
        """Audio up to frame index (None: all the rest)."""
        if self._interleave:
            self._interleave.until(None if index is None else index / self._fps)

    def _base_until(self, index: int | None) -> None:
        if self._base is not None:
            for chunk in self._base.until(index):
                self.emit(chunk)

    def keypoints(self, index: int, fields: np.ndarray) -> None:
        """The quantized key points (K,F) of kept frame index."""
        self._blocks.add(index, fields)

    def pivot(self, index: int, reason: C.SwitchReason, region: Region, image: bytes) -> None:
        """A new pivot at frame index: the old segment's blocks end, audio due before it goes first."""
        if self._base is not None:
            self._base.end_segment()
        self._blocks.end_segment()
        self._base_until(None)
        if index:  # (at 0, Opus priming would split a chunk)
            self.audio_until(index)
        self.emit(C.PivotSwitch(frame_index=index, reason=reason))
        self.emit(C.Pivot(frame_index=index, x=region.x, y=region.y, w=region.w, h=region.h, image=image))
        if self._base is not None:
            self._base.start(index)

    def end(self, frame_count: int) -> None:
        """The last blocks, the rest of the audio, and END."""
        if self._base is not None:
            self._base.end_segment()
        self._blocks.flush()
        self._base_until(None)
        self.audio_until(None)
        self.emit(C.End(frame_count=frame_count), end_s=float(frame_count / self._fps))
