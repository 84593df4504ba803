"""The sender's landmark motion: dlib's key points relative to the receiver's pivot key points."""

import numpy as np
import pytest
import torch
from conftest import demo_face, face_frame
from test_codec import chunks_of, decoded_frames, encode_to

from thcodec.errors import ThcError
from thcodec.face import landmarks as T
from thcodec.format import container as C
from thcodec.models.keypoints import Keypoints
from thcodec.options import EncodeOptions
from thcodec.sender.landmark_motion import BOX_EVERY, TEMPLATE, LandmarkMotion, Smoother, relative_keypoints


def kp(n=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    jac = torch.eye(2) + 0.2 * torch.randn(n, 10, 2, 2, generator=g)
    return Keypoints(torch.rand(n, 10, 2, generator=g) * 1.6 - 0.8, jac)


def rotation(deg):
    a = np.deg2rad(deg)
    return torch.tensor([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=torch.float32)


def test_no_teacher_motion_sends_the_pivot_key_points():
    pivot, t0 = kp(seed=1), kp(seed=2)
    out = relative_keypoints(pivot, t0, Keypoints(t0.xy.expand(3, -1, -1), t0.jacobian.expand(3, -1, -1, -1)))
    assert out.xy.shape == (3, 10, 2) and out.jacobian.shape == (3, 10, 2, 2)
    assert torch.allclose(out.xy, pivot.xy.expand(3, -1, -1), atol=1e-6)
    assert torch.allclose(out.jacobian, pivot.jacobian.expand(3, -1, -1, -1), atol=1e-5)


def test_teacher_shift_and_rotation_carry_over():
    pivot, t0 = kp(seed=3), kp(seed=4)
    shift, rot = torch.tensor([0.05, -0.1]), rotation(20)
    frame = Keypoints(t0.xy + shift, rot @ t0.jacobian)
    out = relative_keypoints(pivot, t0, frame)
    assert torch.allclose(out.xy, pivot.xy + shift, atol=1e-6)
    assert torch.allclose(out.jacobian, rot @ pivot.jacobian, atol=1e-5)


def test_smoother_weighs_a_gap_as_single_steps_and_may_revisit():
    s = Smoother(0.25)
    s.reset(0, torch.tensor(0.0))
    assert s(2, torch.tensor(1.0)).item() == pytest.approx(1 - 0.75**2)
    assert s(4, torch.tensor(1.0)).item() == pytest.approx(1 - 0.75**4)
    # Frame 3 comes again (the sender's segment ends there): it follows frame 2, not 4.
    assert s(3, torch.tensor(1.0)).item() == pytest.approx(1 - 0.75**3)
    s.reset(10, torch.tensor(5.0))
    assert s(10, torch.tensor(7.0)).item() == 7.0  # the pivot's own frame: nothing before it


def test_smoother_forgets_old_frames():
    s = Smoother(0.5, history=4)
    s.reset(0, torch.tensor(0.0))
    for i in range(1, 40):
        s(i, torch.tensor(float(i)))
    assert len(s._state) <= 5


def test_template_fits_every_group_in_two_dimensions():
    assert TEMPLATE.shape == (68, 2) and TEMPLATE.dtype == np.float32
    for g in T.group_points(TEMPLATE):
        s = np.linalg.svd(g - g.mean(0), compute_uv=False)
        assert s[1] > 0.05 * s[0]  # the brows are the flattest
    _, jac = T.keypoints_from_landmarks(TEMPLATE[None], TEMPLATE)
    assert np.allclose(jac, np.eye(2), atol=1e-5)


@pytest.fixture(scope="module")
def motion():
    return LandmarkMotion()


def test_pivot_face_moves_with_its_frames(motion, loaded):
    face = demo_face()
    pivot_kp = loaded.model.detect_keypoints(torch.from_numpy(face).permute(2, 0, 1)[None].float() / 255)
    assert motion.start(0, face, pivot_kp)
    shifted = np.roll(face, 8, axis=1)  # the face 8 px to the right
    out = motion.apply([1, 2], [face, shifted])
    assert torch.allclose(out.xy[0], pivot_kp.xy[0], atol=0.01)  # the pivot itself: no motion
    dx = (out.xy[1] - out.xy[0]) * 128  # px at 256
    assert dx[:, 0].mean().item() == pytest.approx(8, abs=1.0) and dx[:, 1].abs().mean().item() < 1.0


def test_no_face_at_the_pivot_leaves_the_motion_unready(motion):
    blank = np.full((256, 256, 3), 90, np.uint8)
    assert not motion.start(0, blank, kp()) and not motion.ready  # the sender then sends the detector's points
    with pytest.raises(RuntimeError):
        motion.apply([1, 2], [demo_face(), blank])


def test_a_frame_without_a_face_keeps_the_last_box(motion):
    face = demo_face()
    assert motion.start(0, face, kp())
    grey = np.full_like(face, 90)  # the box is looked for again on some of these, and not found
    out = motion.apply(list(range(1, 2 * BOX_EVERY + 1)), [face] + [grey] * (2 * BOX_EVERY - 1))
    assert torch.isfinite(out.xy).all() and torch.isfinite(out.jacobian).all()


def test_the_face_box_is_found_every_few_frames(motion, monkeypatch):
    calls = []
    box = motion._teacher.box
    monkeypatch.setattr(motion._teacher, "box", lambda img: calls.append(1) or box(img))
    face = demo_face()
    assert motion.start(0, face, kp()) and len(calls) == 1  # the pivot always gets its own box
    n = 3 * BOX_EVERY
    motion.apply(list(range(1, n + 1)), [face] * n)
    assert len(calls) == 1 + n // BOX_EVERY


def test_unknown_motion_source_is_refused():
    with pytest.raises(ThcError, match="motion source"):
        EncodeOptions(motion="optical-flow")


def keypoint_data(path):
    return [(b.first_frame, b.count, b.data) for b in chunks_of(path) if isinstance(b, C.KeypointBlock)]


def test_encode_sends_landmark_motion_in_the_same_format(make_clip, tmp_path, loaded):
    clip = make_clip(width=96, height=96, frames=9, audio=False, picture=face_frame)
    paths = {m: tmp_path / f"{m}.thc" for m in ("landmarks", "detector")}
    for m, p in paths.items():
        encode_to(clip, p, loaded, interp=1, motion=m)
    blocks = {m: keypoint_data(p) for m, p in paths.items()}
    assert [b[:2] for b in blocks["landmarks"]] == [b[:2] for b in blocks["detector"]]
    assert [b[2] for b in blocks["landmarks"]] != [b[2] for b in blocks["detector"]]
    assert len(decoded_frames(paths["landmarks"], loaded)) == 9


def test_without_a_face_both_motion_sources_send_the_same_stream(make_clip, tmp_path, loaded):
    clip = make_clip(width=64, height=64, frames=6, audio=False)  # a moving square, no face
    paths = [tmp_path / "l.thc", tmp_path / "d.thc"]
    for m, p in zip(("landmarks", "detector"), paths):
        encode_to(clip, p, loaded, motion=m)
    assert paths[0].read_bytes() == paths[1].read_bytes()
