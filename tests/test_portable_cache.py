"""The portable frame cache (thcodec/train/portable_cache.py): pack keeps the crops."""

from __future__ import annotations

import av
import numpy as np
from conftest import write_frame_cache

from thcodec.train.portable_cache import pack


def _smooth_frames(n: int) -> np.ndarray:
    y, x = np.mgrid[0:256, 0:256]
    frames = [np.stack([(x + 3 * i) % 256, (y + 2 * i) % 256, np.full_like(x, 40 * i % 256)], -1) for i in range(n)]
    return np.asarray(frames, np.uint8)


def test_portable_cache_keeps_every_frame_close_to_the_crops(tmp_path):
    frames = _smooth_frames(6)
    for split in ("train", "val"):
        write_frame_cache(tmp_path / "cache" / split, 6, 1)
        frames.tofile(tmp_path / "cache" / split / "frames.u8")
    pack(tmp_path / "cache", tmp_path / "portable")
    for split in ("train", "val"):
        with av.open(str(tmp_path / "portable" / split / "frames.mp4")) as c:
            decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
        assert decoded.shape == frames.shape
        mse = ((decoded.astype(float) - frames) ** 2).mean()
        assert 10 * np.log10(255**2 / mse) > 35
        for name in ("index.json", "landmarks.npy"):  # they travel beside the video
            assert (tmp_path / "portable" / split / name).read_bytes() == (tmp_path / "cache" / split / name).read_bytes()
