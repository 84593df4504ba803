"""Sender: video file -> .thc stream (one pivot, then key points for every kept frame)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from thcodec import container as C
from thcodec import keypoints as kpq
from thcodec.errors import ThcError
from thcodec.face_region import FaceFinder, Region, choose_region
from thcodec.frames import jpeg_encode, to_tensor
from thcodec.options import MODEL_SIZE, EncodeOptions
from thcodec.video_io import AudioPacketData, VideoReader, encode_audio
from thcodec.weights import LoadedModel


@dataclass
class EncodeResult:
    frames: int = 0
    duration_s: float = 0.0
    bytes_total: int = 0
    bytes_by_type: dict[str, int] = field(default_factory=dict)
    region: Region | None = None
    warnings: list[str] = field(default_factory=list)


AUDIO_CHUNK_S = 1.0  # an AUDI chunk is closed once it holds this much audio (so at most 1 s + one packet)


class _AudioInterleaver:
    """Writes audio packets up to a point in time, so chunks stay in time order.

    The packets due at each call are grouped into AudioPackets chunks: a chunk is a run of
    packets each starting where the previous one ends, closed once it holds AUDIO_CHUNK_S of
    audio, so the 24 bytes of chunk and timing overhead are paid about once a second instead
    of once per packet.
    """

    def __init__(self, writer: C.ContainerWriter, time_base: Fraction, packets: Iterator[AudioPacketData]) -> None:
        self._w, self._tb, self._it = writer, time_base, packets
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
        self._w.write(C.AudioPackets(pts=run[0].pts, packets=tuple((p.duration, p.data) for p in run)))


class _KeypointBlocks:
    """Collects the kept frames' quantized key points and writes them as KPTS blocks."""

    def __init__(self, writer: C.ContainerWriter, step: int, block: int) -> None:
        self._w, self._step, self._block = writer, step, block
        self._frames: list[int] = []
        self._fields: list[np.ndarray] = []
        self._prev: np.ndarray | None = None

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
        flags = C.KPTS_FLAG_PREDICTED if self._prev is not None else 0
        data = kpq.compress_block(f, self._prev)
        self._w.write(C.KeypointBlock(first_frame=self._frames[0], count=len(self._frames), step=self._step, flags=flags, data=data))
        self._prev = f[-1]
        self._frames, self._fields = [], []


def _start_segment(writer: C.ContainerWriter, frame: np.ndarray, opts: EncodeOptions, warnings: list[str]) -> Region:
    """Choose the face region on this frame and send the frame as the pivot."""
    face = FaceFinder().largest_face(frame)
    region = choose_region(frame.shape[1], frame.shape[0], face)
    if face is None:
        warnings.append("no face found in the first frame: the whole frame is the region")
    writer.write(C.PivotSwitch(frame_index=0, reason=C.SwitchReason.START))
    jpeg = jpeg_encode(frame, opts.pivot_quality)
    writer.write(C.Pivot(frame_index=0, x=region.x, y=region.y, w=region.w, h=region.h, jpeg=jpeg))
    return region


def encode(
    src: Path,
    out: BinaryIO,
    loaded: LoadedModel,
    opts: EncodeOptions,
    on_frames: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> EncodeResult:
    """Encode the video at src into the .thc stream `out`. on_start(frame estimate), on_frames(n)."""
    result = EncodeResult()
    writer = C.ContainerWriter(out)
    with VideoReader(src) as reader, torch.inference_mode():
        info = reader.info
        if on_start:
            on_start(info.frame_count)
        writer.write_header(
            C.StreamHeader(
                width=info.width,
                height=info.height,
                fps_num=info.fps.numerator,
                fps_den=info.fps.denominator,
                frame_count=info.frame_count,
                model_size=MODEL_SIZE,
                num_kp=loaded.model.num_kp,
                interp=opts.interp,
                model_id=loaded.model_id,
                weights_sha256=loaded.weights_sha256,
            )
        )
        audio = encode_audio(src, opts.audio_bitrate) if (opts.audio and info.has_audio) else None
        if audio is not None:
            cfg, packets = audio
            writer.write(C.AudioHeader(codec=C.AudioCodec.OPUS, sample_rate=cfg.sample_rate, channels=cfg.channels,
                                       time_base_num=cfg.time_base.numerator, time_base_den=cfg.time_base.denominator,
                                       extradata=cfg.extradata))
            interleave = _AudioInterleaver(writer, cfg.time_base, packets)
        else:
            interleave = None
        blocks = _KeypointBlocks(writer, opts.interp, opts.block_frames)
        region: Region | None = None
        batch: list[tuple[int, np.ndarray]] = []
        last_index, last_crop = -1, None

        def detect(items: list[tuple[int, np.ndarray]]) -> None:
            kp = loaded.model.detect_keypoints(to_tensor(np.stack([c for _, c in items])))
            fields = kpq.quantize(*kp.numpy())
            for (i, _), f in zip(items, fields):
                blocks.add(i, f)

        for index, frame in enumerate(reader):
            if region is None:
                region = result.region = _start_segment(writer, frame, opts, result.warnings)
            crop = region.crop(frame, MODEL_SIZE)
            if index % opts.interp == 0:
                batch.append((index, crop))
                last_crop = None
            else:
                last_crop = crop  # kept only if this turns out to be the last frame
            last_index = index
            if len(batch) == opts.block_frames:
                if interleave:
                    interleave.until(batch[-1][0] / info.fps)
                detect(batch)
                batch = []
            if on_frames:
                on_frames(1)
        if last_index < 0:
            raise ThcError(f"{src}: no picture could be decoded")
        if last_crop is not None:
            batch.append((last_index, last_crop))
        if batch:
            if interleave:
                interleave.until(batch[-1][0] / info.fps)
            detect(batch)
        blocks.flush()
        if interleave:
            interleave.until(None)
        writer.write(C.End(frame_count=last_index + 1))
    result.frames = last_index + 1
    result.duration_s = float(result.frames / info.fps)
    result.bytes_total = writer.bytes_written
    result.bytes_by_type = dict(writer.bytes_by_type)
    return result
