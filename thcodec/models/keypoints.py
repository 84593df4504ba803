"""The key-point tensor type shared by the networks, the sender and the receiver.

Coordinates: x, y lie in [-1, 1) over the model image (256x256); pixel i of a `size`-pixel
axis has its centre at (2i+1)/size - 1, as in grid_sample(align_corners=False). The Jacobian
J (2x2, row-major J00 J01 / J10 J11) maps an offset around the point in the template frame
to the offset around it in the current frame. The wire form is thcodec.format.keypoint_bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Keypoints:
    xy: torch.Tensor  # (B, K, 2)
    jacobian: torch.Tensor  # (B, K, 2, 2)

    def expand(self, n: int) -> Keypoints:
        """One set of key points (B=1) repeated n times, without copying."""
        return Keypoints(self.xy.expand(n, -1, -1), self.jacobian.expand(n, -1, -1, -1))

    def to(self, device: torch.device | str) -> Keypoints:
        return Keypoints(self.xy.to(device), self.jacobian.to(device))

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """-> (xy (B,K,2) float32, jacobian (B,K,2,2) float32) on the CPU."""
        return (
            self.xy.detach().cpu().float().numpy(),
            self.jacobian.detach().cpu().float().numpy(),
        )

    @staticmethod
    def from_numpy(xy: np.ndarray, jac: np.ndarray) -> Keypoints:
        return Keypoints(
            torch.from_numpy(np.ascontiguousarray(xy, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(jac, dtype=np.float32)),
        )
