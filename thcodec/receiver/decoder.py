"""Receiver: .thc stream -> frames (and audio packets), one segment's pivot at a time.

`decode_stream` yields events in time order: a `Start` once the stream's set-up is known,
then `Frame`s and `AudioPacketData`s. `decode_file` writes them to an MP4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, ClassVar

import av
import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.media.video_io import AudioConfig, AudioPacketData, VideoWriter
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import LoadedModel
from thcodec.options import MODEL_SIZE
from thcodec.receiver.base_layer import BaseLayerReceiver
from thcodec.receiver.segment import PivotSegment, SegmentRenderer
from thcodec.receiver.timeline import KeypointTimeline, Ready

BATCH = 8  # frames animated together
FADE_FRAMES = 8  # a pivot refresh (not a cut) blends in over this many frames
_FADE_REASONS = (C.SwitchReason.QUALITY, C.SwitchReason.MAX_INTERVAL, C.SwitchReason.FACE_LEFT)


@dataclass(frozen=True)
class Start:
    header: C.StreamHeader
    audio: AudioConfig | None
    size: tuple[int, int]  # (width, height) of the frames that follow

    @property
    def fps(self) -> Fraction:
        return Fraction(self.header.fps_num, self.header.fps_den)


@dataclass(frozen=True)
class Frame:
    index: int
    rgb: np.ndarray  # (H,W,3) uint8 at the output size (Start.size)


class Receiver:
    """Turns a stream's chunks, in order, into events: one method per chunk type, each a
    generator of the events that chunk makes (frames come out as soon as their key points are
    known; a refreshed pivot fades in over FADE_FRAMES)."""

    def __init__(self, loaded: LoadedModel, interp_method: str = "net", sr: str = "net", size: tuple[int, int] | None = None) -> None:
        self._loaded, self._sr, self._size = loaded, sr, size
        self.header: C.StreamHeader | None = None
        self.audio: AudioConfig | None = None
        self.started = False
        self._segment: SegmentRenderer | None = None
        self._fade_from: SegmentRenderer | np.ndarray | None = None  # what a refresh blends in from (see _render)
        self._last_rgb: np.ndarray | None = None  # the last frame yielded
        self._reason = C.SwitchReason.START
        self._switch_at: int | None = None  # frame of the last SWCH, until its PIVT
        self._prev_fields: np.ndarray | None = None
        self._base: BaseLayerReceiver | None = None  # the hybrid mode's base layer (format 2)
        self._timeline = KeypointTimeline(loaded.interpolator if interp_method == "net" else None)

    def on_chunk(self, chunk: C.Chunk) -> Iterator[Start | Frame | AudioPacketData]:
        if isinstance(chunk, C.StreamHeader):
            return self.on_header(chunk)
        if isinstance(chunk, C.AudioHeader):
            return self.on_audio_header(chunk)
        if isinstance(chunk, C.BaseHeader):  # set-up, like the audio header
            return self.on_base_header(chunk)
        return self._after_setup(chunk)

    def _after_setup(self, chunk: C.Chunk) -> Iterator[Start | Frame | AudioPacketData]:
        if not self.started:
            if self.header is None:
                raise ThcError("damaged file: no stream header")
            self.started = True
            self._size = self._size or (self.header.width, self.header.height)
            yield Start(self.header, self.audio, self._size)
        handler = self._handlers.get(type(chunk))
        if handler is not None:
            yield from handler(self, chunk)

    def on_header(self, chunk: C.StreamHeader) -> Iterator[Start | Frame | AudioPacketData]:
        _check_header(chunk, self._loaded)
        self.header = chunk
        return iter(())

    def on_audio_header(self, chunk: C.AudioHeader) -> Iterator[Start | Frame | AudioPacketData]:
        if self.started:
            raise ThcError("damaged file: audio header after the stream started")
        if chunk.sample_rate != 48000 or chunk.channels not in (1, 2):
            raise ThcError(f"unsupported audio: {chunk.sample_rate} Hz, {chunk.channels} channels (Opus at 48 kHz, 1-2 channels)")
        tb = Fraction(chunk.time_base_num, chunk.time_base_den)
        self.audio = AudioConfig("opus", chunk.sample_rate, chunk.channels, tb, chunk.extradata)
        return iter(())

    def on_base_header(self, chunk: C.BaseHeader) -> Iterator[Frame]:
        if self._base is not None or self.started or self.header is None:
            raise ThcError("damaged file: a BASH chunk out of place (one, after HEAD, before the first pivot)")
        fusion = self._loaded.fusion_sha256
        if fusion != chunk.fusion_sha256:
            have = fusion.hex()[:12] if fusion else "none"
            raise ThcError(f"a hybrid stream made for fusion weights {chunk.fusion_sha256.hex()[:12]}, this thcodec has {have}")
        self._base = BaseLayerReceiver(chunk, self.header.model_size)
        return iter(())

    def on_base(self, chunk: C.BasePackets) -> Iterator[Frame]:
        if self._base is None or self._segment is None:
            raise ThcError("damaged file: base-layer packets before the BASH chunk or the first pivot")
        self._base.add(chunk)
        return iter(())

    def on_audio(self, chunk: C.AudioPackets) -> Iterator[AudioPacketData]:
        if self.audio is None:
            raise ThcError("damaged file: audio packet without an audio header")
        for pts, duration, data in chunk.with_pts():
            yield AudioPacketData(pts, duration, data)

    def on_switch(self, chunk: C.PivotSwitch) -> Iterator[Frame]:
        self._reason, self._switch_at = chunk.reason, chunk.frame_index  # for the PIVT that follows: a refresh fades in, a cut does not
        return iter(())

    def on_pivot(self, chunk: C.Pivot) -> Iterator[Frame]:
        timeline, old = self._timeline, self._segment
        if old is not None:
            yield from self._rendered(timeline.end_segment())
        if chunk.frame_index != timeline.next_frame:
            raise ThcError(f"damaged file: pivot for frame {chunk.frame_index}, expected {timeline.next_frame}")
        if self._switch_at is not None and self._switch_at != chunk.frame_index:
            raise ThcError(f"damaged file: pivot switch for frame {self._switch_at}, pivot for frame {chunk.frame_index}")
        if self._base is not None:
            self._base.restart(chunk.frame_index)
        new = SegmentRenderer(PivotSegment.from_chunk(self._loaded.model, chunk, self.header), self._loaded, self._size, self._sr)
        self._fade_from = None
        if old is not None and self._reason in _FADE_REASONS:
            self._fade_from = old if new.region == old.region else self._last_rgb
        self._segment = new
        self._reason, self._switch_at = C.SwitchReason.START, None  # a PIVT without its own SWCH does not fade
        self._prev_fields = None

    def on_keypoints(self, chunk: C.KeypointBlock) -> Iterator[Frame]:
        if self._segment is None:
            raise ThcError("damaged file: key points before any pivot")
        prev = self._prev_fields if chunk.predicted else None
        if chunk.predicted and prev is None:
            raise ThcError("damaged file: predicted key-point block without a previous block")
        fields = kpq.decompress_block(chunk.data, chunk.count, self.header.num_kp, prev)
        indices = [chunk.first_frame + n * chunk.step for n in range(chunk.count)]
        yield from self._rendered(self._ready(indices, fields))  # one stream over the block, so batches span sent frames
        if chunk.count:
            self._prev_fields = fields[-1]

    def on_end(self, chunk: C.End) -> Iterator[Frame]:
        timeline = self._timeline
        if self._segment is not None:
            yield from self._rendered(timeline.end_segment())
        if chunk.frame_count != timeline.next_frame:
            raise ThcError(f"damaged file: {timeline.next_frame} frames decoded, END says {chunk.frame_count}")

    _handlers: ClassVar[dict] = {C.BasePackets: on_base, C.AudioPackets: on_audio, C.PivotSwitch: on_switch, C.Pivot: on_pivot, C.KeypointBlock: on_keypoints, C.End: on_end}

    def _ready(self, indices: list[int], block: np.ndarray) -> Ready:
        timeline, header = self._timeline, self.header
        for index, fields in zip(indices, block):
            if index <= timeline.last_sent:
                raise ThcError(f"damaged file: key points for frame {index} out of order")
            if header.frame_count and index >= 2 * header.frame_count + 250:
                # HEAD's count is the sender's estimate; a gap this far past it is damage, and
                # filling it would keep the decoder busy for hours.
                raise ThcError(f"damaged file: key points for frame {index}, the stream announced {header.frame_count}")
            yield from timeline.add(index, fields)

    def _rendered(self, ready: Ready) -> Iterator[Frame]:
        todo = []
        for item in ready:  # lazily: a long gap in a damaged stream must not pile up frames
            todo.append(item)
            if len(todo) == BATCH:
                yield from self._render(todo)
                todo = []
        if todo:
            yield from self._render(todo)

    def _render(self, todo: list[tuple[int, np.ndarray]]) -> Iterator[Frame]:
        segment, fade_from = self._segment, self._fade_from
        kp6 = np.stack([k for _, k in todo])
        kp = Keypoints.from_numpy(kp6[..., :2], kp6[..., 2:].reshape(len(todo), -1, 2, 2))
        base = self._base.pictures([i for i, _ in todo]) if self._base is not None else None
        frames = segment.render(kp, base)
        fading = [n for n, (i, _) in enumerate(todo) if fade_from is not None and i < segment.start + FADE_FRAMES]
        if fading:
            # A refreshed pivot corrects what the old one got wrong; shown at once that is a
            # jump, so the old picture fades out: the old pivot animated by the same key points
            # when the face region is the same, else the old segment's last frame.
            if isinstance(fade_from, SegmentRenderer):
                old = fade_from.render(Keypoints(kp.xy[fading], kp.jacobian[fading]), None if base is None else base[fading])
            else:
                old = [fade_from] * len(fading)
            for n, o in zip(fading, old):
                w = (todo[n][0] - segment.start + 1) / (FADE_FRAMES + 1)
                frames[n] = np.clip(o + w * (frames[n].astype(np.float32) - o) + 0.5, 0, 255).astype(np.uint8)
        for (i, _), rgb in zip(todo, frames):
            yield Frame(i, rgb)
        self._last_rgb = frames[-1]


def _check_header(h: C.StreamHeader, loaded: LoadedModel) -> None:
    if h.model_id != loaded.model_id or h.weights_sha256 != loaded.weights_sha256:
        raise ThcError(
            f"made with model {h.model_id} (weights {h.weights_sha256.hex()[:12]}), "
            f"this thcodec has {loaded.model_id} (weights {loaded.weights_sha256.hex()[:12]})"
        )
    if h.num_kp != loaded.model.num_kp or h.model_size != MODEL_SIZE:
        raise ThcError(f"unsupported stream: {h.num_kp} key points at {h.model_size}px")


def decode_stream(
    f: BinaryIO, loaded: LoadedModel, interp_method: str = "net", sr: str = "net", size: tuple[int, int] | None = None
) -> Iterator[Start | Frame | AudioPacketData]:
    """interp_method: "net" (the interpolation network, when the weights have one) or "linear";
    sr: "net" (the super-resolution network, when the weights have one) or "bicubic";
    size: (width, height) of the output frames, default the stream's."""
    receiver = Receiver(loaded, interp_method, sr, size)
    with torch.inference_mode():
        for chunk, _ in C.read_chunks(f):
            yield from receiver.on_chunk(chunk)


def decode_file(
    src: Path,
    out: Path,
    loaded: LoadedModel,
    on_start: Callable[[int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    with_audio: bool = True,
    interp_method: str = "net",
    sr: str = "net",
    size: tuple[int, int] | None = None,
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
            for event in decode_stream(f, loaded, interp_method, sr, size):
                if isinstance(event, Start):
                    if on_start:
                        on_start(event.header.frame_count)
                    writer = VideoWriter(out, *event.size, event.fps, event.audio if with_audio else None)
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
