"""The receiver's networks in one module, so training, export and the codec share them."""

from __future__ import annotations

import torch
from torch import nn

from thcodec.models.dense_motion import DenseMotion
from thcodec.models.generator import Generator
from thcodec.models.keypoint_detector import KeypointDetector
from thcodec.models.keypoints import Keypoints


class TalkingHead(nn.Module):
    def __init__(self, num_kp: int = 10) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.keypoint_detector = KeypointDetector(num_kp)
        self.dense_motion = DenseMotion(num_kp, channels=(16, 32, 64, 64))
        self.generator = Generator(num_kp)

    def detect_keypoints(self, frames: torch.Tensor) -> Keypoints:
        """frames: (B,3,256,256) float in [0,1] -> Keypoints (B,K)."""
        xy, jac = self.keypoint_detector(frames)
        return Keypoints(xy, jac)

    def animate(self, pivot: torch.Tensor, pivot_kp: Keypoints, drive_kp: Keypoints) -> torch.Tensor:
        """pivot: (B,3,256,256) in [0,1] -> frame (B,3,256,256) in [0,1] posed as drive_kp."""
        return self.animate_unclamped(pivot, pivot_kp, drive_kp).clamp(0, 1)

    def animate_unclamped(self, pivot: torch.Tensor, pivot_kp: Keypoints, drive_kp: Keypoints) -> torch.Tensor:
        """As animate, without the final clamp (training: gradients everywhere)."""
        return self.animate_with_motion(pivot, pivot_kp, drive_kp)[0]

    def animate_with_motion(self, pivot: torch.Tensor, pivot_kp: Keypoints, drive_kp: Keypoints):
        """-> (frame unclamped (B,3,256,256), flow (B,64,64,2) in pivot coordinates, occlusion (B,1,64,64)):
        super-resolution reuses the motion field at the output size."""
        flow, occlusion = self.dense_motion(pivot, pivot_kp.xy, pivot_kp.jacobian, drive_kp.xy, drive_kp.jacobian)
        return self.generator(pivot, flow, occlusion, drive_kp.xy), flow, occlusion
