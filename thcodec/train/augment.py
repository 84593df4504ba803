"""Pair augmentation applied identically to both frames of a training pair."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from thcodec.media.frames import jpeg_decode, jpeg_encode, to_tensor, to_uint8
from thcodec.models.blocks import make_coordinate_grid

# iBUG 68-landmark index of each point's mirror image.
FLIP68 = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)


def rotations(radians: np.ndarray) -> np.ndarray:
    """(B,) angles -> (B,2,2) rotation matrices."""
    c, s = np.cos(radians), np.sin(radians)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def geometric(
    images: list[torch.Tensor],
    landmarks: list[np.ndarray],
    rng: np.random.Generator,
    max_scale=0.1,
    max_shift=0.08,
    max_rotate_deg=0.0,
):
    """Random flip + zoom + rotation + shift per batch item; images (B,3,S,S), landmarks (B,68,2) in [-1,1]."""
    b, _, s, _ = images[0].shape
    flip = rng.random(b) < 0.5
    scale = 1 + rng.uniform(-max_scale, max_scale, b)
    shift = rng.uniform(-max_shift, max_shift, (b, 2))
    angle = np.deg2rad(rng.uniform(-max_rotate_deg, max_rotate_deg, b)) if max_rotate_deg else np.zeros(b)
    rot = rotations(angle)
    # output coordinate p' = M p + shift with M = R diag(sx, s)  ->  sample the input at M^-1 (p' - shift)
    mat = rot * np.stack([np.where(flip, -scale, scale), scale], -1)[:, None, :]
    dev = images[0].device
    inv = torch.from_numpy(np.linalg.inv(mat)).float().to(dev)[:, None, None]
    grid = make_coordinate_grid(s, s, dev)[None].expand(b, -1, -1, -1)
    src_grid = (inv @ (grid - torch.from_numpy(shift).float().to(dev)[:, None, None])[..., None]).squeeze(-1)
    out_images = [F.grid_sample(im, src_grid, mode="bilinear", padding_mode="reflection", align_corners=False) for im in images]
    out_lms = []
    for lm in landmarks:
        lm = np.einsum("bij,bnj->bni", mat, lm) + shift[:, None]
        lm[flip] = lm[flip][:, FLIP68]
        out_lms.append(lm.astype(np.float32))
    return out_images, out_lms


def photometric(images: list[torch.Tensor], rng: np.random.Generator, amount=0.12) -> list[torch.Tensor]:
    """Same brightness / contrast / saturation change for every image of a pair."""
    b, dev = images[0].shape[0], images[0].device
    bright = torch.from_numpy(rng.uniform(-amount, amount, (b, 1, 1, 1))).float().to(dev)
    contrast = torch.from_numpy(1 + rng.uniform(-amount, amount, (b, 1, 1, 1))).float().to(dev)
    sat = torch.from_numpy(1 + rng.uniform(-amount, amount, (b, 1, 1, 1))).float().to(dev)
    out = []
    for im in images:
        grey = im.mean(1, keepdim=True)
        im = grey + (im - grey) * sat
        im = (im - 0.5) * contrast + 0.5 + bright
        out.append(im.clamp(0, 1))
    return out


def jpeg_pivots(images: torch.Tensor, rng: np.random.Generator, quality: tuple[int, int], share: float = 0.9) -> torch.Tensor:
    """The pivot frames as the receiver decodes them: a share of the batch through the codec's own
    JPEG coder at a random quality in [lo, hi] (the sender's --pivot-quality, lowered by a rate cap),
    the rest clean, so the networks learn to animate blocky pivots without copying the blocks."""
    b, _, h, w = images.shape
    coded = rng.random(b) < share
    if not coded.any():
        return images
    qualities = rng.integers(quality[0], quality[1] + 1, b)
    frames = to_uint8(images[torch.from_numpy(coded).to(images.device)])
    decoded = np.stack([jpeg_decode(jpeg_encode(f, int(q), optimize=False), w, h) for f, q in zip(frames, qualities[coded])])
    out = images.clone()
    out[torch.from_numpy(coded).to(images.device)] = to_tensor(decoded).to(images.device)
    return out
