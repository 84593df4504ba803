"""What every codec of the benchmark offers: its settings (a rate sweep) and one run at a setting."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from thcodec.data.reference import Reference


@dataclass(frozen=True)
class Setting:
    """One operating point of a codec, e.g. {"crf": 51} or {"pivot_quality": 50, "interp": 2}."""

    values: tuple[tuple[str, int | str], ...]

    @staticmethod
    def of(**values: int | str) -> "Setting":
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

    stream: Path  # the compressed file whose size is the rate
    bytes: int
    decoded: np.ndarray  # (N,S,S,3) uint8 RGB, N = the reference's frame count
    encode_s: float
    decode_s: float
    bitstream_vmaf: bool  # VMAF may be measured on `stream` itself with ffmpeg (not on `decoded`)
    parts: dict[str, int] = field(default_factory=dict)  # bytes by kind, when the codec tells


class Codec(Protocol):
    name: str  # short id used on the command line: "x264"
    label: str  # for tables and plots

    def settings(self, quick: bool) -> list[Setting]: ...

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded: ...
