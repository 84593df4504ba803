"""A decoded stream against its reference video, frame by frame: PSNR Y and RGB, SSIM RGB, the
worst second (`thc stats --reference`). Decoding needs the model; thcodec/stats.py does not."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from thcodec.errors import ThcError
from thcodec.media.metrics import mse_rgb, mse_y, psnr_from_mse, ssim_u8
from thcodec.media.video_io import VideoReader
from thcodec.models.weights import LoadedModel
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.stats import StreamStats


def _reference_warnings(stats: StreamStats, ref_path: Path, ref_fps: Fraction, ref_frames: int) -> list[str]:
    out = []
    if abs(float(ref_fps) - stats.fps) > 1e-6:
        out.append(
            f"{ref_path} runs at {float(ref_fps):.3f} fps, {stats.file} at {stats.fps:.3f} fps: frames are compared in order"
        )
    if ref_frames and ref_frames != stats.frames:
        out.append(
            f"{ref_path} has {ref_frames} frames, {stats.file} {stats.frames}: "
            f"only the first {min(ref_frames, stats.frames)} are compared"
        )
    return out


def add_quality(
    stats: StreamStats, reference: Path, loaded: LoadedModel, interp_method: str = "net", sr: str = "net"
) -> StreamStats:
    """Decode the stream (as `thc decode` does with these choices) and compare it frame by frame
    with the reference video: PSNR Y and RGB (ffmpeg's average: the PSNR of the mean MSE), mean
    SSIM RGB; warnings when the reference's frame count or rate differ (the first min(count)
    frames are compared)."""
    mse_ys, mse_rgbs, s = [], [], []
    with VideoReader(reference) as ref, open(stats.file, "rb") as f:
        info = ref.info
        if (info.width, info.height) != (stats.width, stats.height):
            raise ThcError(
                f"reference {reference} is {info.width}x{info.height}, stream {stats.file} is {stats.width}x{stats.height}"
            )
        ref_frames = iter(ref)
        read = 0
        for event in decode_stream(f, loaded, interp_method, sr):
            if not isinstance(event, Frame):
                continue
            r = next(ref_frames, None)
            if r is None:
                break
            read += 1
            mse_ys.append(mse_y(event.rgb, r))
            mse_rgbs.append(mse_rgb(event.rgb, r))
            s.append(ssim_u8(event.rgb, r))
        ref_count = read + sum(1 for _ in ref_frames) if read == stats.frames else read
    if not mse_ys:
        raise ThcError(f"{reference}: no frames to compare with {stats.file}")
    stats.warnings += _reference_warnings(stats, reference, info.fps, ref_count)
    stats.reference, stats.compared_frames = str(reference), len(mse_ys)
    stats.psnr_y_per_frame = [min(100.0, psnr_from_mse(m)) for m in mse_ys]
    stats.psnr_rgb_per_frame = [min(100.0, psnr_from_mse(m)) for m in mse_rgbs]
    stats.psnr_y = min(100.0, psnr_from_mse(float(np.mean(mse_ys))))
    stats.psnr_rgb = min(100.0, psnr_from_mse(float(np.mean(mse_rgbs))))
    stats.ssim_rgb = float(np.mean(s))
    return stats


def worst_second(stats: StreamStats) -> tuple[float, float]:
    """(start s, PSNR Y of the mean MSE) of the one-second stretch with the lowest PSNR Y."""
    v = 10 ** (-np.asarray(stats.psnr_y_per_frame, np.float64) / 10)  # MSE / 255^2
    per = max(1, round(stats.fps))
    means = [v[i : i + per].mean() for i in range(0, len(v), per)]
    k = int(np.argmax(means))
    return k * per / stats.fps, float(-10 * np.log10(means[k]))
