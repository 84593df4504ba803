"""What a .thc file holds and what its bytes are spent on; quality against a reference."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from thcodec.format import container as C
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.errors import ThcError
from thcodec.media.metrics import psnr, ssim_u8
from thcodec.format.rate import WINDOW_S, chunk_time, worst_window
from thcodec.media.video_io import VideoReader
from thcodec.models.weights import LoadedModel

# Payload bytes of these chunk types are charged to each category; everything else
# (magic, version, HEAD, END, 12 bytes of type/length/CRC per chunk) is container overhead.
CATEGORY = {"PIVT": "pivot", "SWCH": "pivot", "KPTS": "keypoints", "AUDH": "audio", "AUDI": "audio", "BASH": "base", "BASE": "base"}


@dataclass
class PivotInfo:
    frame: int
    reason: str
    bytes: int


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
    bytes_total: int
    bytes_by_category: dict[str, int]
    kbps: float
    bits_per_pixel: float
    keypoint_kbps: float
    keypoint_bytes_per_frame: float
    worst_window_kbps: float = 0.0  # the most bytes any WINDOW_S seconds of the stream carry, as kbit/s
    worst_window_start_s: float = 0.0
    pivots: list[PivotInfo] = field(default_factory=list)
    psnr: float | None = None
    ssim: float | None = None
    psnr_per_frame: list[float] | None = None  # against the reference, capped at 100 dB

    def as_dict(self) -> dict:
        return asdict(self)


def stream_stats(path: Path) -> StreamStats:
    """Reads the chunks only (no model): sizes, rate, byte split, pivots."""
    split = {"pivot": 0, "keypoints": 0, "base": 0, "audio": 0, "container": C.FILE_HEADER_SIZE}
    header: C.StreamHeader | None = None
    pivots: list[PivotInfo] = []
    reason = "start"
    frames = 0
    kp_frames = 0
    timed: list[tuple[object, int]] = []  # (chunk, bytes on disk) to place in time once fps is known
    audio_tb: Fraction | None = None
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ThcError(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        for chunk, nbytes in C.read_chunks(f):
            name = chunk.CHUNK_TYPE.decode("ascii")
            payload = nbytes - C.CHUNK_OVERHEAD
            cat = CATEGORY.get(name)
            if cat:
                split[cat] += payload
                split["container"] += C.CHUNK_OVERHEAD
            else:
                split["container"] += nbytes
            timed.append((chunk, nbytes))
            if isinstance(chunk, C.StreamHeader):
                header = chunk
            elif isinstance(chunk, C.AudioHeader):
                audio_tb = Fraction(chunk.time_base_num, chunk.time_base_den)
            elif isinstance(chunk, C.PivotSwitch):
                reason = C.SwitchReason(chunk.reason).name.lower()
            elif isinstance(chunk, C.Pivot):
                pivots.append(PivotInfo(chunk.frame_index, reason, payload))
            elif isinstance(chunk, C.KeypointBlock):
                kp_frames += chunk.count
            elif isinstance(chunk, C.End):
                frames = chunk.frame_count
    total = sum(split.values())
    fps = Fraction(header.fps_num, header.fps_den)
    duration = frames / fps if frames else 0
    secs = float(duration) or 1.0
    events = [(chunk_time(c, fps, audio_tb, float(duration)), n) for c, n in timed]
    events.append((0.0, C.FILE_HEADER_SIZE))
    window_start, window_kbps = worst_window(events, WINDOW_S)
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
        bits_per_pixel=total * 8 / max(1, frames * header.width * header.height),
        keypoint_kbps=split["keypoints"] * 8 / secs / 1000,
        keypoint_bytes_per_frame=split["keypoints"] / max(1, frames),
        worst_window_kbps=window_kbps,
        worst_window_start_s=window_start,
        pivots=pivots,
    )


def add_quality(stats: StreamStats, reference: Path, loaded: LoadedModel) -> StreamStats:
    """Decode the stream and compare it frame by frame with the reference video (mean PSNR, SSIM)."""
    p, s = [], []
    with VideoReader(reference) as ref, open(stats.file, "rb") as f:
        if (ref.info.width, ref.info.height) != (stats.width, stats.height):
            raise ThcError(f"reference is {ref.info.width}x{ref.info.height}, stream is {stats.width}x{stats.height}")
        ref_frames = iter(ref)
        for event in decode_stream(f, loaded):
            if not isinstance(event, Frame):
                continue
            r = next(ref_frames, None)
            if r is None:
                break
            p.append(psnr(event.rgb, r))
            s.append(ssim_u8(event.rgb, r))
    if not p:
        raise ThcError("no frames to compare")
    stats.psnr_per_frame = [float(v) for v in np.minimum(p, 100.0)]
    stats.psnr = float(np.mean(stats.psnr_per_frame))
    stats.ssim = float(np.mean(s))
    return stats


def worst_second(stats: StreamStats) -> tuple[float, float]:
    """(start s, mean PSNR) of the one-second stretch with the lowest mean PSNR."""
    v = np.asarray(stats.psnr_per_frame, np.float64)
    per = max(1, round(stats.fps))
    means = [v[i : i + per].mean() for i in range(0, len(v), per)]
    k = int(np.argmin(means))
    return k * per / stats.fps, float(means[k])
