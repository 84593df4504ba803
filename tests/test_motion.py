"""The motion part (thcodec/train/motion.py): its options, a fine-tune from a snapshot and its discriminator."""

from __future__ import annotations

import copy
import sys

import pytest
import torch
from conftest import motion_argv

from thcodec.models.checkpoint import load_checkpoint
from thcodec.models.weights import load_model
from thcodec.train import motion, train


@pytest.mark.slow
def test_a_fine_tune_goes_on_from_a_snapshot_and_its_discriminator(tmp_path, monkeypatch):
    common = motion_argv(tmp_path, "--batch", "2", "--gan", "0.1", "--keep-all")
    monkeypatch.setattr(sys, "argv", [*common, "--run", str(tmp_path / "a"), "--steps", "2", "--val-every", "5"])
    train.main()
    first = load_checkpoint(tmp_path / "a" / "snap_000002.pt")
    assert "disc" in first  # the last snapshot of a GAN run carries its discriminator
    seen = []

    def record(self, fake, real, rec):  # the discriminator each step starts from
        seen.append(copy.deepcopy(self.disc.state_dict()))
        rec["d_loss"] = 0.0

    monkeypatch.setattr(motion.Adversary, "step", record)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            *common,
            "--run",
            str(tmp_path / "b"),
            "--steps",
            "1",
            "--init",
            str(tmp_path / "a" / "snap_000002.pt"),
            "--gan-warmup",
            "2",
        ],
    )
    train.main()
    assert len(seen) == 3  # two warm-up steps of the discriminator alone, then one beside the networks
    for k, v in first["disc"].items():  # and the first of them started from the carried discriminator
        torch.testing.assert_close(seen[0][k], v)
    assert load_checkpoint(tmp_path / "b" / "snap_000001.pt")["step"] == 1
    ema = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["ema"]
    for k, v in load_model().model.keypoint_detector.state_dict().items():  # not in the snapshot: the shipped detector
        torch.testing.assert_close(ema["keypoint_detector." + k], v)
    seen.clear()
    monkeypatch.setattr(
        sys,
        "argv",
        [
            *common,
            "--run",
            str(tmp_path / "c"),
            "--steps",
            "1",
            "--init",
            str(tmp_path / "a" / "snap_000002.pt"),
            "--disc-channels",
            "8,16",
        ],
    )
    train.main()  # a discriminator of another shape starts fresh
    assert seen[0]["scales.0.0.0.weight"].shape[0] == 8


@pytest.mark.parametrize("text", ["50", "25-85"])
def test_pivot_jpeg_option_reads_a_quality_or_a_range(text):
    lo, _, hi = text.partition("-")
    assert motion.quality_range(text) == (int(lo), int(hi or lo))


@pytest.mark.parametrize("text", ["x", "85-25", "0-50", "50-100"])
def test_pivot_jpeg_option_refuses_what_is_not_a_range(text):
    with pytest.raises(Exception, match="LO"):
        motion.quality_range(text)


def test_disc_channels_option_reads_positive_channels():
    assert motion.channels("64,128,256") == (64, 128, 256)
    for text in ("64,x", "0,8", ""):
        with pytest.raises(Exception, match="channels"):
            motion.channels(text)
