"""The sender's key points, alone: quantized as sent, the detector's alongside."""

from __future__ import annotations

import numpy as np
import torch
from conftest import face_frame

from thcodec.face.region import Region
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import jpeg_decode, jpeg_encode
from thcodec.options import EncodeOptions
from thcodec.receiver.segment import PivotSegment
from thcodec.sender.keypoint_source import KeypointSource

REGION = Region(0, 0, 256, 256)


def crops(n):
    return [face_frame(4 * i, 320, 256)[:, :256] for i in range(n)]  # the face drifts right 4 px a frame


def test_empty_and_detector_only(loaded):
    src = KeypointSource(loaded.model, EncodeOptions(motion="detector"))
    fields, seen = src.detect([], [])
    assert fields.shape == (0, 10, kpq.NUM_FIELDS) and seen.shape == (0, 10, 2)
    fields, seen = src.detect([0, 1], crops(2), detector_only=True)
    assert fields.shape == (2, 10, kpq.NUM_FIELDS) and seen.shape == (2, 10, 2)
    # the sent positions are coarsened to the --xy-step grid
    assert (fields[..., :2] % 4 == 0).all() and (fields[..., 2:] % 8 == 0).all()


def test_detector_motion_sends_what_it_sees(loaded):
    frames = crops(3)
    src = KeypointSource(loaded.model, EncodeOptions(motion="detector"))
    seg = PivotSegment.receive(loaded.model, 0, REGION, jpeg_decode(jpeg_encode(frames[0], 50), 256, 256), 256)
    src.start(seg, frames[0])
    sent, _ = src.detect([0, 1, 2], frames)
    alone, _ = src.detect([0, 1, 2], frames, detector_only=True)
    assert np.array_equal(sent, alone)


def test_landmark_motion_follows_the_face(loaded):
    frames = crops(3)
    src = KeypointSource(loaded.model, EncodeOptions(motion="landmarks"))
    seg = PivotSegment.receive(loaded.model, 0, REGION, jpeg_decode(jpeg_encode(frames[0], 50), 256, 256), 256)
    src.start(seg, frames[0])
    sent, _ = src.detect([0, 1, 2], frames)
    assert sent.shape == (3, 10, kpq.NUM_FIELDS)
    # the face drifts right 4 px a frame: the sent points move right by about 8 px (16 codes a px at 256)
    dx = (sent[2, :, 0].astype(int) - sent[0, :, 0].astype(int)).mean()
    assert 4 * 16 < dx < 12 * 16


def test_landmark_motion_runs_the_detector_only_on_the_analysed_frames(loaded, monkeypatch):
    frames = crops(4)
    pivot = jpeg_decode(jpeg_encode(frames[0], 50), 256, 256)

    def source():
        src = KeypointSource(loaded.model, EncodeOptions(motion="landmarks"))
        src.start(PivotSegment.receive(loaded.model, 0, REGION, pivot, 256), frames[0])
        return src

    all_sent, all_seen = source().detect([0, 1, 2, 3], frames)
    src, other = source(), source()
    batches = []
    detect = loaded.model.detect_keypoints
    monkeypatch.setattr(loaded.model, "detect_keypoints", lambda x: batches.append(len(x)) or detect(x))
    sent, seen = src.detect([0, 1, 2, 3], frames, analysed=[1, 3])
    assert batches == [2] and seen.shape == (2, 10, 2)
    assert np.array_equal(sent, all_sent)  # what is sent does not depend on what is analysed
    assert torch.allclose(seen, all_seen[[1, 3]], atol=1e-6)
    _, none = other.detect([0, 1, 2, 3], frames, analysed=[])
    assert batches == [2] and none.shape == (0, 10, 2)


def test_landmark_motion_without_a_face_at_the_pivot_sends_the_detector_points(loaded):
    frames = crops(3)
    blank = np.full((256, 256, 3), 90, np.uint8)
    src = KeypointSource(loaded.model, EncodeOptions(motion="landmarks"))
    seg = PivotSegment.receive(loaded.model, 0, REGION, jpeg_decode(jpeg_encode(blank, 50), 256, 256), 256)
    src.start(seg, blank)
    sent, seen = src.detect([0, 1, 2], frames, analysed=[2])
    alone, alone_seen = src.detect([0, 1, 2], frames, detector_only=True)
    assert np.array_equal(sent, alone) and seen.shape == (1, 10, 2)
    assert torch.equal(seen, alone_seen[[2]])
