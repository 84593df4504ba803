"""The receiver's key points for every frame: linear baseline, the network's lookahead, segment edges."""

from __future__ import annotations

import numpy as np
import torch

from thcodec.format import keypoint_bits as kpq
from thcodec.models.interpolator import Interpolator, catmull_rom
from thcodec.receiver.timeline import KeypointTimeline


def _fields(v: float, k: int = 10) -> np.ndarray:
    """Key points all at x = y = v, identity Jacobians, quantized."""
    xy = np.full((1, k, 2), v, np.float32)
    jac = np.tile(np.eye(2, dtype=np.float32), (1, k, 1, 1))
    return kpq.quantize(xy, jac)[0]


def test_linear_fills_the_gaps_on_the_straight_line():
    tl = KeypointTimeline(None)
    assert [i for i, _ in tl.add(0, _fields(0.0))] == [0]
    ready = list(tl.add(4, _fields(0.4)))
    assert [i for i, _ in ready] == [1, 2, 3, 4]
    assert np.allclose([kp[0, 0] for _, kp in ready], [0.1, 0.2, 0.3, 0.4], atol=1e-3)
    assert np.allclose(ready[0][1][0, 2:], [1, 0, 0, 1])
    assert list(tl.end_segment()) == []


def test_frames_before_the_first_sent_one_hold_it():
    tl = KeypointTimeline(None)
    tl.next_frame = 5
    ready = list(tl.add(8, _fields(0.2)))
    assert [i for i, _ in ready] == [5, 6, 7, 8]
    assert all(np.allclose(kp, ready[-1][1]) for _, kp in ready)


def test_the_network_waits_for_one_more_sent_frame():
    net = Interpolator()  # zero last layer: exactly the Catmull-Rom spline
    tl = KeypointTimeline(net)
    assert [i for i, _ in tl.add(0, _fields(0.0))] == [0]
    assert list(tl.add(2, _fields(0.2))) == []  # needs the frame after 2
    ready = list(tl.add(4, _fields(0.6)))
    assert [i for i, _ in ready] == [1, 2]
    # the spline through 0 (repeated at the segment's start), 0, 0.2, 0.6 at t = 1/2
    p, a, b, n = (torch.full((1, 1, 1), v) for v in (0.0, 0.0, 0.2, 0.6))
    assert np.isclose(ready[0][1][0, 0], float(catmull_rom(p, a, b, n, torch.tensor([0.5]))), atol=1e-3)
    assert not np.isclose(ready[0][1][0, 0], 0.1, atol=1e-3)  # not the straight line
    ready = list(tl.end_segment())  # no sent frame after 4 will come in this segment
    assert [i for i, _ in ready] == [3, 4]
    assert tl.next_frame == 5 and tl.last_sent == 4


def test_the_network_sees_the_neighbours():
    net = Interpolator()
    with torch.no_grad():
        net.net[-1].bias.fill_(0.1)  # any correction at all
    tl = KeypointTimeline(net)
    list(tl.add(0, _fields(0.0)))
    list(tl.add(2, _fields(0.2)))
    mid = dict(tl.add(4, _fields(0.4)))[1]
    assert not np.isclose(mid[0, 0], 0.1, atol=1e-3)


def test_a_huge_gap_is_handed_out_lazily():
    """A damaged stream whose next sent frame is 2**32 frames on: nothing is built up front."""
    tl = KeypointTimeline(None)
    list(tl.add(0, _fields(0.0)))
    ready = tl.add(2**32 - 2, _fields(0.5))
    first = [next(ready) for _ in range(3)]
    assert [i for i, _ in first] == [1, 2, 3] and tl.next_frame == 2**32 - 1
