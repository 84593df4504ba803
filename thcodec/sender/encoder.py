"""Sender: video file -> .thc stream: pivots, and key points for every kept frame between them.

With the adaptive policy (the default) a new pivot is sent on a scene cut, when the face
leaves its region, when the predicted quality drops (the sender runs the receiver's model on
the frames it sends), or after --max-pivot-interval; the rate cap may hold a switch back or
lower the pivot's JPEG quality. See thcodec/sender/pivot_policy.py and thcodec/format/rate.py."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.errors import ThcError
from thcodec.face.region import FaceFinder, Region, choose_region
from thcodec.media.frames import jpeg_decode, jpeg_encode, to_tensor, to_uint8
from thcodec.models.keypoints import Keypoints
from thcodec.sender.landmark_motion import LandmarkMotion
from thcodec.options import MODEL_SIZE, EncodeOptions
from thcodec.sender.pivot_policy import (
    BACKGROUND_GAIN_DB,
    BG_LONG_SIDE,
    CANDIDATE_AGE_S,
    CutDetector,
    FaceWatch,
    Trend,
    background_mask,
    background_psnr,
    capped_psnr,
    thumbnail,
)
from thcodec.format.rate import RateLedger, chunk_time
from thcodec.sender.refine import refine_keypoints
from thcodec.media.video_io import AudioPacketData, VideoReader, encode_audio
from thcodec.models.weights import LoadedModel


@dataclass
class EncodeResult:
    frames: int = 0
    duration_s: float = 0.0
    bytes_total: int = 0
    bytes_by_type: dict[str, int] = field(default_factory=dict)
    region: Region | None = None  # the first pivot's face region
    warnings: list[str] = field(default_factory=list)
    pivots: list[tuple[int, str, int]] = field(default_factory=list)  # (frame, reason, JPEG bytes)
    analysis: list["Analysis"] = field(default_factory=list)


@dataclass(frozen=True)
class Analysis:
    """One analysed frame, as the sender predicts the receiver will show it."""

    frame: int
    motion_error_px: float  # key points found on the predicted frame vs on the frame, px at model size
    face_db: float  # PSNR of the face region
    background_db: float | None  # PSNR outside the face region (None: the region is the whole frame)
    background_gain_db: float | None  # how much better a frame 1-2 s old matches the background


LOOKAHEAD = 12  # frames held before key points are detected and analysed together
ANALYSE_EVERY = 4  # sent frames between quality predictions (rendering costs like the receiver)
RETRY_EVERY = 6  # frames between retries of a switch the rate cap held back
KP_PRIOR_BYTES = 45  # key-point bytes per sent frame assumed before any are measured
RATE_MARGIN = 1.1  # headroom on the measured key-point + audio rate when checking the cap
PIVOT_OVERHEAD = 2 * C.CHUNK_OVERHEAD + 5 + 12  # SWCH + PIVT framing and fields
MIN_PIVOT_QUALITY = 10  # the cap may lower a pivot's JPEG quality down to this

AUDIO_CHUNK_S = 1.0  # an AUDI chunk is closed once it holds this much audio (so at most 1 s + one packet)


class _AudioInterleaver:
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


class _KeypointBlocks:
    """Collects the kept frames' quantized key points and writes them as KPTS blocks."""

    def __init__(self, emit: Callable[[object], None], step: int, block: int) -> None:
        self._emit, self._step, self._block = emit, step, block
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
        self._emit(C.KeypointBlock(first_frame=self._frames[0], count=len(self._frames), step=self._step, flags=flags, data=data))
        self._prev = f[-1]
        self._frames, self._fields = [], []

    def end_segment(self) -> None:
        """Before a new pivot: the receiver predicts nothing across it."""
        self.flush()
        self._prev = None


@dataclass
class _Segment:
    """The sender's copy of what the receiver holds for one pivot."""

    start: int
    region: Region
    image: torch.Tensor  # the decoded pivot's region at model size, as the receiver has it
    keypoints: Keypoints
    watch: FaceWatch
    motion: Trend
    background_gain: Trend
    background: np.ndarray  # thumbnail of the decoded pivot
    background_keep: np.ndarray  # thumbnail pixels outside the face region
    kept: int = 0  # key-point frames sent so far
    snapshots: deque = field(default_factory=deque)  # (frame, thumbnail) of recent frames, oldest first


class _Sender:
    """Turns frames, in order, into pivots and key-point blocks, deciding when to switch pivots."""

    def __init__(self, writer: C.ContainerWriter, loaded: LoadedModel, opts: EncodeOptions, info, result: EncodeResult) -> None:
        self._writer, self._loaded, self._opts, self._result = writer, loaded, opts, result
        self._fps = info.fps
        self._size = (info.width, info.height)
        self._ledger = RateLedger()
        self._audio_tb: Fraction | None = None
        self._interleave: _AudioInterleaver | None = None
        self._blocks = _KeypointBlocks(self._emit, opts.interp, opts.block_frames)
        self._finder = FaceFinder()
        self._cut = CutDetector()
        self._motion = LandmarkMotion() if opts.motion == "landmarks" else None
        self._seg: _Segment | None = None
        self._pending: list[tuple[int, np.ndarray]] = []
        self._wanted: C.SwitchReason | None = None  # a switch the rate cap has held back
        self._budget = opts.max_kbps * 1000 / 8 * self._ledger.window_s
        self._ledger.add(0.0, writer.bytes_written)  # magic, version and HEAD, written already
        # Until 2 s of stream exist, key points + audio are assumed to take this much (bytes/s).
        self._prior_rate = KP_PRIOR_BYTES * float(self._fps) / opts.interp

    # --- writing --------------------------------------------------------------------------

    def set_audio(self, header: C.AudioHeader, packets: Iterator[AudioPacketData]) -> None:
        self._emit(header)
        self._audio_tb = Fraction(header.time_base_num, header.time_base_den)
        self._prior_rate += self._opts.audio_bitrate / 8
        self._interleave = _AudioInterleaver(self._emit, self._audio_tb, packets)

    def _emit(self, chunk, end_s: float = 0.0) -> None:
        if isinstance(chunk, C.KeypointBlock):  # audio up to the block's last frame goes first
            self._audio_until(chunk.first_frame + (chunk.count - 1) * chunk.step)
        before = self._writer.bytes_written
        self._writer.write(chunk)
        t = chunk_time(chunk, self._fps, self._audio_tb, end_s)
        self._ledger.add(t, self._writer.bytes_written - before, pivot=isinstance(chunk, (C.Pivot, C.PivotSwitch)))

    def _audio_until(self, index: int | None) -> None:
        if self._interleave:
            self._interleave.until(None if index is None else index / self._fps)

    # --- frames in ------------------------------------------------------------------------

    def push(self, index: int, frame: np.ndarray) -> None:
        cut = self._opts.adaptive and self._cut(frame)  # every frame, so the detector's history is whole
        if self._seg is None:
            # Under a rate cap the first pivot waits for LOOKAHEAD frames, whose key points
            # show what the stream will cost; without one it starts at once. A cut among
            # them starts it early, so the cut gets its own pivot below.
            if cut and self._pending:
                self._begin()
            else:
                self._pending.append((index, frame))
                if len(self._pending) >= LOOKAHEAD or not self._opts.max_kbps:
                    self._begin()
                return
        if self._opts.adaptive:
            seg = self._seg
            reason = C.SwitchReason.SCENE_CUT if cut else self._reason_at(index, frame, seg)
            if reason is not None and self._opts.max_kbps and self._pivot_jpeg(index, frame, reason) is None:
                self._wanted = reason  # no room under the cap: retried, the segment goes on as it was
            elif reason is not None:
                # The frames before this one are sent first (they may bring a pivot of their
                # own), then the pivot is sized against what has really been written.
                self._process(end=True)
                jpeg = None
                if reason == C.SwitchReason.SCENE_CUT or self._seg is seg:
                    jpeg = self._pivot_jpeg(index, frame, reason)
                    if jpeg is None:
                        self._wanted = reason
                if jpeg is not None:
                    self._start(index, frame, reason, jpeg)
        self._pending.append((index, frame))
        if len(self._pending) >= LOOKAHEAD:
            self._process(end=False)

    def _reason_at(self, index: int, frame: np.ndarray, seg: _Segment) -> C.SwitchReason | None:
        """Why frame index needs a new pivot, other than a scene cut (push checks that)."""
        since = index - seg.start  # frames
        opts = self._opts
        if seg.watch(index, frame) and since >= self._frames_of(opts.min_pivot_interval_s):
            return C.SwitchReason.FACE_LEFT
        if opts.max_pivot_interval_s and since >= self._frames_of(opts.max_pivot_interval_s):
            return C.SwitchReason.MAX_INTERVAL
        if self._wanted is not None and index % RETRY_EVERY == 0:
            return self._wanted
        return None

    def _begin(self) -> None:
        """Send the first pivot (the first pending frame)."""
        index, frame = self._pending[0]
        if self._opts.max_kbps:
            self._prior_rate = self._measured_rate()
        jpeg = self._pivot_jpeg(index, frame, C.SwitchReason.START)
        if jpeg is None:
            jpeg = jpeg_encode(frame, MIN_PIVOT_QUALITY)
            self._result.warnings.append(f"--max-kbps {self._opts.max_kbps:g} has no room for the first pivot: sent at JPEG quality {MIN_PIVOT_QUALITY}")
        self._start(index, frame, C.SwitchReason.START, jpeg)
        if len(self._pending) >= LOOKAHEAD:
            self._process(end=False)

    def _measured_rate(self) -> float:
        """Bytes/s the key points (coded as they will be) and audio of the pending frames predict."""
        index, frame = self._pending[0]
        region = choose_region(*self._size, self._finder.largest_face(frame))
        kept = [(i, f) for i, f in self._pending if (i - index) % self._opts.interp == 0]
        # No pivot yet to measure motion from or refine against: the detector's own points, whose rate is alike.
        fields = self._detect([i for i, _ in kept], [region.crop(f, MODEL_SIZE) for _, f in kept], detector_only=True)[0]
        if len(fields) < 2:
            return self._prior_rate
        # The first frame is coded from zero; the steady state predicts each frame from the last.
        per_frame = len(kpq.compress_block(fields[1:], fields[0])) / (len(fields) - 1)
        audio = self._opts.audio_bitrate / 8 if self._audio_tb is not None else 0.0
        return RATE_MARGIN * (per_frame + C.CHUNK_OVERHEAD / self._opts.block_frames) * float(self._fps) / self._opts.interp + audio

    def _frames_of(self, seconds: float) -> int:
        return max(1, round(seconds * self._fps)) if seconds else 0

    def finish(self, last_index: int) -> None:
        if self._seg is None:
            self._begin()
        self._process(end=True)
        self._blocks.flush()
        self._audio_until(None)
        self._emit(C.End(frame_count=last_index + 1), end_s=float((last_index + 1) / self._fps))
        worst = self._ledger.worst_kbps()
        if self._opts.max_kbps and worst > self._opts.max_kbps:
            self._result.warnings.append(
                f"--max-kbps {self._opts.max_kbps:g} exceeded: a 10-second window carries {worst:.1f} kbit/s "
                "(the key points or the lowest-quality pivots did not fit; try --interp 3 or a lower --audio-kbps)")

    # --- pivots ---------------------------------------------------------------------------

    def _pivot_jpeg(self, index: int, frame: np.ndarray, reason: C.SwitchReason) -> bytes | None:
        """The pivot picture at the best quality the rate cap allows, or None if none fits.

        Only a scene cut may spend the last of the room: other pivots leave enough for one
        more at the lowest quality, so a cut that follows them can still be sent."""
        q = self._opts.pivot_quality
        if not self._opts.max_kbps:
            return jpeg_encode(frame, q)
        t = float(index / self._fps)
        ledger = self._ledger
        rate = self._prior_rate if ledger.covered_s < 2 else RATE_MARGIN * ledger.other_rate()
        # Key points and audio up to t not written yet will be charged before t.
        room = ledger.room(t, self._budget, rate) - rate * max(0.0, t - ledger.covered_s) - PIVOT_OVERHEAD
        worst = jpeg_encode(frame, MIN_PIVOT_QUALITY)
        if reason != C.SwitchReason.SCENE_CUT:
            room -= len(worst) + PIVOT_OVERHEAD
        if len(worst) > room:
            return None
        best = jpeg_encode(frame, q)
        if len(best) <= room:
            return best
        lo, hi = MIN_PIVOT_QUALITY, q  # lo fits, hi does not
        while hi - lo > 5:
            mid = (lo + hi) // 2
            data = jpeg_encode(frame, mid)
            if len(data) <= room:
                lo, worst = mid, data
            else:
                hi = mid
        return worst

    def _start(self, index: int, frame: np.ndarray, reason: C.SwitchReason, jpeg: bytes) -> None:
        """Send frame as a new pivot (choosing its face region) and start a segment on it."""
        self._blocks.end_segment()
        if index:  # audio due before a later pivot goes first (at 0, Opus priming would split a chunk)
            self._audio_until(index)
        face = self._finder.largest_face(frame)
        region = choose_region(*self._size, face)
        if face is None and reason == C.SwitchReason.START:
            self._result.warnings.append("no face found in the first frame: the whole frame is the region")
        self._emit(C.PivotSwitch(frame_index=index, reason=reason))
        self._emit(C.Pivot(frame_index=index, x=region.x, y=region.y, w=region.w, h=region.h, jpeg=jpeg))
        self._result.pivots.append((index, reason.name.lower(), len(jpeg)))
        if self._result.region is None:
            self._result.region = region
        decoded = jpeg_decode(jpeg, *self._size)  # what the receiver will animate
        image = to_tensor(region.crop(decoded, MODEL_SIZE))
        thumb = thumbnail(decoded, BG_LONG_SIDE)
        pivot_kp = self._loaded.model.detect_keypoints(image)
        if self._motion is not None:
            self._motion.start(index, region.crop(frame, MODEL_SIZE), pivot_kp)
        self._seg = _Segment(
            start=index,
            region=region,
            image=image,
            keypoints=pivot_kp,
            watch=FaceWatch(self._finder, region, face, index),
            motion=Trend(self._opts.max_motion_error_px),
            background_gain=Trend(BACKGROUND_GAIN_DB),
            background=thumb,
            background_keep=background_mask(region, *self._size, thumb.shape[:2]),
        )
        self._cut.reset()
        self._wanted = None

    # --- key points -----------------------------------------------------------------------

    def _is_kept(self, index: int) -> bool:
        return (index - self._seg.start) % self._opts.interp == 0

    def _process(self, end: bool) -> None:
        """Send key points for the pending frames; end: the segment ends with the last of them.

        An unkept last frame stays pending (it may turn out to end the segment, and a
        segment's last frame is always sent). A quality drop found on the way starts a new
        segment there and the rest of the frames are sent on the new pivot."""
        while self._pending:
            seg, items = self._seg, self._pending
            n = len(items) if end or self._is_kept(items[-1][0]) else len(items) - 1
            if n == 0:
                return
            kept = [k for k in range(n) if self._is_kept(items[k][0]) or (end and k == n - 1)]
            crops = {k: seg.region.crop(items[k][1], MODEL_SIZE) for k in kept}
            fields, seen_xy = self._detect([items[k][0] for k in kept], [crops[k] for k in kept])
            at = self._quality_drop(items, kept, crops, fields, seen_xy) if self._opts.adaptive else None
            jpeg = None
            if at is not None:
                jpeg = self._pivot_jpeg(items[at][0], items[at][1], C.SwitchReason.QUALITY)
                if jpeg is None:
                    self._wanted = C.SwitchReason.QUALITY
            if jpeg is None:
                self._commit(items[:n], kept, fields)
                self._pending = items[n:]
                return
            # The segment ends at frame at-1, which is sent even if the step skips it.
            before = [k for k in kept if k < at]
            extra = []
            if at > 0 and (not before or before[-1] != at - 1):
                extra = [at - 1]
            f_before = [fields[kept.index(k)] for k in before]
            if extra:
                f_before += list(self._detect([items[at - 1][0]], [seg.region.crop(items[at - 1][1], MODEL_SIZE)])[0])
            self._commit(items[:at], before + extra, f_before)
            self._pending = items[at:]
            self._start(items[at][0], items[at][1], C.SwitchReason.QUALITY, jpeg)

    def _detect(self, indices: list[int], crops: list[np.ndarray], detector_only: bool = False) -> tuple[np.ndarray, torch.Tensor]:
        """-> (the quantized key points to send, (N,K,2) positions the detector sees in the frames).
        Within a segment the sent ones follow --motion (dlib's landmarks relative to the
        pivot's key points, thcodec/sender/landmark_motion.py) and --refine (chosen for the
        receiver's picture of the pivot); detector_only: the detector's own, as seen."""
        k = self._loaded.model.num_kp
        if not crops:
            return np.zeros((0, k, kpq.NUM_FIELDS), np.int32), torch.zeros(0, k, 2)
        frames = to_tensor(np.stack(crops))
        seen = self._loaded.model.detect_keypoints(frames)
        detected = self._quantize(seen)
        seen_xy = Keypoints.from_numpy(*kpq.dequantize(detected)).xy  # as the receiver would get them
        if detector_only:
            return detected, seen_xy
        sent = self._motion.apply(indices, crops, seen) if self._motion is not None else seen
        if self._opts.refine_steps:
            sent = refine_keypoints(self._loaded.model, self._seg.image, self._seg.keypoints, frames, sent, self._opts.refine_steps)
        return self._quantize(sent), seen_xy

    def _quantize(self, kp: Keypoints) -> np.ndarray:
        return kpq.coarsen(kpq.quantize(*kp.numpy()), self._opts.xy_step, self._opts.jac_step)

    def _commit(self, items: list[tuple[int, np.ndarray]], kept: list[int], fields) -> None:
        if not kept:
            return
        for k, f in zip(kept, fields):
            self._blocks.add(items[k][0], f)
        self._seg.kept += len(kept)

    def _quality_drop(self, items, kept: list[int], crops: dict, fields: np.ndarray, seen_xy: torch.Tensor) -> int | None:
        """Analysis by synthesis: every ANALYSE_EVERY-th sent frame is rendered as the receiver
        will render it and judged (see pivot_policy): the motion error is how far the key points
        found on the rendering lie from those found on the frame. -> position in items of the first frame
        whose predicted quality has dropped and that may take a new pivot, or None."""
        seg = self._seg
        picks = [j for j, k in enumerate(kept) if (seg.kept + j) % ANALYSE_EVERY == 0 and items[k][0] != seg.start]
        if not picks:
            return None
        n = len(picks)
        xy, jac = kpq.dequantize(fields[picks])
        drive = Keypoints.from_numpy(xy, jac)
        predicted = self._loaded.model.animate(seg.image.expand(n, -1, -1, -1), seg.keypoints.expand(n), drive)
        rendered_xy = self._loaded.model.detect_keypoints(predicted).xy
        motion_px = ((rendered_xy - seen_xy[picks]).norm(dim=-1).mean(dim=-1) * (MODEL_SIZE / 2)).tolist()
        out = to_uint8(predicted)
        min_gap = self._frames_of(self._opts.min_pivot_interval_s)
        has_background = seg.background_keep.any()  # not when the region is the whole frame
        for j, p in enumerate(picks):
            k = kept[p]
            index, frame = items[k]
            dropped = seg.motion.add(motion_px[j])
            bg_db = bg_gain = None
            if has_background:
                thumb = thumbnail(frame, BG_LONG_SIDE)
                bg_db = background_psnr(thumb, seg.background, seg.background_keep)
                older = self._older_background(index)
                if older is not None:
                    bg_gain = background_psnr(thumb, older, seg.background_keep) - bg_db
                    dropped = seg.background_gain.add(bg_gain) or dropped
                self._keep_background(index, thumb)
            self._result.analysis.append(Analysis(index, motion_px[j], capped_psnr(out[j], crops[k]), bg_db, bg_gain))
            if dropped and index - seg.start >= min_gap:
                return k
        return None

    def _older_background(self, index: int) -> np.ndarray | None:
        """Thumbnail of the newest kept frame at least CANDIDATE_AGE_S before frame index."""
        snaps = self._seg.snapshots
        age = CANDIDATE_AGE_S * float(self._fps)
        while len(snaps) > 1 and index - snaps[1][0] >= age:
            snaps.popleft()
        if snaps and index - snaps[0][0] >= age:
            return snaps[0][1]
        return None

    def _keep_background(self, index: int, thumb: np.ndarray) -> None:
        snaps = self._seg.snapshots
        if not snaps or index - snaps[-1][0] >= CANDIDATE_AGE_S * float(self._fps):
            snaps.append((index, thumb))


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
        sender = _Sender(writer, loaded, opts, info, result)
        audio = encode_audio(src, opts.audio_bitrate) if (opts.audio and info.has_audio) else None
        if audio is not None:
            cfg, packets = audio
            if opts.max_kbps and opts.audio_bitrate / 1000 >= opts.max_kbps:
                raise ThcError(f"--max-kbps {opts.max_kbps:g} leaves nothing for the picture: the audio alone takes "
                               f"{opts.audio_bitrate / 1000:g} kbit/s (lower --audio-kbps, or --no-audio)")
            sender.set_audio(C.AudioHeader(codec=C.AudioCodec.OPUS, sample_rate=cfg.sample_rate, channels=cfg.channels,
                                           time_base_num=cfg.time_base.numerator, time_base_den=cfg.time_base.denominator,
                                           extradata=cfg.extradata), packets)
        last_index = -1
        for last_index, frame in enumerate(reader):
            sender.push(last_index, frame)
            if on_frames:
                on_frames(1)
        if last_index < 0:
            raise ThcError(f"{src}: no picture could be decoded")
        sender.finish(last_index)
    result.frames = last_index + 1
    result.duration_s = float(result.frames / info.fps)
    result.bytes_total = writer.bytes_written
    result.bytes_by_type = dict(writer.bytes_by_type)
    return result
