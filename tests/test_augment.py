"""Training augmentation moves the landmarks with the picture (thcodec/train/augment.py)."""

from __future__ import annotations

import numpy as np
import torch

from thcodec.models.blocks import make_coordinate_grid
from thcodec.train.augment import geometric, jpeg_pivots


def _spot(centre: np.ndarray, size: int = 96, sigma: float = 0.05) -> torch.Tensor:
    grid = make_coordinate_grid(size, size)
    d2 = ((grid - torch.from_numpy(centre).float()) ** 2).sum(-1)
    return torch.exp(-d2 / (2 * sigma**2))[None].expand(3, -1, -1)


def _centroid(img: torch.Tensor) -> np.ndarray:
    w = img.mean(0)
    return ((w[..., None] * make_coordinate_grid(*w.shape)).sum((0, 1)) / w.sum()).numpy()


def test_spot_and_landmark_move_together_with_rotation_and_flips():
    rng = np.random.default_rng(0)
    b = 8
    lms = np.zeros((b, 68, 2), np.float32)
    lms[:, 30] = rng.uniform(-0.3, 0.3, (b, 2))  # the nose tip (its own mirror image in FLIP68)
    imgs = torch.stack([_spot(lm[30]) for lm in lms])
    out, out_lms = geometric([imgs], [lms], rng, max_rotate_deg=20)
    moved = 0.0
    for img, lm, before in zip(out[0], out_lms[0], lms):
        np.testing.assert_allclose(_centroid(img), lm[30], atol=0.01)
        moved = max(moved, float(np.abs(lm[30] - before[30]).max()))
    assert moved > 0.05  # the augmentation did move things


def test_no_rotation_draws_no_random_numbers_for_it():
    """Runs without --rotate sample exactly as before the option existed."""
    imgs = [torch.rand(2, 3, 16, 16)]
    lms = [np.zeros((2, 68, 2), np.float32)]
    r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
    geometric(imgs, lms, r1)
    r2.random(2), r2.uniform(0, 1, 2), r2.uniform(0, 1, (2, 2))
    assert r1.random() == r2.random()


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
