"""The sender's reasons for a new pivot: a scene cut, the face moving out of its region, and
predicted quality falling (analysis by synthesis: the sender runs the receiver's model).

Predicted quality of the face is its motion error: the key points the detector finds on the
frame the receiver will show, against the key points sent for it, in pixels at model size.
It is what AKD measures, needs no reference, and separates cleanly: on the val clips its
smoothed value stays under 4 px (3.9 at worst), while a head that drifts away from the
pivot reaches 13 px (issue 6 measurements). Predicted PSNR rises and falls by 10 dB with ordinary mouth and head
motion, so it is recorded but not used to decide. The background (outside the face region)
is judged against a candidate: when a frame a second or two old would match the current
background by BACKGROUND_GAIN_DB more than the pivot does, someone walked in, the light
changed or the camera moved.

Each detector is fed frames in order and answers yes or no; the encoder decides whether
the intervals and the rate cap let the switch happen.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from PIL import Image

from thcodec.face.region import Region
from thcodec.media.metrics import psnr

THUMB = 32  # side of the grey thumbnail a scene cut is judged on
CUT_LEVEL = 20.0  # mean absolute thumbnail change (0-255) a cut must exceed...
CUT_RATIO = 4.0  # ...and this many times the recent typical change (camera motion is not a cut)
FACE_EVERY = 12  # frames between face checks (HOG detection costs ~50 ms at 640 px)
FACE_MISSES = 2  # checks in a row without a face before the face counts as gone
FACE_INSET = 0.2  # the face centre must stay inside the region shrunk by this share per side
FACE_SCALE_RANGE = (0.6, 1.6)  # face size relative to the pivot's before the region is wrong
SMOOTH = 3  # analysed frames averaged before a measure counts (one odd frame is no reason)
CANDIDATE_AGE_S = 1.0  # the candidate background is a frame at least this old (and under twice that)
BACKGROUND_GAIN_DB = 6.0
BG_LONG_SIDE = 160  # background thumbnails are this long
PSNR_CAP = 60.0


def thumbnail(frame: np.ndarray, long_side: int) -> np.ndarray:
    """(H,W,3) uint8 -> the same, area-resampled so its longer side is long_side (never larger)."""
    h, w = frame.shape[:2]
    s = min(1.0, long_side / max(h, w))
    if s == 1.0:
        return frame
    return np.asarray(Image.fromarray(frame).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BOX))


class CutDetector:
    """A hard cut: the picture changes far more from one frame to the next than it has been."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=25)

    def __call__(self, frame: np.ndarray) -> bool:
        g = np.asarray(Image.fromarray(frame).convert("L").resize((THUMB, THUMB), Image.BOX), np.float32)
        prev, self._prev = self._prev, g
        if prev is None:
            return False
        d = float(np.abs(g - prev).mean())
        typical = float(np.median(self._recent)) if self._recent else 0.0
        self._recent.append(d)
        return d > CUT_LEVEL and d > CUT_RATIO * (typical + 1.0)

    def reset(self) -> None:
        """After a pivot: the history is of the old scene."""
        self._recent.clear()


class FaceWatch:
    """Whether the pivot's face region still fits: checked every FACE_EVERY frames."""

    def __init__(self, finder, region: Region, face: tuple[float, float, float] | None, start: int) -> None:
        self._finder, self._region, self._face, self._start = finder, region, face, start
        self._misses = 0

    def __call__(self, index: int, frame: np.ndarray) -> bool:
        if (index - self._start) % FACE_EVERY or index == self._start:
            return False
        face = self._finder.largest_face(frame)
        if self._face is None:
            return face is not None  # a face came into a picture that had none
        if face is None:
            self._misses += 1
            return self._misses >= FACE_MISSES
        self._misses = 0
        cx, cy, side = face
        r = self._region
        inside = (
            r.x + FACE_INSET * r.w <= cx <= r.x + (1 - FACE_INSET) * r.w
            and r.y + FACE_INSET * r.h <= cy <= r.y + (1 - FACE_INSET) * r.h
        )
        lo, hi = FACE_SCALE_RANGE
        return not inside or not lo <= side / self._face[2] <= hi


class Trend:
    """A per-frame measure, smoothed over the last SMOOTH analysed frames, against a threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._last: deque[float] = deque(maxlen=SMOOTH)

    def add(self, value: float) -> bool:
        """Feed one analysed frame; True when the smoothed value reaches the threshold."""
        self._last.append(value)
        return len(self._last) == SMOOTH and float(np.mean(self._last)) >= self.threshold


def capped_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB, 60 for identical pictures (so differences of two stay finite)."""
    return min(psnr(a, b), PSNR_CAP)


def background_psnr(frame_thumb: np.ndarray, pivot_thumb: np.ndarray, keep: np.ndarray) -> float | None:
    """PSNR of the frame's background (thumbnail pixels where keep is True) against the pivot's."""
    if not keep.any():
        return None
    return capped_psnr(frame_thumb[keep], pivot_thumb[keep])


def background_mask(region: Region, width: int, height: int, thumb_shape: tuple[int, int]) -> np.ndarray:
    """(h,w) bool over a thumbnail: True outside the face region (with a margin)."""
    th, tw = thumb_shape
    sx, sy = tw / width, th / height
    keep = np.ones((th, tw), bool)
    m = 0.1  # the region's feathered edge belongs to neither
    x0 = int((region.x - m * region.w) * sx)
    x1 = int(np.ceil((region.x + (1 + m) * region.w) * sx))
    y0 = int((region.y - m * region.h) * sy)
    y1 = int(np.ceil((region.y + (1 + m) * region.h) * sy))
    keep[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = False
    return keep
