"""Read side of the training frame cache (built by `python -m thcodec.train.cache`).

Layout of a split's folder: frames.u8 (N,256,256,3 uint8 memmap), landmarks.npy (N,68,2 float32,
NaN where dlib found no face), index.json ({"size", "count", "clips": [{"file", "start", "stop"}]})."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIZE = 256


class FrameCache:
    """frames (N,256,256,3) uint8 memmap, landmarks (N,68,2), clips [(start, stop)] of 2+ frames."""

    def __init__(self, root: Path) -> None:
        self.index = json.loads((root / "index.json").read_text())
        n, s = self.index["count"], self.index["size"]
        self.frames = np.memmap(root / "frames.u8", np.uint8, "r", shape=(n, s, s, 3))
        self.landmarks = np.load(root / "landmarks.npy")
        self.clips = [(c["start"], c["stop"]) for c in self.index["clips"] if c["stop"] - c["start"] >= 2]
