import numpy as np
import pytest
import torch

from thcodec.errors import ThcError
from thcodec.format import keypoint_bits as kp
from thcodec.models.keypoints import Keypoints


def talking_head_walk(rng, n, k):
    """Synthetic key points: smooth, mean-reverting head motion shared by all points, small
    per-point detector noise on xy, and noisier, slowly drifting Jacobians around identity."""
    head = np.zeros((n, 1, 2))
    p = np.zeros(2)
    v = np.zeros(2)
    for i in range(n):
        v = 0.92 * v - 0.002 * p + rng.normal(0, 0.0015, 2)
        p = p + v
        head[i, 0] = p
    xy = rng.uniform(-0.6, 0.6, (1, k, 2)) + head + rng.normal(0, 0.001, (n, k, 2))
    jac = (
        np.eye(2)
        + 0.15 * rng.normal(0, 1, (1, k, 2, 2))
        + np.cumsum(rng.normal(0, 0.004, (n, k, 2, 2)), 0)
        + rng.normal(0, 0.01, (n, k, 2, 2))
    )
    return xy, jac


def random_fields(rng, n, k):
    return np.concatenate(
        [rng.integers(kp.XY_MIN, kp.XY_MAX + 1, (n, k, 2)), rng.integers(kp.J_MIN, kp.J_MAX + 1, (n, k, 4))], -1
    ).astype(np.int32)


# --- bit layout -------------------------------------------------------------------------


def test_known_word_centre_identity():
    # x = y = 0 -> code 2048 = 0x800; J = I -> J00 = J11 = 256 = 0x100, J01 = J10 = 0.
    # 0x800<<52 | 0x800<<40 | 0x100<<30 | 0x100 = 0x8008_0040_0000_0100
    fields = kp.quantize(np.zeros((1, 1, 2)), np.eye(2)[None, None])
    assert fields.tolist() == [[[2048, 2048, 256, 0, 0, 256]]]
    words = kp.pack_fields(fields)
    assert int(words[0, 0]) == 0x8008_0040_0000_0100
    assert kp.to_bytes(words) == bytes.fromhex("8008004000000100")


def test_known_word_extremes_twos_complement():
    # x=4095 (0xFFF), y=0, J00=-512 (0x200), J01=511 (0x1FF), J10=-1 (0x3FF), J11=0
    fields = np.array([[[4095, 0, -512, 511, -1, 0]]], dtype=np.int32)
    words = kp.pack_fields(fields)
    assert int(words[0, 0]) == 0xFFF0_0080_1FFF_FC00
    assert (kp.unpack_words(words) == fields).all()


def test_field_round_trip_through_bytes():
    rng = np.random.default_rng(1)
    f = random_fields(rng, 7, 10)
    data = kp.to_bytes(kp.pack_fields(f))
    assert len(data) == 7 * 10 * 8
    back = kp.unpack_words(kp.from_bytes(data, 10))
    assert back.dtype == np.int32 and (back == f).all()


def test_every_word_is_a_valid_point():
    rng = np.random.default_rng(2)
    words = rng.integers(0, 2**64, (50, 10), dtype=np.uint64)
    assert (kp.pack_fields(kp.unpack_words(words)) == words).all()


def test_from_bytes_bad_length():
    with pytest.raises(ThcError):
        kp.from_bytes(b"\0" * 12, 1)
    with pytest.raises(ThcError):
        kp.from_bytes(b"\0" * 8, 2)


def test_pack_out_of_range_is_a_bug():
    with pytest.raises(ValueError):
        kp.pack_fields(np.array([[[4096, 0, 0, 0, 0, 0]]]))
    with pytest.raises(ValueError):
        kp.pack_fields(np.array([[[0, 0, 512, 0, 0, 0]]]))


# --- quantization -----------------------------------------------------------------------


def test_quantization_error_bounds():
    rng = np.random.default_rng(3)
    xy = rng.uniform(-1, 1, (100, 10, 2))
    jac = rng.uniform(-2, 2, (100, 10, 2, 2))
    dxy, djac = kp.dequantize(kp.quantize(xy, jac))
    assert dxy.dtype == np.float32 and djac.dtype == np.float32
    # the top code is one step below +1 (xy) / +2 (J), so the last half-open step errs more
    assert np.abs(dxy - xy).max() <= 1 / 2048 + 1e-7
    assert np.abs(djac - jac).max() <= 1 / 256 + 1e-7
    # inside the representable range the error is half a step
    inner_xy = np.clip(xy, -1, kp.XY_MAX / kp.XY_SCALE - 1)
    inner_j = np.clip(jac, -2, kp.J_MAX / kp.J_SCALE)
    dxy, djac = kp.dequantize(kp.quantize(inner_xy, inner_j))
    assert np.abs(dxy - inner_xy).max() <= 1 / 4096 + 1e-7
    assert np.abs(djac - inner_j).max() <= 1 / 512 + 1e-7


def test_quantization_clamps():
    xy = np.array([[[5.0, -3.0], [1.0, -1.0]]])
    jac = np.array([[[[10.0, -10.0], [2.0, -2.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    f = kp.quantize(xy, jac)
    assert f[0, 0].tolist() == [4095, 0, 511, -512, 511, -512]
    assert f[0, 1].tolist() == [4095, 0, 0, 0, 0, 0]


def test_quantize_rejects_nan():
    with pytest.raises(ValueError):
        kp.quantize(np.full((1, 1, 2), np.nan), np.zeros((1, 1, 2, 2)))


def test_dequantize_quantize_is_identity_on_codes():
    f = random_fields(np.random.default_rng(4), 20, 10)
    assert (kp.quantize(*kp.dequantize(f)) == f).all()


def test_keypoints_numpy_round_trip():
    rng = np.random.default_rng(5)
    xy = rng.normal(size=(2, 10, 2)).astype(np.float32)
    jac = rng.normal(size=(2, 10, 2, 2)).astype(np.float32)
    k = Keypoints.from_numpy(xy, jac).to("cpu")
    assert isinstance(k.xy, torch.Tensor) and k.jacobian.shape == (2, 10, 2, 2)
    a, b = k.numpy()
    assert (a == xy).all() and (b == jac).all()


# --- stream coding ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 25, 50])
def test_compress_round_trip_random(n):
    rng = np.random.default_rng(n)
    f = random_fields(rng, n, 10)
    prev = random_fields(rng, 1, 10)[0]
    for p in (None, prev):
        data = kp.compress_block(f, p)
        back = kp.decompress_block(data, n, 10, p)
        assert back.dtype == np.int32 and (back == f).all()


def test_compress_round_trip_walk_chain_of_blocks():
    rng = np.random.default_rng(6)
    f = kp.quantize(*talking_head_walk(rng, 200, 10))
    prev = None
    for s in range(0, 200, 25):
        data = kp.compress_block(f[s : s + 25], prev)
        assert (kp.decompress_block(data, 25, 10, prev) == f[s : s + 25]).all()
        prev = f[s + 24]


def test_compress_extreme_residuals():
    # Jumps from one end of the range to the other need the escape path.
    f = np.array([[[0, 4095, -512, 511, 0, 0]], [[4095, 0, 511, -512, 0, 0]]] * 3, dtype=np.int32)
    for p in (None, f[-1, :]):
        assert (kp.decompress_block(kp.compress_block(f, p), 6, 1, p) == f).all()


def test_compress_empty_block():
    f = np.zeros((0, 10, 6), dtype=np.int32)
    assert kp.compress_block(f, None) == b""
    assert kp.decompress_block(b"", 0, 10, None).shape == (0, 10, 6)
    with pytest.raises(ThcError):
        kp.decompress_block(b"\0", 0, 10, None)


def test_walk_bytes_per_frame_budget():
    # A loose regression guard; measured about 35 B/frame for K=10, 25-frame blocks.
    rng = np.random.default_rng(7)
    f = kp.quantize(*talking_head_walk(rng, 250, 10))
    total = sum(len(kp.compress_block(f[s : s + 25], f[s - 1] if s else None)) for s in range(0, 250, 25))
    assert total / 250 < 42


def _payload():
    f = kp.quantize(*talking_head_walk(np.random.default_rng(8), 25, 10))
    return f, kp.compress_block(f, None)


def test_damaged_payload_truncated_or_extended():
    _f, data = _payload()
    for cut in range(len(data)):
        with pytest.raises(ThcError):
            kp.decompress_block(data[:cut], 25, 10, None)
    with pytest.raises(ThcError):
        kp.decompress_block(data + b"\0", 25, 10, None)


def test_damaged_payload_wrong_shape():
    _f, data = _payload()
    for n, k in [(26, 10), (24, 10), (25, 9), (50, 10), (1, 1)]:
        with pytest.raises(ThcError):
            kp.decompress_block(data, n, k, None)


def test_damaged_payload_bit_flips_never_crash():
    # No checksum here (the chunk CRC covers it): a flip may decode to other valid fields.
    _f, data = _payload()
    for i in range(len(data) * 8):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        try:
            out = kp.decompress_block(bytes(bad), 25, 10, None)
        except ThcError:
            continue
        assert out.shape == (25, 10, 6) and out.dtype == np.int32


def test_decompress_garbage():
    for junk in [b"\xff" * 10, b"\x00" * 10, bytes(range(256)), b"\x28\xb5\x2f\xfd" + b"\0" * 20]:
        with pytest.raises(ThcError):
            kp.decompress_block(junk, 25, 10, None)


def test_damaged_payload_cannot_expand_past_the_cap():
    """A block whose zstd frame holds far more than n*k*6*3 bytes (here 1 MB of zeros in a few
    hundred bytes) is refused while it is decompressed, in bounded pieces."""
    import zstandard

    bomb = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(bytes(1 << 20))
    magicless = zstandard.ZstdCompressor(level=19).compress(b"x")  # the same frame without its 4-byte magic:
    assert magicless[:4] == bomb[:4] == b"\x28\xb5\x2f\xfd"
    with pytest.raises(ThcError, match="more than 180 bytes"):
        kp.decompress_block(bomb[4:], 1, 10, None)
