"""The receiver's segment: one type for the decoder and the sender's analysis by synthesis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import face_frame, stream_header

from thcodec.errors import ThcError
from thcodec.face.region import Region
from thcodec.format import container as C
from thcodec.media.frames import jpeg_decode, jpeg_encode
from thcodec.receiver.segment import PivotSegment, SegmentRenderer, scaled_region

W, H = 160, 96
REGION = Region(40, 12, 72, 72)


@pytest.fixture(scope="module")
def segment(loaded):
    return PivotSegment.receive(loaded.model, 5, REGION, jpeg_decode(jpeg_encode(face_frame(0, W, H), 50), W, H), 256)


def test_receive_matches_the_chunk_path(segment, loaded):
    header = stream_header(width=W, height=H)
    pivot = C.Pivot(frame_index=5, x=40, y=12, w=72, h=72, image=jpeg_encode(face_frame(0, W, H), 50))
    again = PivotSegment.from_chunk(loaded.model, pivot, header)
    assert again.start == 5 and again.region == REGION
    assert torch.equal(again.image, segment.image) and torch.equal(again.keypoints.xy, segment.keypoints.xy)
    with pytest.raises(ThcError, match="outside the frame"):
        PivotSegment.from_chunk(loaded.model, C.Pivot(frame_index=0, x=100, y=0, w=72, h=72, image=pivot.image), header)


def test_animate_at_its_own_key_points_gives_back_the_pivot(segment, loaded):
    out = segment.animate(loaded.model, segment.keypoints.expand(2))
    assert out.shape == (2, 3, 256, 256) and out.min() >= 0 and out.max() <= 1
    assert (out - segment.image).abs().mean() < 0.05


def test_renderer_pastes_into_the_background(segment, loaded):
    r = SegmentRenderer(segment, loaded, (W, H), sr="bicubic")
    frames = r.render(segment.keypoints.expand(1))
    assert len(frames) == 1 and frames[0].shape == (H, W, 3)
    outside = np.ones((H, W), bool)
    outside[REGION.y : REGION.y + REGION.h, REGION.x : REGION.x + REGION.w] = False
    assert np.array_equal(frames[0][outside], segment.picture[outside])
    half = SegmentRenderer(segment, loaded, (W // 2, H // 2), sr="bicubic")
    assert half.region == scaled_region(REGION, 0.5, 0.5) and half.render(segment.keypoints.expand(1))[0].shape == (
        H // 2,
        W // 2,
        3,
    )
