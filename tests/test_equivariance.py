"""Key-point equivariance for detector training (thcodec/train/equivariance.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import write_frame_cache

from thcodec.models.blocks import make_coordinate_grid
from thcodec.models.keypoints import Keypoints
from thcodec.train.equivariance import equivariance_loss, mapped_back, random_affine, warp_affine


def _blob(centres: torch.Tensor, size: int = 64, sigma: float = 0.08) -> torch.Tensor:
    """(B,3,S,S) frames, one Gaussian spot each at centres (B,2) in [-1,1]."""
    grid = make_coordinate_grid(size, size)[None]
    d2 = ((grid - centres[:, None, None]) ** 2).sum(-1)
    return torch.exp(-d2 / (2 * sigma**2))[:, None].expand(-1, 3, -1, -1).contiguous()


def _centroid(frames: torch.Tensor) -> Keypoints:
    """A detector that is equivariant by construction: the intensity centroid, identity Jacobian."""
    w = frames.mean(1)
    grid = make_coordinate_grid(*w.shape[1:])
    xy = (w[..., None] * grid).sum((1, 2)) / w.sum((1, 2))[:, None]
    return Keypoints(xy[:, None], torch.eye(2).expand(frames.shape[0], 1, 2, 2))


def test_identity_warp_keeps_the_frame():
    img = torch.rand(2, 3, 16, 16)
    theta = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(2, 2, 3)
    torch.testing.assert_close(warp_affine(img, theta), img, atol=1e-5, rtol=0)


def test_warped_spot_maps_back_to_where_it_was():
    centres = torch.tensor([[0.2, -0.1], [-0.15, 0.1]])
    img = _blob(centres)
    theta = random_affine(2, np.random.default_rng(1))
    found = _centroid(warp_affine(img, theta))
    torch.testing.assert_close(mapped_back(found, theta).xy[:, 0], centres, atol=4e-3, rtol=0)
    # ... and is somewhere else on the warped frame (the test is not trivially true)
    assert (found.xy[:, 0] - centres).norm(dim=-1).min() > 0.01


def test_mapped_back_applies_the_linear_part_to_jacobians():
    theta = torch.tensor([[[0.9, -0.2, 0.05], [0.3, 1.1, -0.1]]])
    jac = torch.tensor([[[[1.0, 0.5], [0.0, 2.0]]]])
    back = mapped_back(Keypoints(torch.tensor([[[0.5, -0.5]]]), jac), theta)
    torch.testing.assert_close(back.xy, torch.tensor([[[0.9 * 0.5 + 0.2 * 0.5 + 0.05, 0.3 * 0.5 - 1.1 * 0.5 - 0.1]]]))
    torch.testing.assert_close(back.jacobian, theta[:, None, :, :2] @ jac)


def test_loss_is_small_for_an_equivariant_detector_and_large_for_a_fixed_one():
    img = _blob(torch.tensor([[0.2, -0.1], [-0.15, 0.1], [0.0, 0.25]]))
    _, rec = equivariance_loss(_centroid, img, _centroid(img), np.random.default_rng(2))
    assert rec["eq_xy_px"] < 0.3

    def fixed(frames):
        return Keypoints(torch.zeros(frames.shape[0], 1, 2), torch.eye(2).expand(frames.shape[0], 1, 2, 2))

    _, rec = equivariance_loss(fixed, img, fixed(img), np.random.default_rng(2))
    assert rec["eq_xy_px"] > 1 and rec["eq_jac"] > 0.01


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_keypoint_training_logs_the_equivariance_terms(tmp_path):
    write_frame_cache(tmp_path / "cache" / "train", 8, 1)
    write_frame_cache(tmp_path / "cache" / "val", 4, 2)
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "thcodec.train.train",
        "--part",
        "keypoints",
        "--cache",
        str(tmp_path / "cache"),
        "--run",
        str(run),
        "--steps",
        "20",
        "--batch",
        "1",
        "--val-every",
        "10",
        "--equivariance",
        "1",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "eq_xy_px" in r]
    assert steps and all(r["eq_xy_px"] >= 0 and r["eq_jac"] >= 0 for r in steps)
