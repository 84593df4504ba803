"""`--part keypoints`: distil the key-point detector from dlib landmark-group key points.

--equivariance W adds the key-point equivariance term under random affine warps
(thcodec/train/equivariance.py). Validation: the detector's error against the teacher (px at
256, lower is better) and PSNR of val frames animated from the detector's key points."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from thcodec.train.equivariance import equivariance_loss
from thcodec.train.face_pairs import FacePairsConfig, FacePairsPart
from thcodec.train.options import option


@dataclass(frozen=True)
class KeypointsConfig(FacePairsConfig):
    equivariance: float = option(
        0.0, "weight of the key-point equivariance term under random affine warps (0: the teacher's points only)"
    )


def keypoint_loss(
    detect, src: torch.Tensor, drv: torch.Tensor, kp_s, kp_d, rng, equivariance: float = 0.0
) -> tuple[torch.Tensor, dict]:
    """L1 to the teacher's points (positions x10) and Jacobians, on both frames of each pair."""
    frames = torch.cat([src, drv])
    det = detect(frames)
    xy_t, jac_t = torch.cat([kp_s.xy, kp_d.xy]), torch.cat([kp_s.jacobian, kp_d.jacobian])
    xy_l1 = (det.xy - xy_t).abs().mean()
    loss = 10 * xy_l1 + (det.jacobian - jac_t).abs().mean()
    rec = {"xy_px": xy_l1.item() * 128}
    if equivariance:
        eq, eq_rec = equivariance_loss(detect, frames, det, rng)
        loss = loss + equivariance * eq
        rec.update(eq_rec)
    return loss, {"loss": loss.item(), **rec}


class KeypointsPart(FacePairsPart):
    TRAINED = ("keypoint_detector",)

    def __init__(self, run, cfg: KeypointsConfig, device, world: int = 1) -> None:
        super().__init__(run, cfg, device)

    def loss(self, batch, rng):
        (src, drv), (kp_s, kp_d) = batch
        loss, rec = keypoint_loss(self.model.detect_keypoints, src, drv, kp_s, kp_d, rng, self.cfg.equivariance)
        return loss, rec, None

    def validate(self, ema):
        return self.validate_with(ema, "detector")

    def score(self, v: dict) -> float:
        return -v["kp_err_px"]
