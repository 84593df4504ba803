import math

import numpy as np
import pytest
import torch

from thcodec.media.metrics import psnr, ssim, ssim_u8


def image(seed=0, shape=(48, 64, 3)):
    return np.random.default_rng(seed).integers(20, 236, shape, dtype=np.uint8)


@pytest.mark.parametrize("k", [1, 2, 5, 16])
def test_psnr_of_a_constant_offset(k):
    a = image()
    # +k or -k per pixel: the squared error is k^2 everywhere
    sign = np.where(np.random.default_rng(1).random(a.shape) < 0.5, -1, 1)
    b = (a.astype(int) + sign * k).astype(np.uint8)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / k))
    assert psnr(b, a) == pytest.approx(psnr(a, b))


def test_psnr_identical_is_inf():
    a = image()
    assert psnr(a, a.copy()) == float("inf")


def test_psnr_does_not_wrap_around_uint8():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 255, np.uint8)
    assert psnr(a, b) == pytest.approx(0.0)


def test_psnr_decreases_with_noise():
    a = image()
    rng = np.random.default_rng(2)
    values = [psnr(a, np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8)) for s in (2, 8, 32)]
    assert values == sorted(values, reverse=True)


def test_ssim_identical_is_one():
    a = image()
    assert ssim_u8(a, a.copy()) == pytest.approx(1.0, abs=1e-5)
    flat = np.full((32, 32, 3), 77, np.uint8)
    assert ssim_u8(flat, flat) == pytest.approx(1.0, abs=1e-5)


def smooth_image():
    y, x = np.mgrid[0:48, 0:64]
    return np.stack([40 + 2 * x, 40 + 3 * y, 120 + x - y], -1).astype(np.uint8)


def test_ssim_decreases_with_noise():
    a = smooth_image()
    rng = np.random.default_rng(3)
    values = [ssim_u8(a, np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8)) for s in (0, 4, 16, 64)]
    assert values[0] == pytest.approx(1.0, abs=1e-5)
    assert all(x > y for x, y in zip(values, values[1:])), values
    assert values[-1] < 0.5


def test_ssim_is_symmetric_and_bounded():
    a, b = image(0), image(1)
    s = ssim_u8(a, b)
    assert s == pytest.approx(ssim_u8(b, a), abs=1e-6)
    assert -1 <= s <= 1


def test_ssim_tensor_batch_and_gradient():
    a = torch.rand(2, 3, 32, 32)
    b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1).requires_grad_(True)
    s = ssim(a, b)
    assert s.shape == () and 0 < s.item() < 1
    s.backward()  # usable as a training loss
    assert b.grad is not None and torch.isfinite(b.grad).all()
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-5)
