"""What a .thc file holds and what its bytes are spent on, from its chunks alone (no model, no
torch: `thc stats` starts at once); quality against a reference is thcodec/reference_quality.py.

Figures follow the conventions of video tools and learned-compression papers:
- video = the picture's bytes (pivots and their switch markers, key points, the hybrid
  mode's base layer), chunk payloads only; audio and container overhead are counted apart;
- bits per pixel = video bits / (width x height x frames);
- the worst window is WINDOW_S seconds long, or the whole clip when it is shorter;
- PSNR Y is on BT.601 limited-range luma, averaged as ffmpeg's ``psnr`` filter does (the
  PSNR of the mean squared error over all frames); PSNR RGB and SSIM RGB on the RGB frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.format.rate import WINDOW_S, chunk_time, worst_window

# Bumped when a key of StreamStats.as_dict() changes meaning or goes away (2: issue 21's
# video-only rate, clip-long window, PSNR Y/RGB named, per-frame sizes).
SCHEMA_VERSION = 2

# Payload bytes of these chunk types are charged to each category; everything else
# (magic, version, HEAD, END, 12 bytes of type/length/CRC per chunk) is container overhead.
CATEGORY = {
    "PIVT": "pivot",
    "SWCH": "pivot",
    "KPTS": "keypoints",
    "AUDH": "audio",
    "AUDI": "audio",
    "BASH": "base",
    "BASE": "base",
    "SCNH": "base",  # the scene layer is the base layer's whole-frame part
    "SCNE": "base",
}
VIDEO_CATEGORIES = ("pivot", "keypoints", "base")


@dataclass
class PivotInfo:
    frame: int
    reason: str
    bytes: int


@dataclass
class FrameBytes:
    """Video payload bytes charged to one frame. A key-point block is coded as a whole: its
    bytes are shared evenly among the frames it sends key points for; base packets are exact."""

    frame: int
    pivot: int = 0
    keypoints: int = 0
    base: int = 0

    @property
    def video(self) -> int:
        return self.pivot + self.keypoints + self.base


@dataclass
class ChunkLosses:
    """What the chunks show of damage (thc stats reads a damaged file as the decoder does, with
    the tolerant reader): regions skipped, by kind and by the lost chunk's type ("?" when its
    header was damaged too), gaps in the audio timing (a lost AUDI: this sender's audio has no
    gaps of its own), a missing END."""

    regions: int = 0
    bytes: int = 0
    crc_failures: int = 0  # "damaged": a bad type, length or CRC
    invalid: int = 0  # the CRC passed, the payload failed its checks
    by_type: dict[str, int] = field(default_factory=dict)
    audio_gaps: int = 0
    truncated: bool = False
    end_missing: bool = False
    trailing: int = 0  # bytes after END (a second stream appended, or garbage), apart from `bytes`

    def add(self, d: C.Damage) -> None:
        if d.kind == "no-end":
            self.end_missing = True
            return
        if d.kind == "trailing":
            self.trailing = d.nbytes
            return
        self.regions += 1
        self.bytes += d.nbytes
        self.crc_failures += d.kind == "damaged"
        self.invalid += d.kind == "invalid"
        self.truncated |= d.kind == "truncated"
        self.end_missing |= d.kind == "truncated"
        key = d.chunk_type or "?"
        self.by_type[key] = self.by_type.get(key, 0) + 1

    def __bool__(self) -> bool:
        return bool(self.regions or self.audio_gaps or self.end_missing or self.trailing)

    def summary(self) -> str:
        parts = []
        if self.regions:
            types = ", ".join(f"{n} {t.strip()}" if t != "?" else f"{n} of unknown type" for t, n in sorted(self.by_type.items()))
            parts.append(f"{self.regions} damaged regions skipped ({self.bytes} bytes; {types})")
            parts.append(f"{self.crc_failures} CRC/header failures, {self.invalid} invalid payloads")
        if self.audio_gaps:
            parts.append(f"{self.audio_gaps} gaps in the audio (AUDI chunks lost)")
        if self.truncated:
            parts.append("file truncated")
        elif self.end_missing:
            parts.append("END chunk missing")
        if self.trailing:
            parts.append(f"{self.trailing} bytes after the END chunk (not read)")
        return "damaged file: " + "; ".join(parts)


@dataclass
class StreamStats:
    file: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    interp: int
    model_id: str
    bytes_total: int  # the file's size
    bytes_by_category: dict[str, int]  # pivot, keypoints, base, audio, container: sums to bytes_total
    kbps: float  # all bytes
    video_bytes: int
    video_kbps: float
    video_bits_per_pixel: float  # video bits / (width x height x frames)
    audio_kbps: float
    container_kbps: float
    base_share: float  # the base layer's part of the video bytes (hybrid mode; 0 otherwise)
    keypoint_kbps: float
    keypoint_bytes_per_frame: float
    window_s: float = WINDOW_S  # length of the worst window: WINDOW_S, or the clip when shorter
    worst_window_kbps: float = 0.0  # the most bytes (all of them) any window_s seconds carry, as kbit/s
    worst_window_start_s: float = 0.0
    pivots: list[PivotInfo] = field(default_factory=list)
    frame_bytes: list[FrameBytes] = field(default_factory=list)
    reference: str | None = None
    compared_frames: int | None = None
    psnr_y: float | None = None  # dB, BT.601 luma, ffmpeg's average (mean MSE)
    psnr_rgb: float | None = None  # dB, mean MSE over the RGB channels and frames
    ssim_rgb: float | None = None
    psnr_y_per_frame: list[float] | None = None  # capped at 100 dB
    psnr_rgb_per_frame: list[float] | None = None
    warnings: list[str] = field(default_factory=list)
    losses: ChunkLosses = field(default_factory=ChunkLosses)
    schema_version: int = SCHEMA_VERSION

    def as_dict(self, frames: bool = False) -> dict:
        """JSON-ready; the per-frame sizes only with frames=True (they are one entry a frame)."""
        d = asdict(self)
        d["frame_bytes"] = [dict(asdict(b), video=b.video) for b in self.frame_bytes] if frames else None
        return d


class _Tally:
    """Sums chunk payloads by category and by frame while the chunks stream past."""

    def __init__(self) -> None:
        self.split = {"pivot": 0, "keypoints": 0, "base": 0, "audio": 0, "container": C.FILE_HEADER_SIZE}
        self.per_frame: dict[int, FrameBytes] = {}
        self.segment_frame = 0  # frame of the last pivot: a BASH belongs to its segment

    def at(self, frame: int) -> FrameBytes:
        return self.per_frame.setdefault(frame, FrameBytes(frame))

    def add(self, chunk, nbytes: int) -> None:
        payload = nbytes - C.CHUNK_OVERHEAD
        cat = CATEGORY.get(chunk.CHUNK_TYPE.decode("ascii"))
        if cat is None:
            self.split["container"] += nbytes
            return
        self.split[cat] += payload
        self.split["container"] += C.CHUNK_OVERHEAD
        if isinstance(chunk, (C.Pivot, C.PivotSwitch)):
            self.segment_frame = chunk.frame_index
            self.at(chunk.frame_index).pivot += payload
        elif isinstance(chunk, C.KeypointBlock):
            frames = [chunk.first_frame + i * chunk.step for i in range(chunk.count)] or [chunk.first_frame]
            share, extra = divmod(payload, len(frames))
            for i, f in enumerate(frames):
                self.at(f).keypoints += share + (i < extra)
        elif isinstance(chunk, C.BasePackets):  # ScenePackets too
            sizes = [2 + len(p) for p in chunk.packets]  # each packet's length field and data
            for f, n in zip(chunk.frames, sizes):
                self.at(f).base += n
            self.at(chunk.first_frame).base += payload - sum(sizes)  # the chunk's own fields
        elif isinstance(chunk, (C.BaseHeader, C.SceneHeader)):
            self.at(self.segment_frame).base += payload

    def frames(self, count: int) -> list[FrameBytes]:
        return [self.per_frame.get(i, FrameBytes(i)) for i in range(max(count, max(self.per_frame, default=-1) + 1))]


def _read(f, tally: _Tally, losses: ChunkLosses) -> tuple[C.StreamHeader, list[PivotInfo], int, list[tuple[float, int]]]:
    """The chunks streamed past once: -> (HEAD, pivots, frames, (seconds, bytes on disk) per chunk).
    Damage is skipped and counted in losses; its bytes are charged to the container."""
    header: C.StreamHeader | None = None
    pivots: list[PivotInfo] = []
    reason, frames, fps = "start", 0, Fraction(1)
    events: list[tuple[float, int]] = []  # the chunks themselves are not kept
    audio_tb: Fraction | None = None
    audio_end: int | None = None
    for chunk, nbytes in C.read_chunks(f, losses.add):
        tally.add(chunk, nbytes)
        if isinstance(chunk, C.StreamHeader):  # always first: the times below need its rate
            header = chunk
            fps = Fraction(header.fps_num, header.fps_den)
        end_s = float(chunk.frame_count / fps) if isinstance(chunk, C.End) else 0.0
        events.append((chunk_time(chunk, fps, audio_tb, end_s), nbytes))
        if isinstance(chunk, C.AudioHeader):
            audio_tb = Fraction(chunk.time_base_num, chunk.time_base_den)
        elif isinstance(chunk, C.AudioPackets):
            losses.audio_gaps += audio_end is not None and chunk.pts > audio_end
            audio_end = chunk.pts + sum(d for d, _ in chunk.packets)
        elif isinstance(chunk, C.PivotSwitch):
            reason = C.SwitchReason(chunk.reason).name.lower()
        elif isinstance(chunk, C.Pivot):
            pivots.append(PivotInfo(chunk.frame_index, reason, nbytes - C.CHUNK_OVERHEAD))
        elif isinstance(chunk, C.End):
            frames = chunk.frame_count
    if losses.end_missing:  # no END: the frames key points came for; none before a pivot (nothing to show)
        frames = max(tally.per_frame, default=-1) + 1 if pivots else 0
    tally.split["container"] += losses.bytes + losses.trailing
    return header, pivots, frames, events


def stream_stats(path: Path) -> StreamStats:
    """Reads the chunks only (no model): sizes, rate, byte split, pivots, per-frame sizes. A
    damaged file is read as the decoder reads it (damage skipped, counted in .losses, one warning)."""
    tally, losses = _Tally(), ChunkLosses()
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ThcError(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        header, pivots, frames, events = _read(f, tally, losses)
    fps = Fraction(header.fps_num, header.fps_den)
    split = tally.split
    total = sum(split.values())
    video = sum(split[c] for c in VIDEO_CATEGORIES)
    duration = frames / fps if frames else 0
    secs = float(duration) or 1.0
    events.append((0.0, C.FILE_HEADER_SIZE))
    if duration and duration < WINDOW_S:  # one window, the whole clip: all its bytes over its length
        window, window_start, window_kbps = float(duration), 0.0, total * 8 / float(duration) / 1000
    else:
        window = WINDOW_S
        window_start, window_kbps = worst_window(events, window)
    pixels = max(1, frames * header.width * header.height)
    return StreamStats(
        file=str(path),
        width=header.width,
        height=header.height,
        fps=float(fps),
        frames=frames,
        duration_s=float(duration),
        interp=header.interp,
        model_id=header.model_id,
        bytes_total=total,
        bytes_by_category=split,
        kbps=total * 8 / secs / 1000,
        video_bytes=video,
        video_kbps=video * 8 / secs / 1000,
        video_bits_per_pixel=video * 8 / pixels,
        audio_kbps=split["audio"] * 8 / secs / 1000,
        container_kbps=split["container"] * 8 / secs / 1000,
        base_share=split["base"] / video if video else 0.0,
        keypoint_kbps=split["keypoints"] * 8 / secs / 1000,
        keypoint_bytes_per_frame=split["keypoints"] / max(1, frames),
        window_s=window,
        worst_window_kbps=window_kbps,
        worst_window_start_s=window_start,
        pivots=pivots,
        frame_bytes=tally.frames(frames),
        warnings=[losses.summary()] if losses else [],
        losses=losses,
    )


# One row per stream for `thc stats --csv` (written with the csv module: any file name is safe).
CSV_FIELDS = (
    "file",
    "schema_version",
    "frames",
    "width",
    "height",
    "fps",
    "duration_s",
    "bytes_total",
    "kbps",
    "video_bytes",
    "video_kbps",
    "video_bits_per_pixel",
    "pivot_bytes",
    "keypoint_bytes",
    "base_bytes",
    "base_share",
    "audio_bytes",
    "audio_kbps",
    "container_bytes",
    "window_s",
    "worst_window_kbps",
    "worst_window_start_s",
    "pivots",
    "reference",
    "psnr_y",
    "psnr_rgb",
    "ssim_rgb",
    "losses",
    "error",
)


def csv_row(s: StreamStats) -> dict:
    """StreamStats -> a dict keyed by CSV_FIELDS (numbers rounded for reading, sizes exact)."""
    b = s.bytes_by_category

    def r(x, n):
        return "" if x is None else round(x, n)

    return {
        "file": s.file,
        "schema_version": s.schema_version,
        "frames": s.frames,
        "width": s.width,
        "height": s.height,
        "fps": r(s.fps, 6),
        "duration_s": r(s.duration_s, 6),
        "bytes_total": s.bytes_total,
        "kbps": r(s.kbps, 4),
        "video_bytes": s.video_bytes,
        "video_kbps": r(s.video_kbps, 4),
        "video_bits_per_pixel": r(s.video_bits_per_pixel, 8),
        "pivot_bytes": b["pivot"],
        "keypoint_bytes": b["keypoints"],
        "base_bytes": b["base"],
        "base_share": r(s.base_share, 4),
        "audio_bytes": b["audio"],
        "audio_kbps": r(s.audio_kbps, 4),
        "container_bytes": b["container"],
        "window_s": r(s.window_s, 4),
        "worst_window_kbps": r(s.worst_window_kbps, 4),
        "worst_window_start_s": r(s.worst_window_start_s, 4),
        "pivots": len(s.pivots),
        "reference": s.reference or "",
        "psnr_y": r(s.psnr_y, 4),
        "psnr_rgb": r(s.psnr_rgb, 4),
        "ssim_rgb": r(s.ssim_rgb, 6),
        "losses": s.losses.summary() if s.losses else "",
        "error": "",
    }
