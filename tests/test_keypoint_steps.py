"""Coarser key-point codes chosen by the sender (keypoints.coarsen, thc encode --xy-step/--jac-step)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import face_frame
from test_codec import chunks_of, decoded_frames, encode_to

from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq


def _sent_fields(path) -> np.ndarray:
    """Every sent frame's key-point codes, as the receiver reads them."""
    out, prev = [], None
    for ch in chunks_of(path):
        if isinstance(ch, C.KeypointBlock):
            f = kpq.decompress_block(ch.data, ch.count, 10, prev if ch.predicted else None)
            out.append(f)
            prev = f[-1]
    return np.concatenate(out)


def test_coarsen_rounds_to_the_nearest_multiple_inside_the_range():
    f = np.array([[[0, 4095, -512, 511, 5, -5]]])
    c = kpq.coarsen(f, 4, 8)
    assert c.tolist() == [[[0, 4095, -512, 511, 8, -8]]]  # the ends clamp into the range
    rng = np.random.default_rng(0)
    f = np.concatenate([rng.integers(0, 4096, (50, 10, 2)), rng.integers(-512, 512, (50, 10, 4))], -1)
    c = kpq.coarsen(f, 4, 8)
    inside = (c[..., :2] < 4092) & (c[..., :2] > 0)
    assert (c[..., :2][inside] % 4 == 0).all() and (np.abs(c[..., :2] - f[..., :2]) <= 3).all()
    inner_j = np.abs(c[..., 2:]) < 504
    assert (c[..., 2:][inner_j] % 8 == 0).all() and (np.abs(c[..., 2:] - f[..., 2:]) <= 7).all()
    assert (kpq.coarsen(f, 1, 1) == f).all()
    with pytest.raises(ValueError):
        kpq.coarsen(f, 0, 1)


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_coarse_steps_send_fewer_bytes_of_the_same_format(make_clip, tmp_path, loaded):
    clip = make_clip(width=96, height=96, frames=25, audio=False, picture=face_frame)
    fine, coarse = tmp_path / "fine.thc", tmp_path / "coarse.thc"
    encode_to(clip, fine, loaded, interp=1, xy_step=1, jac_step=1)
    encode_to(clip, coarse, loaded, interp=1, xy_step=4, jac_step=8)
    f, c = _sent_fields(fine), _sent_fields(coarse)
    assert f.shape == c.shape and (f % 4 != 0).any()
    assert (c[..., :2] % 4 == 0).all() and (c[..., 2:] % 8 == 0).all()
    assert np.abs(c - f).max() <= 4  # the same points, rounded
    kp_bytes = [sum(len(ch.data) for ch in chunks_of(p) if isinstance(ch, C.KeypointBlock)) for p in (fine, coarse)]
    assert kp_bytes[1] < kp_bytes[0]
    assert len(decoded_frames(coarse, loaded)) == 25


def test_steps_table_compares_with_full_precision_clip_by_clip(tmp_path):
    from thcodec.bench.keypoint_steps import parse_steps, write_table
    from thcodec.bench.sweep import Point, read_points

    assert parse_steps("4x8,1x1,8x16") == [(1, 1), (4, 8), (8, 16)]

    def point(clip, xy, jac, kbps, kp_bytes, akd, aed, vmaf):
        setting = {"xy_step": xy, "jac_step": jac}
        return Point(clip, "thc", setting, 25, 0, kbps, 1.0, 1.0, vmaf=vmaf, akd=akd, aed=aed, parts={"keypoints": kp_bytes})

    rows = [point("a", 1, 1, 10.0, 1000, 2.0, 0.3, 20.0), point("a", 4, 8, 8.0, 600, 2.2, 0.3, 19.0),
            point("b", 1, 1, 20.0, 3000, 1.0, 0.2, 40.0), point("b", 4, 8, 16.0, 1500, 1.0, 0.2, 41.0)]  # fmt: skip
    write_table(rows, tmp_path)
    md = (tmp_path / "keypoint_steps.md").read_text()
    assert "| 1x1 | 2 | 15.00 | 100.0% | 1.500 | 0.250 | 30.00 |" in md
    assert "| 4x8 | 2 | 12.00 | 55.0% | 1.600 | 0.250 | 30.00 |" in md  # (60% + 50%) / 2
    assert read_points(tmp_path / "keypoint_steps.json") == rows  # --table-from reads it back
