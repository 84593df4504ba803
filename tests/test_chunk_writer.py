"""The sender's chunk writer: audio interleaving, KPTS blocks, chunk order and what it reports."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
from conftest import stream_header

from thcodec.face.region import Region
from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.media.video_io import AudioPacketData
from thcodec.sender.chunk_writer import AUDIO_CHUNK_S, AudioInterleaver, ChunkWriter, KeypointBlocks


class _Recorder:
    """Stands in for the encoder's emit(chunk)."""

    def __init__(self):
        self.chunks = []

    def __call__(self, chunk):
        self.chunks.append(chunk)


def packets(*spec):
    """(pts, duration) pairs -> AudioPacketData with 1-byte payloads numbering them."""
    return [AudioPacketData(pts, d, bytes([i % 256])) for i, (pts, d) in enumerate(spec)]


def test_interleaver_groups_splits_at_gaps_and_at_one_second():
    tb = Fraction(1, 48000)
    run = [(-312 + 2880 * i, 2880) for i in range(40)]  # 2.4 s of contiguous 60 ms packets
    gap = [(run[-1][0] + 2880 + 960, 2880), (run[-1][0] + 2 * 2880 + 960, 1000)]  # 20 ms hole
    rec = _Recorder()
    il = AudioInterleaver(rec, tb, iter(packets(*run, *gap)))
    il.until(0.5)  # packets starting before 0.5 s
    assert len(rec.chunks) == 1
    first = rec.chunks[0]
    assert first.pts == -312 and [p for p, _, _ in first.with_pts()][-1] * tb < 0.5
    assert len(first.packets) == 9  # pts -312 .. 22728
    il.until(None)
    chunks = rec.chunks
    # every packet exactly once, in order
    got = [(p, d) for ch in chunks for p, d, _ in ch.with_pts()]
    assert got == run + gap
    # a chunk never straddles the gap, and closes once it holds AUDIO_CHUNK_S of audio
    assert chunks[-1].pts == gap[0][0] and len(chunks[-1].packets) == 2
    limit = round(AUDIO_CHUNK_S * 48000)
    for ch in chunks:
        span = sum(d for d, _ in ch.packets)
        assert span - ch.packets[-1][0] < limit  # closed as soon as the limit is reached
    assert [len(ch.packets) for ch in chunks] == [9, 17, 14, 2]


def test_interleaver_with_no_packets():
    rec = _Recorder()
    il = AudioInterleaver(rec, Fraction(1, 48000), iter([]))
    il.until(1.0)
    il.until(None)
    assert rec.chunks == []


def fields(n: int, k: int = 10) -> np.ndarray:
    rng = np.random.default_rng(n)
    return rng.integers(0, 400, (n, k, kpq.NUM_FIELDS)).astype(np.int32)  # in range for every field


def test_blocks_run_at_the_step_and_break_at_the_segment_end():
    rec = _Recorder()
    blocks = KeypointBlocks(rec, step=2, block=3)
    f = fields(6)
    for n, index in enumerate([0, 2, 4, 6, 7]):  # 7: a segment's last frame off the step
        blocks.add(index, f[n])
    blocks.end_segment()
    blocks.add(8, f[5])
    blocks.flush()
    got = [(c.first_frame, c.count, c.step, c.predicted) for c in rec.chunks]
    assert got == [(0, 3, 2, False), (6, 1, 2, True), (7, 1, 2, True), (8, 1, 2, False)]
    # each block decodes back, predicted from the last frame of the one before
    back = kpq.decompress_block(rec.chunks[0].data, 3, 10, None)
    assert np.array_equal(back, f[:3])
    assert np.array_equal(kpq.decompress_block(rec.chunks[1].data, 1, 10, back[-1]), f[3:4])


def test_writer_orders_audio_before_pictures_and_reports_every_chunk():
    buf = io.BytesIO()
    container = C.ContainerWriter(buf)
    head = stream_header(frame_count=4)
    container.write_header(head)
    head_bytes = container.bytes_written
    written = []
    out = ChunkWriter(container, Fraction(25), interp=1, block_frames=25, written=lambda *a: written.append(a))
    tb = Fraction(1, 48000)
    audh = C.AudioHeader(C.AudioCodec.OPUS, 48000, 1, 1, 48000, b"OpusHead")
    out.set_audio(audh, iter(packets(*[(960 * i, 960) for i in range(8)])))  # 20 ms packets, 0.16 s
    out.pivot(0, C.SwitchReason.START, Region(0, 0, 64, 48), b"\xff\xd8jpeg")
    f = fields(4)
    for i in range(4):
        out.keypoints(i, f[i])
    out.end(4)
    buf.seek(0)
    chunks = [c for c, _ in C.read_chunks(buf)]
    kinds = [type(c).__name__ for c in chunks]
    assert kinds == [
        "StreamHeader",
        "AudioHeader",
        "PivotSwitch",
        "Pivot",
        "AudioPackets",
        "KeypointBlock",
        "AudioPackets",
        "End",
    ]
    # the audio before the block ends where the block's last frame (3, t = 0.12 s) starts
    first_audio = chunks[4]
    assert [p * tb for p, _, _ in first_audio.with_pts()][-1] < Fraction(3, 25)
    assert len(written) == len(chunks) - 1  # all but HEAD
    assert sum(n for _, n, _ in written) == container.bytes_written - head_bytes
    assert [pivot for _, _, pivot in written] == [False, True, True, False, False, False, False]
    assert written[-1][0] == 4 / 25  # END at the end of the last frame
