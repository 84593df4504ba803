"""The training entry point under torchrun: two CPU processes, gloo, DistributedDataParallel.

Slow (two processes start torch): `python -m pytest -m slow tests/test_train_ddp.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_frame_cache


@pytest.mark.slow
@pytest.mark.parametrize("part", [["keypoints"], ["motion", "--gan", "0.1"]], ids=["keypoints", "motion-gan"])
def test_two_cpu_processes_train_one_model(tmp_path, part):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    write_frame_cache(tmp_path / "cache" / "train", 12, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    run = tmp_path / "run"
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "thcodec.train.train",
        "--part",
        *part,
        "--cache",
        str(tmp_path / "cache"),
        "--run-dir",
        str(run),
        "--steps",
        "20",
        "--batch",
        "1",
        "--val-every",
        "20",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any(r.get("world") == 2 and r.get("step") == 20 for r in log)
    assert any("val" in r for r in log)
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == 20
    assert ("disc" in ck) == ("--gan" in part)  # the discriminator is checkpointed with its run
    assert (run / "best.pt").exists()
