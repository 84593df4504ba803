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

from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.errors import ThcError
from thcodec.face.region import Region, feather_mask, paste
from thcodec.media.frames import jpeg_decode, resize, to_tensor, to_uint8
from thcodec.models.keypoints import Keypoints
from thcodec.models.super_resolution import PivotDetail
from thcodec.options import MODEL_SIZE
from thcodec.receiver.timeline import KeypointTimeline, Ready
from thcodec.media.video_io import AudioConfig, AudioPacketData, VideoWriter
from thcodec.models.weights import LoadedModel

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


def scaled_region(r: Region, sx: float, sy: float) -> Region:
    """r in source pixels -> the same rectangle in an output frame scaled by (sx, sy)."""
    x, y = round(r.x * sx), round(r.y * sy)
    return Region(x, y, max(1, round((r.x + r.w) * sx) - x), max(1, round((r.y + r.h) * sy) - y))


class _Segment:
    """One pivot: its background at the output size, its model-size tensor and key points,
    and (with super-resolution) its full-resolution region and detail layer."""

    def __init__(self, loaded: LoadedModel, header: C.StreamHeader, pivot: C.Pivot, size: tuple[int, int], sr: str) -> None:
        self.start = pivot.frame_index
        source = jpeg_decode(pivot.jpeg, header.width, header.height)
        r = Region(pivot.x, pivot.y, pivot.w, pivot.h)
        if r.x + r.w > header.width or r.y + r.h > header.height:
            raise ThcError("damaged file: pivot region lies outside the frame")
        self.image = to_tensor(r.crop(source, header.model_size))  # the model sees the same pivot at any output size
        self.keypoints = loaded.model.detect_keypoints(self.image)
        self.background = resize(source, *size)
        self.region = r if size == (header.width, header.height) else scaled_region(r, size[0] / header.width, size[1] / header.height)
        r = self.region
        whole = (r.w, r.h) == size
        self.mask = None if whole else feather_mask(r.w, r.h, max(2, r.w // 24))
        self.detail = None  # super-resolution only when the region is larger than the model's frame
        if sr == "net" and loaded.super_resolution is not None and max(r.w, r.h) > header.model_size:
            full = to_tensor(np.ascontiguousarray(self.background[r.y : r.y + r.h, r.x : r.x + r.w]))
            self.detail = PivotDetail(full, self.image)

    def render(self, loaded: LoadedModel, kp: Keypoints) -> list[np.ndarray]:
        """Frames for the (B,K) driving key points kp."""
        b = kp.xy.shape[0]
        pivot = self.image.expand(b, -1, -1, -1)
        pivot_kp = self.keypoints.expand(b)
        gen, flow, occlusion = loaded.model.animate_with_motion(pivot, pivot_kp, kp)
        if self.detail is not None:
            patches = to_uint8(loaded.super_resolution(gen.clamp(0, 1), flow, occlusion, self.detail))
        else:
            patches = [resize(img, self.region.w, self.region.h) for img in to_uint8(gen)]
        return [paste(self.background, patch, self.region, self.mask) for patch in patches]


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
    header: C.StreamHeader | None = None
    audio: AudioConfig | None = None
    started = False
    segment: _Segment | None = None
    fade_from: _Segment | np.ndarray | None = None  # what a refresh blends in from (see render)
    last_rgb: np.ndarray | None = None  # the last frame yielded
    reason = C.SwitchReason.START
    switch_at: int | None = None  # frame of the last SWCH, until its PIVT
    prev_fields: np.ndarray | None = None
    timeline = KeypointTimeline(loaded.interpolator if interp_method == "net" else None)

    def render(todo: list[tuple[int, np.ndarray]]) -> Iterator[Frame]:
        nonlocal last_rgb
        kp6 = np.stack([k for _, k in todo])
        kp = Keypoints.from_numpy(kp6[..., :2], kp6[..., 2:].reshape(len(todo), -1, 2, 2))
        frames = segment.render(loaded, kp)
        fading = [n for n, (i, _) in enumerate(todo) if fade_from is not None and i < segment.start + FADE_FRAMES]
        if fading:
            # A refreshed pivot corrects what the old one got wrong; shown at once that is a
            # jump, so the old picture fades out: the old pivot animated by the same key points
            # when the face region is the same, else the old segment's last frame.
            if isinstance(fade_from, _Segment):
                old = fade_from.render(loaded, Keypoints(kp.xy[fading], kp.jacobian[fading]))
            else:
                old = [fade_from] * len(fading)
            for n, o in zip(fading, old):
                w = (todo[n][0] - segment.start + 1) / (FADE_FRAMES + 1)
                frames[n] = np.clip(o + w * (frames[n].astype(np.float32) - o) + 0.5, 0, 255).astype(np.uint8)
        for (i, _), rgb in zip(todo, frames):
            yield Frame(i, rgb)
        last_rgb = frames[-1]

    def rendered(ready: Ready) -> Iterator[Frame]:
        todo = []
        for item in ready:  # lazily: a long gap in a damaged stream must not pile up frames
            todo.append(item)
            if len(todo) == BATCH:
                yield from render(todo)
                todo = []
        if todo:
            yield from render(todo)

    def frames_for_block(indices: list[int], block: np.ndarray) -> Iterator[Frame]:
        def ready() -> Ready:  # one stream over the block, so batches span sent frames
            for index, fields in zip(indices, block):
                if index <= timeline.last_sent:
                    raise ThcError(f"damaged file: key points for frame {index} out of order")
                if header.frame_count and index >= 2 * header.frame_count + 250:
                    # HEAD's count is the sender's estimate; a gap this far past it is damage, and
                    # filling it would keep the decoder busy for hours.
                    raise ThcError(f"damaged file: key points for frame {index}, the stream announced {header.frame_count}")
                yield from timeline.add(index, fields)

        yield from rendered(ready())

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
                if header is None:
                    raise ThcError("damaged file: no stream header")
                started = True
                size = size or (header.width, header.height)
                yield Start(header, audio, size)
            if isinstance(chunk, C.AudioPackets):
                if audio is None:
                    raise ThcError("damaged file: audio packet without an audio header")
                for pts, duration, data in chunk.with_pts():
                    yield AudioPacketData(pts, duration, data)
            elif isinstance(chunk, C.Pivot):
                if segment is not None:
                    yield from rendered(timeline.end_segment())
                if chunk.frame_index != timeline.next_frame:
                    raise ThcError(f"damaged file: pivot for frame {chunk.frame_index}, expected {timeline.next_frame}")
                if switch_at is not None and switch_at != chunk.frame_index:
                    raise ThcError(f"damaged file: pivot switch for frame {switch_at}, pivot for frame {chunk.frame_index}")
                new = _Segment(loaded, header, chunk, size, sr)
                fade_from = None
                if segment is not None and reason in _FADE_REASONS:
                    fade_from = segment if new.region == segment.region else last_rgb
                segment = new
                reason, switch_at = C.SwitchReason.START, None  # a PIVT without its own SWCH does not fade
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
                if segment is not None:
                    yield from rendered(timeline.end_segment())
                if chunk.frame_count != timeline.next_frame:
                    raise ThcError(f"damaged file: {timeline.next_frame} frames decoded, END says {chunk.frame_count}")
            elif isinstance(chunk, C.PivotSwitch):
                reason, switch_at = chunk.reason, chunk.frame_index  # for the PIVT that follows: a refresh fades in, a cut does not


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
