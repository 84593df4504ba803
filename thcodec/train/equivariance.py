"""Key-point equivariance (the first-order motion model's constraint, with a random affine map).

Warp a frame X by a random affine map T (the warped frame samples X at T(q)); the detector's
points on the warped frame, mapped back by T, must land where it finds them on X, and its
Jacobians must agree up to T's linear part: xy(X) = A xy(X') + t, J(X) = A J(X').
The teacher's landmarks only cover the flips, zooms and shifts of augment.geometric; this term
also covers rotation and shear, and ties the Jacobians to the picture rather than to the teacher.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from thcodec.models.blocks import make_coordinate_grid
from thcodec.models.keypoints import Keypoints
from thcodec.train.augment import rotations


def random_affine(batch: int, rng: np.random.Generator, rotate_deg=10.0, scale=0.1, shear=0.05, shift=0.08) -> torch.Tensor:
    """(B,2,3) maps [A | t]: small rotations, zooms, shears and shifts about the image centre."""
    a = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, batch))
    s = 1 + rng.uniform(-scale, scale, batch)
    rot = rotations(a) * s[:, None, None]
    lin = rot + rng.uniform(-shear, shear, (batch, 2, 2))
    t = rng.uniform(-shift, shift, (batch, 2, 1))
    return torch.from_numpy(np.concatenate([lin, t], -1)).float()


def warp_affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """The warped frames: each output pixel q samples the input at A q + t."""
    b, _, h, w = images.shape
    grid = make_coordinate_grid(h, w, images.device, images.dtype)[None].expand(b, -1, -1, -1)
    lin, t = theta[:, None, None, :, :2].to(images), theta[:, None, None, :, 2].to(images)
    src = (lin @ grid[..., None]).squeeze(-1) + t
    return F.grid_sample(images, src, mode="bilinear", padding_mode="reflection", align_corners=False)


def mapped_back(kp: Keypoints, theta: torch.Tensor) -> Keypoints:
    """Key points found on warped frames, in the coordinates of the frames before the warp."""
    lin, t = theta[:, None, :, :2].to(kp.xy), theta[:, None, :, 2].to(kp.xy)
    xy = (lin @ kp.xy[..., None]).squeeze(-1) + t
    return Keypoints(xy, lin @ kp.jacobian)


def equivariance_loss(detect, images: torch.Tensor, found: Keypoints, rng: np.random.Generator) -> tuple[torch.Tensor, dict]:
    """detect: frames -> Keypoints; found: detect(images), computed by the caller.
    -> (L1 of positions x 10 + L1 of Jacobians, logged values)."""
    theta = random_affine(images.shape[0], rng).to(images.device)
    back = mapped_back(detect(warp_affine(images, theta)), theta)
    xy = (found.xy - back.xy).abs().mean()
    jac = (found.jacobian - back.jacobian).abs().mean()
    return 10 * xy + jac, {"eq_xy_px": xy.item() * 128, "eq_jac": jac.item()}
