"""Training entry point pieces: the driving key points, the time budget, the portable cache."""

from __future__ import annotations

import json
import sys

import av
import numpy as np
import pytest
import torch
from conftest import write_frame_cache

from thcodec.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead
from thcodec.train import train
from thcodec.train.portable_cache import pack


def _kp(seed: int, batch: int = 2) -> Keypoints:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(batch, 10, 2, generator=g) - 0.5
    jac = torch.eye(2).expand(batch, 10, 2, 2) + 0.1 * torch.randn(batch, 10, 2, 2, generator=g)
    return Keypoints(xy, jac)


@pytest.fixture(scope="module")
def model() -> TalkingHead:
    torch.manual_seed(0)
    return TalkingHead().eval()


def test_landmark_driving_moves_the_detectors_pivot_points_by_the_teachers_change(model):
    frames = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    teach_s = _kp(2)
    det_s = model.detect_keypoints(frames)
    kp_s, kp_d = train.driving_keypoints(model, "landmarks", frames, frames, teach_s, teach_s)
    torch.testing.assert_close(kp_s.xy, det_s.xy)
    torch.testing.assert_close(kp_d.xy, det_s.xy)  # the teacher saw no motion: the pivot's own points
    torch.testing.assert_close(kp_d.jacobian, det_s.jacobian, atol=1e-5, rtol=1e-5)
    shift = torch.tensor([0.1, -0.05])
    moved = Keypoints(teach_s.xy + shift, teach_s.jacobian)
    _, kp_d = train.driving_keypoints(model, "landmarks", frames, frames, teach_s, moved)
    torch.testing.assert_close(kp_d.xy, det_s.xy + shift)


def test_teacher_and_detector_driving(model):
    frames = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    teach_s, teach_d = _kp(4), _kp(5)
    assert train.driving_keypoints(model, "teacher", frames, frames, teach_s, teach_d) == (teach_s, teach_d)
    _, kp_d = train.driving_keypoints(model, "detector", frames, frames, teach_s, teach_d)
    torch.testing.assert_close(kp_d.xy, model.detect_keypoints(frames).xy)


def test_learning_rate_follows_the_time_budget_when_it_runs_out_first():
    assert train.lr_at(1000, 100_000, 1.0, elapsed=0.0) == pytest.approx(1.0, abs=1e-3)
    assert train.lr_at(1000, 100_000, 1.0, elapsed=0.5) == pytest.approx(0.55)
    assert train.lr_at(1000, 100_000, 1.0, elapsed=1.0) == pytest.approx(0.1)
    assert train.lr_at(100_000, 100_000, 1.0) == pytest.approx(0.1)


def test_a_spent_time_budget_validates_saves_and_stops(tmp_path, monkeypatch):
    write_frame_cache(tmp_path / "cache" / "train", 6, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["train", "--part", "motion", "--driving", "landmarks", "--cache", str(tmp_path / "cache"),
                                      "--run", str(run), "--steps", "1000", "--batch", "1", "--minutes", "1e-9"])
    train.main()
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == 1  # the first step found the budget spent
    best = train.load_checkpoint(run / "best.pt")
    assert best["val"]["step"] == 1
    assert any("val" in json.loads(line) for line in (run / "log.jsonl").read_text().splitlines())


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
