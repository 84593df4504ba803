"""The data folder: MANIFEST.tsv (one row per clip: file, split, width, height, frames, ...)
and the clips under clips/."""

from __future__ import annotations

import csv
from pathlib import Path

from thcodec.errors import ThcError


def read_manifest(data_dir: Path) -> list[dict]:
    """Every row of data_dir/MANIFEST.tsv as a dict of strings."""
    with open(data_dir / "MANIFEST.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def split_rows(data_dir: Path, split: str) -> list[dict]:
    """The manifest's rows of one split ("train", "val")."""
    return [r for r in read_manifest(data_dir) if r.get("split") == split]


def split_clips(data: Path, split: str = "val") -> list[Path]:
    """Clips of `split` in data/MANIFEST.tsv (files under data/clips)."""
    manifest = data / "MANIFEST.tsv"
    if not manifest.exists():
        raise ThcError(f"{manifest}: no such file (a data folder has MANIFEST.tsv and clips/)")
    clips = [data / "clips" / r["file"] for r in split_rows(data, split)]
    if not clips:
        raise ThcError(f"{manifest} lists no clip of split {split!r}")
    return clips


def iter_rgb(path: Path):
    """Every frame of a video file as (H,W,3) uint8 RGB, lazily (PyAV imported on first use: a lent
    GPU trains from the cache without it)."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in c.decode(stream):
            yield frame.to_ndarray(format="rgb24")
