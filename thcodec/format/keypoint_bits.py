"""Key points on the wire: the 8-byte quantized point and the key-point stream coding.

Coordinates: x, y lie in [-1, 1) over the model image (256x256); pixel i of a `size`-pixel
axis has its centre at (2i+1)/size - 1, as in grid_sample(align_corners=False). The Jacobian
J (2x2, row-major J00 J01 / J10 J11) maps an offset around the point in the template frame
to the offset around it in the current frame.

Quantized point, 64 bits, big-endian, from the most significant bit:
    x (12) | y (12) | J00 (10) | J01 (10) | J10 (10) | J11 (10)
x, y: unsigned fixed point over [-1, 1), code = clamp(round((v + 1) * 2048), 0, 4095).
J:    signed fixed point over [-2, 2),   code = clamp(round(v * 256), -512, 511), stored
      as 10-bit two's complement.
"fields" are the six integer codes per point, (..., 6) int32, J codes signed.

Encode-side argument mistakes (bad shapes, out-of-range fields) are bugs: ValueError.
Decode-side damaged data is the user's problem: ThcError.
"""

from __future__ import annotations

import numpy as np
import zstandard

from thcodec.errors import ThcError

# --- Bitstream constants (part of format 1; see docs/FORMAT.md) -------------------------
XY_BITS = 12
J_BITS = 10
XY_SCALE = 2048  # codes per unit: x = code / 2048 - 1
J_SCALE = 256  # codes per unit: J = code / 256
XY_MIN, XY_MAX = 0, (1 << XY_BITS) - 1  # 0 .. 4095
J_MIN, J_MAX = -(1 << (J_BITS - 1)), (1 << (J_BITS - 1)) - 1  # -512 .. 511
NUM_FIELDS = 6  # x, y, J00, J01, J10, J11
BYTES_PER_POINT = 8
# Bit offset of each field's least significant bit inside the 64-bit word.
FIELD_SHIFTS = (52, 40, 30, 20, 10, 0)
FIELD_BITS = (XY_BITS, XY_BITS, J_BITS, J_BITS, J_BITS, J_BITS)
_FIELD_LO = np.array([XY_MIN, XY_MIN, J_MIN, J_MIN, J_MIN, J_MIN], dtype=np.int64)
_FIELD_HI = np.array([XY_MAX, XY_MAX, J_MAX, J_MAX, J_MAX, J_MAX], dtype=np.int64)

# KPTS coding: zigzag residuals >= ESCAPE are written as the byte ESCAPE plus a u16 BE
# (residual - ESCAPE) in a tail that follows the byte plane.
ESCAPE = 255
ZSTD_LEVEL = 19


# --- Quantization -----------------------------------------------------------------------


def quantize(xy: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """xy (N,K,2), jac (N,K,2,2) floats -> fields (N,K,6) int32. Out-of-range values clamp."""
    xy = np.asarray(xy, dtype=np.float64)
    jac = np.asarray(jac, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise ValueError(f"xy must be (N,K,2), got {xy.shape}")
    if jac.shape != xy.shape[:2] + (2, 2):
        raise ValueError(f"jacobian must be {xy.shape[:2] + (2, 2)}, got {jac.shape}")
    if not (np.isfinite(xy).all() and np.isfinite(jac).all()):
        raise ValueError("key points contain NaN or infinity")
    qxy = np.clip(np.round((xy + 1.0) * XY_SCALE), XY_MIN, XY_MAX)
    qj = np.clip(np.round(jac * J_SCALE), J_MIN, J_MAX).reshape(xy.shape[:2] + (4,))
    return np.concatenate([qxy, qj], axis=-1).astype(np.int32)


def coarsen(fields: np.ndarray, xy_step: int = 1, jac_step: int = 1) -> np.ndarray:
    """Fields rounded to multiples of xy_step (positions) and jac_step (Jacobians), inside their ranges.

    Same format, coarser values: the sender's choice. The stream codes differences between
    sent frames, and steps of a few codes (positions: 1/16 px at 256 per code) take bits that
    detector noise fills anyway (measured: docs/keypoint_steps.md)."""
    f = np.asarray(fields, dtype=np.int64)
    if f.shape[-1] != NUM_FIELDS:
        raise ValueError(f"fields must be (..., 6), got {f.shape}")
    if xy_step < 1 or jac_step < 1:
        raise ValueError(f"steps must be >= 1, got {xy_step}, {jac_step}")
    step = np.array([xy_step] * 2 + [jac_step] * 4, dtype=np.int64)
    out = np.round(f / step) * step
    return np.clip(out, _FIELD_LO, _FIELD_HI).astype(np.int32)


def dequantize(fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fields (N,K,6) -> (xy (N,K,2) float32, jac (N,K,2,2) float32)."""
    f = np.asarray(fields)
    if f.ndim < 1 or f.shape[-1] != NUM_FIELDS:
        raise ValueError(f"fields must be (..., 6), got {f.shape}")
    xy = f[..., :2].astype(np.float32) / XY_SCALE - 1.0
    jac = (f[..., 2:].astype(np.float32) / J_SCALE).reshape(f.shape[:-1] + (2, 2))
    return xy.astype(np.float32), jac.astype(np.float32)


def _check_fields(f: np.ndarray, what: str = "fields") -> np.ndarray:
    f = np.asarray(f)
    if f.shape[-1:] != (NUM_FIELDS,) or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"{what} must be integer (..., 6), got {f.dtype} {f.shape}")
    f = f.astype(np.int64)
    if ((f < _FIELD_LO) | (f > _FIELD_HI)).any():
        raise ValueError(f"{what} out of range")
    return f


# --- 64-bit words -----------------------------------------------------------------------


def pack_fields(fields: np.ndarray) -> np.ndarray:
    """fields (N,K,6) -> words (N,K) uint64."""
    f = _check_fields(fields).astype(np.uint64)  # negatives wrap to two's complement
    word = np.zeros(f.shape[:-1], dtype=np.uint64)
    for i, (shift, bits) in enumerate(zip(FIELD_SHIFTS, FIELD_BITS)):
        word |= (f[..., i] & np.uint64((1 << bits) - 1)) << np.uint64(shift)
    return word


def unpack_words(words: np.ndarray) -> np.ndarray:
    """words (N,K) uint64 -> fields (N,K,6) int32. Every 64-bit word is a valid point."""
    w = np.asarray(words, dtype=np.uint64)
    out = np.empty(w.shape + (NUM_FIELDS,), dtype=np.int64)
    for i, (shift, bits) in enumerate(zip(FIELD_SHIFTS, FIELD_BITS)):
        v = ((w >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)
        if i >= 2:  # J: sign-extend the 10-bit two's complement
            v = np.where(v >= 1 << (bits - 1), v - (1 << bits), v)
        out[..., i] = v
    return out.astype(np.int32)


def to_bytes(words: np.ndarray) -> bytes:
    """words (...) uint64 -> 8 bytes per point, big-endian, in C order."""
    return np.ascontiguousarray(words, dtype=">u8").tobytes()


def from_bytes(data: bytes, k: int) -> np.ndarray:
    """8 bytes per point -> words (N,k) uint64."""
    if k <= 0 or len(data) % (BYTES_PER_POINT * k):
        raise ThcError(f"key-point data of {len(data)} bytes is not a whole number of frames of {k} points")
    return np.frombuffer(data, dtype=">u8").astype(np.uint64).reshape(-1, k)


# --- Stream coding (KPTS payload) -------------------------------------------------------
#
# Each frame is predicted from the previous one (frame 0 from `prev`, or from zero when
# there is no prev); residuals are zigzag-mapped to non-negative integers, laid out
# field-major (field, point, frame) so each plane is one slowly varying series, written
# one byte each with an escape for large ones, and zstd-compressed. On synthetic head-motion
# walks (K=10, 25-frame blocks) this gave 35.3 B/frame, against 35.5 for hi/lo byte planes,
# 44.7 for int16 planes, and 3-4 B/frame more for time-major (frame, point, field) order.

_ZSTD_PARAMS = zstandard.ZstdCompressionParameters.from_level(
    ZSTD_LEVEL,
    format=zstandard.FORMAT_ZSTD1_MAGICLESS,
    write_checksum=False,
    write_content_size=False,
    write_dict_id=False,
)


def _zigzag(r: np.ndarray) -> np.ndarray:
    return np.where(r >= 0, 2 * r, -2 * r - 1)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> 1) ^ -(z & 1)


def compress_block(fields: np.ndarray, prev: np.ndarray | None) -> bytes:
    """fields (N,K,6) int32, prev (K,6) or None -> the compressed KPTS payload."""
    f = _check_fields(fields)
    if f.ndim != 3:
        raise ValueError(f"fields must be (N,K,6), got {f.shape}")
    n, k, _ = f.shape
    if prev is None:
        base = np.zeros((1, k, NUM_FIELDS), dtype=np.int64)
    else:
        base = _check_fields(prev, "prev")
        if base.shape != (k, NUM_FIELDS):
            raise ValueError(f"prev must be ({k}, 6), got {base.shape}")
        base = base[None]
    if n * k == 0:
        return b""
    z = _zigzag(np.diff(f, axis=0, prepend=base))
    flat = np.ascontiguousarray(z.transpose(2, 1, 0)).ravel()  # field-major
    plane = np.minimum(flat, ESCAPE).astype(np.uint8)
    tail = (flat[flat >= ESCAPE] - ESCAPE).astype(">u2")
    cctx = zstandard.ZstdCompressor(compression_params=_ZSTD_PARAMS)
    return cctx.compress(plane.tobytes() + tail.tobytes())


ZSTD_PIECE = 64  # compressed bytes fed at a time: a piece expands to at most a few blocks (128 KiB each)


def _unzstd(data: bytes, limit: int) -> bytes:
    """The one magicless zstd frame that is all of data, decompressed, at most limit bytes.

    Fed in ZSTD_PIECE-byte pieces, so neither a declared content size nor a run of RLE
    blocks makes a damaged block allocate much past limit; a frame that ends early (bytes
    after it) or never ends (truncated) is refused."""
    if not data:
        raise ThcError("damaged key-point block: empty payload")
    dobj = zstandard.ZstdDecompressor(format=zstandard.FORMAT_ZSTD1_MAGICLESS).decompressobj()
    out: list[bytes] = []
    size = fed = 0
    try:
        while fed < len(data) and not dobj.eof:
            piece = dobj.decompress(data[fed : fed + ZSTD_PIECE])
            fed += ZSTD_PIECE
            size += len(piece)
            if size > limit:
                raise ThcError(f"damaged key-point block: more than {limit} bytes decompressed")
            out.append(piece)
    except zstandard.ZstdError as e:
        raise ThcError(f"damaged key-point block: {e}") from None
    if not dobj.eof:
        raise ThcError("damaged key-point block: truncated zstd frame")
    if dobj.unused_data or fed < len(data):
        raise ThcError("damaged key-point block: bytes after the zstd frame")
    return b"".join(out)


def decompress_block(data: bytes, n: int, k: int, prev: np.ndarray | None) -> np.ndarray:
    """Inverse of compress_block. n, k come from the container; -> fields (N,K,6) int32."""
    if n < 0 or k < 0:
        raise ThcError(f"bad key-point block size {n}x{k}")
    if prev is not None:
        prev = np.asarray(prev)
        if prev.shape != (k, NUM_FIELDS):
            raise ValueError(f"prev must be ({k}, 6), got {prev.shape}")
        base = _check_fields(prev, "prev")[None]
    else:
        base = np.zeros((1, k, NUM_FIELDS), dtype=np.int64)
    count = n * k * NUM_FIELDS
    if count == 0:
        if data:
            raise ThcError("damaged key-point block: data in an empty block")
        return np.zeros((n, k, NUM_FIELDS), dtype=np.int32)
    # Worst case is every residual escaped: 3 bytes each, well under the n*k*6*4 cap.
    raw = _unzstd(data, 3 * count)
    if len(raw) < count:
        raise ThcError(f"damaged key-point block: {len(raw)} bytes, need at least {count}")
    plane = np.frombuffer(raw, dtype=np.uint8, count=count).astype(np.int64)
    escaped = plane == ESCAPE
    n_esc = int(escaped.sum())
    if len(raw) != count + 2 * n_esc:
        raise ThcError(f"damaged key-point block: {len(raw)} bytes, expected {count + 2 * n_esc}")
    plane[escaped] += np.frombuffer(raw, dtype=">u2", offset=count).astype(np.int64)
    r = _unzigzag(plane).reshape(NUM_FIELDS, k, n).transpose(2, 1, 0)
    f = base + np.cumsum(r, axis=0)
    if ((f < _FIELD_LO) | (f > _FIELD_HI)).any():
        raise ThcError("damaged key-point block: decoded value out of range")
    return f.astype(np.int32)
