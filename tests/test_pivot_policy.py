"""The pivot policy's detectors on synthetic frames with known answers."""

from __future__ import annotations

import numpy as np

from thcodec.face.region import Region
from thcodec.sender.pivot_policy import (
    FACE_EVERY,
    FACE_MISSES,
    SMOOTH,
    CutDetector,
    FaceWatch,
    Trend,
    background_mask,
    background_psnr,
    thumbnail,
)


def _scene(seed: int, shift: int = 0) -> np.ndarray:
    """A smooth random picture (a 'scene'), panned right by shift pixels."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 12, 3)).astype(np.uint8)
    big = np.kron(small, np.ones((16, 16, 1), np.uint8))  # 128x192
    return np.roll(big, shift, axis=1)[:, :160]


def test_cut_detector_fires_on_the_cut_frame_only():
    cut = CutDetector()
    frames = [_scene(1, shift=i) for i in range(20)] + [_scene(2, shift=i) for i in range(20)]
    fired = [i for i, f in enumerate(frames) if cut(f)]
    assert fired == [20]


def test_cut_detector_ignores_a_fast_pan_and_a_flicker():
    cut = CutDetector()
    pan = [_scene(3, shift=4 * i) for i in range(30)]  # steady camera motion, large per-frame change
    assert not any(cut(f) for f in pan)
    flicker = [np.clip(_scene(4).astype(int) + (8 if i % 2 else 0), 0, 255).astype(np.uint8) for i in range(10)]
    assert not any(cut(f) for f in flicker)


class _Finder:
    """A face finder that reports the faces it is given, one per call."""

    def __init__(self, faces):
        self.faces = list(faces)

    def largest_face(self, frame):
        return self.faces.pop(0)


def test_face_watch_checks_every_few_frames_and_spots_a_face_leaving():
    region = Region(100, 50, 200, 200)
    face = (200.0, 150.0, 90.0)
    finder = _Finder([face, (290.0, 150.0, 90.0)])  # then the face centre near the region's edge
    watch = FaceWatch(finder, region, face, start=0)
    frame = np.zeros((10, 10, 3), np.uint8)
    answers = [watch(i, frame) for i in range(2 * FACE_EVERY + 1)]
    assert answers[FACE_EVERY] is False  # still centred
    assert answers[2 * FACE_EVERY] is True  # moved out of the inner part of the region
    assert sum(answers) == 1 and not finder.faces  # asked only on check frames


def test_face_watch_needs_repeated_misses_and_a_size_change():
    region = Region(0, 0, 300, 300)
    face = (150.0, 150.0, 100.0)
    misses = [None] * FACE_MISSES
    watch = FaceWatch(_Finder(misses), region, face, start=5)
    frame = np.zeros((4, 4, 3), np.uint8)
    results = [watch(5 + FACE_EVERY * (k + 1), frame) for k in range(FACE_MISSES)]
    assert results == [False] * (FACE_MISSES - 1) + [True]
    grown = FaceWatch(_Finder([(150.0, 150.0, 200.0)]), region, face, start=0)
    assert grown(FACE_EVERY, frame) is True  # twice the size: the region no longer fits


def test_trend_smooths_over_frames():
    t = Trend(threshold=3.0)
    assert [t.add(g) for g in [8.0] + [0.0] * (SMOOTH - 1)] == [False] * SMOOTH  # one frame is no reason
    assert [t.add(g) for g in [4.0] * SMOOTH] == [False] * (SMOOTH - 1) + [True]


def test_background_measured_outside_the_region():
    width, height = 320, 160
    region = Region(120, 20, 80, 120)
    frame = np.full((height, width, 3), 100, np.uint8)
    thumb = thumbnail(frame, 160)
    keep = background_mask(region, width, height, thumb.shape[:2])
    assert thumb.shape[:2] == (80, 160)
    assert not keep[40, 80] and keep[40, 5] and keep[40, 150]
    changed = frame.copy()
    changed[region.y : region.y + region.h, region.x : region.x + region.w] = 0  # only the face region
    assert background_psnr(thumbnail(changed, 160), thumb, keep) == 60.0
    changed[:, :40] = 0  # someone walks in on the left
    assert background_psnr(thumbnail(changed, 160), thumb, keep) < 20
