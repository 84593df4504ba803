"""Encoder options and their defaults (no heavy imports: the CLI reads them at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

MODEL_SIZE = 256  # side of the square face region the networks see


@dataclass(frozen=True)
class EncodeOptions:
    interp: int = 1  # key points for every interp-th frame (and the last)
    pivot_quality: int = 80  # JPEG quality of pivot frames: ~7.5 kB at 256x256, half of a 10 s call at 12 kbit/s
    audio: bool = True
    audio_bitrate: int = 12000
    block_frames: int = 25  # frames per key-point block (1 s at 25 fps)
