"""Analysis-by-synthesis key-point refinement on the sender (thcodec/sender/refine.py, encode --refine)."""

from __future__ import annotations

import pytest
import torch
from conftest import demo_face, face_frame
from test_codec import chunks_of, decoded_frames, encode_to

from thcodec.format import container as C
from thcodec.media.frames import to_tensor
from thcodec.models.keypoints import Keypoints
from thcodec.sender.refine import refine_keypoints


def _render(model, pivot, pivot_kp, kp):
    with torch.no_grad():
        return model.animate(pivot.expand(kp.xy.shape[0], -1, -1, -1), pivot_kp.expand(kp.xy.shape[0]), kp)


@pytest.fixture(scope="module")
def posed(loaded):
    """The demo face as pivot, and two frames rendered from it with its key points moved."""
    model = loaded.model
    pivot = to_tensor(demo_face()[None])
    with torch.no_grad():
        pivot_kp = model.detect_keypoints(pivot)
    shift = torch.tensor([[0.04, 0.0], [-0.02, 0.03]])[:, None, :]
    moved = Keypoints(pivot_kp.xy + shift, pivot_kp.jacobian.expand(2, -1, -1, -1))
    return model, pivot, pivot_kp, _render(model, pivot, pivot_kp, moved)


def test_no_steps_returns_the_detector_points(posed):
    model, pivot, pivot_kp, frames = posed
    start = model.detect_keypoints(frames)
    assert refine_keypoints(model, pivot, pivot_kp, frames, start, 0) is start


def test_refined_points_render_the_frames_better(posed):
    model, pivot, pivot_kp, frames = posed
    with torch.inference_mode():  # as in the encoder
        start = model.detect_keypoints(frames)
        refined = refine_keypoints(model, pivot, pivot_kp, frames, start, 8)
    assert refined.xy.shape == start.xy.shape and refined.jacobian.shape == start.jacobian.shape
    err = [(_render(model, pivot, pivot_kp, kp) - frames).abs().mean(dim=(1, 2, 3)) for kp in (start, refined)]
    assert (err[1] < err[0]).all(), err
    assert not any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())  # weights untouched


@pytest.mark.slow  # a batch-independence check of an option that is off by default
def test_batches_do_not_interact(posed, monkeypatch):
    model, pivot, pivot_kp, frames = posed
    start = model.detect_keypoints(frames)
    together = refine_keypoints(model, pivot, pivot_kp, frames, start, 3)
    monkeypatch.setattr("thcodec.sender.refine.BATCH", 1)
    apart = refine_keypoints(model, pivot, pivot_kp, frames, start, 3)
    # Batch size changes only the order of float sums: 1e-4 is 0.013 px, far below any cross-talk.
    torch.testing.assert_close(together.xy, apart.xy, atol=1e-4, rtol=0)


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_encode_with_refine_sends_other_points_in_the_same_format(make_clip, tmp_path, loaded):
    clip = make_clip(width=96, height=96, frames=13, audio=False, picture=face_frame)
    plain, refined = tmp_path / "plain.thc", tmp_path / "refined.thc"
    # The detector's motion: the refinement's landmark term then targets what the analysis measures.
    results = [
        encode_to(clip, plain, loaded, interp=1, motion="detector"),
        encode_to(clip, refined, loaded, interp=1, motion="detector", refine_steps=5),
    ]
    blocks = [[ch for ch in chunks_of(p) if isinstance(ch, C.KeypointBlock)] for p in (plain, refined)]
    assert [(b.first_frame, b.count) for b in blocks[0]] == [(b.first_frame, b.count) for b in blocks[1]]
    assert [b.data for b in blocks[0]] != [b.data for b in blocks[1]]
    frames = [decoded_frames(p, loaded) for p in (plain, refined)]
    assert [f.index for f in frames[1]] == [f.index for f in frames[0]] == list(range(13))
    # The sender's own prediction: key points found on the receiver's picture lie closer to
    # those found on the frame (the analysis compares with the frame's, not the sent ones),
    # on average over the analysed frames (a single frame of a 13-frame toy clip can go either way).
    errors = [[a.motion_error_px for a in r.analysis] for r in results]
    assert len(errors[0]) == len(errors[1]) >= 2
    assert sum(errors[1]) < sum(errors[0]), errors


@pytest.mark.slow  # refine under a cap: an encode each way; --refine is off by default
def test_refine_with_a_rate_cap(make_clip, tmp_path, loaded):
    """The rate cap estimates key-point rates before a pivot exists: there is nothing to refine against yet."""
    clip = make_clip(width=64, height=64, frames=6, audio=False, picture=face_frame)
    result = encode_to(clip, tmp_path / "capped.thc", loaded, interp=1, refine_steps=2, max_kbps=200)
    assert result.frames == 6 and len(decoded_frames(tmp_path / "capped.thc", loaded)) == 6
