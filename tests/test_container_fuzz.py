"""Property tests: whatever bytes read_chunks is given, it yields valid chunks or raises
ThcError, nothing else. THC_FUZZ_EXAMPLES sets the examples per test (default 300)."""

import io
import os
import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thcodec.errors import ThcError
from thcodec.format import container as c
from thcodec.format import keypoint_bits as kp

EXAMPLES = int(os.environ.get("THC_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # keep .hypothesis/ out of the repo
    suppress_health_check=[HealthCheck.too_slow],
)

PREAMBLE = c.MAGIC + struct.pack(">H", c.FORMAT_VERSION)


def raw_chunk(ctype: bytes, payload: bytes) -> bytes:
    return ctype + struct.pack(">I", len(payload)) + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def valid_file(hybrid: bool = False) -> bytes:
    buf = io.BytesIO()
    w = c.ContainerWriter(buf)
    w.write_header(
        c.StreamHeader(640, 480, 25, 1, 3, 256, 10, 0, "m", bytes(32)), c.SCENE_FORMAT if hybrid else c.KEYPOINT_FORMAT
    )
    w.write(c.AudioHeader(c.AudioCodec.OPUS, 48000, 1, 1, 48000, b"OpusHead"))
    if hybrid:
        w.write(c.BaseHeader(c.BaseCodec.AV1, 64, 2, 63, bytes(range(32))))
        w.write(c.SceneHeader(c.BaseCodec.AV1, 128, 96, 2, 0))
    w.write(c.PivotSwitch(0, c.SwitchReason.START))
    w.write(c.Pivot(0, 0, 0, 640, 480, b"\xff\xd8\xff\xd9"))
    rng = np.random.default_rng(0)
    fields = kp.quantize(rng.uniform(-1, 1, (3, 10, 2)), rng.uniform(-2, 2, (3, 10, 2, 2)))
    if hybrid:
        w.write(c.BasePackets(0, 2, (b"\x12\x00\x0a", b"\x32")))
        w.write(c.ScenePackets(0, 2, (b"\x12\x00\x0b", b"\x33")))
    w.write(c.KeypointBlock(0, 3, 1, 0, kp.compress_block(fields, None)))
    w.write(c.AudioPackets(-312, ((2880, b"\x01\x02"), (2880, b"\x03"))))
    w.write(c.End(3))
    return buf.getvalue()


VALID = valid_file()
VALID_HYBRID = valid_file(hybrid=True)
HEAD_RAW = VALID[c.FILE_HEADER_SIZE : c.FILE_HEADER_SIZE + c.CHUNK_OVERHEAD + struct.unpack(">I", VALID[14:18])[0]]


def check(data: bytes) -> None:
    """The property: a full read gives known chunks that re-encode to themselves, or ThcError."""
    try:
        for chunk, nbytes in c.read_chunks(io.BytesIO(data)):
            assert type(chunk) in c.CHUNK_TYPES.values()
            payload = chunk.to_payload()
            assert nbytes == c.CHUNK_OVERHEAD + len(payload)
            assert type(chunk).from_payload(payload) == chunk
    except ThcError as e:
        assert str(e) and "\n" not in str(e)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_after_preamble(data):
    check(PREAMBLE + data)
    check(PREAMBLE + HEAD_RAW + data)


@FUZZ
@given(st.integers(0, len(VALID)), st.lists(st.integers(0, len(VALID) * 8 - 1), max_size=4))
def test_truncations_and_bit_flips(cut, flips):
    for valid in (VALID, VALID_HYBRID):
        data = bytearray(valid)
        for bit in flips:
            data[bit // 8 % len(data)] ^= 1 << (bit % 8)
        check(bytes(data[:cut]))
        check(bytes(data))


# Chunks with random payloads but correct CRCs reach every payload parser.
_TYPES = sorted(c.CHUNK_TYPES) + [b"xtra", b"XTRA"]
_chunk = st.tuples(st.sampled_from(_TYPES), st.binary(max_size=80)).map(lambda t: raw_chunk(*t))


@FUZZ
@given(st.lists(_chunk, max_size=6), st.booleans())
def test_random_payloads_with_good_crcs(chunks, end):
    body = b"".join(chunks) + (raw_chunk(b"END ", b"\0\0\0\0") if end else b"")
    check(PREAMBLE + HEAD_RAW + body)
    check(PREAMBLE + body)


@FUZZ
@given(st.sampled_from(sorted(c.CHUNK_TYPES)), st.binary(max_size=80))
def test_payload_parsers(ctype, payload):
    try:
        chunk = c.CHUNK_TYPES[ctype].from_payload(payload)
    except ThcError:
        return
    assert chunk.to_payload() == payload


_KP_FIELDS = kp.quantize(*[np.random.default_rng(1).normal(0, 0.3, s) for s in [(8, 4, 2), (8, 4, 2, 2)]])
_KP_DATA = kp.compress_block(_KP_FIELDS, None)


@FUZZ
@given(st.binary(max_size=120), st.integers(0, 10), st.integers(0, 5))
def test_keypoint_block_random_bytes(data, n, k):
    try:
        out = kp.decompress_block(data, n, k, None)
    except ThcError:
        return
    assert out.shape == (n, k, 6)


@FUZZ
@given(st.integers(0, len(_KP_DATA)), st.lists(st.integers(0, len(_KP_DATA) * 8 - 1), max_size=3))
def test_keypoint_block_damage(cut, flips):
    data = bytearray(_KP_DATA)
    for bit in flips:
        data[bit // 8] ^= 1 << (bit % 8)
    try:
        out = kp.decompress_block(bytes(data[:cut]), 8, 4, None)
    except ThcError:
        return
    assert out.shape == (8, 4, 6) and out.dtype == np.int32
    assert ((out[..., :2] >= 0) & (out[..., :2] <= 4095)).all()
    assert ((out[..., 2:] >= -512) & (out[..., 2:] <= 511)).all()
