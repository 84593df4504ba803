"""Which held frames the sender sends, and with key points."""

from __future__ import annotations

import numpy as np

from thcodec.sender.lookahead import Lookahead


def held(indices, size=12) -> Lookahead:
    buf = Lookahead(size)
    for i in indices:
        buf.append(i, np.zeros((2, 2, 3), np.uint8))
    return buf


def test_fills_and_drops():
    buf = held(range(11))
    assert not buf.full and len(buf) == 11
    buf.append(11, np.zeros((2, 2, 3), np.uint8))
    assert buf.full
    buf.drop(5)
    assert [i for i, _ in buf.items] == list(range(5, 12))


def test_an_unkept_last_frame_stays_held():
    buf = held(range(10, 15))  # segment from 10, every 2nd: 10, 12, 14 kept
    assert buf.batch(10, 2, end=False) == (5, [0, 2, 4])
    buf = held(range(10, 14))  # 13 is not kept: it may end the segment
    assert buf.batch(10, 2, end=False) == (3, [0, 2])


def test_the_segment_end_is_always_kept():
    buf = held(range(10, 14))
    assert buf.batch(10, 2, end=True) == (4, [0, 2, 3])
    assert held([11]).batch(10, 2, end=False) == (0, [])
    assert held([]).batch(10, 2, end=True) == (0, [])
