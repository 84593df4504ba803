"""The static ffmpeg of the imageio-ffmpeg wheel, called with argument lists (never a shell)."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from thcodec.errors import ThcError

# How every anchor turns the RGB reference into YUV and back: BT.601 matrix, limited range,
# also written into the bitstreams' colour description so that any decoder inverts it the same way.
TO_YUV = "scale=out_color_matrix=bt601:out_range=tv"
COLOR_TAGS = ["-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-color_range", "tv"]
FROM_YUV = "scale=in_color_matrix=bt601:in_range=tv"


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ThcError("the benchmark needs imageio-ffmpeg: pip install 'thcodec[eval]'") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as e:
        raise ThcError(f"imageio-ffmpeg has no ffmpeg binary for this platform: {e}") from None


def run_ffmpeg(args: list[str], what: str, capture: bool = False) -> bytes:
    """Run ffmpeg with `args` (no shell); raise ThcError with the end of its log on failure.

    Returns stdout when capture is set (e.g. raw frames written to pipe:1)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    except OSError as e:
        raise ThcError(f"cannot run ffmpeg ({what}): {e}") from None
    if proc.returncode != 0:
        log = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = " | ".join(log[-3:]) or f"exit code {proc.returncode}"
        raise ThcError(f"ffmpeg failed ({what}): {tail}")
    return proc.stdout if capture else b""


def decode_rgb(path: Path, width: int, height: int) -> np.ndarray:
    """Decode any video/bitstream file with ffmpeg -> (N,H,W,3) uint8 RGB, one output frame per coded frame."""
    raw = run_ffmpeg(
        [
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-vf",
            f"{FROM_YUV},format=rgb24",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ],
        f"decoding {path.name}",
        capture=True,
    )
    frame = width * height * 3
    if len(raw) % frame:
        raise ThcError(f"{path.name}: decoded {len(raw)} bytes, not a whole number of {width}x{height} frames")
    return np.frombuffer(bytearray(raw), np.uint8).reshape(-1, height, width, 3)  # a writable copy
