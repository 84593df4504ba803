"""Audio out of a damaged or crafted stream (issue 22): the Opus output is limited by the
caller (a packet's declared duration, at most 120 ms), and lost audio is silence for its span,
so what follows keeps its place against the video."""

from __future__ import annotations

import io

import av
import pytest
from conftest import clip_factory

from thcodec.format import damage
from thcodec.media.video_io import AudioPacketData, _AudioTranscoder, encode_audio
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import Losses, decode_file
from thcodec.sender.encoder import encode


def audio_samples(path) -> int:
    with av.open(str(path)) as c:
        return sum(f.samples for f in c.decode(c.streams.audio[0]))


@pytest.mark.slow  # an encode and two decodes; the count of lost audio is in test_concealment
def test_dropped_audio_chunk_is_silence_in_place(tmp_path, loaded):
    clip = clip_factory(tmp_path)(width=64, height=48, frames=60, fps=25, audio=True)
    buf = io.BytesIO()
    encode(clip, buf, loaded, EncodeOptions(adaptive=False, interp=4, motion="detector"))  # the audio is what matters
    data = buf.getvalue()
    audi = [s for s in damage.chunk_spans(data) if s[2] == "AUDI"]
    o, n, _ = audi[1]
    (tmp_path / "clean.thc").write_bytes(data)
    (tmp_path / "gap.thc").write_bytes(data[:o] + data[o + n :])
    for name in ("clean", "gap"):
        losses = Losses()
        decode_file(tmp_path / f"{name}.thc", tmp_path / f"{name}.mkv", loaded, sr="bicubic", losses=losses)
        assert losses.audio == (name == "gap")
    assert audio_samples(tmp_path / "gap.mkv") == audio_samples(tmp_path / "clean.mkv")


class _Stream:
    """A stand-in for the AAC stream: counts what it is given."""

    def __init__(self) -> None:
        self.samples = 0

    def encode(self, frame):
        self.samples += 0 if frame is None else frame.samples
        return []


def test_a_packet_gives_no_more_than_its_declared_duration(tmp_path):
    clip = clip_factory(tmp_path)(width=64, height=48, frames=25, fps=25, audio=True)
    config, packets = encode_audio(clip)
    packets = list(packets)
    for declared, most in ((480, 480), (0, 5760), (60000, 5760)):  # 10 ms; unknown; a lie: at most 120 ms
        out = _Stream()
        t = _AudioTranscoder(config, out)
        p = packets[3]
        t.transcode(AudioPacketData(p.pts, declared, p.data))
        t.flush()
        assert t._in_samples <= most
