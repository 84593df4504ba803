from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import square_frame

from thcodec.errors import ThcError
from thcodec.media.video_io import (
    AudioConfig,
    VideoInfo,
    VideoReader,
    VideoWriter,
    encode_audio,
    probe,
)


def read_all(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return list(reader)


def source_index(rgb: np.ndarray, candidates: int) -> int:
    """Which square_frame(i) this decoded frame shows (nearest by mean absolute error)."""
    h, w, _ = rgb.shape
    errors = [np.abs(rgb.astype(int) - square_frame(i, w, h)).mean() for i in range(candidates)]
    return int(np.argmin(errors))


def copy_clip(src: Path, dst: Path, with_audio: bool = False) -> None:
    audio = encode_audio(src) if with_audio else None
    with VideoReader(src) as reader:
        info = reader.info
        with VideoWriter(dst, info.width, info.height, info.fps, audio[0] if audio else None) as w:
            for rgb in reader:
                w.write_frame(rgb)
            if audio:
                for packet in audio[1]:
                    w.write_audio(packet)


def test_probe_and_read(make_clip):
    clip = make_clip(width=64, height=48, frames=10, fps=25)
    info = probe(clip)
    assert info == VideoInfo(64, 48, Fraction(25), 10, pytest.approx(0.4), True)
    frames = read_all(clip)
    assert len(frames) == 10
    for i, rgb in enumerate(frames):
        assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
        assert np.abs(rgb.astype(int) - square_frame(i, 64, 48)).mean() < 6


def test_no_audio_flag(make_clip):
    clip = make_clip(audio=False)
    assert probe(clip).has_audio is False
    assert encode_audio(clip) is None


def test_odd_size_round_trip_keeps_size_in_lossless_mkv(make_clip, tmp_path):
    clip = make_clip(width=65, height=49, frames=6)
    out = tmp_path / "odd.mkv"
    copy_clip(clip, out)
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (65, 49, 6)
    frames = read_all(out)
    assert [f.shape for f in frames] == [(49, 65, 3)] * 6
    assert [source_index(f, 6) for f in frames] == list(range(6))


def test_even_size_is_plain_yuv420p(make_clip, tmp_path):
    out = tmp_path / "even.mp4"
    copy_clip(make_clip(frames=3), out)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_ntsc_rate_is_exact(tmp_path):
    fps = Fraction(30000, 1001)
    out = tmp_path / "ntsc.mp4"
    with VideoWriter(out, 32, 32, fps) as writer:
        for i in range(12):
            writer.write_frame(square_frame(i, 32, 32))
    info = probe(out)
    assert info.fps == fps
    assert info.frame_count == 12
    assert len(read_all(out)) == 12


def test_variable_frame_rate_becomes_constant(make_clip):
    # slots at 25 fps: 0 1 2 5 5.25 5.75 6.25 7 8 9 -> a gap (repeat) and a burst (drop)
    times = [0, 0.04, 0.08, 0.20, 0.21, 0.23, 0.25, 0.28, 0.32, 0.36]
    clip = make_clip(frame_times=times, fps=25)
    info = probe(clip)
    assert info.fps == 25
    frames = read_all(clip)
    assert len(frames) == info.frame_count == round(info.duration_s * 25) == 10
    assert [source_index(f, 10) for f in frames] == [0, 1, 2, 2, 2, 3, 5, 7, 8, 9]


def test_audio_round_trip(make_clip, tmp_path):
    clip = make_clip(frames=25, audio_seconds=1.0, sample_rate=44100, layout="stereo")
    result = encode_audio(clip, bitrate=16000)
    assert result is not None
    config, packets = result
    assert isinstance(config, AudioConfig)
    assert (config.codec, config.sample_rate, config.channels) == ("opus", 48000, 1)
    assert config.extradata.startswith(b"OpusHead")
    packets = list(packets)
    assert [p.pts for p in packets] == sorted(p.pts for p in packets)
    assert sum(len(p.data) for p in packets) < 16000 / 8 * 1.0 * 2  # about 16 kbit/s

    out = tmp_path / "with_audio.mp4"
    with VideoReader(clip) as reader, VideoWriter(out, 64, 48, reader.info.fps, config) as writer:
        for rgb in reader:
            writer.write_frame(rgb)
        for packet in packets:
            writer.write_audio(packet)

    assert probe(out).has_audio
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert float(stream.duration * stream.time_base) == pytest.approx(1.0, abs=0.1)
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
    assert samples.size / 48000 == pytest.approx(1.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * 48000 / samples.size
    assert peak_hz == pytest.approx(440, abs=15)


def test_opus_packets_are_60_ms(make_clip):
    config, packets = encode_audio(make_clip(frames=2, audio_seconds=0.5), bitrate=12000)
    packets = list(packets)
    assert config.time_base == Fraction(1, 48000)
    assert [p.duration for p in packets[:-1]] == [2880] * (len(packets) - 1)  # 60 ms at 48 kHz
    assert 0 < packets[-1].duration <= 2880
    assert all(b.pts == a.pts + a.duration for a, b in zip(packets, packets[1:]))  # no gaps
    # pre-skip first, then the input's samples (AAC pads its last frame: up to 1024 more at 44.1 kHz)
    assert packets[0].pts < 0
    assert packets[-1].pts + packets[-1].duration == pytest.approx(24000, abs=1200)


def test_not_a_media_file(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n" * 20)
    with pytest.raises(ThcError, match="not a media file"):
        VideoReader(bogus)
    with pytest.raises(ThcError, match="not a media file"):
        encode_audio(bogus)


def test_text_file_is_not_a_video(tmp_path):
    # FFmpeg's "tty" demuxer would happily render a .txt file as video
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n" * 50)
    with pytest.raises(ThcError, match="not a media file"):
        probe(notes)


def test_missing_file(tmp_path):
    with pytest.raises(ThcError, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_audio_only_file(make_clip):
    clip = make_clip(video=False)
    with pytest.raises(ThcError, match=r"has no video stream \(audio only\?\)"):
        probe(clip)


def test_writer_rejects_wrong_frame(tmp_path):
    with VideoWriter(tmp_path / "x.mp4", 32, 24, Fraction(25)) as writer:
        with pytest.raises(ValueError):
            writer.write_frame(np.zeros((24, 33, 3), np.uint8))
        with pytest.raises(ValueError):
            writer.write_frame(np.zeros((24, 32, 3), np.float32))
        with pytest.raises(ValueError):
            writer.write_audio(None)  # opened without audio


def test_reader_iterates_once(make_clip):
    with VideoReader(make_clip(frames=2, audio=False)) as reader:
        assert len(list(reader)) == 2
        with pytest.raises(RuntimeError):
            iter(reader)


def test_bundled_demo_clip():
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo.mp4"
    assert demo.stat().st_size < 1_500_000
    info = probe(demo)
    assert (info.width, info.height, info.fps, info.frame_count) == (256, 256, Fraction(25), 150)
    assert info.has_audio


@pytest.mark.parametrize(("layout", "fmt"), [("stereo", "s16"), ("5.1", "fltp")])
def test_audio_is_downmixed_to_mono_at_its_own_level(layout, fmt):
    """swresample's downmix to float is not normalised (stereo about +3 dB, 5.1 up to +9 dB,
    clipping): the sender downmixes as `ffmpeg -ac 1` does to integers, never above full scale,
    and the same signal on every channel keeps its level."""
    from thcodec.media.video_io import _mono

    t = np.arange(4800) / 48000
    tone = 0.6 * np.sin(2 * np.pi * 440 * t)
    channels = len(av.AudioLayout(layout).channels)
    if fmt == "s16":
        data = np.repeat((tone * 32767).astype(np.int16)[None], channels, 0).T.reshape(1, -1)
    else:
        data = np.repeat(tone.astype(np.float32)[None], channels, 0)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout=layout)
    frame.sample_rate = 48000
    mono = np.concatenate([f.to_ndarray()[0] for f in _mono(iter([frame]))])
    assert mono.shape == (4800,) and np.abs(mono - tone).max() < 2e-3


def _stored_sideways(path: Path, width: int, height: int) -> np.ndarray:
    """An MP4 whose frames are stored as they come and whose track header's display matrix
    says to turn them a quarter clockwise (as a phone writes a portrait recording); -> the
    stored first frame."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[: height // 4, : width // 3] = 255  # a mark in the top-left corner
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for _ in range(3):
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(s.encode(None))
    data = bytearray(path.read_bytes())
    tkhd = data.find(b"tkhd")
    version = data[tkhd + 4]
    matrix = tkhd + 8 + (32 if version == 1 else 20) + 16  # after the times, duration, reserved, layer, group, volume
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def test_a_sideways_recording_is_read_upright(tmp_path):
    clip = tmp_path / "portrait.mp4"
    stored = _stored_sideways(clip, 64, 48)
    with VideoReader(clip) as r:
        assert (r.info.width, r.info.height) == (48, 64)
        first = next(iter(r))
    assert first.shape == (64, 48, 3) and np.array_equal(first, np.rot90(stored, -1))
    assert first[:8, -10:].mean() > 200  # the top-left mark, turned a quarter clockwise: top right
