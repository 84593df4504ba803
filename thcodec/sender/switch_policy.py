"""When the sender wants a new pivot, frame by frame: a scene cut, the face leaving its
region (after --min-pivot-interval), --max-pivot-interval, or the retry of a switch the rate
cap held back. A drop in predicted quality is found later, on the analysed frames
(thcodec/sender/quality.py). The measures themselves are in thcodec/sender/pivot_policy.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from thcodec.format import container as C
from thcodec.options import EncodeOptions
from thcodec.sender.pivot_policy import CutDetector, FaceWatch

RETRY_EVERY = 6  # frames between retries of a switch the rate cap held back


class SwitchPolicy:
    def __init__(self, opts: EncodeOptions, fps: Fraction) -> None:
        self._opts, self._fps = opts, fps
        self._cut = CutDetector()
        self.wanted: C.SwitchReason | None = None  # a switch the rate cap has held back

    def frames_of(self, seconds: float) -> int:
        """A duration in whole frames (at least 1; 0 for 0: no limit)."""
        return max(1, round(seconds * self._fps)) if seconds else 0

    @property
    def min_gap(self) -> int:
        """Frames after a pivot before the face and quality triggers may ask for another."""
        return self.frames_of(self._opts.min_pivot_interval_s)

    def is_cut(self, frame: np.ndarray) -> bool:
        """Fed every frame in order (so the detector's history is whole); False when not adaptive."""
        return self._opts.adaptive and self._cut(frame)

    def reason_at(self, index: int, frame: np.ndarray, start: int, watch: FaceWatch) -> C.SwitchReason | None:
        """Why frame index of the segment that began at `start` needs a new pivot, other than a
        scene cut (is_cut says that)."""
        since = index - start  # frames
        opts = self._opts
        if watch(index, frame) and since >= self.min_gap:
            return C.SwitchReason.FACE_LEFT
        if opts.max_pivot_interval_s and since >= self.frames_of(opts.max_pivot_interval_s):
            return C.SwitchReason.MAX_INTERVAL
        if self.wanted is not None and index % RETRY_EVERY == 0:
            return self.wanted
        return None

    def started(self) -> None:
        """A pivot went out: the cut history is of the old scene, nothing is held back."""
        self._cut.reset()
        self.wanted = None
