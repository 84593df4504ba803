"""Key-point trajectories for the interpolator (thcodec/train/trajectories.py): the shipped
detector's quantized key points of every 25 fps frame of each clip, per split."""

from __future__ import annotations

import sys

import numpy as np
from conftest import face_frame

from thcodec.format import keypoint_bits as kpq
from thcodec.train import trajectories


def test_every_clip_of_a_split_becomes_quantized_key_points_at_25_fps(make_clip, tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    make_clip(width=96, height=96, frames=12, fps=50, audio=False, picture=face_frame).rename(data / "clips" / "a.mp4")
    make_clip(width=64, height=64, frames=5, audio=False, picture=face_frame).rename(data / "clips" / "b.mp4")
    (data / "MANIFEST.tsv").write_text("file\tsplit\na.mp4\tval\nb.mp4\ttrain\n")
    monkeypatch.setattr(
        sys, "argv", ["trajectories", "--data", str(data), "--out", str(tmp_path / "kps"), "--splits", "val", "--max-frames", "4"]
    )
    trajectories.main()
    with np.load(tmp_path / "kps" / "val.npz") as z:
        assert z.files == ["a"]  # only the val split's clip
        fields = z["a"]
    assert fields.shape == (4, 10, kpq.NUM_FIELDS) and fields.dtype == np.int32  # 12 frames at 50 fps, at most 4 kept
    xy, jac = kpq.dequantize(fields)
    assert np.abs(xy).max() <= 1 and np.isfinite(jac).all()
