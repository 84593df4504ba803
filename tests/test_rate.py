"""Bytes over time: chunk timing, the worst 10-second window and the encoder's room check."""

from __future__ import annotations

from fractions import Fraction

import pytest

from thcodec.format import container as C
from thcodec.format.rate import RateLedger, chunk_time, worst_window


def test_chunk_times_follow_the_frames_and_packets():
    fps = Fraction(25)
    assert chunk_time(C.PivotSwitch(frame_index=50, reason=C.SwitchReason.SCENE_CUT), fps, None) == 2.0
    block = C.KeypointBlock(first_frame=10, count=5, step=2, flags=0, data=b"")
    assert chunk_time(block, fps, None) == pytest.approx((10 + 4 * 2) / 25)
    audio = C.AudioPackets(pts=48000, packets=((2880, b"a"), (2880, b"b")))
    assert chunk_time(audio, fps, Fraction(1, 48000)) == pytest.approx(1.0 + 2 * 0.06)
    assert chunk_time(C.End(frame_count=100), fps, None, end_s=4.0) == 4.0


def test_worst_window_finds_the_busiest_ten_seconds():
    events = [(0.0, 1000), (5.0, 500), (9.9, 500), (12.0, 3000), (19.0, 100)]
    start, kbps = worst_window(events)
    # [5, 15) holds 500 + 500 + 3000 = 4000 bytes > [0, 10)'s 2000 and [9.9, 19.9)'s 3600
    assert start == 5.0
    assert kbps == pytest.approx(4000 * 8 / 10 / 1000)
    assert worst_window([]) == (0.0, 0.0)


def test_room_keeps_every_window_holding_t_under_budget():
    ledger = RateLedger(window_s=10)
    ledger.add(0.0, 5000, pivot=True)
    ledger.add(1.0, 100)
    ledger.add(2.0, 100)
    budget = 10_000
    # A window starting at 0 holds 5200 bytes so far, the pivot at t=2 and 8 s more at 100 B/s.
    room = ledger.room(2.0, budget, future_rate=100)
    assert room == pytest.approx(budget - 5200 - 800)
    # Whatever the room says, adding that much keeps the worst window at the budget.
    ledger.add(2.0, int(room), pivot=True)
    for s in range(3, 12):
        ledger.add(float(s), 100)
    assert worst_window(list(zip(ledger._times, ledger._bytes)))[1] <= budget * 8 / 10 / 1000 + 1e-9
    assert ledger.other_rate() == pytest.approx(1100 / 11)
