"""The networks: output shapes and ranges, and the first-order motion algebra."""

import pytest
import torch

from thcodec.models.blocks import gaussian_heatmaps, make_coordinate_grid, warp
from thcodec.models.dense_motion import MOTION_SIZE, DenseMotion, safe_inverse
from thcodec.models.generator import Generator
from thcodec.models.keypoint_detector import KeypointDetector
from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead

K = 10


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_kp(b, k=K, spread=0.6, jitter=0.2):
    xy = (torch.rand(b, k, 2) * 2 - 1) * spread
    jac = torch.eye(2).expand(b, k, 2, 2) + jitter * torch.randn(b, k, 2, 2)
    return xy, jac


# --- blocks -----------------------------------------------------------------------------


def test_coordinate_grid_is_pixel_centres():
    g = make_coordinate_grid(4, 8)
    assert g.shape == (4, 8, 2)
    assert g[0, :, 0].tolist() == pytest.approx([(2 * i + 1) / 8 - 1 for i in range(8)])  # x along width
    assert g[:, 0, 1].tolist() == pytest.approx([(2 * i + 1) / 4 - 1 for i in range(4)])  # y along height
    assert (g[..., 0] == g[0:1, :, 0]).all() and (g[..., 1] == g[:, 0:1, 1]).all()


def test_warp_with_the_identity_grid_is_exact():
    img = torch.rand(2, 3, 16, 24)
    grid = make_coordinate_grid(16, 24)[None].expand(2, -1, -1, -1)
    assert torch.allclose(warp(img, grid), img, atol=1e-6)


def test_gaussian_heatmaps_peak_at_the_point():
    xy = torch.tensor([[[-0.5, 0.25], [0.0, 0.0]]])
    h = gaussian_heatmaps(xy, 64, 64, sigma=0.1)
    assert h.shape == (1, 2, 64, 64)
    assert 0 <= h.min() and h.max() <= 1
    grid = make_coordinate_grid(64, 64)
    for k in range(2):
        i = h[0, k].argmax()
        assert torch.allclose(grid.view(-1, 2)[i], xy[0, k], atol=2 / 64)


def test_gaussian_heatmaps_are_the_two_dimensional_gaussian():
    """The separable form (row x column) is exp(-|p - xy|^2 / 2 sigma^2), rows along y."""
    xy = torch.rand(2, 3, 2) * 2 - 1
    h = gaussian_heatmaps(xy, 24, 40, sigma=0.15)
    d = make_coordinate_grid(24, 40)[None, None] - xy[:, :, None, None, :]
    assert torch.allclose(h, torch.exp(-0.5 * (d**2).sum(-1) / 0.15**2), atol=1e-6)


# --- key-point detector -----------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 256])
def test_keypoint_detector_shapes(size):
    det = KeypointDetector(K).eval()
    with torch.no_grad():
        xy, jac = det(torch.rand(2, 3, size, size))
    assert xy.shape == (2, K, 2) and jac.shape == (2, K, 2, 2)
    assert (xy.abs() <= 1).all()  # a soft-argmax over pixel centres stays inside the image


def test_untrained_detector_starts_at_identity_jacobians():
    det = KeypointDetector(K).eval()
    with torch.no_grad():
        _, jac = det(torch.rand(3, 3, 64, 64))
    assert torch.allclose(jac, torch.eye(2).expand(3, K, 2, 2), atol=1e-5)


# --- dense motion -----------------------------------------------------------------------


def test_safe_inverse_inverts_well_conditioned_matrices():
    m = torch.eye(2) + 0.3 * torch.randn(100, 2, 2)
    m = m[torch.linalg.det(m).abs() > 0.2]
    inv = safe_inverse(m)
    assert torch.allclose(m @ inv, torch.eye(2).expand_as(m), atol=1e-5)
    assert torch.allclose(inv, torch.linalg.inv(m), atol=1e-5)


def test_safe_inverse_floors_the_determinant():
    m = torch.tensor([[[1.0, 0.0], [0.0, 0.01]], [[1.0, 0.0], [0.0, -0.01]], [[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]]])
    inv = safe_inverse(m)
    assert torch.isfinite(inv).all()
    # |det| is floored to 0.05 with its sign kept: the inverse is adj(m) / +-0.05
    assert torch.allclose(inv[0], torch.tensor([[0.01, 0.0], [0.0, 1.0]]) / 0.05)
    assert torch.allclose(inv[1], torch.tensor([[-0.01, 0.0], [0.0, 1.0]]) / -0.05)
    assert (inv[2] == 0).all()
    assert torch.allclose(inv[3], torch.tensor([[4.0, -2.0], [-2.0, 1.0]]) / 0.05)
    assert safe_inverse(m, min_det=1.0).abs().max() <= 4.0 + 1e-6


def test_sparse_motions_identical_keypoints_are_identity():
    dm = DenseMotion(K, channels=(8, 8, 8, 8))
    xy, jac = random_kp(2, jitter=0.0)
    motions = dm.sparse_motions(xy, jac, xy, jac)
    grid = make_coordinate_grid(MOTION_SIZE, MOTION_SIZE)
    assert motions.shape == (2, K + 1, MOTION_SIZE, MOTION_SIZE, 2)
    assert torch.allclose(motions, grid.expand_as(motions), atol=1e-6)
    # any well-conditioned Jacobian cancels against itself: J_p J_d^-1 = I
    xy, jac = random_kp(2, jitter=0.15)
    ok = torch.linalg.det(jac).abs() > 0.2
    jac = torch.where(ok[..., None, None], jac, torch.eye(2))
    motions = dm.sparse_motions(xy, jac, xy, jac)
    assert torch.allclose(motions, grid.expand_as(motions), atol=1e-5)


def test_sparse_motions_pure_translation():
    dm = DenseMotion(1, channels=(8, 8, 8, 8))
    eye = torch.eye(2).expand(1, 1, 2, 2)
    p, d = torch.tensor([[[0.2, -0.1]]]), torch.tensor([[[0.0, 0.3]]])
    motions = dm.sparse_motions(p, eye, d, eye)
    grid = make_coordinate_grid(MOTION_SIZE, MOTION_SIZE)
    assert torch.allclose(motions[0, 0], grid)  # map 0 is the background: identity
    assert torch.allclose(motions[0, 1], grid + (p - d)[0, 0], atol=1e-6)  # driving z -> pivot z + p - d


def test_dense_motion_shapes_and_identity_flow():
    dm = DenseMotion(K, channels=(8, 16, 16, 16)).eval()
    pivot = torch.rand(2, 3, 96, 96)
    xy, jac = random_kp(2)
    with torch.no_grad():
        flow, occ = dm(pivot, xy, jac, *random_kp(2))
        assert flow.shape == (2, MOTION_SIZE, MOTION_SIZE, 2) and occ.shape == (2, 1, MOTION_SIZE, MOTION_SIZE)
        assert ((occ > 0) & (occ < 1)).all()
        # identical key points: every local map is the identity, so any blend of them is too
        flow, _ = dm(pivot, xy, jac, xy, jac)
    grid = make_coordinate_grid(MOTION_SIZE, MOTION_SIZE)
    assert torch.allclose(flow, grid.expand_as(flow), atol=1e-5)


# --- generator and the whole model ------------------------------------------------------


def test_generator_shape_and_range():
    gen = Generator(K).eval()
    pivot = torch.rand(2, 3, 64, 64)
    grid = make_coordinate_grid(MOTION_SIZE, MOTION_SIZE)
    flow = grid.expand(2, -1, -1, -1) + 0.1 * torch.randn(2, MOTION_SIZE, MOTION_SIZE, 2)
    with torch.no_grad():
        out = gen(pivot, flow, torch.rand(2, 1, MOTION_SIZE, MOTION_SIZE), random_kp(2)[0])
    assert out.shape == (2, 3, 64, 64)
    # a convex blend of the warped pivot (in [0, 1]) and a sigmoid painting
    assert out.min() >= 0 and out.max() <= 1


def test_talking_head_shapes():
    model = TalkingHead(K).eval()
    frames = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        kp = model.detect_keypoints(frames)
        assert kp.xy.shape == (2, K, 2) and kp.jacobian.shape == (2, K, 2, 2)
        out = model.animate(frames, kp, Keypoints(*random_kp(2)))
    assert out.shape == (2, 3, 256, 256)
    assert out.min() >= 0 and out.max() <= 1


def test_committed_weights_are_batch_independent(loaded):
    """GroupNorm, never BatchNorm: a frame's key points do not depend on its batch-mates."""
    frames = torch.rand(3, 3, 256, 256)
    with torch.inference_mode():
        batch = loaded.model.detect_keypoints(frames)
        single = loaded.model.detect_keypoints(frames[1:2])
    assert torch.allclose(batch.xy[1:2], single.xy, atol=1e-5)
    assert torch.allclose(batch.jacobian[1:2], single.jacobian, atol=1e-4)


def test_channels_last_layout_keeps_the_animation(loaded, monkeypatch):
    """The networks convert their convolutions' input to channels-last for speed: same frames."""
    from thcodec.models import dense_motion, generator

    frames = torch.rand(2, 3, 256, 256)
    with torch.inference_mode():
        kp = loaded.model.detect_keypoints(frames)
        pivot_kp = Keypoints(kp.xy[:1], kp.jacobian[:1]).expand(2)
        fast = loaded.model.animate(frames[:1].expand(2, -1, -1, -1), pivot_kp, kp)
        monkeypatch.setattr(dense_motion, "channels_last", lambda x: x)
        monkeypatch.setattr(generator, "channels_last", lambda x: x)
        plain = loaded.model.animate(frames[:1].expand(2, -1, -1, -1), pivot_kp, kp)
    assert (fast - plain).abs().max() < 5e-3
