"""The training entry point (thcodec/train/train.py): the one loop through the motion part, the time budget, snapshots."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
from conftest import motion_argv

from thcodec.models.checkpoint import load_checkpoint
from thcodec.models.weights import export, weights_dir
from thcodec.train import train


@pytest.mark.slow
def test_a_spent_time_budget_validates_saves_and_stops(tmp_path, monkeypatch):
    run = tmp_path / "run"
    argv = motion_argv(tmp_path, "--run", str(run), "--steps", "1000", "--batch", "1", "--minutes", "1e-9")
    monkeypatch.setattr(sys, "argv", argv)
    train.main()
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == 1  # the first step found the budget spent
    best = load_checkpoint(run / "best.pt")
    assert best["val"]["step"] == 1
    assert any("val" in json.loads(line) for line in (run / "log.jsonl").read_text().splitlines())


def test_keep_all_snapshots_the_trained_networks_at_every_validation_and_exports(tmp_path, monkeypatch):
    run = tmp_path / "run"
    argv = motion_argv(
        tmp_path, "--run", str(run), "--steps", "2", "--val-every", "1", "--batch", "2", "--keep-all", "--pivot-jpeg", "20-60"
    )
    monkeypatch.setattr(sys, "argv", argv)
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


def test_the_trainer_imports_without_pyav_or_dlib():
    """A lent GPU machine has neither (docs/gpu_training.md): the trainer and its parts must load there."""
    import subprocess

    code = "import sys; sys.modules.update(av=None, dlib=None, cv2=None); import thcodec.train.train, thcodec.train.parts"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
