"""Key points from landmarks (no dlib needed: LandmarkTeacher is never built here)."""

import numpy as np
import pytest

from thcodec.face import landmarks as T


def template(seed=0):
    """A synthetic 68-landmark shape whose every group spans two dimensions."""
    return np.random.default_rng(seed).uniform(-0.8, 0.8, (68, 2)).astype(np.float32)


def rotation(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def centroids(lm):
    return np.stack([lm[..., list(g), :].mean(-2) for g in T.GROUPS], -2)


def test_groups_cover_all_landmarks():
    assert T.NUM_KP == len(T.GROUPS) == 10
    assert set().union(*T.GROUPS) == set(range(68))
    assert all(len(set(g)) == len(g) >= 5 for g in T.GROUPS)


def test_group_points_and_template():
    lm = np.random.default_rng(1).normal(size=(4, 68, 2))
    groups = T.group_points(lm)
    assert [g.shape for g in groups] == [(4, len(g), 2) for g in T.GROUPS]
    assert np.array_equal(groups[4], lm[:, [27, 28, 29, 30, 31, 32, 33, 34, 35]])
    tpl = T.make_template(lm)
    assert tpl.shape == (68, 2) and tpl.dtype == np.float32
    assert np.allclose(tpl, lm.mean(0))


def test_template_itself_gives_identity():
    tpl = template()
    xy, jac = T.keypoints_from_landmarks(tpl[None], tpl)
    assert xy.shape == (1, 10, 2) and jac.shape == (1, 10, 2, 2)
    assert xy.dtype == jac.dtype == np.float32
    assert np.allclose(xy[0], centroids(tpl), atol=1e-6)
    assert np.allclose(jac, np.eye(2), atol=1e-5)


@pytest.mark.parametrize("scale,shift", [(1.0, (0.1, -0.2)), (0.5, (0.0, 0.0)), (1.3, (-0.05, 0.3))])
def test_scaled_and_shifted_template(scale, shift):
    tpl = template()
    lm = (scale * tpl + np.array(shift))[None]
    xy, jac = T.keypoints_from_landmarks(lm, tpl)
    assert np.allclose(xy[0], scale * centroids(tpl) + np.array(shift), atol=1e-5)
    assert np.allclose(jac, scale * np.eye(2), atol=1e-5)


def test_rotated_template_gives_the_rotation_and_batches():
    tpl = template()
    lms = np.stack([tpl @ rotation(d).T for d in (0, 10, -25)]).astype(np.float32)
    xy, jac = T.keypoints_from_landmarks(lms, tpl)
    assert xy.shape == (3, 10, 2) and jac.shape == (3, 10, 2, 2)
    for i, d in enumerate((0, 10, -25)):
        assert np.allclose(jac[i], rotation(d), atol=1e-5)
        assert np.allclose(xy[i], centroids(tpl) @ rotation(d).T, atol=1e-5)


def test_general_affine_map_is_recovered():
    tpl = template()
    a = np.array([[1.1, 0.2], [-0.1, 0.9]])
    lm = tpl @ a.T + np.array([0.05, 0.02])
    _, jac = T.keypoints_from_landmarks(lm[None], tpl)
    assert np.allclose(jac[0], a, atol=1e-5)  # conditioning 1.4 is above the floor: kept


def test_closed_eye_is_floored_not_singular():
    tpl = template()
    lm = tpl.copy()
    eye = list(T.GROUPS[2])
    lm[eye, 1] = lm[eye, 1].mean()  # the eye collapses to a horizontal line
    _, jac = T.keypoints_from_landmarks(lm[None], tpl)
    s = np.linalg.svd(jac[0, 2], compute_uv=False)
    assert s[1] == pytest.approx(0.35 * s[0], rel=1e-4)
    assert abs(np.linalg.det(jac[0, 2])) > 0.1 * s[0] ** 2
    assert np.allclose(jac[0, 3], np.eye(2), atol=1e-5)  # the other eye is untouched


def test_floor_singular_values():
    rng = np.random.default_rng(2)
    j = rng.normal(size=(200, 2, 2))
    out = T.floor_singular_values(j)
    s_in = np.linalg.svd(j, compute_uv=False)
    s_out = np.linalg.svd(out, compute_uv=False)
    assert np.allclose(s_out[:, 0], s_in[:, 0])  # the largest is kept
    assert (s_out[:, 1] >= 0.35 * s_out[:, 0] - 1e-9).all()  # conditioning at most 1/0.35
    good = s_in[:, 1] >= 0.35 * s_in[:, 0]
    assert np.allclose(out[good], j[good])  # well-conditioned maps are unchanged
    assert T.floor_singular_values(np.zeros((2, 2))) == pytest.approx(np.zeros((2, 2)))
    assert np.allclose(T.floor_singular_values(np.diag([2.0, 0.0]), ratio=0.5), np.diag([2.0, 1.0]))
    r = rotation(30)
    assert np.allclose(T.floor_singular_values(r), r)
