"""Pivot pictures as JPEG or as one AV1 key frame (format 2)."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from conftest import demo_face, demo_head, stream_header

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.media.metrics import psnr
from thcodec.media.pivot_image import av1_crf, decode_pivot, encode_pivot
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.sender.encoder import EncodeOptions, encode

FACE = np.ascontiguousarray(demo_face()[:240, :320])


@pytest.mark.parametrize("quality", [30, 50])
def test_av1_pivot_matches_the_jpeg_psnr_in_fewer_bytes(quality):
    jpeg, av1 = encode_pivot(FACE, quality, "jpeg"), encode_pivot(FACE, quality, "av1")
    h, w = FACE.shape[:2]
    jpeg_db = psnr(decode_pivot(jpeg, "jpeg", w, h), FACE)
    av1_db = psnr(decode_pivot(av1, "av1", w, h), FACE)
    assert av1_db > jpeg_db - 0.5
    assert len(av1) < 0.85 * len(jpeg)


def test_quality_maps_to_a_crf_that_falls_as_quality_rises():
    crfs = [av1_crf(q) for q in range(1, 101)]
    assert crfs == sorted(crfs, reverse=True)
    assert crfs[0] == 63 and crfs[-1] == 0


@pytest.mark.parametrize("size", [(321, 241), (16, 16)])
def test_av1_pivots_keep_odd_and_small_sizes(size):
    w, h = size
    frame = np.ascontiguousarray(np.resize(FACE, (h, w, 3)))
    assert decode_pivot(encode_pivot(frame, 50, "av1"), "av1", w, h).shape == (h, w, 3)


def test_av1_pivot_of_another_size_or_cut_short_is_damage():
    data = encode_pivot(FACE, 50, "av1")
    h, w = FACE.shape[:2]
    for size in [(w - 1, h), (w, h + 2), (64, 64)]:  # smaller: refused before decoding; larger: by the size check
        with pytest.raises(ThcError, match="damaged file: pivot"):
            decode_pivot(data, "av1", *size)
    with pytest.raises(ThcError, match="damaged file: pivot"):
        decode_pivot(data[: len(data) // 3], "av1", w, h)


def test_the_container_tells_the_codecs_apart_and_keeps_av1_to_format_2():
    av1 = encode_pivot(FACE, 50, "av1")
    assert C.Pivot(0, 0, 0, 4, 4, av1).codec == "av1"
    assert C.Pivot(0, 0, 0, 4, 4, encode_pivot(FACE, 50, "jpeg")).codec == "jpeg"
    with pytest.raises(ValueError, match="neither a JPEG"):
        C.Pivot(0, 0, 0, 4, 4, b"GIF89a")
    header = stream_header(width=320, height=240, frame_count=1)
    for version in (C.KEYPOINT_FORMAT, C.HYBRID_FORMAT):
        buf = io.BytesIO()
        w = C.ContainerWriter(buf)
        w.write_header(header, version)
        w.write(C.PivotSwitch(0, C.SwitchReason.START))
        if version == C.KEYPOINT_FORMAT:
            with pytest.raises(RuntimeError, match="needs format 2"):
                w.write(C.Pivot(0, 0, 0, 320, 240, av1))
            # a format-1 file carrying one anyway is damage
            w._chunk(C.Pivot(0, 0, 0, 320, 240, av1))
            w._chunk(C.End(1))
            with pytest.raises(ThcError, match="AV1 pivot"):
                list(C.read_chunks(io.BytesIO(buf.getvalue())))
        else:
            w.write(C.Pivot(0, 0, 0, 320, 240, av1))
            w.write(C.End(1))
            pivots = [c for c, _ in C.read_chunks(io.BytesIO(buf.getvalue())) if isinstance(c, C.Pivot)]
            assert pivots[0].image == av1


def test_a_keypoint_stream_with_an_av1_pivot_is_format_2_and_decodes(tmp_path, loaded):
    source, src = demo_head(tmp_path / "demo12.mkv", 12)
    streams = {}
    for codec in ("jpeg", "av1"):
        streams[codec] = tmp_path / f"{codec}.thc"
        with open(streams[codec], "wb") as f:
            encode(src, f, loaded, EncodeOptions(audio=False, pivot_codec=codec))
    assert streams["jpeg"].read_bytes()[8:10] == b"\x00\x01" and streams["av1"].read_bytes()[8:10] == b"\x00\x02"
    with open(streams["av1"], "rb") as f:
        frames = [e.rgb for e in decode_stream(f, loaded) if isinstance(e, Frame)]
    assert len(frames) == 12
    assert psnr(frames[0], source[0]) > 30  # the pivot itself comes through
    assert streams["av1"].stat().st_size < streams["jpeg"].stat().st_size
    assert EncodeOptions(mode="hybrid").pivot_image_codec == "av1" and EncodeOptions().pivot_image_codec == "jpeg"
    assert dataclasses.replace(EncodeOptions(), mode="hybrid").pivot_image_codec == "av1"  # auto follows the mode
    assert EncodeOptions(mode="hybrid", pivot_codec="jpeg").pivot_image_codec == "jpeg"


def test_bench_calibration_finds_a_crf_per_quality_falling_as_quality_rises():
    from thcodec.bench.pivot_codec import QUALITIES, calibration

    small = np.ascontiguousarray(FACE[:96, :96])
    rows = [line.split("|")[1:-1] for line in calibration([small])[2:]]
    assert [int(r[0]) for r in rows] == list(QUALITIES)
    crfs = [int(r[3]) for r in rows if r[3].strip() != "-"]
    assert len(crfs) >= 6 and crfs == sorted(crfs, reverse=True)
