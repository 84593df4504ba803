"""Damaged, truncated and crafted streams (issue 22): the tolerant reader resynchronises, the
receiver conceals and counts, --strict refuses as before; bounded work for absurd fields."""

from __future__ import annotations

import io

import numpy as np
import pytest
import zstandard
from conftest import clip_factory, stream_header
from typer.testing import CliRunner

from thcodec.cli import EXIT_LOSSES, app
from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.format import damage
from thcodec.format import keypoint_bits as kpq
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import Frame, Losses, decode_stream
from thcodec.sender.encoder import encode

FRAMES = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clip_factory(tmp_path_factory.mktemp("conceal"))(width=64, height=48, frames=FRAMES, fps=25, audio=True)


def encoded(clip, loaded, **opts) -> bytes:
    buf = io.BytesIO()
    encode(clip, buf, loaded, EncodeOptions(interp=1, block_frames=4, adaptive=False, **opts))
    return buf.getvalue()


@pytest.fixture(scope="module")
def stream(clip, loaded) -> bytes:
    """24 frames in six 4-frame key-point blocks, the first independent, the others predicted
    (--kpts-refresh 0: one lost block costs the rest of the segment)."""
    return encoded(clip, loaded, independent_every=0)


@pytest.fixture(scope="module")
def clean(stream, loaded) -> list[Frame]:
    return decode(stream, loaded, strict=True)[0]


def decode(data: bytes, loaded, strict: bool = False) -> tuple[list[Frame], Losses]:
    losses = Losses()
    frames = [e for e in decode_stream(io.BytesIO(data), loaded, strict=strict, losses=losses) if isinstance(e, Frame)]
    return frames, losses


def tolerant_chunks(data: bytes) -> tuple[list, list[C.Damage]]:
    damages: list[C.Damage] = []
    chunks = [c for c, _ in C.read_chunks(io.BytesIO(data), damages.append)]
    return chunks, damages


def spans_of(data: bytes, ctype: str) -> list[tuple[int, int, str]]:
    return [s for s in damage.chunk_spans(data) if s[2] == ctype]


def without(data: bytes, span) -> bytes:
    o, n, _ = span
    return data[:o] + data[o + n :]


def flipped(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x40
    return bytes(out)


# --- the tolerant reader ------------------------------------------------------------------------


def test_tolerant_reader_skips_a_damaged_chunk_and_names_it(stream):
    kpts = spans_of(stream, "KPTS")[2]
    bad = flipped(stream, kpts[0] + 20)  # a payload byte: the header is intact
    with pytest.raises(ThcError, match="CRC mismatch"):
        list(C.read_chunks(io.BytesIO(bad)))
    chunks, damages = tolerant_chunks(bad)
    good, _ = tolerant_chunks(stream)
    assert len(chunks) == len(good) - 1 and isinstance(chunks[-1], C.End)
    assert [(d.offset, d.nbytes, d.kind, d.chunk_type) for d in damages] == [(kpts[0], kpts[1], "damaged", "KPTS")]


def test_tolerant_reader_resynchronises_after_garbage(stream):
    kpts = spans_of(stream, "KPTS")[1]
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8))
    bad = stream[: kpts[0]] + garbage + stream[kpts[0] :]
    chunks, damages = tolerant_chunks(bad)
    assert len(chunks) == len(tolerant_chunks(stream)[0])
    assert len(damages) == 1 and damages[0].nbytes == len(garbage) and damages[0].chunk_type is None


def test_two_damaged_chunks_in_a_row_are_two_losses_of_known_type(stream):
    """The damaged chunk's length is trusted where a chunk header follows it, even one whose own
    payload is damaged: each loss keeps its type (and a pivot its bytes), rather than one
    region of unknown type up to the next whole chunk."""
    pivot = spans_of(stream, "PIVT")[0]
    after = next(s for s in damage.chunk_spans(stream) if s[0] == pivot[0] + pivot[1])
    bad = flipped(flipped(stream, pivot[0] + pivot[1] // 2), after[0] + after[1] - 2)  # a payload or CRC byte of each
    chunks, damages = tolerant_chunks(bad)
    assert [(d.offset, d.nbytes, d.chunk_type) for d in damages] == [pivot[:2] + ("PIVT",), after[:2] + (after[2],)]
    assert damages[0].payload is not None  # the receiver can still show the damaged picture
    assert len(chunks) == len(tolerant_chunks(stream)[0]) - 2


def test_data_after_end_is_reported_and_not_read(stream, loaded):
    for tail in (stream, b"garbage" * 500):  # a second stream appended, or garbage
        chunks, damages = tolerant_chunks(stream + tail)
        assert chunks == tolerant_chunks(stream)[0]
        assert [(d.offset, d.nbytes, d.kind) for d in damages] == [(len(stream), len(tail), "trailing")]
    frames, losses = decode(stream + b"garbage", loaded)
    assert len(frames) == FRAMES and losses.trailing == 7 and losses.chunks == 0
    assert "7 bytes after the END chunk ignored" in losses.summary()


def test_tolerant_reader_ends_a_truncated_file(stream):
    cut = stream[: len(stream) * 2 // 3]
    chunks, damages = tolerant_chunks(cut)
    assert isinstance(chunks[0], C.StreamHeader) and not isinstance(chunks[-1], C.End)
    assert damages[-1].kind == "truncated"
    with pytest.raises(ThcError, match="no stream header|truncated"):
        tolerant_chunks(stream[:30])  # HEAD itself cut: nothing can be decoded


def test_tolerant_reader_on_clean_stream_equals_strict(stream):
    chunks, damages = tolerant_chunks(stream)
    assert damages == [] and chunks == [c for c, _ in C.read_chunks(io.BytesIO(stream))]


def test_tolerant_reader_survives_random_damage(stream):
    """Fuzz: any damage after HEAD gives chunks and Damage events, never an exception."""
    rng = np.random.default_rng(1)
    for trial in range(300):
        kind = trial % 4
        if kind == 0:
            bad = damage.corrupt_chunks(stream, 0.2, rng)
        elif kind == 1:
            bad = damage.drop_chunks(stream, 0.2, rng)
        elif kind == 2:
            bad = damage.bit_errors(stream, 1e-3, rng)
        else:
            bad = damage.truncate(stream, rng.uniform(0.2, 1.0))
        chunks, _ = tolerant_chunks(bad)
        assert isinstance(chunks[0], C.StreamHeader)


# --- the receiver's concealment -----------------------------------------------------------------


def test_clean_stream_decodes_the_same_concealing_or_strict(stream, clean, loaded):
    frames, losses = decode(stream, loaded)
    assert not losses
    assert len(frames) == FRAMES
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(frames, clean))


def test_lost_keypoint_block_is_concealed_to_the_next_independent_block(stream, clean, loaded):
    kpts = spans_of(stream, "KPTS")
    frames, losses = decode(without(stream, kpts[1]), loaded)  # block 1 dropped: 2..5 predicted from it
    assert [f.index for f in frames] == list(range(FRAMES))
    assert losses.keypoint_blocks == 4 and losses.frames > 0
    with pytest.raises(ThcError):
        decode(flipped(stream, kpts[1][0] + 20), loaded, strict=True)


def test_independent_blocks_limit_the_loss(clip, loaded):
    data = encoded(clip, loaded, independent_every=2)
    blocks = [c for c in tolerant_chunks(data)[0] if isinstance(c, C.KeypointBlock)]
    assert [b.predicted for b in blocks] == [False, True] * 3
    frames, losses = decode(without(data, spans_of(data, "KPTS")[0]), loaded)
    assert len(frames) == FRAMES and losses.keypoint_blocks == 1  # only block 1 depended on block 0


def test_default_stream_has_every_other_block_independent(clip, loaded, stream):
    """--kpts-refresh 2 by default (chosen by the val-clip loss table: docs/robustness.md)."""
    assert EncodeOptions().independent_every == 2
    blocks = [c for c in tolerant_chunks(encoded(clip, loaded))[0] if isinstance(c, C.KeypointBlock)]
    assert [b.predicted for b in blocks] == [False, True] * 3
    blocks = [c for c in tolerant_chunks(stream)[0] if isinstance(c, C.KeypointBlock)]
    assert [b.predicted for b in blocks] == [False] + [True] * 5  # --kpts-refresh 0


def test_lost_end_and_last_block_keep_the_frame_count(stream, loaded):
    data = stream
    for span in [spans_of(data, "END ")[0], spans_of(data, "KPTS")[-1]]:
        data = without(data, span)
    frames, losses = decode(data, loaded)
    assert len(frames) == FRAMES  # HEAD's count, the lost frames held
    assert losses.end_lost and not losses.truncated


def test_truncated_stream_decodes_its_first_part(stream, loaded):
    last = spans_of(stream, "KPTS")[3]
    frames, losses = decode(stream[: last[0] + last[1] // 2], loaded)
    assert 0 < len(frames) < FRAMES and losses.truncated
    assert [f.index for f in frames] == list(range(len(frames)))


def test_damaged_audio_is_skipped(stream, loaded):
    audi = spans_of(stream, "AUDI")[0]
    frames, losses = decode(flipped(stream, audi[0] + 20), loaded)
    assert len(frames) == FRAMES and losses.audio == 1 and losses.keypoint_blocks == 0


def test_dropped_audio_is_counted(stream, loaded, tmp_path):
    """A dropped AUDI leaves a gap in the audio timing: counted by the receiver and by thc stats,
    and the decoded audio keeps its length (silence for the gap)."""
    from thcodec.stats import stream_stats

    audi = spans_of(stream, "AUDI")
    assert len(audi) >= 3
    bad = without(stream, audi[1])
    frames, losses = decode(bad, loaded)
    assert len(frames) == FRAMES and losses.audio == 1 and "1 audio chunks lost" in losses.summary()
    frames, losses = decode(flipped(stream, audi[1][0] + 20), loaded)
    assert losses.audio == 1  # damaged and reported by the reader: not counted twice with its gap
    (tmp_path / "gap.thc").write_bytes(bad)
    assert stream_stats(tmp_path / "gap.thc").losses.audio_gaps == 1
    assert stream_stats(tmp_path / "gap.thc").warnings == ["damaged file: 1 gaps in the audio (AUDI chunks lost)"]


def test_lost_only_pivot_still_gives_every_frame(stream, loaded):
    """The stream's only pivot dropped: grey frames, the right count; damaged: its picture as it
    came (the sender's pivots have restart markers, so the damage stays in a strip)."""
    pivot = spans_of(stream, "PIVT")[0]
    frames, losses = decode(without(stream, pivot), loaded)
    assert [f.index for f in frames] == list(range(FRAMES)) and losses.pivots == 1
    assert all((f.rgb == 128).all() for f in frames)
    frames, losses = decode(flipped(stream, pivot[0] + pivot[1] // 2), loaded)
    assert [f.index for f in frames] == list(range(FRAMES)) and losses.pivots == 1 and losses.chunks == 1
    assert not (frames[0].rgb == 128).all()


def test_damaged_or_cut_av1_pivot_still_gives_every_frame(clip, loaded):
    """An AV1 pivot (format 2) damaged or cut short: the frame count holds and no error escapes."""
    av1 = encoded(clip, loaded, pivot_codec="av1")
    o, n, _ = spans_of(av1, "PIVT")[0]
    for bad in (flipped(av1, o + n // 2), av1[: o + n // 2] + av1[o + n :]):
        frames, losses = decode(bad, loaded)
        assert [f.index for f in frames] == list(range(FRAMES)) and losses.pivots == 1


@pytest.mark.slow  # every simulator mode on one stream; the receiver fuzz covers the same in the default run
def test_every_simulated_loss_decodes_with_the_right_count(stream, loaded):
    """(The stream's only pivot is spared: without any picture there is nothing to show.)"""
    rng = np.random.default_rng(2)
    pivot = spans_of(stream, "PIVT")[0]
    pivot_bytes = stream[pivot[0] : pivot[0] + pivot[1]]
    tried = 0
    while tried < 3:
        bad = (damage.corrupt_chunks, damage.drop_chunks)[tried % 2](stream, 0.1, rng)
        if pivot_bytes not in bad:
            continue
        frames, _ = decode(bad, loaded)
        assert [f.index for f in frames] == list(range(FRAMES))
        tried += 1


# --- the command line ---------------------------------------------------------------------------


def test_cli_decode_with_losses_exit_code_and_strict(stream, tmp_path):
    bad = tmp_path / "bad.thc"
    bad.write_bytes(without(stream, spans_of(stream, "KPTS")[1]))
    runner = CliRunner()
    result = runner.invoke(app, ["decode", str(bad), str(tmp_path / "out.mp4"), "-q"])
    assert result.exit_code == EXIT_LOSSES == 3, result.output
    assert "decoded with losses" in result.output and (tmp_path / "out.mp4").exists()
    bad.write_bytes(flipped(stream, spans_of(stream, "KPTS")[1][0] + 20))
    result = runner.invoke(app, ["decode", str(bad), str(tmp_path / "strict.mp4"), "-q", "--strict"])
    assert result.exit_code == 1 and "CRC mismatch" in result.output
    assert not (tmp_path / "strict.mp4").exists()


# --- bounded work -------------------------------------------------------------------------------


def test_zstd_frame_declaring_a_huge_size_costs_no_memory():
    import tracemalloc

    cctx = zstandard.ZstdCompressor(write_content_size=True)
    frame = cctx.compress(b"\0" * (64 << 20))  # declares 64 MiB
    magicless = frame[4:]  # the container stores frames without the magic
    tracemalloc.start()
    with pytest.raises(ThcError, match="damaged key-point block"):
        kpq.decompress_block(magicless, 4, 10, None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20


def _head(**kw) -> C.StreamHeader:
    return stream_header(**{"frame_count": 24, **kw})


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(width=8193, height=16), "frames"),
        (dict(width=8000, height=8000), "Mpixel"),
        (dict(fps_num=1, fps_den=1000), "fps"),
        (dict(fps_num=4_000_000_000, fps_den=1), "fps"),
        (dict(frame_count=C.MAX_FRAMES + 1), "frames"),
    ],
)
def test_header_bounds(fields, match):
    with pytest.raises(ThcError, match=match):
        C.check_bounds(_head(**fields))
    C.check_bounds(_head())


def test_audio_time_base_bounds():
    ok = C.AudioHeader(C.AudioCodec.OPUS, 48000, 1, 1, 48000, b"")
    C.check_audio_bounds(ok)
    for num, den in ((1, 10_000_000), (1 << 31, 1 << 32 - 1), (2, 1)):
        with pytest.raises(ThcError, match="time base"):
            C.check_audio_bounds(C.AudioHeader(C.AudioCodec.OPUS, 48000, 1, num, den, b""))


def test_huge_frame_gap_is_refused_not_filled(stream, loaded):
    """A CRC-valid block 2**24 frames on (HEAD's count 0): refused or concealed, never 16 M frames."""
    chunks = tolerant_chunks(stream)[0]
    head = chunks[0]
    crafted = [C.StreamHeader(**{**head.__dict__, "frame_count": 0})]
    for c in chunks[1:]:
        if isinstance(c, C.KeypointBlock) and c.first_frame == 20:
            c = C.KeypointBlock(1 << 24, c.count, c.step, 0, kpq.compress_block(np.zeros((c.count, 10, 6), np.int32), None))
        crafted.append(c)
    buf = io.BytesIO()
    w = C.ContainerWriter(buf)
    w.write_header(crafted[0])
    for c in crafted[1:]:
        w.write(c)
    with pytest.raises(ThcError, match="frames after the last"):
        decode(buf.getvalue(), loaded, strict=True)
    frames, losses = decode(buf.getvalue(), loaded)
    assert len(frames) <= FRAMES and losses.keypoint_blocks == 1


@pytest.mark.slow
def test_tolerant_reader_fuzz_10000(stream):
    """The concealing reader on 10,000 damaged streams: chunks and Damage events, never an
    exception past HEAD, every chunk it yields one the clean stream has (no false resync)."""
    good = tolerant_chunks(stream)[0]
    rng = np.random.default_rng(22)
    for trial in range(10_000):
        kind = trial % 4
        rate = float(rng.choice([0.01, 0.05, 0.1, 0.3]))
        if kind == 0:
            bad = damage.corrupt_chunks(stream, rate, rng)
        elif kind == 1:
            bad = damage.drop_chunks(stream, rate, rng)
        elif kind == 2:
            bad = damage.bit_errors(stream, rate / 100, rng)
        else:
            bad = damage.truncate(stream, rng.uniform(0.1, 1.0))
        chunks, _ = tolerant_chunks(bad)
        assert all(c in good for c in chunks)


def test_a_gap_left_by_a_loss_holds_then_ramps():
    """Across a gap longer than any --interp step (a loss), the last pose is held and the motion
    to the next one takes the gap's last RAMP frames (moving through seconds of lost motion in a
    straight line measured worse: docs/robustness.md)."""
    from thcodec.receiver.timeline import RAMP, KeypointTimeline

    timeline = KeypointTimeline(None)
    a, b = np.zeros((10, 6), np.float32), np.ones((10, 6), np.float32)
    got = dict(timeline.add_pose(0, a))
    got.update(timeline.add_pose(40, b))
    assert sorted(got) == list(range(41))
    assert all((got[i] == 0).all() for i in range(40 - RAMP + 1))
    assert 0 < got[40 - RAMP // 2][0, 0] < 1 and (got[40] == 1).all()
    small = KeypointTimeline(None)
    got = dict(small.add_pose(0, a))
    got.update(small.add_pose(4, b))  # an --interp 4 step: a straight line as before
    assert got[2][0, 0] == pytest.approx(0.5)
