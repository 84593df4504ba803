"""Choosing the face region on the sender and pasting it back on the receiver.

A region is a rectangle in source-frame pixels, always inside the frame. A face region is
square (about 2.2x the detected face box); inputs that are already a head crop, and frames
where no face is found, use the whole frame (resized non-uniformly to the model size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from thcodec.face.dlib_models import hog_detector

FACE_SCALE = 2.2  # region side / face-box side
DETECT_LONG_SIDE = 640  # frames are shrunk to this before HOG detection (speed)


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    w: int
    h: int

    def crop(self, frame: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
        """frame: (H,W,3) uint8 -> (size,size,3) uint8 (or (h,w,3) for size (w,h)), area-resampled."""
        w, h = (size, size) if isinstance(size, int) else size
        sub = frame[self.y : self.y + self.h, self.x : self.x + self.w]
        if sub.shape[0] == h and sub.shape[1] == w:
            return np.ascontiguousarray(sub)
        return np.asarray(Image.fromarray(sub).resize((w, h), Image.BILINEAR, reducing_gap=2.0))

    @staticmethod
    def whole(width: int, height: int) -> Region:
        return Region(0, 0, width, height)


class FaceFinder:
    """dlib's HOG face detector (its model ships inside the dlib-bin wheel)."""

    def __init__(self) -> None:
        self._det = hog_detector()

    def largest_face(self, frame: np.ndarray) -> tuple[float, float, float] | None:
        """frame: (H,W,3) uint8 -> (cx, cy, side) of the largest face in pixels, or None."""
        h, w = frame.shape[:2]
        scale = min(1.0, DETECT_LONG_SIDE / max(h, w))
        small = frame
        if scale < 1.0:
            small = np.asarray(Image.fromarray(frame).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
        rects = self._det(small, 1 if min(small.shape[:2]) < 400 else 0)
        if len(rects) == 0:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        side = (r.width() + r.height()) / 2 / scale
        cx = (r.left() + r.right()) / 2 / scale
        cy = (r.top() + r.bottom()) / 2 / scale
        return cx, cy, side


def choose_region(width: int, height: int, face: tuple[float, float, float] | None) -> Region:
    """The square face region for a face (cx, cy, side), or the whole frame."""
    if face is None:
        return Region.whole(width, height)
    cx, cy, side = face
    short = min(width, height)
    s = int(round(min(FACE_SCALE * side, short)))
    near_square = 0.8 <= width / height <= 1.25
    if near_square and s >= 0.9 * short:
        return Region.whole(width, height)
    s = max(s - s % 2, min(2, short))  # even, and never empty (a tiny face, a 1-pixel-high frame)
    cy -= 0.1 * side  # the head top lies further above the box than the chin below it
    x = int(round(min(max(cx - s / 2, 0), width - s)))
    y = int(round(min(max(cy - s / 2, 0), height - s)))
    return Region(x, y, s, s)


def feather_mask(w: int, h: int, border: int) -> np.ndarray:
    """(h,w,1) float32 in [0,1]: 1 inside, ramping to 0 over `border` pixels at the edge."""
    if border <= 0:
        return np.ones((h, w, 1), np.float32)
    ramp_x = np.minimum(np.arange(w) + 1, np.arange(w)[::-1] + 1) / border
    ramp_y = np.minimum(np.arange(h) + 1, np.arange(h)[::-1] + 1) / border
    m = np.minimum(np.clip(ramp_y, 0, 1)[:, None], np.clip(ramp_x, 0, 1)[None, :])
    return m.astype(np.float32)[..., None]


def paste(background: np.ndarray, patch: np.ndarray, region: Region, mask: np.ndarray | None) -> np.ndarray:
    """Paste patch (region.h, region.w, 3) uint8 into a copy of background, feathered by mask."""
    out = background.copy()
    dst = out[region.y : region.y + region.h, region.x : region.x + region.w]
    if mask is None:
        dst[:] = patch
        return out
    # Only a feather mask's band is blended: inside it the mask is 1, where the blend gives the
    # patch itself (blending the whole region was a visible share of a 720p decode: docs/speed.md).
    h, w = mask.shape[:2]
    band = int(np.argmax(mask[h // 2, :, 0] >= 1))
    inner = (slice(band, h - band), slice(band, w - band))
    if band == 0 or 2 * band >= min(h, w) or not (mask[inner] >= 1).all():
        _blend(dst, patch, mask)
        return out
    dst[inner] = patch[inner]
    rows, cols = (slice(0, band), slice(h - band, h)), (slice(0, band), slice(w - band, w))
    for sl in (*((r, slice(None)) for r in rows), *((inner[0], c) for c in cols)):
        _blend(dst[sl], patch[sl], mask[sl])
    return out


def _blend(dst: np.ndarray, patch: np.ndarray, mask: np.ndarray) -> None:
    """dst (h,w,3) uint8, in place: towards patch by mask (h,w,1) in [0,1], rounded."""
    bg = dst.astype(np.float32)
    dst[:] = np.clip(bg + (patch.astype(np.float32) - bg) * mask + 0.5, 0, 255).astype(np.uint8)
