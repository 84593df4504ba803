"""The receiver's key points for every frame, from the frames the sender kept (`--interp`).

Within a segment, frames between two sent ones get key points from the straight line
between them ("linear", the baseline) or from the interpolation network ("net", which also
looks at the sent frames either side, so it waits for one more sent frame). Frames before
a segment's first sent frame hold its key points. Frames come out in order, lazily: a long
gap in a damaged stream costs time, never memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from thcodec.format import keypoint_bits as kpq
from thcodec.models.interpolator import MAX_STEP, Interpolator

Ready = Iterator[tuple[int, np.ndarray]]  # (frame, (K,6) float32: x, y, then the row-major Jacobian)
PIECE = 64  # frames of one gap computed together
RAMP = 8  # a gap that a loss left (longer than any --interp step) holds its first pose, then moves over this many frames


def _flat(fields: np.ndarray) -> np.ndarray:
    xy, jac = kpq.dequantize(fields[None])
    return np.concatenate([xy[0], jac[0].reshape(-1, 4)], axis=-1)


class KeypointTimeline:
    def __init__(self, interpolator: Interpolator | None) -> None:
        self._net = interpolator  # None: linear
        self._sent: list[tuple[int, np.ndarray]] = []  # the current segment's last sent frames
        self.last_sent = -1  # index of the last sent frame seen
        self.next_frame = 0  # the first frame not yet handed out (once the returned iterators are drained)
        self._last_kp: np.ndarray | None = None  # the last sent frame's key points (what a loss holds)

    @property
    def in_segment(self) -> bool:
        """Whether the current segment has had a sent frame."""
        return bool(self._sent)

    def hold_until(self, index: int, still: np.ndarray | None = None) -> Ready:
        """Concealment: frames next_frame .. index-1, which no sent frame will reach (their key
        points were lost), hold the last sent frame's key points (K,6), or `still` when none came."""
        start, kp = self.next_frame, self._last_kp if self._last_kp is not None else still
        if kp is None or index <= start:
            return iter(())
        self.next_frame = index
        return ((i, kp) for i in range(start, index))

    def add(self, index: int, fields: np.ndarray) -> Ready:
        """A sent frame (index > last_sent); -> the frames now ready. State is updated at once;
        the caller drains the iterator before the next call."""
        return self.add_pose(index, _flat(fields))

    def add_pose(self, index: int, kp: np.ndarray) -> Ready:
        """As add, with the key points (K,6) themselves (concealment: the pivot's own pose)."""
        self.last_sent, self._last_kp = index, kp
        if not self._sent:
            start, self.next_frame = self.next_frame, index + 1
            self._sent.append((index, kp))
            return ((i, kp) for i in range(start, index + 1))
        self._sent = self._sent[-3:] + [(index, kp)]
        if self._net is None:
            return self._interval(len(self._sent) - 2, after=None)
        if len(self._sent) >= 3:
            return self._interval(len(self._sent) - 3, after=self._sent[-1][1])
        return iter(())

    def new_segment(self) -> None:
        """A new pivot is in place: a loss before its first sent frame holds its own pose, not the old one's."""
        self._last_kp = None

    def end_segment(self) -> Ready:
        """A new pivot or the end of the stream: hand out what waits for a sent frame that will not come."""
        ready: Ready = iter(())
        if self._net is not None and len(self._sent) >= 2:
            ready = self._interval(len(self._sent) - 2, after=None)
        self._sent = []
        return ready

    def _interval(self, a: int, after: np.ndarray | None) -> Ready:
        """Frames after sent frame a up to and including sent frame a+1."""
        (ia, ka), (ib, kb) = self._sent[a], self._sent[a + 1]
        kp_before = self._sent[a - 1][1] if a > 0 else ka
        kp_after = kb if after is None else after
        start, self.next_frame = max(ia + 1, self.next_frame), ib + 1
        return self._fill(start, ia, ka, ib, kb, kp_before, kp_after)

    def _fill(self, start, ia, ka, ib, kb, kp_before, kp_after) -> Ready:
        for lo in range(start, ib, PIECE):
            inner = list(range(lo, min(lo + PIECE, ib)))
            t = np.array([(i - ia) / (ib - ia) for i in inner], np.float32)
            if ib - ia > MAX_STEP:  # a gap from a loss: hold, then move to the next pose over its last RAMP frames
                t = np.clip((np.array(inner, np.float32) - (ib - RAMP)) / RAMP, 0, 1)
                kps = ka[None] + t[:, None, None] * (kb - ka)[None]
            elif self._net is None:
                kps = ka[None] + t[:, None, None] * (kb - ka)[None]
            else:
                n = len(inner)
                rep = lambda x: torch.from_numpy(np.repeat(x[None], n, 0))  # noqa: B023 (used within the iteration)
                step = torch.full((n,), float(min(ib - ia, MAX_STEP)))
                with torch.no_grad():
                    kps = self._net(rep(kp_before), rep(ka), rep(kb), rep(kp_after), torch.from_numpy(t), step).numpy()
            yield from zip(inner, kps)
        yield ib, kb
