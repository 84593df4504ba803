"""Picture-quality metrics on RGB frames: PSNR (RGB, and Y as ffmpeg's psnr filter) and SSIM (also a training loss)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 RGB images (any shape), peak 255; inf when identical."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


# BT.601 limited-range luma from 8-bit RGB (what swscale writes into a yuv420p frame's Y plane).
_Y601 = np.array([65.481, 128.553, 24.966]) / 255.0


def luma_bt601(rgb: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 RGB -> (H,W) uint8 Y, BT.601 limited range (16..235), rounded."""
    return np.clip(np.rint(16.0 + rgb.astype(np.float64) @ _Y601), 0, 255).astype(np.uint8)


def mse_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two uint8 images over all pixels and channels."""
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def mse_y(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of the BT.601 luma of two (H,W,3) uint8 RGB images."""
    return mse_rgb(luma_bt601(a), luma_bt601(b))


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """10 log10(peak^2 / mse) dB; inf for 0. ffmpeg's psnr filter averages MSE over frames, then this."""
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H,W,3) uint8 images, computed on RGB channels and averaged."""
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].float() / 255
    return float(ssim(ta, tb))


def _gauss(window: int, sigma: float, device, dtype) -> torch.Tensor:
    x = torch.arange(window, device=device, dtype=dtype) - (window - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of (B,C,H,W) images in [0,1] (Gaussian window, Wang et al. 2004 constants)."""
    c = a.shape[1]
    window = min(window, a.shape[-2], a.shape[-1])  # tiny frames: the window cannot exceed them
    g = _gauss(window, sigma, a.device, a.dtype)
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(x):
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean()
