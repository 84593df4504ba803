"""Encoder + decoder end to end on tiny synthetic clips, with the committed weights."""

from __future__ import annotations

import dataclasses
import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import clip_factory, demo_head, face_frame, stream_header

from thcodec.errors import ThcError
from thcodec.face.region import Region
from thcodec.format import container as C
from thcodec.media.frames import jpeg_decode
from thcodec.media.metrics import psnr
from thcodec.media.video_io import AudioPacketData, VideoReader, probe
from thcodec.receiver.decoder import Frame, Start, decode_file, decode_stream
from thcodec.sender.encoder import EncodeOptions, encode


def encode_to(src: Path, dst: Path, loaded, **opts):
    with open(dst, "wb") as f:
        return encode(src, f, loaded, EncodeOptions(**opts))


def chunks_of(path: Path) -> list:
    with open(path, "rb") as f:
        return [ch for ch, _ in C.read_chunks(f)]


def decoded_frames(path: Path, loaded, strict: bool = True, losses=None) -> list[Frame]:
    with open(path, "rb") as f:
        return [e for e in decode_stream(f, loaded, strict=strict, losses=losses) if isinstance(e, Frame)]


def rewrite(src: Path, dst: Path, change) -> None:
    """Copy a .thc chunk by chunk through the container API, letting change() replace chunks."""
    chunks = [change(ch) for ch in chunks_of(src)]
    with open(dst, "wb") as f:
        w = C.ContainerWriter(f)
        w.write_header(chunks[0])
        for ch in chunks[1:]:
            w.write(ch)


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.sample_rate


# --- round trips ------------------------------------------------------------------------


# One clip and its encoding, shared by the module's tests (which must not modify them).
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clip_factory(tmp_path_factory.mktemp("codec"))(width=64, height=48, frames=12, fps=25, audio=True)


@pytest.fixture(scope="module")
def encoded(clip, loaded):
    thc = clip.with_suffix(".thc")
    return thc, encode_to(clip, thc, loaded, interp=1)


def test_round_trip_keeps_count_size_and_rate(clip, encoded, tmp_path, loaded):
    thc, result = encoded
    assert result.frames == 12
    assert result.duration_s == pytest.approx(12 / 25)
    assert result.bytes_total == thc.stat().st_size
    assert sum(result.bytes_by_type.values()) + C.FILE_HEADER_SIZE == result.bytes_total
    # a flat synthetic picture has no face: a warning, and the whole frame is the region
    assert result.region == Region(0, 0, 64, 48)
    assert any("no face" in w for w in result.warnings)

    chunks = chunks_of(thc)
    head = chunks[0]
    assert (head.width, head.height, Fraction(head.fps_num, head.fps_den)) == (64, 48, 25)
    assert (head.model_id, head.weights_sha256, head.num_kp) == (loaded.model_id, loaded.weights_sha256, 10)
    assert isinstance(chunks[-1], C.End) and chunks[-1].frame_count == 12
    kp_frames = [i for ch in chunks if isinstance(ch, C.KeypointBlock) for i in range(ch.first_frame, ch.first_frame + ch.count)]
    assert kp_frames == list(range(12))

    out = tmp_path / "back.mp4"
    assert decode_file(thc, out, loaded) == 12
    info = probe(out)
    src = probe(clip)
    assert (info.width, info.height, info.fps) == (src.width, src.height, src.fps) == (64, 48, 25)
    with VideoReader(out) as reader:
        frames = list(reader)
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)


def test_decoded_frames_resemble_the_input(clip, encoded, loaded):
    thc, _ = encoded
    frames = decoded_frames(thc, loaded)
    assert [f.index for f in frames] == list(range(12))
    assert all(f.rgb.shape == (48, 64, 3) for f in frames)


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    """The first 30 frames of the bundled example (a real talking head), and what the codec makes of them."""
    return demo_head(tmp_path_factory.mktemp("talking") / "demo30.mkv", 30)


def test_decoded_talking_head_follows_the_source(talking, tmp_path, loaded):
    """A broken decoder fails this: a grey or mean-colour frame scores ~10 dB; a frozen pivot (the
    receiver not animating) scores 2-4 dB below the codec once the head has moved (measured on
    this clip: decoded 20-24 dB from frame 3 on, 34 dB at frame 0; frozen 17-23 dB)."""
    source, path = talking
    thc = tmp_path / "demo30.thc"
    encode_to(path, thc, loaded, audio=False)
    out = [f.rgb for f in decoded_frames(thc, loaded)]
    assert len(out) == len(source) == 30
    decoded_db = [psnr(o, s) for o, s in zip(out, source)]
    frozen_db = [psnr(source[0], s) for s in source]
    assert decoded_db[0] > 30  # frame 0 is the pivot animated by its own key points
    assert min(decoded_db) > 18 and np.mean(decoded_db) > 20
    # where the head has moved, the animated frames beat the frozen pivot on every frame
    moved = range(9, 30)
    assert all(decoded_db[i] > frozen_db[i] + 1.0 for i in moved)
    assert np.mean([decoded_db[i] - frozen_db[i] for i in moved]) > 2.5
    # and the decoded frames themselves move
    assert all(psnr(out[i], out[0]) < 30 for i in moved)


def test_interp_keeps_frame_count_and_sends_fewer_keypoints(clip, encoded, tmp_path, loaded):
    _, full = encoded
    kpts = [full.bytes_by_type["KPTS"]]
    for interp in (2, 3):
        thc = tmp_path / f"interp{interp}.thc"
        result = encode_to(clip, thc, loaded, interp=interp)
        assert result.frames == 12
        kpts.append(result.bytes_by_type["KPTS"])
        chunks = chunks_of(thc)
        assert chunks[0].interp == interp
        sent = [ch.first_frame + i * ch.step for ch in chunks if isinstance(ch, C.KeypointBlock) for i in range(ch.count)]
        assert sent == sorted(set(range(0, 12, interp)) | {11})  # every interp-th frame and the last
        frames = decoded_frames(thc, loaded)
        assert [f.index for f in frames] == list(range(12))
        assert all(f.rgb.shape == (48, 64, 3) for f in frames)
    assert kpts[0] > kpts[1] > kpts[2]


# --- audio ------------------------------------------------------------------------------


def test_audio_survives(clip, encoded, tmp_path, loaded):
    thc, result = encoded
    assert "AUDH" in result.bytes_by_type and "AUDI" in result.bytes_by_type
    audi = [ch for ch in chunks_of(thc) if isinstance(ch, C.AudioPackets)]
    # 0.48 s of audio: one chunk of 60 ms packets (the last may be shorter), maybe one more at the end
    assert 1 <= len(audi) <= 2
    assert all(d == 2880 for ch in audi for d, _ in ch.packets[:-1])
    out = tmp_path / "back.mp4"
    decode_file(thc, out, loaded)
    assert probe(out).has_audio
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.03)

    silent = tmp_path / "silent.mp4"
    decode_file(thc, silent, loaded, with_audio=False)
    assert not probe(silent).has_audio


def test_no_audio_option_and_silent_input(make_clip, clip, tmp_path, loaded):
    result = encode_to(clip, tmp_path / "a.thc", loaded, audio=False)
    assert "AUDH" not in result.bytes_by_type and "AUDI" not in result.bytes_by_type
    result = encode_to(make_clip(frames=3, audio=False), tmp_path / "b.thc", loaded)
    assert "AUDI" not in result.bytes_by_type
    decode_file(tmp_path / "b.thc", tmp_path / "b.mp4", loaded)
    assert not probe(tmp_path / "b.mp4").has_audio


def test_audio_longer_than_video_is_kept_in_one_second_chunks(make_clip, tmp_path, loaded):
    clip = make_clip(frames=2, audio_seconds=2.5)
    thc = tmp_path / "long_audio.thc"
    encode_to(clip, thc, loaded)
    audi = [ch for ch in chunks_of(thc) if isinstance(ch, C.AudioPackets)]
    spans = [sum(d for d, _ in ch.packets) for ch in audi]
    # what is due before the last video frame (t = 0.04 s) comes first, then the rest in <= 1 s runs
    assert len(audi) == 4 and len(audi[0].packets) == 1
    assert all(s <= 48000 + 2880 for s in spans)
    assert [len(ch.packets) for ch in audi[1:3]] == [17, 17]
    for a, b in zip(audi, audi[1:]):  # back to back
        assert b.pts == a.pts + sum(d for d, _ in a.packets)
    out = tmp_path / "long_audio.mp4"
    assert decode_file(thc, out, loaded) == 2
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.03)


# --- faces ------------------------------------------------------------------------------


def test_face_in_a_wide_frame_round_trip(make_clip, tmp_path, loaded):
    clip = make_clip(width=160, height=96, frames=6, audio=False, picture=face_frame)
    thc = tmp_path / "face.thc"
    result = encode_to(clip, thc, loaded)
    assert result.warnings == []
    r = result.region
    assert r.w == r.h and r.w % 2 == 0 and r.w < 96 and r.x + r.w <= 160 and r.y + r.h <= 96
    pivot = next(ch for ch in chunks_of(thc) if isinstance(ch, C.Pivot))
    assert (pivot.x, pivot.y, pivot.w, pivot.h) == (r.x, r.y, r.w, r.h)
    background = jpeg_decode(pivot.image, 160, 96)
    frames = decoded_frames(thc, loaded)
    assert len(frames) == 6
    outside = np.ones((96, 160), bool)
    outside[r.y : r.y + r.h, r.x : r.x + r.w] = False
    for f in frames:  # outside the face region every frame is the pivot's picture
        assert f.rgb.shape == (96, 160, 3)
        assert np.array_equal(f.rgb[outside], background[outside])
    decode_file(thc, tmp_path / "face.mp4", loaded)
    assert (probe(tmp_path / "face.mp4").width, probe(tmp_path / "face.mp4").height) == (160, 96)


# --- determinism ------------------------------------------------------------------------


def test_encoding_is_deterministic(clip, encoded, tmp_path, loaded):
    thc, _ = encoded
    again = tmp_path / "again.thc"
    encode_to(clip, again, loaded, interp=1)
    assert again.read_bytes() == thc.read_bytes()


def test_decoding_is_deterministic(encoded, loaded):
    thc, _ = encoded
    a, b = decoded_frames(thc, loaded), decoded_frames(thc, loaded)
    assert len(a) == len(b) == 12
    assert all(x.index == y.index and np.array_equal(x.rgb, y.rgb) for x, y in zip(a, b))


# --- refusals ---------------------------------------------------------------------------


def test_stream_for_other_weights_is_refused(encoded, tmp_path, loaded):
    thc, _ = encoded
    other = tmp_path / "other.thc"
    flipped = bytes([loaded.weights_sha256[0] ^ 1]) + loaded.weights_sha256[1:]
    rewrite(thc, other, lambda ch: dataclasses.replace(ch, weights_sha256=flipped) if isinstance(ch, C.StreamHeader) else ch)
    assert chunks_of(other)[0].weights_sha256 == flipped
    with pytest.raises(ThcError, match="made with model .* this thcodec has"):
        decode_file(other, tmp_path / "x.mp4", loaded)
    assert not (tmp_path / "x.mp4").exists()  # refused before anything is written

    renamed = tmp_path / "renamed.thc"
    rewrite(thc, renamed, lambda ch: dataclasses.replace(ch, model_id="other-model") if isinstance(ch, C.StreamHeader) else ch)
    with pytest.raises(ThcError, match="other-model"):
        decode_file(renamed, tmp_path / "y.mp4", loaded)


def test_rewrite_without_change_decodes_the_same(encoded, tmp_path, loaded):
    thc, _ = encoded
    copy = tmp_path / "copy.thc"
    rewrite(thc, copy, lambda ch: ch)
    assert copy.read_bytes() == thc.read_bytes()


def header_for(loaded, **kw) -> C.StreamHeader:
    return stream_header(model_id=loaded.model_id, weights_sha256=loaded.weights_sha256, **kw)


def stream(loaded, *chunks) -> io.BytesIO:
    buf = io.BytesIO()
    w = C.ContainerWriter(buf)
    w.write_header(header_for(loaded))
    for ch in chunks:
        w.write(ch)
    buf.seek(0)
    return buf


def test_decoder_yields_one_event_per_audio_packet(loaded):
    audh = C.AudioHeader(C.AudioCodec.OPUS, 48000, 1, 1, 48000, b"OpusHead")
    a1 = C.AudioPackets(-312, ((2880, b"a"), (2880, b"b"), (1000, b"c")))
    a2 = C.AudioPackets(10000, ((2880, b"d"),))
    events = list(decode_stream(stream(loaded, audh, a1, a2, C.End(0)), loaded))
    assert isinstance(events[0], Start) and events[0].audio.extradata == b"OpusHead"
    assert events[1:] == [
        AudioPacketData(-312, 2880, b"a"),
        AudioPacketData(2568, 2880, b"b"),
        AudioPacketData(5448, 1000, b"c"),
        AudioPacketData(10000, 2880, b"d"),
    ]


def test_decoder_refuses_audio_without_header(loaded):
    with pytest.raises(ThcError, match="audio packet without an audio header"):
        list(decode_stream(stream(loaded, C.AudioPackets(0, ((960, b"x"),)), C.End(0)), loaded, strict=True))


def test_decoder_refuses_wrong_end_count(encoded, tmp_path, loaded):
    thc, _ = encoded
    bad = tmp_path / "bad_end.thc"
    rewrite(thc, bad, lambda ch: C.End(13) if isinstance(ch, C.End) else ch)
    with pytest.raises(ThcError, match="12 frames decoded, END says 13"):
        decoded_frames(bad, loaded)
