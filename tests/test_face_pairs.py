"""The key-point and motion parts' shared pieces (thcodec/train/face_pairs.py): the driving key points."""

from __future__ import annotations

import pytest
import torch

from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead
from thcodec.train.face_pairs import driving_keypoints


def _kp(seed: int, batch: int = 2) -> Keypoints:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(batch, 10, 2, generator=g) - 0.5
    jac = torch.eye(2).expand(batch, 10, 2, 2) + 0.1 * torch.randn(batch, 10, 2, 2, generator=g)
    return Keypoints(xy, jac)


@pytest.fixture(scope="module")
def model() -> TalkingHead:
    torch.manual_seed(0)
    return TalkingHead().eval()


def test_landmark_driving_moves_the_detectors_pivot_points_by_the_teachers_change(model):
    frames = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    teach_s = _kp(2)
    det_s = model.detect_keypoints(frames)
    kp_s, kp_d = driving_keypoints(model, "landmarks", frames, frames, teach_s, teach_s)
    torch.testing.assert_close(kp_s.xy, det_s.xy)
    torch.testing.assert_close(kp_d.xy, det_s.xy)  # the teacher saw no motion: the pivot's own points
    torch.testing.assert_close(kp_d.jacobian, det_s.jacobian, atol=1e-5, rtol=1e-5)
    shift = torch.tensor([0.1, -0.05])
    moved = Keypoints(teach_s.xy + shift, teach_s.jacobian)
    _, kp_d = driving_keypoints(model, "landmarks", frames, frames, teach_s, moved)
    torch.testing.assert_close(kp_d.xy, det_s.xy + shift)


def test_teacher_and_detector_driving(model):
    frames = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    teach_s, teach_d = _kp(4), _kp(5)
    assert driving_keypoints(model, "teacher", frames, frames, teach_s, teach_d) == (teach_s, teach_d)
    _, kp_d = driving_keypoints(model, "detector", frames, frames, teach_s, teach_d)
    torch.testing.assert_close(kp_d.xy, model.detect_keypoints(frames).xy)
