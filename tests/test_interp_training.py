"""`--part interp` (thcodec/train/interp.py): a few steps on synthetic key-point trajectories."""

from __future__ import annotations

import json

import numpy as np
import torch

from thcodec.format import keypoint_bits as kpq
from thcodec.models.checkpoint import load_checkpoint
from thcodec.train import train
from thcodec.train.interp import load_trajectories, neighbours, val_set


def _trajectories(path, clips: int, frames: int, seed: int) -> None:
    """Smooth key-point paths (circles), quantized as the stream sends them."""
    rng = np.random.default_rng(seed)
    out = {}
    for c in range(clips):
        t = np.linspace(0, 2 * np.pi, frames)[:, None]
        xy = np.stack([0.3 * np.cos(t + rng.uniform(0, 6, 10)), 0.3 * np.sin(t + rng.uniform(0, 6, 10))], -1)
        jac = np.broadcast_to(np.eye(2), (frames, 10, 2, 2)) + 0.05 * rng.normal(size=(frames, 10, 2, 2))
        out[f"clip{c}"] = kpq.quantize(xy.astype(np.float32), jac.astype(np.float32))
    np.savez_compressed(path, **out)


def test_trajectories_read_back_and_neighbours_replicate_at_the_ends(tmp_path):
    _trajectories(tmp_path / "t.npz", 2, 20, 0)
    trajs = load_trajectories(tmp_path / "t.npz")
    assert len(trajs) == 2 and trajs[0].shape == (20, 10, 6)
    p, a, _, _ = neighbours(trajs[0], 0, 2)
    np.testing.assert_array_equal(p, a)  # no frame before the first: the first again
    assert set(val_set(trajs)) == {2, 3, 4}


def test_a_few_steps_train_validate_and_save(tmp_path):
    (tmp_path / "kps").mkdir()
    _trajectories(tmp_path / "kps" / "train.npz", 3, 30, 1)
    _trajectories(tmp_path / "kps" / "val.npz", 1, 20, 2)
    run = tmp_path / "run"
    train.main(
        [
            "--part",
            "interp",
            "--kps",
            str(tmp_path / "kps"),
            "--run",
            str(run),
            "--steps",
            "4",
            "--batch",
            "16",
            "--lr",
            "1e-3",
            "--val-every",
            "2",
        ]
    )
    best = load_checkpoint(run / "best.pt")
    assert {"net_px", "linear_px", "k2_net_px"} <= set(best["val"])
    assert set(best["ema"]) == set(torch.load(run / "last.pt", weights_only=True)["model"])
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["val"]["step"] for r in log if "val" in r] == [2, 4]
