"""Receiver: .thc stream -> frames (and audio packets), one segment's pivot at a time.

`decode_stream` yields events in time order: a `Start` once the stream's set-up is known,
then `Frame`s and `AudioPacketData`s. `decode_file` writes them to an MP4.

By default the receiver conceals damage (docs/FORMAT.md, "Damaged streams"): the reader skips
what fails its CRC or checks and resynchronises; frames whose key points were lost hold or
interpolate the motion of the good blocks either side (a predicted block after a lost one
cannot be decoded, so its frames are concealed too, until the next independent block or
pivot); lost audio is a gap (silence); a lost pivot keeps the last good one; a lost base
picture leaves the newest one, or the animated pivot alone; a truncated file gives the frames
up to where it ends. Every concealment is counted in `Losses`. strict=True refuses instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from itertools import chain
from pathlib import Path
from typing import BinaryIO, ClassVar

import av
import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.media.background import BackgroundCalls
from thcodec.media.streams import display_name
from thcodec.media.video_io import AudioConfig, AudioPacketData, VideoWriter
from thcodec.models.backend import choose_precision
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import LoadedModel
from thcodec.options import DEFAULT_X264_PRESET, MODEL_SIZE
from thcodec.receiver.base_layer import BaseLayerReceiver, LayerReceiver
from thcodec.receiver.segment import PivotSegment, SegmentRenderer
from thcodec.receiver.timeline import KeypointTimeline, Ready

BATCH = 8  # frames animated together
BATCH_PIXELS = 8 * 1920 * 1088  # output pixels rendered together: fewer frames a batch above 1080p (memory: docs/FORMAT.md)
MAX_GAP_S = 30  # the longest run of frames a loss may conceal (held or interpolated); past it a block is damage
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


@dataclass
class Losses:
    """What a concealing decode could not use, counted."""

    chunks: int = 0  # damaged regions the reader skipped (a bad chunk, or garbage up to the next good one)
    keypoint_blocks: int = 0  # key-point blocks received but not decodable (damaged, or predicted from a lost one)
    frames: int = 0  # frames whose motion was concealed (held, or interpolated across a loss)
    pivots: int = 0  # pivots lost or undecodable: the last good one went on (or, with none, the damaged one or grey)
    audio: int = 0  # audio chunks or packets lost: silence for their span
    base: int = 0  # base-layer chunks lost or undecodable (hybrid): the newest picture, or none, instead
    truncated: bool = False  # the file ends inside a chunk: the frames up to there
    end_lost: bool = False  # no END chunk: the frame count is HEAD's estimate (or the frames decoded, if truncated)
    trailing: int = 0  # bytes after END (a second stream appended, or garbage), not decoded

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)

    def summary(self) -> str:
        """One line: what was lost and concealed."""
        parts = [f"{self.chunks} damaged chunk regions skipped"] if self.chunks else []
        for name, what in (
            ("keypoint_blocks", "key-point blocks undecodable"),
            ("frames", "frames with concealed motion"),
            ("pivots", "pivots lost"),
            ("audio", "audio chunks lost"),
            ("base", "base-layer chunks lost"),
        ):
            if getattr(self, name):
                parts.append(f"{getattr(self, name)} {what}")
        if self.truncated:
            parts.append("file truncated")
        elif self.end_lost:
            parts.append("END chunk lost")
        if self.trailing:
            parts.append(f"{self.trailing} bytes after the END chunk ignored")
        return ", ".join(parts) or "no losses"


@dataclass(frozen=True)
class Frame:
    index: int
    rgb: np.ndarray  # (H,W,3) uint8 at the output size (Start.size)


class _Concealment:
    """The receiver's concealment (docs/FORMAT.md, "Damaged streams"): what a loss does to the
    frames, and its count in self.losses. A part of Receiver, whose state it uses."""

    _orphan_until = 0  # with no pivot yet: the frames that key points came for (grey if no pivot ever comes)
    _audio_end: int | None = None  # where the last AUDI chunk's audio ends: one starting later follows a loss
    _audio_reported = 0  # AUDI chunks the reader reported damaged, not yet matched with their gap

    def _lost_block(self, message: str) -> Iterator[Frame]:
        """A key-point block that cannot be decoded: its frames are concealed (the timeline fills
        them from the good blocks either side), and so are those of blocks predicted from it."""
        self._prev_fields = None
        yield from self._damage(message, "keypoint_blocks")

    def _count_gap(self, first: int, step: int) -> Ready:
        """Frames between the last sent frame and `first` whose key points were lost, counted. When
        they open a segment, its pivot's own pose (exact at its frame) starts them: the frames
        before the first key points that came go from it to them, not the first ones held back."""
        timeline = self._timeline
        if timeline.in_segment:
            if first - timeline.last_sent > step:
                self.losses.frames += first - timeline.last_sent - 1
        elif first > timeline.next_frame:
            at_pivot = timeline.next_frame == self._segment.start
            self.losses.frames += first - timeline.next_frame - at_pivot
            if at_pivot:
                return timeline.add_pose(timeline.next_frame, self._still())
        return iter(())

    def _in_bounds(self, index: int) -> bool:
        fc = self.header.frame_count
        return (not fc or index < 2 * fc + 250) and index - self._timeline.next_frame < self._max_gap

    def _still(self) -> np.ndarray:
        """(K,6) the current pivot's own key points: its picture unmoved, for frames of a segment
        none of whose key points came."""
        kp = self._segment.segment.keypoints
        return np.concatenate([kp.xy[0].numpy(), kp.jacobian[0].reshape(-1, 4).numpy()], axis=-1).astype(np.float32)

    def _hold(self, until: int) -> Iterator[Frame]:
        """Frames up to `until` (at most MAX_GAP_S of them) that no key points reach: the last ones
        held (or the pivot unmoved), counted."""
        timeline = self._timeline
        yield from self._concealed(timeline.hold_until(min(until, timeline.next_frame + self._max_gap), self._still()))

    def _concealed(self, ready: Ready) -> Iterator[Frame]:
        for frame in self._rendered(ready):
            self.losses.frames += 1
            yield frame

    def _damage(self, message: str, counter: str) -> Iterator[Frame]:
        """Strict: refuse with message. Else count the loss under `counter` and go on."""
        if self.strict:
            raise ThcError(message)
        setattr(self.losses, counter, getattr(self.losses, counter) + 1)
        return iter(())

    def on_damage(self, damage: C.Damage) -> Iterator[Start | Frame]:
        """The reader skipped a damaged region (concealing mode)."""
        if damage.kind == "trailing":  # after END: the video is whole, what follows is not read
            self.losses.trailing += damage.nbytes
            return
        self.losses.chunks += 1
        if damage.kind == "truncated":
            self.losses.truncated = True
        elif damage.kind == "no-end":
            self.losses.chunks -= 1  # not a region of bytes: the stream just ends
            self.losses.end_lost = True
        if damage.chunk_type == "AUDI":
            self.losses.audio += 1
            self._audio_reported += 1
        elif damage.chunk_type in ("BASE", "SCNE"):
            layer = self._base if damage.chunk_type == "BASE" else self._scene
            if layer is not None:
                layer.broken = True
                self.losses.base += 1
        if damage.payload is not None and self._segment is None and self.header is not None:
            yield from self._salvage(damage.payload)

    def _audio_gap(self, chunk: C.AudioPackets) -> None:
        """A gap in the audio timing is a lost AUDI chunk (this sender's audio has none of its own:
        docs/FORMAT.md), counted unless the reader reported it damaged already."""
        if self._audio_end is not None and chunk.pts > self._audio_end and not self.strict:
            if self._audio_reported:
                self._audio_reported -= 1
            else:
                self.losses.audio += 1
        self._audio_end = chunk.pts + sum(d for d, _ in chunk.packets)

    def _salvage(self, payload: bytes) -> Iterator[Start | Frame]:
        """A damaged or cut pivot while none is held: its picture as it came (a corrupt JPEG
        decodes with a smear from the damage on, a cut one grey below the cut) is better than
        no picture at all; a later good pivot replaces it."""
        try:
            pivot = C.Pivot.from_payload(payload)
            if pivot.codec == "jpeg" and not pivot.image.endswith(b"\xff\xd9"):
                pivot = dataclasses.replace(pivot, image=pivot.image + b"\xff\xd9")  # cut short: its end marker
            yield from self.on_chunk(pivot)
        except (ThcError, ValueError):
            return  # not even that
        if self._segment is not None:
            self.losses.pivots += 1

    def _orphan(self, chunk: C.KeypointBlock) -> Iterator[Frame]:
        """Key points before any pivot: a later pivot draws their frames (the timeline has not
        moved); if none comes, they are grey (_to_end)."""
        last = chunk.first_frame + (chunk.count - 1) * chunk.step
        if chunk.count and not self.strict and self._in_bounds(last):
            self._orphan_until = max(self._orphan_until, last + 1)
        return self._damage("damaged file: key points before any pivot", "keypoint_blocks")

    def _to_end(self, count: int) -> Iterator[Frame]:
        """Concealing: the last segment's frames, then held ones up to count; with no pivot at all,
        grey frames up to count (no further than the key points that came, plus MAX_GAP_S)."""
        timeline = self._timeline
        if self._segment is not None:
            yield from self._rendered(timeline.end_segment())
            yield from self._hold(count)
            return
        w, h = self._size
        grey = np.full((h, w, 3), 128, np.uint8)
        start = timeline.next_frame
        timeline.next_frame = max(start, min(count, self._orphan_until + self._max_gap))
        self.losses.pivots += timeline.next_frame > start
        for i in range(start, timeline.next_frame):
            self.losses.frames += 1
            yield Frame(i, grey)

    def finish(self) -> Iterator[Frame]:
        """Concealing mode, the stream over without END: the last segment's frames, then (unless
        the file was cut inside a chunk) held frames up to HEAD's frame count."""
        if self.ended or not self.started:
            return
        self.losses.end_lost = True
        count = self.header.frame_count
        if self.losses.truncated or not count:  # the frames up to where the key points end
            count = 0 if self._segment is not None else self._orphan_until
        yield from self._to_end(count)


class _Drawing:
    """The receiver's drawing: ready key points -> frames in batches, a refreshed pivot faded in.
    A part of Receiver, whose state it uses."""

    def _rendered(self, ready: Ready) -> Iterator[Frame]:
        todo, batch = [], max(1, min(BATCH, BATCH_PIXELS // (self._size[0] * self._size[1])))
        for item in ready:  # lazily: a long gap in a damaged stream must not pile up frames
            todo.append(item)
            if len(todo) == batch:
                yield from self._render(todo)
                todo = []
        if todo:
            yield from self._render(todo)

    def _render(self, todo: list[tuple[int, np.ndarray]]) -> Iterator[Frame]:
        segment, fade_from = self._segment, self._fade_from
        kp6 = np.stack([k for _, k in todo])
        kp = Keypoints.from_numpy(kp6[..., :2], kp6[..., 2:].reshape(len(todo), -1, 2, 2))
        indices = [i for i, _ in todo]
        base = self._base.pictures(indices) if self._base is not None else None
        scene = self._scene.at(indices) if self._scene is not None else None
        frames = segment.render(kp, base, scene)
        fading = [n for n, (i, _) in enumerate(todo) if fade_from is not None and i < segment.start + FADE_FRAMES]
        if fading:
            # A refreshed pivot corrects what the old one got wrong; shown at once that is a
            # jump, so the old picture fades out: the old pivot animated by the same key points
            # when the face region is the same, else the old segment's last frame.
            if isinstance(fade_from, SegmentRenderer):
                old = fade_from.render(
                    Keypoints(kp.xy[fading], kp.jacobian[fading]),
                    None if base is None else base[fading],
                    None if scene is None else [scene[n] for n in fading],
                )
            else:
                old = [fade_from] * len(fading)
            for n, o in zip(fading, old):
                w = (todo[n][0] - segment.start + 1) / (FADE_FRAMES + 1)
                frames[n] = np.clip(o + w * (frames[n].astype(np.float32) - o) + 0.5, 0, 255).astype(np.uint8)
        for (i, _), rgb in zip(todo, frames):
            yield Frame(i, rgb)
        self._last_rgb = frames[-1]


class _BaseLayers:
    """The hybrid mode's base layer (BASH/BASE) and scene layer (SCNH/SCNE) chunks.
    A part of Receiver, whose state it uses."""

    def on_base_header(self, chunk: C.BaseHeader) -> Iterator[Frame]:
        if self._base is not None or self.started or self.header is None:
            if not self.strict and self.header is not None:
                return self._damage("", "base")
            raise ThcError("damaged file: a BASH chunk out of place (one, after HEAD, before the first pivot)")
        self._base = BaseLayerReceiver.open(chunk, self._loaded.fusion_sha256, self.header.model_size)
        return iter(())

    def on_scene_header(self, chunk: C.SceneHeader) -> Iterator[Frame]:
        if self._scene is not None or self._base is None or self.started:
            if not self.strict and self.header is not None:
                return self._damage("", "base")
            raise ThcError("damaged file: an SCNH chunk out of place (one, after BASH, before the first pivot)")
        self._scene = LayerReceiver(chunk, (chunk.width, chunk.height))
        return iter(())

    def on_base(self, chunk: C.BasePackets) -> Iterator[Frame]:
        layer, name = (self._scene, "SCNH") if isinstance(chunk, C.ScenePackets) else (self._base, "BASH")
        if layer is None or self._segment is None:
            return self._damage(f"damaged file: base-layer packets before the {name} chunk or the first pivot", "base")
        if not layer.receive(chunk, self.strict):
            self.losses.base += 1
        return iter(())


def keep_aspect(size: tuple[int, int] | None, width: int, height: int) -> tuple[int, int] | None:
    """An output size with -1 on one side -> that side from the stream's aspect (even, >= 2)."""
    if size is None or -1 not in size:
        return size
    w, h = size
    if w == -1:
        w = max(2, 2 * round(h * width / height / 2))
    else:
        h = max(2, 2 * round(w * height / width / 2))
    return w, h


class Receiver(_Concealment, _Drawing, _BaseLayers):
    """Turns a stream's chunks, in order, into events: one method per chunk type, each a
    generator of the events that chunk makes (frames come out as soon as their key points are
    known; a refreshed pivot fades in over FADE_FRAMES)."""

    def __init__(
        self,
        loaded: LoadedModel,
        interp_method: str = "net",
        sr: str = "net",
        size: tuple[int, int] | None = None,
        strict: bool = False,
        losses: Losses | None = None,
        bf16: bool = False,
    ) -> None:
        self._loaded, self._sr, self._size, self._bf16 = loaded, sr, size, bf16
        self.strict = strict
        self.losses = losses if losses is not None else Losses()
        self.ended = False  # END seen
        self.header: C.StreamHeader | None = None
        self.audio: AudioConfig | None = None
        self.started = False
        self._segment: SegmentRenderer | None = None
        self._fade_from: SegmentRenderer | np.ndarray | None = None  # what a refresh blends in from (see _render)
        self._last_rgb: np.ndarray | None = None  # the last frame yielded
        self._reason = C.SwitchReason.START
        self._switch_at: int | None = None  # frame of the last SWCH, until its PIVT
        self._prev_fields: np.ndarray | None = None  # the last decoded block's last frame (what a predicted block adds to)
        self._prev_last = -1  # and its index
        self._base: BaseLayerReceiver | None = None  # the hybrid mode's base layer (format 2)
        self._scene: LayerReceiver | None = None  # and its whole-frame part (format 3)
        self._timeline = KeypointTimeline(loaded.interpolator if interp_method == "net" else None)

    def on_chunk(self, chunk: C.Chunk) -> Iterator[Start | Frame | AudioPacketData]:
        if isinstance(chunk, C.StreamHeader):
            return self.on_header(chunk)
        if isinstance(chunk, C.AudioHeader):
            return self.on_audio_header(chunk)
        if isinstance(chunk, C.BaseHeader):  # set-up, like the audio header
            return self.on_base_header(chunk)
        if isinstance(chunk, C.SceneHeader):
            return self.on_scene_header(chunk)
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
        self._size = keep_aspect(self._size, chunk.width, chunk.height)
        if self._size is not None:
            C.check_size(*self._size)
        self.header = chunk
        fps = chunk.fps_num / chunk.fps_den
        self._max_gap = max(250, int(MAX_GAP_S * fps))
        return iter(())

    def on_audio_header(self, chunk: C.AudioHeader) -> Iterator[Start | Frame | AudioPacketData]:
        if self.started:
            return self._damage("damaged file: audio header after the stream started", "audio")
        C.check_audio_bounds(chunk)
        if chunk.sample_rate != 48000 or chunk.channels not in (1, 2):
            raise ThcError(f"unsupported audio: {chunk.sample_rate} Hz, {chunk.channels} channels (Opus at 48 kHz, 1-2 channels)")
        tb = Fraction(chunk.time_base_num, chunk.time_base_den)
        self.audio = AudioConfig("opus", chunk.sample_rate, chunk.channels, tb, chunk.extradata)
        return iter(())

    def on_audio(self, chunk: C.AudioPackets) -> Iterator[AudioPacketData]:
        if self.audio is None:
            yield from self._damage("damaged file: audio packet without an audio header", "audio")
            return
        self._audio_gap(chunk)
        for pts, duration, data in chunk.with_pts():
            yield AudioPacketData(pts, duration, data)

    def on_switch(self, chunk: C.PivotSwitch) -> Iterator[Frame]:
        self._reason, self._switch_at = chunk.reason, chunk.frame_index  # for the PIVT: a refresh fades in, a cut not
        return iter(())

    def on_pivot(self, chunk: C.Pivot) -> Iterator[Frame]:
        timeline, old = self._timeline, self._segment
        if not self.strict and chunk.frame_index - timeline.next_frame >= self._max_gap:
            self.losses.pivots += 1  # a pivot this far on is damage, not a loss to conceal
            return
        if old is not None:
            yield from self._rendered(timeline.end_segment())
            if not self.strict:  # the old segment's last key points were lost: hold them up to the pivot
                yield from self._hold(chunk.frame_index)
        if chunk.frame_index != timeline.next_frame and (self.strict or chunk.frame_index < timeline.next_frame):
            message = f"damaged file: pivot for frame {chunk.frame_index}, expected {timeline.next_frame}"
            yield from self._damage(message, "pivots")
            return
        if self._switch_at is not None and self._switch_at != chunk.frame_index and self.strict:
            raise ThcError(f"damaged file: pivot switch for frame {self._switch_at}, pivot for frame {chunk.frame_index}")
        for layer in (self._base, self._scene):
            if layer is not None:
                layer.restart(chunk.frame_index)
        try:
            segment = PivotSegment.from_chunk(self._loaded.model, chunk, self.header)
        except ThcError:
            if self.strict or old is None:
                raise
            self.losses.pivots += 1  # the last good pivot goes on
            self._reason, self._switch_at = C.SwitchReason.START, None
            return
        new = SegmentRenderer(segment, self._loaded, self._size, self._sr, self._bf16)
        timeline.new_segment()
        self._fade_from = None
        if old is not None and self._reason in _FADE_REASONS:
            self._fade_from = old if new.region == old.region else self._last_rgb
        self._segment = new
        self._reason, self._switch_at = C.SwitchReason.START, None  # a PIVT without its own SWCH does not fade
        self._prev_fields = None

    def on_keypoints(self, chunk: C.KeypointBlock) -> Iterator[Frame]:
        if self._segment is None:
            yield from self._orphan(chunk)
            return
        if self._switch_at is not None and chunk.first_frame >= self._switch_at and not self.strict:
            self.losses.pivots += 1  # a pivot switch whose pivot never came: the last good one goes on
            self._switch_at = None
        prev = self._prev_fields if chunk.predicted else None
        if chunk.predicted and prev is None:
            yield from self._lost_block("damaged file: predicted key-point block without a previous block")
            return
        if prev is not None and not self.strict and not 0 < chunk.first_frame - self._prev_last <= chunk.step:
            # The block it is predicted from was lost. (Adding its residuals to the last pose known
            # instead was tried: 0.1-1.1 dB worse than holding on examples/demo.mp4.)
            yield from self._lost_block("")
            return
        try:
            fields = kpq.decompress_block(chunk.data, chunk.count, self.header.num_kp, prev)
        except ThcError:
            if self.strict:
                raise
            yield from self._lost_block("")
            return
        indices = [chunk.first_frame + n * chunk.step for n in range(chunk.count)]
        if not self.strict and indices and (indices[0] <= self._timeline.last_sent or not self._in_bounds(indices[-1])):
            yield from self._lost_block("")
            return
        lead = self._count_gap(indices[0], chunk.step) if not self.strict and indices else iter(())
        yield from self._rendered(chain(lead, self._ready(indices, fields)))  # one stream, so batches span sent frames
        if chunk.count:
            self._prev_fields, self._prev_last = fields[-1], indices[-1]

    def on_end(self, chunk: C.End) -> Iterator[Frame]:
        timeline = self._timeline
        self.ended = True
        if not self.strict:  # the last key points were lost: hold them (or grey, no pivot at all) to the end
            yield from self._to_end(chunk.frame_count)
        elif self._segment is not None:
            yield from self._rendered(timeline.end_segment())
        if chunk.frame_count != timeline.next_frame and not self.strict:
            self.losses.chunks += 1  # END disagrees with what was decoded: the frames decoded stand
        elif chunk.frame_count != timeline.next_frame:
            raise ThcError(f"damaged file: {timeline.next_frame} frames decoded, END says {chunk.frame_count}")

    _handlers: ClassVar[dict] = {
        C.BasePackets: _BaseLayers.on_base,
        C.ScenePackets: _BaseLayers.on_base,
        C.AudioPackets: on_audio,
        C.PivotSwitch: on_switch,
        C.Pivot: on_pivot,
        C.KeypointBlock: on_keypoints,
        C.End: on_end,
    }

    def _ready(self, indices: list[int], block: np.ndarray) -> Ready:
        timeline, header = self._timeline, self.header
        for index, fields in zip(indices, block):
            if index <= timeline.last_sent:
                raise ThcError(f"damaged file: key points for frame {index} out of order")
            if header.frame_count and index >= 2 * header.frame_count + 250:
                # HEAD's count is the sender's estimate; a gap this far past it is damage, and
                # filling it would keep the decoder busy for hours.
                raise ThcError(f"damaged file: key points for frame {index}, the stream announced {header.frame_count}")
            if index - timeline.next_frame >= self._max_gap:  # legitimate gaps are a few frames (--interp)
                raise ThcError(f"damaged file: key points for frame {index}, {index - timeline.next_frame} frames after the last")
            yield from timeline.add(index, fields)


def _check_header(h: C.StreamHeader, loaded: LoadedModel) -> None:
    if h.model_id != loaded.model_id or h.weights_sha256 != loaded.weights_sha256:
        raise ThcError(
            f"made with model {h.model_id} (weights {h.weights_sha256.hex()[:12]}), "
            f"this thcodec has {loaded.model_id} (weights {loaded.weights_sha256.hex()[:12]})"
        )
    if h.num_kp != loaded.model.num_kp or h.model_size != MODEL_SIZE:
        raise ThcError(f"unsupported stream: {h.num_kp} key points at {h.model_size}px")
    C.check_bounds(h)


def decode_stream(
    f: BinaryIO,
    loaded: LoadedModel,
    interp_method: str = "net",
    sr: str = "net",
    size: tuple[int, int] | None = None,
    strict: bool = False,
    losses: Losses | None = None,
    precision: str | None = None,
) -> Iterator[Start | Frame | AudioPacketData]:
    """interp_method: "net" (the interpolation network, when the weights have one) or "linear";
    sr: "net" (the super-resolution network, when the weights have one) or "bicubic";
    size: (width, height) of the output frames, default the stream's;
    strict: refuse a damaged stream (ThcError) instead of concealing; losses: filled with what
    was concealed; precision: "fp32" or "bf16" for the networks' convolutions, None: $THC_PRECISION,
    else bf16 where the CPU has AMX (thcodec.models.backend.choose_precision)."""
    bf16 = choose_precision(precision) == "bf16"
    receiver = Receiver(loaded, interp_method, sr, size, strict, losses, bf16)
    damage: list[C.Damage] = []
    with torch.inference_mode():
        for chunk, _ in C.read_chunks(f, None if strict else damage.append):
            for d in damage:
                yield from receiver.on_damage(d)
            damage.clear()
            yield from receiver.on_chunk(chunk)
        for d in damage:
            yield from receiver.on_damage(d)
        if not strict:
            yield from receiver.finish()


def decode_file(
    src: Path,
    out: Path | BinaryIO,
    loaded: LoadedModel,
    on_start: Callable[[int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    with_audio: bool = True,
    interp_method: str = "net",
    sr: str = "net",
    size: tuple[int, int] | None = None,
    strict: bool = False,
    losses: Losses | None = None,
    crf: int = 18,
    fmt: str | None = None,
    source: BinaryIO | None = None,
    preset: str = DEFAULT_X264_PRESET,
) -> int:
    """Decode src (.thc; `source`: read it from this file object instead, e.g. a pipe) into the video
    `out`, a path or a file object written front to back (its container: `fmt`, else the suffix;
    crf and preset: H.264's rate factor and x264's preset for .mp4/.mov); -> frames written. Frames are written as their
    chunks arrive. strict: refuse a damaged stream; else conceal, counting what was lost in `losses`."""
    losses = losses if losses is not None else Losses()
    writer: VideoWriter | None = None
    frames = 0
    try:
        f = source if source is not None else open(src, "rb")
    except OSError as e:
        raise ThcError(f"cannot read {src}: {e.strerror or e}") from None
    writes = BackgroundCalls(name="thc-writer")  # x264 and muxing beside the networks
    try:
        with f:
            for event in decode_stream(f, loaded, interp_method, sr, size, strict, losses):
                if isinstance(event, Start):
                    if on_start:
                        on_start(event.header.frame_count)
                    audio = event.audio if with_audio else None
                    writer = VideoWriter(out, *event.size, event.fps, audio, crf=crf, fmt=fmt, preset=preset)
                elif isinstance(event, Frame):
                    writes.submit(partial(writer.write_frame, event.rgb))
                    frames += 1
                    if on_frames:
                        on_frames(1)
                elif writer.has_audio:
                    writes.submit(partial(_write_audio, writer, event, strict, losses))
        writes.close()
        if frames == 0:  # nothing to show: an error, not a loss (README, "Exit codes and errors")
            why = f" ({losses.summary()})" if losses else ""
            raise ThcError(f"{display_name(src)}: stream holds no frames{why}")
        writer.close()
        writer = None
    finally:
        writes.abandon()
        if writer is not None:
            writer.close(flush=False)
    return frames


def _write_audio(writer: VideoWriter, packet: AudioPacketData, strict: bool, losses: Losses) -> None:
    try:
        writer.write_audio(packet)
    except OSError:
        raise  # a write error (disk full): atomic_output reports it
    except av.error.FFmpegError as e:
        if not strict:
            losses.audio += 1  # an undecodable packet: silence for its span
            return
        raise ThcError(f"damaged file: audio packet at {packet.pts} cannot be decoded ({e})") from None
