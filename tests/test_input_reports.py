"""Encode side (issue 22): what the constant-rate reader fills in is reported, not hidden: a
truncated input's repeated tail, timestamp gaps; a gap too long to fill is refused."""

from __future__ import annotations

import av
import pytest
from conftest import clip_factory

from thcodec.errors import ThcError
from thcodec.media.video_io import VideoReader


@pytest.fixture
def make(tmp_path):
    return clip_factory(tmp_path)


def faststart(src, dst):
    """The same packets with the index (moov) first, as a web download has it."""
    with av.open(str(src)) as i, av.open(str(dst), "w", options={"movflags": "+faststart"}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                o.mux(packet)
    return dst


def frames_and_report(path):
    with VideoReader(path) as r:
        return len(list(r)), r.report()


def test_timestamp_gap_is_reported(make):
    times = [i / 25 for i in range(30)] + [2.0 + i / 25 for i in range(30)]
    n, report = frames_and_report(make(frames=60, fps=25, audio=False, frame_times=times))
    assert len(report) == 1 and "timestamp gaps" in report[0] and "in 1 gaps" in report[0]
    assert n >= 60  # the gap filled (at the input's average rate), and said so


def test_regular_input_reports_nothing(make):
    assert frames_and_report(make(frames=20, fps=25))[1] == []


def test_huge_timestamp_gap_is_refused(make):
    times = [i / 25 for i in range(5)] + [500.0 + i / 25 for i in range(5)]
    with pytest.raises(ThcError, match="a timestamp gap of .* s at"):
        frames_and_report(make(frames=10, fps=25, audio=False, frame_times=times))


def test_truncated_input_is_reported(make, tmp_path):
    whole = faststart(make(frames=100, fps=25, audio=False), tmp_path / "fast.mp4")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    n, report = frames_and_report(cut)
    assert n == 100  # the container's duration, the tail repeated ...
    assert len(report) == 1 and "truncated file?" in report[0]  # ... and said so
