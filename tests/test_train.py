"""Training entry point pieces: the driving key points, the time budget, the portable cache."""

from __future__ import annotations

import copy
import json
import shutil
import sys

import av
import numpy as np
import pytest
import torch
from conftest import write_frame_cache

from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead
from thcodec.models.checkpoint import load_checkpoint
from thcodec.train import motion, train
from thcodec.train.face_pairs import driving_keypoints
from thcodec.train.run import Schedule
from thcodec.train.augment import jpeg_pivots
from thcodec.train.portable_cache import pack
from thcodec.models.weights import export, load_model, weights_dir


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
    kp_s, kp_d = driving_keypoints(model, "landmarks", frames, frames, teach_s, teach_s)
    torch.testing.assert_close(kp_s.xy, det_s.xy)
    torch.testing.assert_close(kp_d.xy, det_s.xy)  # the teacher saw no motion: the pivot's own points
    torch.testing.assert_close(kp_d.jacobian, det_s.jacobian, atol=1e-5, rtol=1e-5)
    shift = torch.tensor([0.1, -0.05])
    moved = Keypoints(teach_s.xy + shift, teach_s.jacobian)
    _, kp_d = driving_keypoints(model, "landmarks", frames, frames, teach_s, moved)
    torch.testing.assert_close(kp_d.xy, det_s.xy + shift)


def test_teacher_and_detector_driving(model):
    frames = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    teach_s, teach_d = _kp(4), _kp(5)
    assert driving_keypoints(model, "teacher", frames, frames, teach_s, teach_d) == (teach_s, teach_d)
    _, kp_d = driving_keypoints(model, "detector", frames, frames, teach_s, teach_d)
    torch.testing.assert_close(kp_d.xy, model.detect_keypoints(frames).xy)


def test_learning_rate_follows_the_time_budget_when_it_runs_out_first():
    assert Schedule().lr(1000, 100_000, 1.0, elapsed=0.0) == pytest.approx(1.0, abs=1e-3)
    assert Schedule().lr(1000, 100_000, 1.0, elapsed=0.5) == pytest.approx(0.55)
    assert Schedule().lr(1000, 100_000, 1.0, elapsed=1.0) == pytest.approx(0.1)
    assert Schedule().lr(100_000, 100_000, 1.0) == pytest.approx(0.1)


def test_a_spent_time_budget_validates_saves_and_stops(tmp_path, monkeypatch):
    write_frame_cache(tmp_path / "cache" / "train", 6, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["train", "--part", "motion", "--driving", "landmarks", "--cache", str(tmp_path / "cache"),
                                      "--run", str(run), "--steps", "1000", "--batch", "1", "--minutes", "1e-9"])
    train.main()
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == 1  # the first step found the budget spent
    best = load_checkpoint(run / "best.pt")
    assert best["val"]["step"] == 1
    assert any("val" in json.loads(line) for line in (run / "log.jsonl").read_text().splitlines())


def test_keep_all_snapshots_the_trained_networks_at_every_validation_and_exports(tmp_path, monkeypatch):
    write_frame_cache(tmp_path / "cache" / "train", 6, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["train", "--part", "motion", "--driving", "landmarks", "--cache", str(tmp_path / "cache"), "--run", str(run),
                                      "--steps", "2", "--val-every", "1", "--batch", "2", "--keep-all", "--pivot-jpeg", "20-60"])
    train.main()
    snaps = sorted(run.glob("snap_*.pt"))
    assert [p.name for p in snaps] == ["snap_000001.pt", "snap_000002.pt"]
    snap = load_checkpoint(snaps[-1])
    assert snap["step"] == 2 and "psnr" in snap["val"]
    assert {k.split(".", 1)[0] for k in snap["ema"]} == {"dense_motion", "generator"}  # not the detector it did not train
    last = torch.load(run / "last.pt", weights_only=True)["ema"]
    for k, v in snap["ema"].items():
        torch.testing.assert_close(v, last[k])
    out = tmp_path / "weights"
    shutil.copytree(weights_dir(), out)
    m = export({"dense_motion": snaps[-1], "generator": snaps[-1]}, out, {})
    assert {f["network"]: f["steps"] for f in m["files"]}["generator"] == 2
    assert "disc" not in snap


def test_a_fine_tune_goes_on_from_a_snapshot_and_its_discriminator(tmp_path, monkeypatch):
    write_frame_cache(tmp_path / "cache" / "train", 6, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    common = ["train", "--part", "motion", "--driving", "landmarks", "--cache", str(tmp_path / "cache"), "--batch", "2", "--gan", "0.1", "--keep-all"]
    monkeypatch.setattr(sys, "argv", [*common, "--run", str(tmp_path / "a"), "--steps", "2", "--val-every", "5"])
    train.main()
    first = load_checkpoint(tmp_path / "a" / "snap_000002.pt")
    assert "disc" in first  # the last snapshot of a GAN run carries its discriminator
    seen = []

    def record(self, fake, real, rec):  # the discriminator each step starts from
        seen.append(copy.deepcopy(self.disc.state_dict()))
        rec["d_loss"] = 0.0

    monkeypatch.setattr(motion.Adversary, "step", record)
    monkeypatch.setattr(sys, "argv", [*common, "--run", str(tmp_path / "b"), "--steps", "1", "--init", str(tmp_path / "a" / "snap_000002.pt"), "--gan-warmup", "2"])
    train.main()
    assert len(seen) == 3  # two warm-up steps of the discriminator alone, then one beside the networks
    for k, v in first["disc"].items():  # and the first of them started from the carried discriminator
        torch.testing.assert_close(seen[0][k], v)
    assert load_checkpoint(tmp_path / "b" / "snap_000001.pt")["step"] == 1
    ema = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["ema"]
    for k, v in load_model().model.keypoint_detector.state_dict().items():  # not in the snapshot: the shipped detector
        torch.testing.assert_close(ema["keypoint_detector." + k], v)
    seen.clear()
    monkeypatch.setattr(sys, "argv", [*common, "--run", str(tmp_path / "c"), "--steps", "1", "--init", str(tmp_path / "a" / "snap_000002.pt"), "--disc-channels", "8,16"])
    train.main()  # a discriminator of another shape starts fresh
    assert seen[0]["scales.0.0.0.weight"].shape[0] == 8


def test_pivot_jpeg_codes_most_pivots_within_the_quality_range():
    rng = np.random.default_rng(0)
    y, x = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
    images = torch.stack([x, y, (x * 7).sin().abs()])[None].repeat(40, 1, 1, 1)
    images = images + 0.05 * torch.rand(images.shape, generator=torch.Generator().manual_seed(0))
    images = images.clamp(0, 1)
    coded = jpeg_pivots(images, rng, (10, 10))
    changed = (coded - images).abs().amax((1, 2, 3)) > 0
    assert 30 <= changed.sum() < 40  # nine in ten, the rest clean
    fine = jpeg_pivots(images, np.random.default_rng(0), (90, 90))
    err = lambda out: (out - images).abs().mean((1, 2, 3))[changed].mean()
    assert err(fine) < err(coded) / 2  # the quality is the one asked for
    assert jpeg_pivots(images, rng, (50, 50), share=0.0) is images


@pytest.mark.parametrize("text", ["50", "25-85"])
def test_pivot_jpeg_option_reads_a_quality_or_a_range(text):
    lo, _, hi = text.partition("-")
    assert motion.quality_range(text) == (int(lo), int(hi or lo))


@pytest.mark.parametrize("text", ["x", "85-25", "0-50", "50-100"])
def test_pivot_jpeg_option_refuses_what_is_not_a_range(text):
    with pytest.raises(Exception, match="LO"):
        motion.quality_range(text)


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


def test_disc_channels_option_reads_positive_channels():
    assert motion.channels("64,128,256") == (64, 128, 256)
    for text in ("64,x", "0,8", ""):
        with pytest.raises(Exception, match="channels"):
            motion.channels(text)
