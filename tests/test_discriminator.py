"""The patch discriminator used by motion training with --gan (thcodec/train/discriminator.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import write_frame_cache

from thcodec.train.discriminator import PatchDiscriminator, discriminator_loss, generator_terms


def test_scales_and_score_maps():
    d = PatchDiscriminator(channels=(8, 16), scales=2)
    feats = d(torch.rand(2, 3, 64, 64))
    assert len(feats) == 2 and len(feats[0]) == 3
    assert feats[0][-1].shape == (2, 1, 16, 16) and feats[1][-1].shape == (2, 1, 8, 8)


def test_losses_agree_with_their_definitions():
    torch.manual_seed(0)
    d = PatchDiscriminator(channels=(8, 16))
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    fr, ff = d(real), d(fake)
    adv, fm = generator_terms(fr, fr)
    assert fm.item() == 0  # the real frame matches its own features
    expected = sum(((1 - f[-1]) ** 2).mean() for f in fr) / 2
    torch.testing.assert_close(adv, expected)
    assert generator_terms(ff, fr)[1].item() > 0
    d_loss = discriminator_loss(ff, fr)
    expected = sum(((1 - r[-1]) ** 2).mean() + (f[-1] ** 2).mean() for f, r in zip(ff, fr)) / 2
    torch.testing.assert_close(d_loss, expected)


def test_feature_matching_sends_no_gradient_to_the_real_side():
    d = PatchDiscriminator(channels=(8, 16))
    real = torch.rand(1, 3, 32, 32, requires_grad=True)
    fake = torch.rand(1, 3, 32, 32, requires_grad=True)
    _, fm = generator_terms(d(fake), d(real))
    fm.backward()
    assert real.grad is None and fake.grad.abs().sum() > 0


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_motion_training_with_gan_checkpoints_and_resumes(tmp_path):
    write_frame_cache(tmp_path / "cache" / "train", 8, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    run = tmp_path / "run"

    def train(steps: int) -> subprocess.CompletedProcess:
        cmd = [
            sys.executable,
            "-m",
            "thcodec.train.train",
            "--part",
            "motion",
            "--cache",
            str(tmp_path / "cache"),
            "--run",
            str(run),
            "--steps",
            str(steps),
            "--batch",
            "1",
            "--val-every",
            "10",
            "--gan",
            "0.1",
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)

    done = train(10)
    assert done.returncode == 0, done.stderr[-3000:]
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == 10 and {"disc", "opt_disc"} <= ck.keys()
    done = train(20)  # logs every 20 steps
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed at step 10" in done.stdout
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "d_loss" in r]
    assert steps and all(r["adv"] >= 0 and r["fm"] >= 0 and r["d_loss"] >= 0 for r in steps)
