"""Reading and writing ordinary video files (MP4, MKV, ...) through PyAV, one frame at a time.

- ``VideoReader`` yields (H, W, 3) uint8 RGB frames lazily at a constant rate ``info.fps``
  (variable-frame-rate input is resampled by timestamp: frames are duplicated or dropped).
- ``encode_audio`` turns the input's audio into a lazy stream of 48 kHz mono Opus packets.
- ``VideoWriter`` writes H.264 (libx264) video plus, optionally, those Opus packets
  re-encoded as AAC, so that any player plays the result.

Nothing here holds more than a few frames in memory, so an hour-long call streams through.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import av
import av.error
import numpy as np

from thcodec.errors import ThcError, UsageError
from thcodec.media.streams import DEFAULT_INPUT_TIMEOUT_S, TimedInput, display_name, is_stream
from thcodec.options import DEFAULT_X264_PRESET, X264_PRESETS

DEFAULT_FPS = Fraction(25)
OPUS_SAMPLE_RATE = 48000
OPUS_CHANNELS = 1
OPUS_FRAME_MS = 60  # libopus frame_duration: 2880 samples per packet at 48 kHz
AAC_FRAME_SIZE = 1024
MAX_FILL_S = 60  # an input timestamp gap longer than this is refused, not filled with repeats
MAX_OPUS_PACKET_MS = 120  # the longest an Opus packet can be (RFC 6716): a decoded packet's hard limit
AUDIO_LEAD_S = 10.0  # silence for lost audio runs at most this far past the video written
_SAMPLE_DTYPES = {"flt": np.float32, "dbl": np.float64, "s16": np.int16, "s32": np.int32}
# FFmpeg demuxers that "open" any text file (.txt, .nfo, ...) as a video of rendered text.
_TEXT_FORMATS = frozenset({"tty"})
_WRITER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".y4m": "yuv4mpegpipe"}
LOSSLESS_SUFFIXES = (".mkv",)  # FFV1, RGB: the decoded frames exactly
OUTPUT_SUFFIXES = tuple(_WRITER_FORMATS)
# decode --format: the container of an output with no telling suffix (stdout, a FIFO)
OUTPUT_FORMATS = {"mp4": "mp4", "mov": "mov", "matroska": "matroska", "mkv": "matroska", "nut": "nut", "y4m": "yuv4mpegpipe"}
_SEEKING_FORMATS = ("mp4", "mov")  # write their index at the start after all frames: files only
_FFV1_FORMATS = ("matroska", "nut")  # lossless FFV1 in RGB


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frame_count: int  # estimate: round(duration_s * fps), or the container's count; 0 if unknown
    duration_s: float
    has_audio: bool


@dataclass(frozen=True)
class AudioConfig:
    codec: str  # "opus"
    sample_rate: int
    channels: int
    time_base: Fraction  # of AudioPacketData.pts / .duration
    extradata: bytes  # the Opus identification header the decoder needs


@dataclass(frozen=True)
class AudioPacketData:
    pts: int  # in AudioConfig.time_base; the first packet may be negative (encoder pre-skip)
    duration: int
    data: bytes


# --------------------------------------------------------------------------- reading


def _open_input(path: Path, timeout: float = DEFAULT_INPUT_TIMEOUT_S) -> av.container.InputContainer:
    """A regular file by name; '-' (stdin), a FIFO or a device through a TimedInput (read once,
    as it comes; nothing for `timeout` seconds is an error)."""
    stream = is_stream(path)
    name = display_name(path)
    if not stream and not path.exists():
        raise ThcError(f"{path}: no such file")
    if path.is_dir():
        raise ThcError(f"{path} is a directory, not a video file")
    try:
        container = av.open(TimedInput(path, timeout) if stream else str(path), metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise ThcError(f"{name} is not a media file") from exc
    except OSError as exc:
        raise ThcError(f"cannot read {name}: {exc.strerror or exc}") from exc
    except av.error.ExitError:
        raise KeyboardInterrupt from None  # FFmpeg gave up because of a Ctrl-C
    except av.error.FFmpegError as exc:
        raise ThcError(f"{name} is not a media file ({exc})") from exc
    if container.format.name in _TEXT_FORMATS:
        container.close()
        raise ThcError(f"{name} is not a media file")
    return container


class _Demux:
    """One pass over a container that cannot be read twice (a pipe): the decoded frames of its
    video and, once asked for, its audio, each stream's packets waiting in a queue of their own
    while the other is read (bounded by the container's interleaving)."""

    def __init__(self, container: av.container.InputContainer, name: str) -> None:
        self._container, self._name = container, name
        self._queues: dict[int, deque] = {}
        self._packets: Iterator[av.Packet] | None = None

    def frames(self, stream) -> Iterator[av.VideoFrame | av.AudioFrame]:
        """stream's decoded frames; every stream wanted must be asked for before the first is read."""
        if self._packets is not None and stream.index not in self._queues:
            raise RuntimeError("a stream asked for after demuxing began")
        return self._frames(stream, self._queues.setdefault(stream.index, deque()))

    def _frames(self, stream, queue: deque) -> Iterator[av.VideoFrame | av.AudioFrame]:
        try:
            while True:
                if not queue and not self._pull():
                    return
                while queue:
                    yield from queue.popleft().decode()
        except av.error.ExitError:
            raise KeyboardInterrupt from None  # FFmpeg gave up because of a Ctrl-C
        except av.error.FFmpegError as exc:
            hint = ""
            if "mp4" in self._container.format.name.split(","):  # its moov atom at the end: needs a seek back
                hint = "; an MP4 or MOV read from a pipe must have its index first (-movflags +faststart): else pipe nut, mkv or mpegts, or give the file's name"
            raise ThcError(f"{self._name}: cannot decode {stream.type} ({exc}){hint}") from exc

    def _pull(self) -> bool:
        """Demux one more packet of a wanted stream into its queue; False at the end."""
        if self._packets is None:
            wanted = [s for s in self._container.streams if s.index in self._queues]
            self._packets = self._container.demux(*wanted)
        for packet in self._packets:
            queue = self._queues.get(packet.stream.index)
            if queue is not None:
                queue.append(packet)
                return True
        return False


def _stream_fps(stream: av.video.stream.VideoStream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate is not None and 0 < rate <= 1000:
            # average_rate of variable-rate files can be an ugly ratio; 1001 keeps NTSC exact.
            return Fraction(rate).limit_denominator(1001)
    return DEFAULT_FPS


def _stream_duration(container: av.container.InputContainer, stream) -> tuple[float, bool]:
    """(seconds, whether it is the video stream's own duration)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base), True
    if container.duration:
        return container.duration / av.time_base, False
    return 0.0, False


class VideoReader:
    """Opens ``path`` at construction; use as a context manager; iterate once for RGB frames.

    ``path`` may be '-' (stdin), a FIFO or a device: then it is read once, as it comes (its
    audio, if wanted, through ``audio()`` from the same pass) and `timeout` seconds without data
    are an error; its frame count is unknown (0) until the end."""

    def __init__(self, path: Path | str, timeout: float = DEFAULT_INPUT_TIMEOUT_S) -> None:
        self.path = Path(path)
        self._container = _open_input(self.path, timeout)
        self._demux = _Demux(self._container, display_name(self.path)) if is_stream(self.path) else None
        try:
            if not self._container.streams.video:
                raise ThcError(f"{display_name(self.path)} has no video stream (audio only?)")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self._file_frames = self._decoded_file() if self._demux is None else iter(())
            self._quarter_turns = self._rotation()
            self.info, self._pad_to = self._read_info()
            if self._demux is not None:
                self._video_frames = self._demux.frames(self._stream)
        except BaseException:
            self._container.close()
            raise
        self._iterated = False
        self.gaps: list[tuple[int, int]] = []  # (first slot, slots) filled with repeats: timestamp gaps
        self.padded: tuple[int, int] | None = None  # (first slot, slots) repeated at the end: a truncated file?

    def _read_info(self) -> tuple[VideoInfo, int]:
        ctx = self._stream.codec_context
        if not ctx.width or not ctx.height:
            raise ThcError(f"{self.path}: video stream has no frame size (damaged file?)")
        fps = _stream_fps(self._stream)
        duration, own = _stream_duration(self._container, self._stream)
        slots = round(duration * fps) if duration > 0 else 0
        upright = self._quarter_turns % 2 == 0
        info = VideoInfo(
            width=ctx.width if upright else ctx.height,
            height=ctx.height if upright else ctx.width,
            fps=fps,
            frame_count=slots or max(self._stream.frames, 0),
            duration_s=duration,
            has_audio=bool(self._container.streams.audio),
        )
        # Pad the tail with repeats only when the duration is the video stream's own,
        # not a container duration that a longer audio track may have set.
        return info, slots if own else 0

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    @property
    def audio_apart(self) -> bool:
        """Its audio comes through a container of its own (a file, not a pipe read in one pass):
        its frames may be read on another thread while the audio is read on this one."""
        return self._demux is None

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._iterated:
            raise RuntimeError("a VideoReader can be iterated only once")
        self._iterated = True
        return self._constant_rate_frames()

    def audio(self, bitrate: int) -> tuple[AudioConfig, Iterator[AudioPacketData]] | None:
        """The input's first audio track as lazy Opus packets (encode_audio), or None if it has none."""
        if self._demux is None:
            return encode_audio(self.path, bitrate)
        if not self._container.streams.audio:
            return None
        encoder = _opus_encoder(bitrate)
        return _audio_config(encoder), _opus_packets(self._demux.frames(self._container.streams.audio[0]), encoder)

    def _decoded(self) -> Iterator[av.VideoFrame]:
        yield from (self._video_frames if self._demux is not None else self._file_frames)

    def _decoded_file(self) -> Iterator[av.VideoFrame]:
        try:
            yield from self._container.decode(self._stream)
        except av.error.ExitError:
            raise KeyboardInterrupt from None  # FFmpeg gave up because of a Ctrl-C
        except av.error.FFmpegError as exc:
            raise ThcError(f"{self.path}: cannot decode video ({exc})") from exc

    def _rotation(self) -> int:
        """Quarter turns (counter-clockwise, as np.rot90 counts them) that show the picture
        upright: a phone's recording is stored sideways with a display matrix, which players
        (and ffmpeg's autorotate) apply. Read from the first frame's side data; that frame is
        kept for __iter__. Not for a pipe, read once: decoding its first frame here would start
        the demuxing before its audio is asked for."""
        if self._demux is not None:
            return 0
        first = next(self._file_frames, None)
        if first is None:
            return 0
        self._file_frames = itertools.chain([first], self._file_frames)
        return round(getattr(first, "rotation", 0) / 90) % 4  # `rotation`: PyAV 14 and later

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        w, h = self.info.width, self.info.height
        if self._quarter_turns % 2:
            w, h = h, w  # the stored frame is the upright one turned
        rgb = frame.to_ndarray(format="rgb24", width=w, height=h)
        return np.ascontiguousarray(np.rot90(rgb, self._quarter_turns)) if self._quarter_turns else rgb

    def _constant_rate_frames(self) -> Iterator[np.ndarray]:
        """Input frame at time t goes to slot round((t - t0) * fps); a slot hit twice keeps the
        first frame, a skipped slot repeats the previous one, and the tail is padded to
        round(duration * fps)."""
        fps, time_base = self.info.fps, self._stream.time_base
        t0: Fraction | None = None
        next_slot = 0
        last: np.ndarray | None = None
        for frame in self._decoded():
            if frame.pts is None or time_base is None:
                slot = next_slot
            else:
                t = frame.pts * Fraction(time_base)
                if t0 is None:
                    t0 = t - Fraction(next_slot) / fps
                slot = round((t - t0) * fps)
            if slot < next_slot:
                continue  # faster than fps here: this slot is already shown
            rgb = self._rgb(frame)
            if last is not None and slot > next_slot:
                self._note_gap(next_slot, slot - next_slot)
            while next_slot < slot and last is not None:  # slower than fps: repeat
                yield last.copy()
                next_slot += 1
            next_slot = max(next_slot, slot)
            yield rgb
            next_slot += 1
            last = rgb
        if last is not None and next_slot < self._pad_to:
            self.padded = (next_slot, self._pad_to - next_slot)
        while last is not None and next_slot < self._pad_to:
            yield last.copy()
            next_slot += 1

    def _note_gap(self, at: int, frames: int) -> None:
        """A run of `frames` slots from `at` with no input frame: a timestamp gap (two or more
        frames: one is a variable rate's jitter), refused past MAX_FILL_S."""
        if frames > MAX_FILL_S * self.info.fps:
            raise ThcError(
                f"{display_name(self.path)}: a timestamp gap of {float(frames / self.info.fps):.0f} s at "
                f"{float(at / self.info.fps):.2f} s (over {MAX_FILL_S} s of frames to invent): a damaged file?"
            )
        if frames >= 2:
            self.gaps.append((at, frames))

    def report(self) -> list[str]:
        """What the constant-rate reading filled in, as warning lines (none when nothing was)."""
        fps, name, out = self.info.fps, display_name(self.path), []
        if self.gaps:
            at, longest = max(self.gaps, key=lambda g: g[1])
            n = sum(c for _, c in self.gaps)
            out.append(
                f"{name}: timestamp gaps: {n} frames filled with repeats in {len(self.gaps)} gaps "
                f"(the longest {longest} frames, at {float(at / fps):.2f} s)"
            )
        if self.padded:
            at, n = self.padded
            out.append(
                f"{name}: the video ends at {float(at / fps):.2f} s but the file says "
                f"{float((at + n) / fps):.2f} s: the last {n} frames are repeats (a truncated file?)"
            )
        return out


def probe(path: Path | str) -> VideoInfo:
    with VideoReader(path) as reader:
        return reader.info


# --------------------------------------------------------------------------- audio


def _opus_encoder(bitrate: int) -> av.AudioCodecContext:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = OPUS_SAMPLE_RATE
    encoder.layout = "mono"
    encoder.format = "flt"
    encoder.bit_rate = bitrate
    encoder.time_base = Fraction(1, OPUS_SAMPLE_RATE)
    # 60 ms frames (2880 samples): a third of the per-packet cost of the default 20 ms,
    # which matters at 12 kbit/s speech; latency is not the point of a file codec.
    encoder.options = {"application": "voip", "frame_duration": str(OPUS_FRAME_MS)}
    encoder.open()
    return encoder


def _packet_data(packets) -> Iterator[AudioPacketData]:
    for packet in packets:
        yield AudioPacketData(pts=packet.pts, duration=packet.duration, data=bytes(packet))


def _decoded_audio(path: Path) -> Iterator[av.AudioFrame]:
    with _open_input(path) as container:
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        try:
            yield from container.decode(stream)
        except av.error.ExitError:
            raise KeyboardInterrupt from None  # FFmpeg gave up because of a Ctrl-C
        except av.error.FFmpegError as exc:
            raise ThcError(f"{path}: cannot decode audio ({exc})") from exc


def _opus_packets(frames: Iterator[av.AudioFrame], encoder: av.AudioCodecContext) -> Iterator[AudioPacketData]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=OPUS_SAMPLE_RATE, frame_size=encoder.frame_size)
    samples = 0

    def encode(frames: list[av.AudioFrame]) -> Iterator[AudioPacketData]:
        nonlocal samples
        for frame in frames:
            frame.pts = samples
            frame.time_base = encoder.time_base
            samples += frame.samples
            yield from _packet_data(encoder.encode(frame))

    for frame in _mono(frames):
        yield from encode(resampler.resample(frame))
    yield from encode(resampler.resample(None))
    yield from _packet_data(encoder.encode(None))


def _mono(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Mono at the input's rate, downmixed as `ffmpeg -ac 1` does to integer samples: swresample's
    matrix normalised so that no sum exceeds full scale (stereo: the mean of the two). Its
    downmix straight to float (the Opus encoder's format) is not normalised: stereo came out
    about 3 dB louder, 5.1 up to 9 dB, clipping."""
    to_s16: av.AudioResampler | None = None

    def as_float(frames: list[av.AudioFrame]) -> Iterator[av.AudioFrame]:
        for f in frames:
            out = av.AudioFrame.from_ndarray(f.to_ndarray().astype(np.float32) / 32768, format="fltp", layout="mono")
            out.sample_rate = f.sample_rate
            yield out

    for frame in frames:
        if len(frame.layout.channels) == 1:
            yield frame
            continue
        if to_s16 is None:
            to_s16 = av.AudioResampler(format="s16", layout="mono", rate=frame.sample_rate)
        yield from as_float(to_s16.resample(frame))
    if to_s16 is not None:
        yield from as_float(to_s16.resample(None))


def _audio_config(encoder: av.AudioCodecContext) -> AudioConfig:
    return AudioConfig(
        codec="opus",
        sample_rate=OPUS_SAMPLE_RATE,
        channels=OPUS_CHANNELS,
        time_base=Fraction(1, OPUS_SAMPLE_RATE),
        extradata=bytes(encoder.extradata or b""),
    )


def encode_audio(path: Path | str, bitrate: int = 16000) -> tuple[AudioConfig, Iterator[AudioPacketData]] | None:
    """The input's first audio track as lazy 48 kHz mono Opus packets, or None if it has none."""
    path = Path(path)
    with _open_input(path) as container:
        if not container.streams.audio:
            return None
    encoder = _opus_encoder(bitrate)
    return _audio_config(encoder), _opus_packets(_decoded_audio(path), encoder)


# --------------------------------------------------------------------------- writing


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


class _AudioTranscoder:
    """Opus packets in, AAC packets (for ``stream``) out."""

    def __init__(self, config: AudioConfig, stream: av.audio.stream.AudioStream) -> None:
        if config.codec != "opus":
            raise ThcError(f"unsupported audio codec {config.codec!r}")
        self._config = config
        self._stream = stream
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = config.sample_rate
        self._decoder.layout = _layout(config.channels)
        self._decoder.extradata = config.extradata
        self._resampler = av.AudioResampler(
            format="fltp",
            layout=_layout(config.channels),
            rate=config.sample_rate,
            frame_size=AAC_FRAME_SIZE,
        )
        self._in_samples = 0
        self._out_samples = 0
        self._next_pts: int | None = None  # where the packet after the last one starts (time-base units)
        self._shape: tuple[str, str] | None = None  # (format, layout) of the decoded frames, for silence

    def _samples(self, units: int) -> int:
        """Time-base units -> samples."""
        return int(units * self._config.time_base * self._config.sample_rate)

    def _trimmed(self, frame: av.AudioFrame, keep: int) -> av.AudioFrame:
        """The last Opus frame decodes to a full frame (60 ms); keep only the packet's real duration."""
        if frame.samples <= keep:
            return frame
        array = np.ascontiguousarray(frame.to_ndarray()[:, :keep])
        trimmed = av.AudioFrame.from_ndarray(array, format=frame.format.name, layout=frame.layout.name)
        trimmed.sample_rate = frame.sample_rate
        return trimmed

    def _encode(self, frames: list[av.AudioFrame]) -> list[av.Packet]:
        packets: list[av.Packet] = []
        for frame in frames:
            frame.pts = self._out_samples
            frame.time_base = Fraction(1, self._config.sample_rate)
            self._out_samples += frame.samples
            packets.extend(self._stream.encode(frame))
        return packets

    def _resampled(self, frame: av.AudioFrame) -> list[av.Packet]:
        frame.pts = self._in_samples  # a gap-free timeline for the resampler
        frame.time_base = Fraction(1, self._config.sample_rate)
        self._in_samples += frame.samples
        return self._encode(self._resampler.resample(frame))

    def _silence(self, samples: int) -> list[av.Packet]:
        """samples of silence (lost audio), made a second at a time."""
        out: list[av.Packet] = []
        fmt, layout = self._shape
        planar, dtype = fmt.endswith("p"), _SAMPLE_DTYPES.get(fmt.rstrip("p"), np.float32)
        while samples > 0:
            n = min(samples, self._config.sample_rate)
            zeros = np.zeros((self._config.channels, n) if planar else (1, n * self._config.channels), dtype)
            frame = av.AudioFrame.from_ndarray(zeros, format=fmt, layout=layout)
            frame.sample_rate = self._config.sample_rate
            out.extend(self._resampled(frame))
            samples -= n
        return out

    def transcode(self, packet: AudioPacketData, until_s: float | None = None) -> list[av.Packet]:
        """One Opus packet -> AAC packets. The limits are the caller's, not the data's: a packet
        gives at most its declared duration, and never more than MAX_OPUS_PACKET_MS (the longest
        an Opus packet can be); a gap before it (audio lost) is silence, but the audio never runs
        more than AUDIO_LEAD_S past until_s (the video written so far, in seconds)."""
        out: list[av.Packet] = []
        if self._next_pts is not None and packet.pts > self._next_pts and self._shape is not None:
            room = self._in_samples + 1 if until_s is None else int((until_s + AUDIO_LEAD_S) * self._config.sample_rate)
            out.extend(self._silence(min(self._samples(packet.pts - self._next_pts), room - self._in_samples)))
        self._next_pts = packet.pts + packet.duration
        source = av.Packet(packet.data)
        source.pts = packet.pts
        source.duration = packet.duration
        source.time_base = self._config.time_base
        most = self._config.sample_rate * MAX_OPUS_PACKET_MS // 1000
        left = min(self._samples(packet.duration), most) if packet.duration > 0 else most
        for frame in self._decoder.decode(source):
            if left <= 0:
                break
            frame = self._trimmed(frame, left)
            left -= frame.samples
            self._shape = (frame.format.name, frame.layout.name)
            out.extend(self._resampled(frame))
        return out

    def flush(self) -> list[av.Packet]:
        out = self._encode(self._resampler.resample(None))
        out.extend(self._stream.encode(None))
        return out


def output_format(name: str, suffix: str, fmt: str | None, stream: bool) -> str:
    """The muxer for an output: --format fmt, else the suffix's; a stream (stdout, a FIFO) must be one
    that is written front to back (not MP4/MOV, which write their index at the start, at the end)."""
    if fmt is None:
        if suffix.lower() not in _WRITER_FORMATS:
            if stream:  # only the formats a pipe can take
                pipe = [f for f, m in OUTPUT_FORMATS.items() if m not in _SEEKING_FORMATS]
                raise ThcError(f"{name}: give the container with --format ({', '.join(pipe)})")
            raise ThcError(f"{name}: name the output {' or '.join(OUTPUT_SUFFIXES)} (or give --format)")
        muxer = _WRITER_FORMATS[suffix.lower()]
    elif fmt.lower() in OUTPUT_FORMATS:
        muxer = OUTPUT_FORMATS[fmt.lower()]
    else:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(OUTPUT_FORMATS)}")
    if stream and muxer in _SEEKING_FORMATS:
        raise ThcError(f"{name}: {muxer} cannot be written to a pipe (it needs to seek back); use --format nut, mkv or y4m")
    return muxer


@contextmanager
def _own_errors() -> Iterator[None]:
    """A stream writer whose reader closed the pipe raises ThcError; PyAV, writing into that pipe
    again through its I/O callback (the container's trailer on close), then raises a
    PyAVCallbackError while the ThcError is handled. Raise the ThcError: the one-line cause."""
    try:
        yield
    except av.PyAVCallbackError as e:
        if isinstance(e.__context__, ThcError):
            raise e.__context__ from None
        raise


class VideoWriter:
    """Video (+ AAC audio) file writer; use as a context manager, which flushes on exit.

    Frames are numbered 0, 1, 2, ... at exactly ``fps`` (time base 1/fps).
    - .mp4/.m4v/.mov: H.264 yuv420p at ``crf`` and ``preset``, which browsers and QuickTime play. 4:2:0 needs
      even sizes: an odd width or height is padded by one pixel (the last column or row
      repeated), so such a file is one pixel wider or taller than asked (``coded_size``).
    - .mkv (matroska) and nut: FFV1 in RGB, lossless and exactly ``width`` x ``height``.
    - .y4m: raw 4:4:4 YUV at the exact size, no audio (y4m has none).
    ``path`` may be a file object (stdout, a FIFO) written front to back: then ``fmt`` names the
    container (output_format), frames go out as they are written (flush_packets), never MP4.
    """

    def __init__(
        self,
        path: Path | str | BinaryIO,
        width: int,
        height: int,
        fps: Fraction,
        audio: AudioConfig | None = None,
        crf: int = 18,
        audio_bitrate: int = 64000,
        fmt: str | None = None,
        preset: str = DEFAULT_X264_PRESET,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"bad frame size {width}x{height}")
        fps = Fraction(fps)
        if fps <= 0:
            raise ValueError(f"bad frame rate {fps}")
        if preset not in X264_PRESETS:
            raise ValueError(f"bad x264 preset {preset!r}")
        stream = not isinstance(path, (str, Path))
        self.path = Path(getattr(path, "name", "-")) if stream else Path(path)
        self.width, self.height, self.fps = width, height, fps
        self.format = output_format(str(self.path), self.path.suffix, fmt, stream)
        self.lossless = self.format in (*_FFV1_FORMATS, "yuv4mpegpipe")
        # H.264 4:2:0 needs even sizes: odd ones are padded (see the class doc)
        self.coded_size = (width, height) if self.lossless else (width + width % 2, height + height % 2)
        self._frames = 0
        self._closed = False
        options = {"movflags": "+faststart"} if self.format in _SEEKING_FORMATS else {}
        if stream:
            options["flush_packets"] = "1"  # each frame to the reader as soon as it is muxed
        try:
            self._container = av.open(path if stream else str(self.path), "w", format=self.format, options=options)
        except OSError as exc:
            raise ThcError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        try:
            self._video = self._add_video(crf, preset)
            self.has_audio = audio is not None and self.format != "yuv4mpegpipe"
            self._audio = self._add_audio(audio, audio_bitrate) if self.has_audio else None
        except BaseException:
            self._container.close()
            raise

    def _add_video(self, crf: int, preset: str) -> av.video.stream.VideoStream:
        codec, pix_fmt = "libx264", "yuv420p"
        if self.format in _FFV1_FORMATS:
            codec, pix_fmt = "ffv1", "bgr0"
        elif self.format == "yuv4mpegpipe":
            codec, pix_fmt = "rawvideo", "yuv444p"
        stream = self._container.add_stream(codec, rate=self.fps)
        stream.width, stream.height = self.coded_size
        stream.pix_fmt = pix_fmt
        stream.time_base = 1 / self.fps
        stream.codec_context.time_base = 1 / self.fps
        stream.thread_type = "AUTO"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": preset}
        return stream

    def _add_audio(self, config: AudioConfig, bitrate: int) -> _AudioTranscoder:
        stream = self._container.add_stream("aac", rate=config.sample_rate)
        stream.layout = _layout(config.channels)
        stream.bit_rate = bitrate
        return _AudioTranscoder(config, stream)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(flush=exc_type is None)

    @property
    def frames_written(self) -> int:
        return self._frames

    def _mux(self, packets: list[av.Packet]) -> None:
        with _own_errors():
            self._container.mux(packets)

    def write_frame(self, rgb: np.ndarray) -> None:
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 ({self.height}, {self.width}, 3), got {rgb.dtype} {rgb.shape}")
        pad_w, pad_h = self.coded_size[0] - self.width, self.coded_size[1] - self.height
        if pad_w or pad_h:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self._frames
        frame.time_base = 1 / self.fps
        self._frames += 1
        self._mux(self._video.encode(frame))

    def write_audio(self, packet: AudioPacketData) -> None:
        if self._audio is None:
            raise ValueError("this VideoWriter was opened without audio")
        self._mux(self._audio.transcode(packet, float(self._frames / self.fps)))  # lost audio: silence, bounded

    def close(self, flush: bool = True) -> None:
        """Flush the encoders (unless ``flush`` is False, e.g. after an error) and close."""
        if self._closed:
            return
        self._closed = True
        try:
            if flush:
                self._mux(self._video.encode(None))
                if self._audio is not None:
                    self._mux(self._audio.flush())
        finally:
            with _own_errors():
                self._container.close()
