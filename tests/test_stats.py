import math

import numpy as np
import pytest
from conftest import clip_factory

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import jpeg_encode
from thcodec.media.metrics import luma_bt601, mse_y, psnr_from_mse
from thcodec.reference_quality import add_quality
from thcodec.sender.encoder import EncodeOptions, encode
from thcodec.stats import CSV_FIELDS, SCHEMA_VERSION, csv_row, stream_stats


def known_stream(path, frames=50, fps=(25, 1), width=64, height=48):
    """A hand-made stream: every chunk's size is known."""
    jpeg = jpeg_encode(np.full((height, width, 3), 120, np.uint8), 80)
    rng = np.random.default_rng(0)
    fields = kpq.quantize(rng.uniform(-0.5, 0.5, (frames, 10, 2)), np.tile(np.eye(2), (frames, 10, 1, 1)))
    chunks = [
        C.AudioHeader(C.AudioCodec.OPUS, 48000, 1, 1, 48000, b"OpusHead" + bytes(11)),
        C.PivotSwitch(0, C.SwitchReason.START),
        C.Pivot(0, 0, 0, width, height, jpeg),
        C.KeypointBlock(0, frames, 1, 0, kpq.compress_block(fields, None)),
        C.AudioPackets(-312, ((2880, b"\x01" * 30),) * 10),
        C.PivotSwitch(frames // 2, C.SwitchReason.QUALITY),  # reason bookkeeping only
        C.Pivot(frames // 2, 0, 0, width, height, jpeg),
        C.AudioPackets(28488, ((2880, b"\x02" * 25),) * 5),
        C.End(frames),
    ]
    header = C.StreamHeader(width, height, fps[0], fps[1], frames, 256, 10, 1, "test-model", bytes(32))
    with open(path, "wb") as f:
        w = C.ContainerWriter(f)
        w.write_header(header)
        for ch in chunks:
            w.write(ch)
    return header, chunks


def payload(chunks, *types):
    return sum(len(ch.to_payload()) for ch in chunks if isinstance(ch, types))


def test_byte_split_of_a_known_stream(tmp_path):
    path = tmp_path / "known.thc"
    header, chunks = known_stream(path)
    s = stream_stats(path)
    size = path.stat().st_size
    assert s.bytes_total == size == sum(s.bytes_by_category.values())
    assert s.bytes_by_category["pivot"] == payload(chunks, C.Pivot, C.PivotSwitch)
    assert s.bytes_by_category["keypoints"] == payload(chunks, C.KeypointBlock)
    assert s.bytes_by_category["audio"] == payload(chunks, C.AudioHeader, C.AudioPackets)
    # magic + version, HEAD and END whole, 12 bytes of every other chunk
    assert s.bytes_by_category["container"] == (
        C.FILE_HEADER_SIZE + 2 * C.CHUNK_OVERHEAD + len(header.to_payload()) + 4 + C.CHUNK_OVERHEAD * (len(chunks) - 1)
    )
    assert [(p.frame, p.reason) for p in s.pivots] == [(0, "start"), (25, "quality")]
    assert all(p.bytes == len(chunks[2].to_payload()) for p in s.pivots)


def test_rate_formulas_of_a_known_stream(tmp_path):
    path = tmp_path / "known.thc"
    _, chunks = known_stream(path, frames=50, fps=(25, 1))  # 2 s
    s = stream_stats(path)
    size = path.stat().st_size
    assert (s.width, s.height, s.fps, s.frames, s.interp, s.model_id) == (64, 48, 25.0, 50, 1, "test-model")
    assert s.duration_s == 2.0
    assert s.kbps == pytest.approx(size * 8 / 2 / 1000)
    video = payload(chunks, C.Pivot, C.PivotSwitch, C.KeypointBlock)
    assert s.video_bytes == video and s.video_kbps == pytest.approx(video * 8 / 2 / 1000)
    assert s.video_bits_per_pixel == pytest.approx(video * 8 / (50 * 64 * 48))  # audio and container apart
    assert s.audio_kbps == pytest.approx(payload(chunks, C.AudioHeader, C.AudioPackets) * 8 / 2 / 1000)
    assert s.base_share == 0.0
    kp = s.bytes_by_category["keypoints"]
    assert s.keypoint_kbps == pytest.approx(kp * 8 / 2 / 1000)
    assert s.keypoint_bytes_per_frame == pytest.approx(kp / 50)
    assert s.psnr_y is None and s.psnr_rgb is None and s.ssim_rgb is None
    d = s.as_dict()
    assert d["bytes_total"] == size and d["pivots"][1] == {"frame": 25, "reason": "quality", "bytes": s.pivots[1].bytes}


def test_ntsc_rate(tmp_path):
    path = tmp_path / "ntsc.thc"
    known_stream(path, frames=30, fps=(30000, 1001))
    s = stream_stats(path)
    assert s.duration_s == pytest.approx(30 * 1001 / 30000)
    assert s.kbps == pytest.approx(path.stat().st_size * 8 / s.duration_s / 1000)


def test_missing_and_damaged_files(tmp_path):
    with pytest.raises(ThcError, match="cannot read"):
        stream_stats(tmp_path / "missing.thc")
    path = tmp_path / "known.thc"
    known_stream(path)
    data = path.read_bytes()
    (tmp_path / "cut.thc").write_bytes(data[:-5])
    cut = stream_stats(tmp_path / "cut.thc")  # read as the decoder reads it: the losses reported
    assert cut.losses.truncated and cut.losses.regions == 1 and "truncated" in cut.warnings[0]
    assert cut.bytes_total == len(data) - 5
    flipped = bytearray(data)
    flipped[200] ^= 0x40
    (tmp_path / "flip.thc").write_bytes(bytes(flipped))
    flip = stream_stats(tmp_path / "flip.thc")
    assert flip.losses.crc_failures == 1 and sum(flip.losses.by_type.values()) == 1
    assert flip.warnings[0].startswith("damaged file: 1 damaged regions skipped") and flip.bytes_total == len(data)
    assert not stream_stats(path).losses and stream_stats(path).as_dict()["losses"]["regions"] == 0
    (tmp_path / "head.thc").write_bytes(data[:30])
    with pytest.raises(ThcError, match="stream header"):
        stream_stats(tmp_path / "head.thc")  # without HEAD nothing can be said
    (tmp_path / "nopivot.thc").write_bytes(data[: data.index(b"PIVT") + 20])  # cut inside the first pivot
    nopivot = stream_stats(tmp_path / "nopivot.thc")  # the switch marker came, no picture: nothing to show
    assert nopivot.losses.truncated and nopivot.frames == 0 and not nopivot.pivots


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, loaded):
    make = clip_factory(tmp_path_factory.mktemp("stats"))
    clip = make(width=64, height=48, frames=8, audio=True)
    thc = clip.with_suffix(".thc")
    with open(thc, "wb") as f:
        result = encode(clip, f, loaded, EncodeOptions())
    return clip, thc, result, make


def test_stats_of_an_encoded_clip(encoded):
    _, thc, result, _ = encoded
    s = stream_stats(thc)
    assert s.bytes_total == result.bytes_total == thc.stat().st_size
    assert s.frames == result.frames == 8
    with open(thc, "rb") as f:
        counts = {}
        for ch, _ in C.read_chunks(f):
            name = ch.CHUNK_TYPE.decode()
            counts[name] = counts.get(name, 0) + 1
    # the writer's on-disk bytes per type, less 12 bytes per chunk, are the categories' payloads
    bt = result.bytes_by_type

    def payloads(*types):
        return sum(bt.get(t, 0) - C.CHUNK_OVERHEAD * counts.get(t, 0) for t in types)

    assert s.bytes_by_category["pivot"] == payloads("PIVT", "SWCH")
    assert s.bytes_by_category["keypoints"] == payloads("KPTS")
    assert s.bytes_by_category["audio"] == payloads("AUDH", "AUDI") > 0
    assert s.keypoint_bytes_per_frame == pytest.approx(s.bytes_by_category["keypoints"] / 8)


def test_bytes_after_end_are_counted_and_named(encoded, tmp_path):
    _, thc, _, _ = encoded
    appended = tmp_path / "appended.thc"
    appended.write_bytes(thc.read_bytes() + b"x" * 300)
    s, clean = stream_stats(appended), stream_stats(thc)
    assert s.bytes_total == clean.bytes_total + 300 == appended.stat().st_size
    assert s.losses.trailing == 300 and s.losses.regions == 0 and s.frames == clean.frames
    assert s.warnings == ["damaged file: 300 bytes after the END chunk (not read)"]


def test_add_quality_against_the_original(encoded, loaded):
    clip, thc, _, _ = encoded
    s = add_quality(stream_stats(thc), clip, loaded)
    assert math.isfinite(s.psnr_y) and 10 < s.psnr_y < 100 and 10 < s.psnr_rgb < 100
    assert 0 < s.ssim_rgb <= 1
    assert s.compared_frames == 8 and len(s.psnr_y_per_frame) == 8 and not s.warnings
    # ffmpeg's average: the PSNR of the mean MSE, never above the best frame's
    assert s.psnr_y <= max(s.psnr_y_per_frame)


def test_a_reference_of_another_length_or_rate_is_named_in_a_warning(encoded, loaded):
    _, thc, _, make = encoded
    shorter = make(width=64, height=48, frames=5, audio=False)
    s = add_quality(stream_stats(thc), shorter, loaded)
    assert s.compared_frames == 5
    assert any("has 5 frames" in w and str(shorter) in w for w in s.warnings)
    faster = make(width=64, height=48, frames=8, fps=30, audio=False)
    s = add_quality(stream_stats(thc), faster, loaded)
    assert any("30.000 fps" in w for w in s.warnings)


def test_add_quality_refuses_a_reference_of_another_size(encoded, loaded):
    _, thc, _, make = encoded
    other = make(width=32, height=32, frames=2, audio=False)
    with pytest.raises(ThcError, match="reference .* is 32x32, stream .* is 64x48"):
        add_quality(stream_stats(thc), other, loaded)


def test_window_never_longer_than_the_clip(tmp_path):
    path = tmp_path / "short.thc"
    known_stream(path, frames=50, fps=(25, 1))  # 2 s: the worst window is the whole clip
    s = stream_stats(path)
    assert s.window_s == 2.0
    # every byte is due within the clip, so the worst window is the mean rate
    assert s.worst_window_kbps == pytest.approx(s.kbps)


def test_per_frame_sizes_add_up_to_the_video_bytes(tmp_path):
    path = tmp_path / "known.thc"
    _, chunks = known_stream(path, frames=50)
    s = stream_stats(path)
    assert len(s.frame_bytes) == 50
    assert sum(f.video for f in s.frame_bytes) == s.video_bytes
    assert sum(f.keypoints for f in s.frame_bytes) == s.bytes_by_category["keypoints"]
    assert s.frame_bytes[25].pivot == payload(chunks[5:7], C.Pivot, C.PivotSwitch)
    assert s.as_dict()["frame_bytes"] is None and len(s.as_dict(frames=True)["frame_bytes"]) == 50


def test_base_layer_bytes_are_video(tmp_path):
    path = tmp_path / "hybrid.thc"
    header, chunks = known_stream(path, frames=10)
    base = C.BasePackets(0, 2, (b"\x11" * 40, b"\x22" * 30, b"\x33" * 20, b"\x44" * 10, b"\x55" * 5))
    with open(path, "wb") as f:
        w = C.ContainerWriter(f)
        w.write_header(header, C.HYBRID_FORMAT)
        bash = C.BaseHeader(C.BaseCodec.AV1, 64, 2, 55, bytes(32))
        for ch in chunks[:3] + [bash, base] + chunks[3:]:
            w.write(ch)
    s = stream_stats(path)
    n = len(base.to_payload()) + len(bash.to_payload())
    assert s.bytes_by_category["base"] == n and s.base_share == pytest.approx(n / s.video_bytes)
    assert [s.frame_bytes[i].base for i in (2, 4, 6, 8)] == [32, 22, 12, 7]
    assert sum(f.video for f in s.frame_bytes) == s.video_bytes


def test_luma_is_bt601_as_ffmpeg_writes_it():
    import av

    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    y = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()[:48]
    assert np.abs(y.astype(int) - luma_bt601(rgb)).max() <= 1  # swscale's rounding
    assert mse_y(rgb, rgb) == 0 and psnr_from_mse(255.0**2) == 0.0


def test_csv_row_has_every_field(tmp_path):
    path = tmp_path / "known.thc"
    known_stream(path)
    row = csv_row(stream_stats(path))
    assert tuple(row) == CSV_FIELDS and row["schema_version"] == SCHEMA_VERSION and row["psnr_y"] == ""
