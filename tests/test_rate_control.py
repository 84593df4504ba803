"""Pivot sizing under --max-kbps, alone (no model, no stream)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from conftest import face_frame

from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import jpeg_encode
from thcodec.options import EncodeOptions
from thcodec.sender.rate_control import KP_PRIOR_BYTES, MIN_PIVOT_QUALITY, RateController

FPS = Fraction(25)
FRAME = face_frame(0, 256, 256)


def test_uncapped_sends_the_asked_quality():
    rate = RateController(EncodeOptions(), FPS, 100)
    assert not rate.capped
    assert rate.pivot_image(0, FRAME, C.SwitchReason.START) == jpeg_encode(FRAME, 50, restart=True)
    assert rate.overrun() is None


def test_prior_rate_counts_audio_and_measures_key_points():
    opts = EncodeOptions(max_kbps=20, interp=2)
    rate = RateController(opts, FPS, 100)
    assert rate.prior_rate == KP_PRIOR_BYTES * 25 / 2
    rate.add_audio()
    assert rate.prior_rate == KP_PRIOR_BYTES * 25 / 2 + 1500
    rate.measure_prior(np.zeros((1, 10, kpq.NUM_FIELDS), np.int32))  # one frame: nothing to measure
    assert rate.prior_rate == KP_PRIOR_BYTES * 25 / 2 + 1500
    still = np.full((6, 10, kpq.NUM_FIELDS), 100, np.int32)  # no motion: a few bytes per frame
    rate.measure_prior(still)
    assert 1500 < rate.prior_rate < KP_PRIOR_BYTES * 25 / 2 + 1500


def test_cap_lowers_quality_then_refuses_and_keeps_room_for_a_cut():
    best = len(jpeg_encode(FRAME, 50, restart=True))  # the sender's pivots carry restart markers
    worst = len(jpeg_encode(FRAME, MIN_PIVOT_QUALITY, restart=True))
    # room for the best picture
    roomy = RateController(EncodeOptions(max_kbps=40), FPS, 0)
    assert len(roomy.pivot_image(0, FRAME, C.SwitchReason.SCENE_CUT)) == best
    # between the worst and the best: a lower quality that fits
    kbps = (best + worst) / 2 * 8 / 10 / 1000 + roomy.prior_rate * 8 / 1000
    mid = RateController(EncodeOptions(max_kbps=kbps), FPS, 0)
    data = mid.pivot_image(0, FRAME, C.SwitchReason.SCENE_CUT)
    assert worst <= len(data) < best
    # a cut may spend the last room, a refresh must leave room for one more low-quality pivot
    kbps = (worst + 60) * 8 / 10 / 1000 + roomy.prior_rate * 8 / 1000
    tight = RateController(EncodeOptions(max_kbps=kbps), FPS, 0)
    assert tight.pivot_image(0, FRAME, C.SwitchReason.SCENE_CUT) is not None
    assert tight.pivot_image(0, FRAME, C.SwitchReason.QUALITY) is None


def test_overrun_is_reported():
    rate = RateController(EncodeOptions(max_kbps=1), FPS, 0)
    rate.record(0.0, 5000, pivot=True)
    assert "exceeded" in rate.overrun()


def test_window_is_never_longer_than_the_clip():
    """A 6-s clip is capped over its 6 s (as thc stats measures it); 10 s and longer, or unknown: 10 s."""
    opts = EncodeOptions(max_kbps=20)
    assert RateController(opts, FPS, 100, clip_s=6.0).ledger.window_s == 6.0
    assert RateController(opts, FPS, 100, clip_s=10.0).ledger.window_s == 10.0
    assert RateController(opts, FPS, 100, clip_s=42.0).ledger.window_s == 10.0
    assert RateController(opts, FPS, 100).ledger.window_s == 10.0  # a pipe: length unknown


def test_a_kbps_target_missed_by_far_is_said():
    from thcodec.sender.encoder import EncodeResult, _target_missed

    short = EncodeResult(frames=100, duration_s=4.0, bytes_total=6453, pivots=[(0, "start", 5000)])
    (line,) = _target_missed(EncodeOptions(kbps=6), short)
    assert line.startswith("--kbps 6 is not reached on this 4.0-s clip: 12.9 kbit/s, the pivot pictures alone 10.0")
    assert _target_missed(EncodeOptions(kbps=12), short) == []  # within the slack
    assert _target_missed(EncodeOptions(), short) == []  # no target
