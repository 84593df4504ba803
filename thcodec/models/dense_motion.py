"""Dense motion: flow and occlusion at 64x64 from the pivot and two sets of key points.

First-order model: near key point k the driving->pivot map is
T_k(z) = p_k + J_p,k J_d,k^-1 (z - d_k); a small U-Net blends the K local maps and the
identity (background) into one flow and says where the pivot cannot explain the frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thcodec.models.blocks import UNet, channels_last, convolutions, gaussian_heatmaps, make_coordinate_grid, warp

MOTION_SIZE = 64


def safe_inverse(m: torch.Tensor, min_det: float = 0.05) -> torch.Tensor:
    """Inverse of (...,2,2) matrices with |det| floored: a closed eye must not blow up the flow."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    det = torch.where(det >= 0, det.clamp(min=min_det), det.clamp(max=-min_det))
    return torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det[..., None, None]


class DenseMotion(nn.Module):
    def __init__(self, num_kp: int = 10, channels: tuple[int, ...] = (32, 64, 128, 128), sigma: float = 0.1) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.sigma = sigma
        cin = (num_kp + 1) * 4  # per local map: heatmap difference + deformed pivot (RGB)
        self.unet = UNet(cin, channels)
        self.mask = nn.Conv2d(channels[0], num_kp + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(channels[0], 1, 7, padding=3)

    def sparse_motions(self, pivot_xy, pivot_jac, drive_xy, drive_jac) -> torch.Tensor:
        """-> (B,K+1,h,w,2): for every pixel of the driving frame, where it lies in the pivot."""
        b = pivot_xy.shape[0]
        grid = make_coordinate_grid(MOTION_SIZE, MOTION_SIZE, pivot_xy.device, pivot_xy.dtype)
        jac = pivot_jac @ safe_inverse(drive_jac)  # (B,K,2,2)
        rel = grid[None, None] - drive_xy[:, :, None, None, :]  # (B,K,h,w,2)
        local = torch.einsum("bkij,bkhwj->bkhwi", jac, rel) + pivot_xy[:, :, None, None, :]
        identity = grid[None, None].expand(b, 1, -1, -1, -1)
        return torch.cat([identity, local], 1)

    def forward(self, pivot: torch.Tensor, pivot_xy, pivot_jac, drive_xy, drive_jac) -> tuple[torch.Tensor, torch.Tensor]:
        """pivot: (B,3,S,S) in [0,1] -> flow (B,64,64,2) pivot coordinates, occlusion (B,1,64,64)."""
        b, k = pivot.shape[0], self.num_kp
        # the receiver animates one pivot for the whole batch (an expanded tensor): shrink it once
        one = pivot[:1] if pivot.stride(0) == 0 else pivot
        small = F.interpolate(one, size=(MOTION_SIZE, MOTION_SIZE), mode="bilinear", align_corners=False, antialias=True)
        small = small.expand(b, -1, -1, -1)
        motions = self.sparse_motions(pivot_xy, pivot_jac, drive_xy, drive_jac)  # (B,K+1,h,w,2)
        deformed = warp(
            small[:, None].expand(-1, k + 1, -1, -1, -1).reshape(b * (k + 1), 3, MOTION_SIZE, MOTION_SIZE),
            motions.reshape(b * (k + 1), MOTION_SIZE, MOTION_SIZE, 2),
        ).view(b, (k + 1) * 3, MOTION_SIZE, MOTION_SIZE)
        heat = gaussian_heatmaps(drive_xy, MOTION_SIZE, MOTION_SIZE, self.sigma) - gaussian_heatmaps(
            pivot_xy, MOTION_SIZE, MOTION_SIZE, self.sigma
        )
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], 1)
        with convolutions():
            feat = self.unet(channels_last(torch.cat([heat, deformed], 1)))
            mask, occlusion = self.mask(feat), self.occlusion(feat)
        mask = mask.float().softmax(1)  # (B,K+1,h,w)
        flow = (mask[..., None] * motions).sum(1)
        return flow, torch.sigmoid(occlusion.float())
