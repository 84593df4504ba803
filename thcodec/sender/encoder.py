"""Sender: video file -> .thc stream: pivots, and key points for every kept frame between them.

With the adaptive policy (the default) a new pivot is sent on a scene cut, when the face
leaves its region, when the predicted quality drops (the sender runs the receiver's model on
the frames it sends), or after --max-pivot-interval; the rate cap may hold a switch back or
lower the pivot picture's quality.

`Sender` only orchestrates; each decision has its own part:
  lookahead.py (frames held back)     switch_policy.py (cut, face, interval, retry)
  keypoint_source.py (what is sent)   quality.py (analysis by synthesis, where quality drops)
  rate_control.py (pivot sizes)       chunk_writer.py (chunks in time order, audio, KPTS blocks)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.face.region import FaceFinder, Region, choose_region
from thcodec.format import container as C
from thcodec.media.background import ReadAhead
from thcodec.media.pivot_image import decode_pivot, encode_pivot
from thcodec.media.streams import DEFAULT_INPUT_TIMEOUT_S, display_name
from thcodec.media.video_io import VideoReader
from thcodec.models.weights import LoadedModel
from thcodec.options import MODEL_SIZE, EncodeOptions
from thcodec.receiver.segment import PivotSegment
from thcodec.sender.base_layer import BaseLayerSender, has_scene_layer
from thcodec.sender.chunk_writer import ChunkWriter
from thcodec.sender.keypoint_source import KeypointSource
from thcodec.sender.ladder import describe, for_target
from thcodec.sender.lookahead import Lookahead
from thcodec.sender.pivot_policy import FaceWatch
from thcodec.sender.quality import Analysis, QualityPredictor, SegmentWatch
from thcodec.sender.rate_control import MIN_PIVOT_QUALITY, RateController
from thcodec.sender.switch_policy import SwitchPolicy


@dataclass
class EncodeResult:
    frames: int = 0
    duration_s: float = 0.0
    bytes_total: int = 0
    bytes_by_type: dict[str, int] = field(default_factory=dict)
    region: Region | None = None  # the first pivot's face region
    warnings: list[str] = field(default_factory=list)
    pivots: list[tuple[int, str, int]] = field(default_factory=list)  # (frame, reason, pivot image bytes)
    analysis: list[Analysis] = field(default_factory=list)
    settings: str = ""  # what a --kbps target chose (ladder.describe), "" without one


class Sender:
    """Turns frames, in order, into pivots and key-point blocks, deciding when to switch pivots."""

    def __init__(self, writer: C.ContainerWriter, loaded: LoadedModel, opts: EncodeOptions, info, result: EncodeResult) -> None:
        self._opts, self._result = opts, result
        self._fps = info.fps
        self._size = (info.width, info.height)
        self._model = loaded.model
        self._rate = RateController(opts, info.fps, writer.bytes_written, float(info.frame_count / info.fps))
        self._base = BaseLayerSender(opts, info.fps, self._size) if opts.mode == "hybrid" else None
        self._out = ChunkWriter(
            writer, info.fps, opts.interp, opts.block_frames, self._rate.record, self._base, opts.independent_every
        )
        if self._base is not None:
            self._out.emit(self._base.header(loaded.fusion_sha256))
        self._finder = FaceFinder()
        self._policy = SwitchPolicy(opts, info.fps)
        self._source = KeypointSource(loaded.model, opts)
        self._quality = QualityPredictor(loaded.model, info.fps, self._policy.min_gap, result.analysis)
        self._seg: PivotSegment | None = None  # the receiver's copy of the current segment
        self._watch: SegmentWatch | None = None  # the sender's bookkeeping for it
        self._pending = Lookahead()

    def set_audio(self, header: C.AudioHeader, packets) -> None:
        self._out.set_audio(header, packets)
        self._rate.add_audio()

    # --- frames in ------------------------------------------------------------------------

    def push(self, index: int, frame: np.ndarray) -> None:
        cut = self._policy.is_cut(frame)
        if self._seg is None:
            # Under a rate cap the first pivot waits for a full look-ahead, whose key points
            # show what the stream will cost; without one it starts at once. A cut among
            # them starts it early, so the cut gets its own pivot below.
            if cut and self._pending:
                self._begin()
            else:
                self._pending.append(index, frame)
                if self._pending.full or not self._rate.capped:
                    self._begin()
                return
        if self._opts.adaptive:
            self._maybe_switch(index, frame, cut)
        self._pending.append(index, frame)
        if self._pending.full:
            self._process(end=False)

    def _maybe_switch(self, index: int, frame: np.ndarray, cut: bool) -> None:
        seg, policy = self._seg, self._policy
        reason = C.SwitchReason.SCENE_CUT if cut else policy.reason_at(index, frame, seg.start, self._watch.watch)
        if reason is None:
            return
        if self._rate.capped and self._rate.pivot_image(index, frame, reason) is None:
            policy.wanted = reason  # no room under the cap: retried, the segment goes on as it was
            return
        # The frames before this one are sent first (they may bring a pivot of their own),
        # then the pivot is sized against what has really been written.
        self._process(end=True)
        image = None
        if reason == C.SwitchReason.SCENE_CUT or self._seg is seg:
            image = self._rate.pivot_image(index, frame, reason)
            if image is None:
                policy.wanted = reason
        if image is not None:
            self._start(index, frame, reason, image)

    def _begin(self) -> None:
        """Send the first pivot (the first pending frame)."""
        index, frame = self._pending.items[0]
        if self._rate.capped:
            self._rate.measure_prior(self._first_fields())
        image = self._rate.pivot_image(index, frame, C.SwitchReason.START)
        if image is None:
            image = encode_pivot(frame, MIN_PIVOT_QUALITY, self._opts.pivot_image_codec)
            self._result.warnings.append(
                f"--max-kbps {self._opts.max_kbps:g} has no room for the first pivot: sent at quality {MIN_PIVOT_QUALITY}"
            )
        self._start(index, frame, C.SwitchReason.START, image)
        if self._pending.full:
            self._process(end=False)

    def _first_fields(self) -> np.ndarray:
        """Key points of the pending frames a first segment would send. No pivot yet to measure
        motion from or refine against: the detector's own points, whose rate is alike."""
        items = self._pending.items
        index, frame = items[0]
        region = choose_region(*self._size, self._finder.largest_face(frame))
        kept = [(i, f) for i, f in items if (i - index) % self._opts.interp == 0]
        return self._source.detect([i for i, _ in kept], [region.crop(f, MODEL_SIZE) for _, f in kept], detector_only=True)[0]

    def finish(self, last_index: int) -> None:
        if self._seg is None:
            self._begin()
        self._process(end=True)
        self._out.end(last_index + 1)
        warning = self._rate.overrun()
        if warning:
            self._result.warnings.append(warning)

    def close(self) -> None:
        """At the end, or on an error part way: the base layer's encoders closed."""
        if self._base is not None:
            self._base.close()

    # --- pivots ---------------------------------------------------------------------------

    def _start(self, index: int, frame: np.ndarray, reason: C.SwitchReason, image: bytes) -> None:
        """Send frame as a new pivot (choosing its face region) and start a segment on it."""
        face = self._finder.largest_face(frame)
        region = choose_region(*self._size, face)
        if face is None and reason == C.SwitchReason.START:
            self._result.warnings.append("no face found in the first frame: the whole frame is the region")
        if self._result.region is None and self._base is not None:
            scene = self._base.scene_header(region)  # the first pivot's region says whether the call needs one
            if scene is not None:
                self._out.emit(scene)
        self._out.pivot(index, reason, region, image)
        self._result.pivots.append((index, reason.name.lower(), len(image)))
        if self._result.region is None:
            self._result.region = region
        picture = decode_pivot(image, self._opts.pivot_image_codec, *self._size)  # what the receiver will animate
        self._seg = PivotSegment.receive(self._model, index, region, picture, MODEL_SIZE)
        self._source.start(self._seg, frame)
        self._watch = SegmentWatch.on(self._seg, FaceWatch(self._finder, region, face, index), self._opts.motion_trigger_px)
        self._policy.started()

    # --- key points -----------------------------------------------------------------------

    def _process(self, end: bool) -> None:
        """Send key points for the pending frames; end: the segment ends with the last of them.

        An unkept last frame stays pending (it may turn out to end the segment, and a
        segment's last frame is always sent). A quality drop found on the way starts a new
        segment there and the rest of the frames are sent on the new pivot."""
        while self._pending:
            seg, items = self._seg, self._pending.items
            n, kept = self._pending.batch(seg.start, self._opts.interp, end)
            if n == 0:
                return
            frames = [items[k] for k in kept]
            crops = [seg.region.crop(f, MODEL_SIZE) for _, f in frames]
            indices = [i for i, _ in frames]
            picks = self._quality.picks(self._watch, indices) if self._opts.adaptive else []
            fields, seen_xy = self._source.detect(indices, crops, picks)
            drop = self._quality.drop(seg, self._watch, frames, crops, fields, picks, seen_xy) if picks else None
            at = None if drop is None else kept[drop]
            image = None
            if at is not None:
                image = self._rate.pivot_image(items[at][0], items[at][1], C.SwitchReason.QUALITY)
                if image is None:
                    self._policy.wanted = C.SwitchReason.QUALITY
            if image is None:
                self._feed_base(items[:n])
                self._commit(items, kept, fields)
                self._pending.drop(n)
                return
            self._end_before(items, at, kept, fields)
            self._pending.drop(at)
            self._start(items[at][0], items[at][1], C.SwitchReason.QUALITY, image)

    def _end_before(self, items: list, at: int, kept: list[int], fields: np.ndarray) -> None:
        """Send the segment up to frame at-1, its last, which is sent even if the step skips it."""
        self._feed_base(items[:at])
        before = [k for k in kept if k < at]
        f_before = [fields[kept.index(k)] for k in before]
        if at > 0 and (not before or before[-1] != at - 1):
            before.append(at - 1)
            index, frame = items[at - 1]
            f_before += list(self._source.detect([index], [self._seg.region.crop(frame, MODEL_SIZE)])[0])
        self._commit(items, before, f_before)

    def _feed_base(self, items: list) -> None:
        if self._base is not None:
            self._base.feed(items, self._seg.region)

    def _commit(self, items: list, kept: list[int], fields) -> None:
        if not kept:
            return
        for k, f in zip(kept, fields):
            self._out.keypoints(items[k][0], f)
        self._watch.kept += len(kept)


def encode(
    src: Path,
    out: BinaryIO,
    loaded: LoadedModel,
    opts: EncodeOptions,
    on_frames: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    input_timeout: float = DEFAULT_INPUT_TIMEOUT_S,
) -> EncodeResult:
    """Encode the video at src ('-': stdin; a FIFO) into the .thc stream `out`, chunk by chunk as the
    frames come. on_start(frame estimate), on_frames(n); input_timeout: seconds a pipe may stay silent."""
    result = EncodeResult()
    writer = C.ContainerWriter(out)
    with VideoReader(src, input_timeout) as reader, torch.inference_mode():
        info = reader.info
        opts = _settle(opts, info, loaded, result)
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
            ),
            _format(opts, info.width, info.height),
        )
        with closing(Sender(writer, loaded, opts, info, result)) as sender:
            audio = reader.audio(opts.audio_bitrate) if (opts.audio and info.has_audio) else None
            if audio is not None:
                cfg, packets = audio
                if opts.max_kbps and opts.audio_bitrate / 1000 >= opts.max_kbps:
                    raise ThcError(
                        f"--max-kbps {opts.max_kbps:g} leaves nothing for the picture: the audio alone takes "
                        f"{opts.audio_bitrate / 1000:g} kbit/s (lower --audio-kbps, or --no-audio)"
                    )
                sender.set_audio(
                    C.AudioHeader(
                        codec=C.AudioCodec.OPUS,
                        sample_rate=cfg.sample_rate,
                        channels=cfg.channels,
                        time_base_num=cfg.time_base.numerator,
                        time_base_den=cfg.time_base.denominator,
                        extradata=cfg.extradata,
                    ),
                    packets,
                )
            last_index = -1
            # A file's frames are decoded on a second thread, beside the networks (a pipe's share
            # one pass with its audio, read here).
            with ReadAhead(reader) if reader.audio_apart else nullcontext(reader) as frames:
                for last_index, frame in enumerate(frames):
                    sender.push(last_index, frame)
                    if on_frames:
                        on_frames(1)
            if last_index < 0:
                raise ThcError(f"{display_name(src)}: no picture could be decoded")
            sender.finish(last_index)
        result.warnings.extend(reader.report())  # frames the input did not have: said, not hidden
    result.frames = last_index + 1
    result.duration_s = float(result.frames / info.fps)
    result.bytes_total = writer.bytes_written
    result.bytes_by_type = dict(writer.bytes_by_type)
    result.warnings.extend(_target_missed(opts, result))
    return result


TARGET_SLACK = 1.25  # a --kbps target missed by more than this factor is said


def _target_missed(opts: EncodeOptions, result: EncodeResult) -> list[str]:
    """A --kbps target the stream overshot by far: on a short clip a pivot, which costs the same
    however short the call, can take more than the whole budget."""
    kbps = result.bytes_total * 8 / max(result.duration_s, 1e-9) / 1000
    if not opts.kbps or kbps <= opts.kbps * TARGET_SLACK:
        return []
    pivots = sum(b for _, _, b in result.pivots) * 8 / max(result.duration_s, 1e-9) / 1000
    return [
        f"--kbps {opts.kbps:g} is not reached on this {result.duration_s:.1f}-s clip: {kbps:.1f} kbit/s, "
        f"the pivot pictures alone {pivots:.1f} (their share falls as a call goes on; --max-kbps caps the rate)"
    ]


def _format(opts: EncodeOptions, width: int, height: int) -> int:
    """The stream's format version: the oldest that holds what these options may send."""
    if has_scene_layer(opts, width, height):
        return C.SCENE_FORMAT
    return C.HYBRID_FORMAT if opts.mode == "hybrid" or opts.pivot_image_codec == "av1" else C.KEYPOINT_FORMAT


def _settle(opts: EncodeOptions, info, loaded: LoadedModel, result: EncodeResult) -> EncodeOptions:
    """The options for this input: a --kbps target's mode and settings (its audio and length count)."""
    if opts.kbps:
        audio_kbps = opts.audio_bitrate / 1000 if (opts.audio and info.has_audio) else 0.0
        opts = for_target(opts, audio_kbps, float(info.frame_count / info.fps), info.width * info.height)
        result.settings = describe(opts)
    if opts.mode == "hybrid" and loaded.fusion_sha256 is None:
        raise ThcError("--mode hybrid needs the fusion network's weights (weights/fusion.pt), which this thcodec lacks")
    return opts
