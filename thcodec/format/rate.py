"""Bytes over time: when each chunk's bytes are due, and the rate over sliding windows.

A chunk is charged at the moment the sender can first write it, in seconds of the stream:
a pivot (and its switch marker) at its frame, a key-point block and a base-layer chunk at
their last frame, an audio chunk at the end of its last packet. Header and END are charged at 0 and at the end. The
encoder's cap (`--max-kbps`) and `thc stats` use this same clock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

from thcodec.format import container as C

WINDOW_S = 10.0  # the rate cap holds over any window this long (or the whole clip, when shorter)


def window_for(duration_s: float) -> float:
    """The rate window of a clip of duration_s seconds: WINDOW_S, or the whole clip when it is
    shorter (a 6-s clip's cap holds over its 6 s, as `thc stats` reports it); 0 (unknown): WINDOW_S."""
    return float(duration_s) if 0 < duration_s < WINDOW_S else WINDOW_S


def chunk_time(chunk, fps: Fraction, audio_tb: Fraction | None, end_s: float = 0.0) -> float:
    """Seconds at which chunk's bytes are charged (see the module doc)."""
    if isinstance(chunk, (C.Pivot, C.PivotSwitch)):
        return float(chunk.frame_index / fps)
    if isinstance(chunk, C.KeypointBlock):
        return float((chunk.first_frame + max(0, chunk.count - 1) * chunk.step) / fps)
    if isinstance(chunk, C.BasePackets):
        return float(chunk.frames[-1] / fps)
    if isinstance(chunk, C.AudioPackets) and audio_tb is not None:
        return float((chunk.pts + sum(d for d, _ in chunk.packets)) * audio_tb)
    if isinstance(chunk, C.End):
        return end_s
    return 0.0


@dataclass
class _Event:
    t: float
    nbytes: int


class RateLedger:
    """Bytes written so far, by time; answers 'how many bytes may a pivot at t take'."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._times: list[float] = []  # kept sorted: chunks arrive in time order, give or take
        self._bytes: list[int] = []
        self.total = 0
        self.pivot_bytes = 0
        self.covered_s = 0.0  # the latest time key points or audio have been charged up to

    def add(self, t: float, nbytes: int, pivot: bool = False) -> None:
        i = bisect.bisect_right(self._times, t)
        self._times.insert(i, t)
        self._bytes.insert(i, nbytes)
        self.total += nbytes
        if pivot:
            self.pivot_bytes += nbytes
        else:
            self.covered_s = max(self.covered_s, t)

    def worst_kbps(self) -> float:
        return worst_window(list(zip(self._times, self._bytes)), self.window_s)[1]

    def other_rate(self) -> float:
        """Average bytes/s of everything but pivots (key points, audio, container) up to covered_s."""
        return (self.total - self.pivot_bytes) / self.covered_s if self.covered_s > 0 else 0.0

    def room(self, t: float, budget: float, future_rate: float) -> float:
        """Most bytes that can be charged at t so that every window holding t stays within
        budget bytes, if what follows t comes at future_rate bytes/s."""
        worst = future_rate * self.window_s  # a window starting at t
        lo = bisect.bisect_right(self._times, t - self.window_s)
        hi = bisect.bisect_right(self._times, t)
        past = 0
        for i in range(hi - 1, lo - 1, -1):  # windows starting just before each past event
            past += self._bytes[i]
            worst = max(worst, past + future_rate * max(0.0, self._times[i] + self.window_s - t))
        return budget - worst


def worst_window(events: list[tuple[float, int]], window_s: float = WINDOW_S) -> tuple[float, float]:
    """(start s, kbit/s) of the window of length window_s holding the most bytes.

    Windows are [s, s + window_s); a stream shorter than the window is one window, its rate
    taken over window_s (the bytes a network must carry in that time)."""
    if not events:
        return 0.0, 0.0
    ev = sorted(events)
    times = [t for t, _ in ev]
    best, best_start, acc, j = 0, ev[0][0], 0, 0
    for i, (start, _) in enumerate(ev):  # a worst window starts at an event
        while j < len(ev) and times[j] < start + window_s:
            acc += ev[j][1]
            j += 1
        if acc > best:
            best, best_start = acc, start
        acc -= ev[i][1]
    return best_start, best * 8 / window_s / 1000
