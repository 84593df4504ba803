"""Receiver: .thc stream -> frames (and audio packets), one segment's pivot at a time.

`decode_stream` yields events in time order: a `Start` once the stream's set-up is known,
then `Frame`s and `AudioPacketData`s. `decode_file` writes them to an MP4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import torch

from thcodec import container as C
from thcodec import keypoints as kpq
from thcodec.errors import ThcError
from thcodec.face_region import Region, feather_mask, paste
from thcodec.frames import jpeg_decode, resize, to_tensor, to_uint8
from thcodec.keypoints import Keypoints
from thcodec.options import MODEL_SIZE
from thcodec.video_io import AudioConfig, AudioPacketData, VideoWriter
from thcodec.weights import LoadedModel

BATCH = 8  # frames animated together


@dataclass(frozen=True)
class Start:
    header: C.StreamHeader
    audio: AudioConfig | None

    @property
    def fps(self) -> Fraction:
        return Fraction(self.header.fps_num, self.header.fps_den)


@dataclass(frozen=True)
class Frame:
    index: int
    rgb: np.ndarray  # (H,W,3) uint8 at the stream's size


class _Segment:
    """One pivot: its background, its model-size tensor and its key points."""

    def __init__(self, loaded: LoadedModel, header: C.StreamHeader, pivot: C.Pivot) -> None:
        self.start = pivot.frame_index
        self.background = jpeg_decode(pivot.jpeg, header.width, header.height)
        r = Region(pivot.x, pivot.y, pivot.w, pivot.h)
        if r.x + r.w > header.width or r.y + r.h > header.height:
            raise ThcError("damaged file: pivot region lies outside the frame")
        self.region = r
        self.image = to_tensor(r.crop(self.background, header.model_size))
        self.keypoints = loaded.model.detect_keypoints(self.image)
        whole = (r.w, r.h) == (header.width, header.height)
        self.mask = None if whole else feather_mask(r.w, r.h, max(2, r.w // 24))

    def render(self, loaded: LoadedModel, kp: Keypoints) -> list[np.ndarray]:
        """Frames for the (B,K) driving key points kp."""
        b = kp.xy.shape[0]
        pivot = self.image.expand(b, -1, -1, -1)
        pivot_kp = self.keypoints.expand(b)
        out = to_uint8(loaded.model.animate(pivot, pivot_kp, kp))
        frames = []
        for img in out:
            patch = resize(img, self.region.w, self.region.h)
            frames.append(paste(self.background, patch, self.region, self.mask))
        return frames


def _check_header(h: C.StreamHeader, loaded: LoadedModel) -> None:
    if h.model_id != loaded.model_id or h.weights_sha256 != loaded.weights_sha256:
        raise ThcError(
            f"made with model {h.model_id} (weights {h.weights_sha256.hex()[:12]}), "
            f"this thcodec has {loaded.model_id} (weights {loaded.weights_sha256.hex()[:12]})"
        )
    if h.num_kp != loaded.model.num_kp or h.model_size != MODEL_SIZE:
        raise ThcError(f"unsupported stream: {h.num_kp} key points at {h.model_size}px")


def decode_stream(f: BinaryIO, loaded: LoadedModel) -> Iterator[Start | Frame | AudioPacketData]:
    header: C.StreamHeader | None = None
    audio: AudioConfig | None = None
    started = False
    segment: _Segment | None = None
    prev_fields: np.ndarray | None = None
    last_kp: tuple[int, np.ndarray] | None = None  # (frame index, fields) of the last key-point frame
    next_frame = 0

    def schedule(indices: list[int], block: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray, float]]:
        """(frame, fields before, fields after, t) for frames next_frame..indices[-1], lazily:
        between sent frames the key points are interpolated linearly."""
        nonlocal next_frame, last_kp
        for index, fields in zip(indices, block):
            if index < next_frame:
                raise ThcError(f"damaged file: key points for frame {index} out of order")
            if last_kp is not None and last_kp[0] >= segment.start:
                i0, f0 = last_kp
            else:
                i0, f0 = index, fields
            if header.frame_count and index >= 2 * header.frame_count + 250:
                # HEAD's count is the sender's estimate; a gap this far past it is damage, and
                # filling it would keep the decoder busy for hours.
                raise ThcError(f"damaged file: key points for frame {index}, the stream announced {header.frame_count}")
            for i in range(next_frame, index + 1):
                yield i, f0, fields, (i - i0) / max(1, index - i0)
                next_frame = i + 1
            last_kp = (index, fields)

    def render(todo: list[tuple[int, np.ndarray, np.ndarray, float]]) -> Iterator[Frame]:
        xy, jac = [], []
        for _, f0, f1, t in todo:
            (xy0, j0), (xy1, j1) = kpq.dequantize(f0[None]), kpq.dequantize(f1[None])
            xy.append(xy0 + t * (xy1 - xy0))
            jac.append(j0 + t * (j1 - j0))
        kp = Keypoints.from_numpy(np.concatenate(xy), np.concatenate(jac))
        for (i, *_), rgb in zip(todo, segment.render(loaded, kp)):
            yield Frame(i, rgb)

    def frames_for_block(indices: list[int], block: np.ndarray) -> Iterator[Frame]:
        todo = []
        for item in schedule(indices, block):
            todo.append(item)
            if len(todo) == BATCH:
                yield from render(todo)
                todo = []
        if todo:
            yield from render(todo)

    with torch.inference_mode():
        for chunk, _ in C.read_chunks(f):
            if isinstance(chunk, C.StreamHeader):
                _check_header(chunk, loaded)
                header = chunk
                continue
            if isinstance(chunk, C.AudioHeader):
                if started:
                    raise ThcError("damaged file: audio header after the stream started")
                if chunk.sample_rate != 48000 or chunk.channels not in (1, 2):
                    raise ThcError(f"unsupported audio: {chunk.sample_rate} Hz, {chunk.channels} channels (Opus at 48 kHz, 1-2 channels)")
                tb = Fraction(chunk.time_base_num, chunk.time_base_den)
                audio = AudioConfig("opus", chunk.sample_rate, chunk.channels, tb, chunk.extradata)
                continue
            if not started:
                started = True
                yield Start(header, audio)
            if isinstance(chunk, C.AudioPackets):
                if audio is None:
                    raise ThcError("damaged file: audio packet without an audio header")
                for pts, duration, data in chunk.with_pts():
                    yield AudioPacketData(pts, duration, data)
            elif isinstance(chunk, C.Pivot):
                if chunk.frame_index != next_frame:
                    raise ThcError(f"damaged file: pivot for frame {chunk.frame_index}, expected {next_frame}")
                segment = _Segment(loaded, header, chunk)
                prev_fields = None
            elif isinstance(chunk, C.KeypointBlock):
                if segment is None:
                    raise ThcError("damaged file: key points before any pivot")
                prev = prev_fields if chunk.predicted else None
                if chunk.predicted and prev is None:
                    raise ThcError("damaged file: predicted key-point block without a previous block")
                fields = kpq.decompress_block(chunk.data, chunk.count, header.num_kp, prev)
                indices = [chunk.first_frame + n * chunk.step for n in range(chunk.count)]
                yield from frames_for_block(indices, fields)
                if chunk.count:
                    prev_fields = fields[-1]
            elif isinstance(chunk, C.End):
                if chunk.frame_count != next_frame:
                    raise ThcError(f"damaged file: {next_frame} frames decoded, END says {chunk.frame_count}")
            # PivotSwitch only names the reason for the pivot that follows.


def decode_file(
    src: Path,
    out: Path,
    loaded: LoadedModel,
    on_start: Callable[[int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    with_audio: bool = True,
) -> int:
    """Decode src (.thc) into the video file `out` (its suffix picks the container)."""
    writer: VideoWriter | None = None
    frames = 0
    try:
        f = open(src, "rb")
    except OSError as e:
        raise ThcError(f"cannot read {src}: {e.strerror or e}") from None
    try:
        with f:
            for event in decode_stream(f, loaded):
                if isinstance(event, Start):
                    h = event.header
                    if on_start:
                        on_start(h.frame_count)
                    writer = VideoWriter(out, h.width, h.height, event.fps, event.audio if with_audio else None)
                elif isinstance(event, Frame):
                    writer.write_frame(event.rgb)
                    frames += 1
                    if on_frames:
                        on_frames(1)
                elif with_audio:
                    try:
                        writer.write_audio(event)
                    except OSError:
                        raise  # a write error (disk full): atomic_output reports it
                    except av.error.FFmpegError as e:
                        raise ThcError(f"damaged file: audio packet at {event.pts} cannot be decoded ({e})") from None
        if frames == 0:
            raise ThcError(f"{src}: stream holds no frames")
        writer.close()
        writer = None
    finally:
        if writer is not None:
            writer.close(flush=False)
    return frames
