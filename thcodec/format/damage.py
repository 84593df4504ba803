"""A loss simulator for .thc streams (tests and the bench): what a bad network or a broken
download does to the bytes. Pure bytes in, bytes out; the file header and HEAD are spared
(without them nothing decodes, and a real sender repeats them out of band).

    spans = chunk_spans(data)                   # (offset, size, type) of every chunk
    drop_chunks(data, 0.05, rng)                # 5% of the chunks after HEAD removed
    corrupt_chunks(data, 0.05, rng)             # 5% of them with one byte changed
    bit_errors(data, 1e-5, rng)                 # every bit after HEAD flipped with this probability
    truncate(data, 0.6)                         # the first 60% of the bytes
"""

from __future__ import annotations

import struct

import numpy as np

from thcodec.format import container as C


def chunk_spans(data: bytes) -> list[tuple[int, int, str]]:
    """(offset, bytes on disk, type) of every chunk of an undamaged stream, ancillary ones too."""
    spans, pos = [], C.FILE_HEADER_SIZE
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        spans.append((pos, C.CHUNK_OVERHEAD + length, data[pos : pos + 4].decode("ascii", "replace")))
        pos += C.CHUNK_OVERHEAD + length
    return spans


def _after_head(data: bytes) -> list[tuple[int, int, str]]:
    return chunk_spans(data)[1:]


def _picked(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of round(n * rate) chunks chosen at random (at least one when rate > 0 and n > 0)."""
    k = min(n, max(1 if rate > 0 else 0, round(n * rate)))
    return np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, int)


def drop_chunks(data: bytes, rate: float, rng: np.random.Generator) -> bytes:
    """The stream with a fraction `rate` of its chunks after HEAD removed (lost packets)."""
    spans = _after_head(data)
    gone = {int(i) for i in _picked(len(spans), rate, rng)}
    keep = [data[: spans[0][0]]] if spans else [data]
    keep += [data[o : o + n] for i, (o, n, _) in enumerate(spans) if i not in gone]
    return b"".join(keep)


def corrupt_chunks(data: bytes, rate: float, rng: np.random.Generator) -> bytes:
    """The stream with a fraction `rate` of its chunks after HEAD each given one wrong byte,
    anywhere in the chunk (type, length, payload or CRC)."""
    out = bytearray(data)
    spans = _after_head(data)
    for i in _picked(len(spans), rate, rng):
        o, n, _ = spans[int(i)]
        at = o + int(rng.integers(n))
        out[at] ^= int(rng.integers(1, 256))
    return bytes(out)


def bit_errors(data: bytes, rate: float, rng: np.random.Generator) -> bytes:
    """Every bit after HEAD flipped independently with probability `rate`."""
    spans = chunk_spans(data)
    start = spans[1][0] if len(spans) > 1 else len(data)
    out = np.frombuffer(data, np.uint8).copy()
    nbits = (len(data) - start) * 8
    flips = rng.random(nbits) < rate if nbits else np.zeros(0, bool)
    for bit in np.flatnonzero(flips):
        out[start + bit // 8] ^= 1 << (bit % 8)
    return out.tobytes()


def truncate(data: bytes, fraction: float) -> bytes:
    """The first `fraction` of the bytes (a download cut short)."""
    return data[: int(len(data) * fraction)]
