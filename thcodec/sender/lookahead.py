"""The sender's look-ahead: frames held until their key points are detected and analysed
together, and which of them a segment sends key points for."""

from __future__ import annotations

import numpy as np

LOOKAHEAD = 12  # frames held before key points are detected and analysed together

Item = tuple[int, np.ndarray]  # (frame index, (H,W,3) uint8 source frame)


class Lookahead:
    def __init__(self, size: int = LOOKAHEAD) -> None:
        self.size = size
        self.items: list[Item] = []

    def __len__(self) -> int:
        return len(self.items)

    @property
    def full(self) -> bool:
        return len(self.items) >= self.size

    def append(self, index: int, frame: np.ndarray) -> None:
        self.items.append((index, frame))

    def drop(self, n: int) -> None:
        """The first n frames have been sent."""
        self.items = self.items[n:]

    def batch(self, start: int, interp: int, end: bool) -> tuple[int, list[int]]:
        """The frames ready to send in a segment that began at frame `start` -> (n, kept):
        the first n held frames go out, key points for the positions `kept` among them (every
        interp-th frame of the segment). end: the segment ends with the last held frame, which
        is then kept too; otherwise an unkept last frame stays held (it may turn out to end
        the segment, and a segment's last frame is always sent)."""
        items = self.items
        kept = [(index - start) % interp == 0 for index, _ in items]
        n = len(items) if end or (items and kept[-1]) else len(items) - 1
        if n <= 0:
            return 0, []
        return n, [k for k in range(n) if kept[k] or (end and k == n - 1)]
