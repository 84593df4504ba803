"""Analysis by synthesis, alone: what is analysed, what is recorded, when quality counts as dropped."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from conftest import face_frame

from thcodec.face.region import Region
from thcodec.media.frames import jpeg_decode, jpeg_encode
from thcodec.options import EncodeOptions
from thcodec.receiver.segment import PivotSegment
from thcodec.sender.keypoint_source import KeypointSource
from thcodec.sender.quality import ANALYSE_EVERY, QualityPredictor, SegmentWatch

W, H = 192, 128
REGION = Region(40, 8, 112, 112)


class NoFace:
    def __call__(self, index, frame):
        return False


def setup(loaded, max_motion_error_px=5.0):
    first = face_frame(0, W, H)
    seg = PivotSegment.receive(loaded.model, 0, REGION, jpeg_decode(jpeg_encode(first, 50), W, H), 256)
    watch = SegmentWatch.on(seg, NoFace(), max_motion_error_px)
    src = KeypointSource(loaded.model, EncodeOptions(motion="detector"))
    src.start(seg, first)
    return seg, watch, src


def analyse(loaded, seg, watch, src, indices, min_gap=0):
    log = []
    q = QualityPredictor(loaded.model, Fraction(25), min_gap, log)
    frames = [(i, face_frame(i, W, H)) for i in indices]
    crops = [REGION.crop(f, 256) for _, f in frames]
    picks = q.picks(watch, indices)
    fields, seen = src.detect(indices, crops, picks)
    return q.drop(seg, watch, frames, crops, fields, picks, seen), log


def test_watch_of_a_segment(loaded):
    _, watch, _ = setup(loaded)
    assert watch.start == 0 and watch.kept == 0
    assert watch.background_keep.any() and not watch.background_keep.all()  # the region is not the whole frame


def test_every_fourth_sent_frame_is_analysed_but_not_the_pivot(loaded):
    seg, watch, src = setup(loaded)
    q = QualityPredictor(loaded.model, Fraction(25), 0, [])
    assert q.picks(watch, list(range(10))) == [4, 8]
    watch.kept = 3
    assert q.picks(watch, list(range(10, 20))) == [j for j in range(10) if (3 + j) % ANALYSE_EVERY == 0]
    watch.kept = 0
    drop, log = analyse(loaded, seg, watch, src, list(range(9)))
    assert [a.frame for a in log] == [4, 8]
    # (measured: 3.7 and 2.6 px, face 17 and 14 dB; the background does not change: capped 60 dB)
    assert all(a.motion_error_px < 5 and a.face_db > 10 and a.background_db == 60 for a in log)
    assert drop is None


def test_a_drop_is_where_the_trend_crosses_and_the_gap_allows(loaded):
    seg, watch, src = setup(loaded, max_motion_error_px=0.0)  # every analysed frame counts as a drop once smoothed
    drop, log = analyse(loaded, seg, watch, src, list(range(24)))
    assert drop == 12 and [a.frame for a in log] == [4, 8, 12]  # the third analysed frame fills the trend
    seg, watch, src = setup(loaded, max_motion_error_px=0.0)
    drop, _ = analyse(loaded, seg, watch, src, list(range(24)), min_gap=14)
    assert drop == 16
    assert np.isfinite(log[0].face_db)
