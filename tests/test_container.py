import io
import struct
import zlib

import pytest

from thcodec.errors import ThcError
from thcodec.format import container as c

SHA = bytes(range(32))
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg body" + b"\xff\xd9"


def header(**kw):
    base = dict(
        width=1280,
        height=720,
        fps_num=30000,
        fps_den=1001,
        frame_count=0,
        model_size=256,
        num_kp=10,
        interp=1,
        model_id="fomm-vox-v1",
        weights_sha256=SHA,
    )
    base.update(kw)
    return c.StreamHeader(**base)


def sample_chunks():
    return [
        c.AudioHeader(c.AudioCodec.OPUS, 48000, 1, 1, 48000, b"OpusHead\x01\x01"),
        c.PivotSwitch(0, c.SwitchReason.START),
        c.Pivot(0, 100, 50, 400, 400, JPEG),
        c.KeypointBlock(0, 25, 1, 0, b"kp-block-0"),
        c.AudioPackets(-312, ((2880, b"\x01\x02\x03"), (2880, b"\x04"))),
        c.KeypointBlock(25, 25, 1, c.KPTS_FLAG_PREDICTED, b"kp-block-1"),
        c.End(50),
    ]


def write_file(h=None, chunks=None) -> bytes:
    buf = io.BytesIO()
    with c.ContainerWriter(buf) as w:
        w.write_header(h or header())
        for ch in sample_chunks() if chunks is None else chunks:
            w.write(ch)
    return buf.getvalue()


def read_all(data: bytes):
    return list(c.read_chunks(io.BytesIO(data)))


def raw_chunk(ctype: bytes, payload: bytes, crc=None) -> bytes:
    crc = zlib.crc32(ctype + payload) if crc is None else crc
    return ctype + struct.pack(">I", len(payload)) + payload + struct.pack(">I", crc)


PREAMBLE = c.MAGIC + struct.pack(">H", 1)


def head_raw():
    return raw_chunk(b"HEAD", header().to_payload())


# --- chunk payloads ---------------------------------------------------------------------

EDGE_CHUNKS = [
    header(),
    header(
        width=65535,
        height=65535,
        fps_num=0xFFFFFFFF,
        fps_den=0xFFFFFFFF,
        frame_count=0xFFFFFFFF,
        model_size=65535,
        num_kp=255,
        interp=255,
        model_id="m" * 255,
        weights_sha256=b"\xff" * 32,
    ),
    header(width=1, height=1, fps_num=1, fps_den=1, model_size=1, num_kp=1, interp=0, model_id="", weights_sha256=b"\0" * 32),
    c.Pivot(0, 0, 0, 1, 1, b"\xff\xd8"),
    c.Pivot(0xFFFFFFFF, 65535, 65535, 65535, 65535, JPEG),
    *[c.PivotSwitch(i, r) for i, r in zip([0, 1, 2, 3, 0xFFFFFFFF], c.SwitchReason)],
    c.KeypointBlock(0, 0, 1, 0, b""),
    c.KeypointBlock(0xFFFFFFFF, 65535, 255, c.KPTS_FLAG_PREDICTED, b"\0" * 100),
    c.AudioHeader(c.AudioCodec.OPUS, 48000, 2, 1, 48000, b""),
    c.AudioHeader(c.AudioCodec.OPUS, 0xFFFFFFFF, 255, 0xFFFFFFFF, 0xFFFFFFFF, b"x" * 65535),
    c.AudioPackets(-(2**63), ((0, b""),)),
    c.AudioPackets(2**63 - 1, ((0, b"\0" * 1000),)),
    c.AudioPackets(2**63 - 0x10000, ((0xFFFF, b"\0" * 300),)),
    c.AudioPackets(-1, ((20, b"pkt"), (2880, b""), (1, b"x"))),
    c.AudioPackets(0, tuple((2880, bytes([i])) for i in range(100))),
    c.End(0),
    c.End(0xFFFFFFFF),
]


@pytest.mark.parametrize("chunk", EDGE_CHUNKS, ids=lambda ch: type(ch).__name__)
def test_payload_round_trip(chunk):
    payload = chunk.to_payload()
    back = type(chunk).from_payload(payload)
    assert back == chunk
    assert back.to_payload() == payload


def test_type_ids_are_explicit():
    assert {k: v.__name__ for k, v in c.CHUNK_TYPES.items()} == {
        b"HEAD": "StreamHeader",
        b"PIVT": "Pivot",
        b"SWCH": "PivotSwitch",
        b"KPTS": "KeypointBlock",
        b"AUDH": "AudioHeader",
        b"AUDI": "AudioPackets",
        b"BASH": "BaseHeader",
        b"BASE": "BasePackets",
        b"SCNH": "SceneHeader",
        b"SCNE": "ScenePackets",
        b"END ": "End",
    }
    assert [int(r) for r in c.SwitchReason] == [0, 1, 2, 3, 4]
    assert int(c.AudioCodec.OPUS) == 1
    assert int(c.BaseCodec.AV1) == 1


def test_head_payload_layout():
    h = header(model_id="ab")
    assert h.to_payload() == (struct.pack(">HHIIIHBBB", 1280, 720, 30000, 1001, 0, 256, 10, 1, 2) + b"ab" + SHA)


def test_other_payload_layouts():
    assert c.Pivot(7, 1, 2, 3, 4, JPEG).to_payload() == bytes.fromhex("00000007 0001 0002 0003 0004") + JPEG
    assert c.PivotSwitch(9, c.SwitchReason.SCENE_CUT).to_payload() == bytes.fromhex("00000009 03")
    assert c.KeypointBlock(5, 25, 2, 1, b"z").to_payload() == bytes.fromhex("00000005 0019 02 01") + b"z"
    assert (
        c.AudioHeader(1, 48000, 1, 1, 48000, b"e").to_payload() == bytes.fromhex("01 0000bb80 01 00000001 0000bb80 0001") + b"e"
    )
    assert (
        c.AudioPackets(-2, ((960, b"p"), (2880, b"qr"))).to_payload()
        == bytes.fromhex("fffffffffffffffe 0002 03c0 0001") + b"p" + bytes.fromhex("0b40 0002") + b"qr"
    )
    assert c.End(3).to_payload() == bytes.fromhex("00000003")


@pytest.mark.parametrize("chunk", EDGE_CHUNKS, ids=lambda ch: type(ch).__name__)
def test_payload_trailing_or_missing_bytes(chunk):
    payload = chunk.to_payload()
    cls = type(chunk)
    for cut in range(len(payload)):
        try:
            short = cls.from_payload(payload[:cut])
        except ThcError:
            continue
        # Only types whose payload ends in an open-ended byte string may parse a prefix.
        assert cls in (c.Pivot, c.KeypointBlock)
        assert short != chunk
    if cls in (c.StreamHeader, c.PivotSwitch, c.AudioHeader, c.AudioPackets, c.End):
        with pytest.raises(ThcError, match="trailing"):
            cls.from_payload(payload + b"\0")


@pytest.mark.parametrize(
    "cls,payload",
    [
        (c.Pivot, bytes(12) + b"\x89PNG"),  # not a JPEG
        (c.Pivot, bytes(8) + b"\0\0" + b"\0\x01" + JPEG),  # w = 0
        (c.PivotSwitch, bytes(4) + b"\x05"),  # unknown reason
        (c.KeypointBlock, bytes(4) + b"\0\x01" + b"\0" + b"\0"),  # step 0
        (c.KeypointBlock, bytes(4) + b"\0\x01" + b"\x01" + b"\x02"),  # reserved flag
        (c.AudioHeader, b"\x02" + bytes.fromhex("0000bb80 01 00000001 0000bb80 0000")),  # codec
        (c.AudioHeader, b"\x01" + bytes.fromhex("0000bb80 00 00000001 0000bb80 0000")),  # 0 channels
        (c.AudioHeader, b"\x01" + bytes.fromhex("0000bb80 01 00000001 00000000 0000")),  # tb den 0
        (c.StreamHeader, struct.pack(">HHIIIHBBB", 0, 1, 1, 1, 0, 256, 10, 0, 0) + SHA),  # width 0
        (c.StreamHeader, struct.pack(">HHIIIHBBB", 1, 1, 1, 0, 0, 256, 10, 0, 0) + SHA),  # fps_den 0
        (c.StreamHeader, struct.pack(">HHIIIHBBB", 1, 1, 1, 1, 0, 256, 10, 0, 1) + b"\xe9" + SHA),
        (c.StreamHeader, struct.pack(">HHIIIHBBB", 1, 1, 1, 1, 0, 256, 10, 0, 5) + b"ab" + SHA),
    ],
)
def test_bad_payloads(cls, payload):
    with pytest.raises(ThcError):
        cls.from_payload(payload)


def audi(pts: int, *packets: tuple[int, bytes]) -> bytes:
    """A hand-built AUDI payload."""
    return struct.pack(">qH", pts, len(packets)) + b"".join(struct.pack(">HH", d, len(x)) + x for d, x in packets)


def test_audio_packets_layout_and_times():
    chunk = c.AudioPackets(-312, ((2880, b"ab"), (2880, b""), (1080, b"c")))
    assert chunk.to_payload() == audi(-312, (2880, b"ab"), (2880, b""), (1080, b"c"))
    assert len(chunk.to_payload()) == 10 + 4 * 3 + 3
    assert chunk.with_pts() == [(-312, 2880, b"ab"), (2568, 2880, b""), (5448, 1080, b"c")]
    # lists are accepted and normalised, so equality does not depend on the container type
    assert c.AudioPackets(-312, [[2880, b"ab"], (2880, b""), (1080, b"c")]) == chunk


def test_audio_packets_largest():
    big = c.AudioPackets(0, ((0xFFFF, b"\xaa" * 0xFFFF), (1, b"")))
    assert c.AudioPackets.from_payload(big.to_payload()) == big
    many = c.AudioPackets(5, ((1, b""),) * 0xFFFF)
    payload = many.to_payload()
    assert len(payload) == 10 + 4 * 0xFFFF
    back = c.AudioPackets.from_payload(payload)
    assert back == many and back.with_pts()[-1][0] == 5 + 0xFFFE


@pytest.mark.parametrize(
    "payload,match",
    [
        (audi(0), "no packets"),
        (audi(0, (960, b"abc"))[:-1], "too short"),  # size says 3, 2 bytes there
        (audi(0, (960, b"abc")) + b"\0", "trailing"),
        (audi(0, (960, b"abc"), (960, b"d"))[:-5], "too short"),  # second packet header cut
        (struct.pack(">qH", 0, 2) + struct.pack(">HH", 960, 1) + b"x", "too short"),  # count too big
        (struct.pack(">qH", 0, 1) + struct.pack(">HH", 960, 5) + b"x", "too short"),  # size too big
        (audi(2**63 - 10, (5, b""), (6, b"")), "end pts"),  # run ends past the i64 range
        (struct.pack(">q", 0) + b"\0", "too short"),
    ],
)
def test_audio_packets_bad_payloads(payload, match):
    with pytest.raises(ThcError, match=match):
        c.AudioPackets.from_payload(payload)


def test_audio_packets_encode_side_errors():
    for bad in [
        dict(pts=0, packets=()),
        dict(pts=0, packets=((0x10000, b""),)),
        dict(pts=0, packets=((-1, b""),)),
        dict(pts=0, packets=((1, b"\0" * 0x10000),)),
        dict(pts=0, packets=((1, "text"),)),
        dict(pts=0, packets=((1, b"", 2),)),
        dict(pts=0, packets=((1, b""),) * 0x10000),
        dict(pts=2**63 - 1, packets=((1, b""),)),
        dict(pts=0, packets=b"not packets"),
    ]:
        with pytest.raises(ValueError):
            c.AudioPackets(**bad)


def test_encode_side_range_errors_are_bugs():
    with pytest.raises(ValueError):
        header(width=65536)
    with pytest.raises(ValueError):
        c.AudioPackets(2**63, ((0, b""),))
    with pytest.raises(ValueError):
        c.End(-1)
    with pytest.raises(ValueError):
        header(model_id="é")


# --- whole files ------------------------------------------------------------------------


def test_file_round_trip_and_sizes():
    data = write_file()
    got = read_all(data)
    assert [ch for ch, _ in got] == [header()] + sample_chunks()
    assert c.FILE_HEADER_SIZE + sum(n for _, n in got) == len(data)
    assert all(n == c.CHUNK_OVERHEAD + len(ch.to_payload()) for ch, n in got)


def test_writer_stats_and_order():
    buf = io.BytesIO()
    w = c.ContainerWriter(buf)
    with pytest.raises(RuntimeError):
        w.write(c.End(0))
    w.write_header(header())
    for ch in sample_chunks():
        w.write(ch)
    with pytest.raises(RuntimeError):
        w.write(c.End(0))
    w.close()
    assert w.bytes_written == len(buf.getvalue())
    assert w.bytes_written == c.FILE_HEADER_SIZE + sum(w.bytes_by_type.values())
    assert set(w.bytes_by_type) == {"HEAD", "AUDH", "SWCH", "PIVT", "KPTS", "AUDI", "END "}
    assert w.bytes_by_type["KPTS"] == 2 * 12 + 2 * 8 + len(b"kp-block-0") + len(b"kp-block-1")


def test_file_layout_bytes():
    data = write_file(chunks=[c.End(7)])
    assert data[:10] == b"\x89THC\r\n\x1a\n\x00\x01"
    end = data[-16:]
    assert end == b"END " + b"\0\0\0\x04" + b"\0\0\0\x07" + struct.pack(">I", zlib.crc32(b"END \0\0\0\x07"))


def test_bad_magic():
    with pytest.raises(ThcError, match="not a .thc file"):
        read_all(b"\x89PNG\r\n\x1a\n" + write_file()[8:])
    with pytest.raises(ThcError, match="not a .thc file"):
        read_all(b"")


def test_newer_version():
    data = bytearray(write_file())
    data[8:10] = b"\x00\x04"
    with pytest.raises(ThcError, match=r"made by a newer thcodec \(format 4\), this one reads format 3"):
        read_all(bytes(data))


def base_chunks():
    return [c.BaseHeader(c.BaseCodec.AV1, 96, 2, 55, bytes(range(32))), c.BasePackets(4, 2, (b"\x12\x00", b"", b"\xff" * 300))]


def test_base_layer_chunks_round_trip_in_a_format_2_file():
    buf = io.BytesIO()
    w = c.ContainerWriter(buf)
    w.write_header(header(), c.HYBRID_FORMAT)
    for ch in base_chunks():
        w.write(ch)
    w.write(c.End(0))
    data = buf.getvalue()
    assert data[8:10] == b"\x00\x02"
    got = [ch for ch, _ in read_all(data)]
    assert got[1:3] == base_chunks()
    assert got[2].frames == [4, 6, 8]


def scene_chunks():
    return [c.SceneHeader(c.BaseCodec.AV1, 128, 72, 2, 0), c.ScenePackets(0, 2, (b"\x12\x00", b"\x01" * 40))]


def test_scene_layer_chunks_round_trip_in_a_format_3_file_only():
    def written(version):
        buf = io.BytesIO()
        w = c.ContainerWriter(buf)
        w.write_header(header(), version)
        for ch in base_chunks()[:1] + scene_chunks():
            w.write(ch)
        w.write(c.End(0))
        return buf.getvalue()

    data = written(c.SCENE_FORMAT)
    assert data[8:10] == b"\x00\x03"
    got = [ch for ch, _ in read_all(data)]
    assert got[2:4] == scene_chunks()
    assert type(got[3]) is c.ScenePackets and got[3].frames == [0, 2]
    assert scene_chunks()[0].to_payload() == b"\x01\x00\x80\x00\x48\x02\x00"
    with pytest.raises(RuntimeError, match="SCNH chunk needs format 3"):
        written(c.HYBRID_FORMAT)
    older = bytearray(data)
    older[8:10] = b"\x00\x02"  # a format-2 file with scene chunks: damage
    with pytest.raises(ThcError, match="in a format-2 file"):
        read_all(bytes(older))


def test_base_layer_payload_layouts():
    bh, bp = base_chunks()
    assert bh.to_payload() == b"\x01\x00\x60\x02\x37" + bytes(range(32))
    assert bp.to_payload()[:9] == b"\x00\x00\x00\x04\x02\x00\x03\x00\x02"
    with pytest.raises(ThcError, match="damaged file: bad BASH chunk"):
        c.BaseHeader.from_payload(b"\x07\x00\x60\x02\x37" + bytes(32))  # unknown codec
    with pytest.raises(ThcError, match="too short"):
        c.BasePackets.from_payload(b"\x00\x00\x00\x04\x02\x00\x01\x00\x09ab")


def test_base_layer_chunks_need_format_2():
    buf = io.BytesIO()
    w = c.ContainerWriter(buf)
    w.write_header(header())  # keypoint mode: format 1, as before
    with pytest.raises(RuntimeError, match="needs format 2"):
        w.write(base_chunks()[0])
    data = write_file()
    end = raw_chunk(b"END ", b"\0\0\0\0")
    bash = raw_chunk(b"BASH", base_chunks()[0].to_payload())
    forged = data[: -len(end)] + bash + end
    with pytest.raises(ThcError, match="in a format-1 file"):
        read_all(forged)


def test_crc_flip_in_every_chunk():
    data = write_file()
    offsets = [c.FILE_HEADER_SIZE]
    for _, n in read_all(data)[:-1]:
        offsets.append(offsets[-1] + n)
    for i, off in enumerate(offsets):
        bad = bytearray(data)
        bad[off + 8 if i else off + 9] ^= 0x10  # a payload byte
        with pytest.raises(ThcError, match=rf"CRC mismatch in chunk #{i} \(.... at byte {off}\)"):
            read_all(bytes(bad))


def test_truncation_at_every_offset():
    data = write_file()
    for cut in range(len(data)):
        with pytest.raises(ThcError) as e:
            read_all(data[:cut])
        if cut >= 8:
            assert "truncated file" in str(e.value)


def test_truncation_message():
    data = write_file(chunks=[c.KeypointBlock(0, 1, 1, 0, b"x" * 50), c.End(1)])
    kpts_at = c.FILE_HEADER_SIZE + c.CHUNK_OVERHEAD + len(header().to_payload())
    with pytest.raises(ThcError, match=rf"truncated file: chunk KPTS at byte {kpts_at} needs 50 more bytes"):
        read_all(data[: kpts_at + 8 + 8 + 4])


def test_absurd_length_refused_before_reading():
    class Guard(io.BytesIO):
        def read(self, n=-1):
            assert n is not None and 0 <= n <= 1 << 20, n
            return super().read(n)

    data = PREAMBLE + head_raw() + b"KPTS" + b"\xff\xff\xff\xff" + b"\0" * 10
    with pytest.raises(ThcError, match="16 MiB"):
        list(c.read_chunks(Guard(data)))
    # Just over the limit too; exactly at the limit is a (truncated) legal length.
    data = PREAMBLE + head_raw() + b"KPTS" + struct.pack(">I", c.MAX_PAYLOAD + 1)
    with pytest.raises(ThcError, match="16 MiB"):
        list(c.read_chunks(Guard(data)))
    data = PREAMBLE + head_raw() + b"KPTS" + struct.pack(">I", c.MAX_PAYLOAD)
    with pytest.raises(ThcError, match="truncated file"):
        list(c.read_chunks(Guard(data)))


def test_writer_refuses_oversized_payload():
    w = c.ContainerWriter(io.BytesIO())
    w.write_header(header())
    with pytest.raises(ThcError, match="16 MiB"):
        w.write(c.KeypointBlock(0, 0, 1, 0, b"\0" * c.MAX_PAYLOAD))


def test_first_chunk_must_be_head():
    with pytest.raises(ThcError, match="not HEAD"):
        read_all(PREAMBLE + raw_chunk(b"END ", b"\0\0\0\0"))
    with pytest.raises(ThcError, match="not HEAD"):
        read_all(PREAMBLE + raw_chunk(b"anci", b"") + head_raw() + raw_chunk(b"END ", b"\0\0\0\0"))


def test_second_head_refused():
    with pytest.raises(ThcError, match="second HEAD"):
        read_all(PREAMBLE + head_raw() + head_raw() + raw_chunk(b"END ", b"\0\0\0\0"))


def test_unknown_uppercase_refused():
    data = PREAMBLE + head_raw() + raw_chunk(b"XTRA", b"abc") + raw_chunk(b"END ", b"\0\0\0\0")
    with pytest.raises(ThcError, match="unsupported chunk type XTRA"):
        read_all(data)


def test_unknown_lowercase_skipped():
    data = PREAMBLE + head_raw() + raw_chunk(b"xtra", b"abc") + raw_chunk(b"END ", b"\0\0\0\x05")
    assert [ch for ch, _ in read_all(data)] == [header(), c.End(5)]
    # ...but its CRC is still checked
    data = PREAMBLE + head_raw() + raw_chunk(b"xtra", b"abc", crc=0) + raw_chunk(b"END ", b"\0\0\0\x05")
    with pytest.raises(ThcError, match="CRC"):
        read_all(data)


def test_bad_type_bytes():
    data = PREAMBLE + head_raw() + raw_chunk(b"\x00\x01\x02\x03", b"") + raw_chunk(b"END ", b"\0\0\0\0")
    with pytest.raises(ThcError, match="bad chunk type"):
        read_all(data)


def test_data_after_end_refused():
    with pytest.raises(ThcError, match="after the END"):
        read_all(write_file() + b"\0")
    with pytest.raises(ThcError, match="after the END"):
        read_all(write_file() + raw_chunk(b"xtra", b""))


def test_eof_without_end():
    data = PREAMBLE + head_raw()
    with pytest.raises(ThcError, match=rf"truncated file: ends at byte {len(data)} without an END chunk"):
        read_all(data)


def test_short_reads_from_a_pipe():
    class Trickle(io.BytesIO):
        def read(self, n=-1):
            return super().read(min(n, 3))

    data = write_file()
    assert [ch for ch, _ in c.read_chunks(Trickle(data))] == [ch for ch, _ in read_all(data)]
