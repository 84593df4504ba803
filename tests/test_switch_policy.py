"""The per-frame switch triggers, alone: intervals, retries, cuts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from thcodec.format import container as C
from thcodec.options import EncodeOptions
from thcodec.sender.switch_policy import RETRY_EVERY, SwitchPolicy


class Watch:
    """Stands in for FaceWatch: says the face left on the frames given."""

    def __init__(self, left=()):
        self.left = set(left)

    def __call__(self, index, frame):
        return index in self.left


FRAME = np.zeros((8, 8, 3), np.uint8)


def test_frames_of():
    p = SwitchPolicy(EncodeOptions(), Fraction(30000, 1001))
    assert p.frames_of(0) == 0 and p.frames_of(0.001) == 1 and p.frames_of(2.0) == 60
    assert p.min_gap == 60


def test_face_left_waits_for_the_minimum_interval():
    p = SwitchPolicy(EncodeOptions(min_pivot_interval_s=2.0), Fraction(25))
    watch = Watch(left={30, 60})
    assert p.reason_at(30, FRAME, 0, watch) is None
    assert p.reason_at(60, FRAME, 0, watch) == C.SwitchReason.FACE_LEFT


def test_max_interval_and_retry():
    p = SwitchPolicy(EncodeOptions(max_pivot_interval_s=3.0), Fraction(25))
    assert p.reason_at(74, FRAME, 0, Watch()) is None
    assert p.reason_at(75, FRAME, 0, Watch()) == C.SwitchReason.MAX_INTERVAL
    p.wanted = C.SwitchReason.QUALITY
    assert p.reason_at(RETRY_EVERY + 1, FRAME, 0, Watch()) is None
    assert p.reason_at(2 * RETRY_EVERY, FRAME, 0, Watch()) == C.SwitchReason.QUALITY
    p.started()
    assert p.wanted is None and p.reason_at(2 * RETRY_EVERY, FRAME, 0, Watch()) is None


def test_cuts_only_when_adaptive():
    dark, bright = np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 250, np.uint8)
    p = SwitchPolicy(EncodeOptions(), Fraction(25))
    assert [p.is_cut(f) for f in (dark, dark, dark, bright)] == [False, False, False, True]
    fixed = SwitchPolicy(EncodeOptions(adaptive=False), Fraction(25))
    assert not any(fixed.is_cut(f) for f in (dark, dark, bright))
