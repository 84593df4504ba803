"""What every codec of the benchmark offers: its settings (a rate sweep) and one run at a setting;
and thcodec's own encode -> decode-to-frames, which every sweep of ours goes through."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from thcodec.data.reference import Reference
from thcodec.models.weights import LoadedModel
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.sender.encoder import encode
from thcodec.stats import StreamStats, stream_stats


@dataclass(frozen=True)
class Setting:
    """One operating point of a codec, e.g. {"crf": 51} or {"pivot_quality": 50, "interp": 2}."""

    values: tuple[tuple[str, int | str], ...]

    @staticmethod
    def of(**values: int | str) -> Setting:
        return Setting(tuple(values.items()))

    def __getitem__(self, key: str) -> int | str:
        return dict(self.values)[key]

    @property
    def label(self) -> str:  # "crf=51", "pivot_quality=50,interp=2"
        return ",".join(f"{k}={v}" for k, v in self.values)

    @property
    def slug(self) -> str:  # for file names: "crf51", "pivot_quality50_interp2"
        return "_".join(f"{k}{v}" for k, v in self.values)


@dataclass
class Coded:
    """The result of one codec run on one reference."""

    stream: Path | None  # the compressed file whose size is the rate; None: nothing is sent (a ceiling, a rendering)
    bytes: int
    decoded: np.ndarray  # (N,S,S,3) uint8 RGB, N = the reference's frame count
    encode_s: float
    decode_s: float
    bitstream_vmaf: bool  # VMAF may be measured on `stream` itself with ffmpeg (not on `decoded`)
    parts: dict[str, int] = field(default_factory=dict)  # bytes by kind, when the codec tells
    info: dict = field(default_factory=dict)  # whatever else the codec knows of this run (JSON values: pivots, ...)


class Codec(Protocol):
    name: str  # short id used on the command line: "x264"
    label: str  # for tables and plots

    def settings(self, quick: bool) -> list[Setting]: ...

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded: ...


def decode_frames(
    stream: Path, loaded: LoadedModel, interp_method: str = "net", sr: str = "net", precision: str | None = None
) -> np.ndarray:
    """Every video frame of a .thc file, (N,H,W,3) uint8 RGB (interp_method, sr: as thc decode's;
    precision: decode_stream's)."""
    with open(stream, "rb") as f:
        frames = decode_stream(f, loaded, interp_method, sr, precision=precision)
        return np.stack([e.rgb for e in frames if isinstance(e, Frame)])


@dataclass
class ThcCoded:
    """One thcodec encode of a file: the stream, its statistics and the encoding time."""

    stream: Path
    stats: StreamStats
    encode_s: float

    def decode(self, loaded: LoadedModel, interp_method: str = "net", sr: str = "net") -> tuple[np.ndarray, float]:
        """-> (frames (N,H,W,3) uint8, decode seconds)."""
        t0 = time.perf_counter()
        frames = decode_frames(self.stream, loaded, interp_method, sr)
        return frames, time.perf_counter() - t0


def encode_with_cli(src: Path, stream: Path, options: list[str]) -> Path:
    """`thc encode src stream OPTIONS` in a fresh process, as a user runs it (the options are
    parsed as theirs are: what --kbps leaves alone depends on which were typed); a stream that
    exists is kept."""
    if not stream.exists():
        cmd = [sys.executable, "-c", "from thcodec.cli import run; run()", "encode", str(src), str(stream), *options]
        subprocess.run([*cmd, "--quiet", "--force"], check=True)
    return stream


def encode_thc(src: Path, stream: Path, loaded: LoadedModel, opts: EncodeOptions) -> ThcCoded:
    """thc encode src -> stream (no audio unless opts say so), timed, with its statistics."""
    t0 = time.perf_counter()
    with open(stream, "wb") as f:
        encode(src, f, loaded, opts)
    return ThcCoded(stream, stream_stats(stream), time.perf_counter() - t0)
