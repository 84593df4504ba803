"""The concealing receiver on mutated real streams (issue 22): bit flips, chunks dropped,
duplicated, swapped or cut, and semantic attacks (a field set to an extreme value, zstd data
replaced, the CRC recomputed so that the chunk passes). The property: the decode finishes or
raises ThcError, in bounded time, and a finished decode's frames come in order, at the
stream's size, no more than the bounds allow.

THC_RECEIVER_FUZZ sets the cases of the default test (150); the slow one runs 10,000.
Rendering is stubbed (the pivot's background as every frame): the networks' arithmetic is
not what fuzzing looks for, and everything else (reader, receiver, timeline, interpolation,
JPEG decode, key-point detection on the pivot) runs for real."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib

import numpy as np
import pytest
import zstandard
from conftest import clip_factory

from thcodec.errors import ThcError
from thcodec.format import damage
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import Frame, Start, decode_stream
from thcodec.receiver.segment import SegmentRenderer
from thcodec.sender.encoder import encode

CASES = int(os.environ.get("THC_RECEIVER_FUZZ", "150"))
SECONDS_PER_CASE = 20.0  # generous: a case takes well under a second here
EXTREMES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


@pytest.fixture(scope="module")
def streams(tmp_path_factory, loaded) -> list[bytes]:
    """Two small real streams: 24 frames with audio in 4-frame blocks (one pivot, predicted
    blocks), and the same with every other block independent and interp 2."""
    clip = clip_factory(tmp_path_factory.mktemp("rfuzz"))(width=64, height=48, frames=24, fps=25, audio=True)
    out = []
    for opts in (dict(interp=1, block_frames=4, independent_every=0), dict(interp=2, block_frames=4, independent_every=2)):
        buf = io.BytesIO()
        encode(clip, buf, loaded, EncodeOptions(adaptive=False, **opts))
        out.append(buf.getvalue())
    return out


@pytest.fixture
def cheap_render(monkeypatch):
    def render(self, kp, base=None, scene=None):
        return self.backgrounds(scene, kp.xy.shape[0])  # the scene layer's background, no networks

    monkeypatch.setattr(SegmentRenderer, "render", render)


def _chunk(ctype: bytes, payload: bytes) -> bytes:
    return ctype + struct.pack(">I", len(payload)) + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def _semantic(data: bytes, rng: np.random.Generator) -> bytes:
    """One chunk (HEAD included) with an aligned u8/u16/u32 of its payload set to an extreme
    value, or its KPTS data replaced by another zstd frame, and a CRC that passes."""
    spans = damage.chunk_spans(data)
    o, n, t = spans[int(rng.integers(len(spans)))]
    payload = bytearray(data[o + 8 : o + n - 4])
    if t == "KPTS" and rng.random() < 0.3 and len(payload) > 8:
        raw = rng.integers(0, 256, int(rng.integers(0, 4000)), dtype=np.uint8).tobytes()
        if rng.random() < 0.5:
            raw = bytes([255]) * len(raw)  # escapes everywhere
        frame = zstandard.ZstdCompressor(write_content_size=bool(rng.integers(2))).compress(raw)
        payload[8:] = frame[4:]  # magicless, as the format stores it
    elif payload:
        width = int(rng.choice([1, 2, 4]))
        at = int(rng.integers(0, max(1, min(len(payload), 24) - width + 1)))
        value = int(rng.choice(EXTREMES)) % (1 << (8 * width))
        payload[at : at + width] = value.to_bytes(width, "big")[: len(payload) - at]
    return data[:o] + _chunk(data[o : o + 4], bytes(payload)) + data[o + n :]


def _shuffled(data: bytes, rng: np.random.Generator) -> bytes:
    """Chunks after HEAD duplicated, swapped or moved (each whole, CRCs intact)."""
    spans = damage.chunk_spans(data)
    parts = [data[o : o + n] for o, n, _ in spans[1:]]
    for _ in range(int(rng.integers(1, 4))):
        i, j = (int(x) for x in rng.integers(0, len(parts), 2))
        op = int(rng.integers(3))
        if op == 0:
            parts.insert(j, parts[i])
        elif op == 1:
            parts[i], parts[j] = parts[j], parts[i]
        else:
            parts.insert(j, parts.pop(i))
    head_end = spans[1][0]
    return data[:head_end] + b"".join(parts)


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    kind = int(rng.integers(7))
    if kind == 0:
        return damage.bit_errors(data, float(rng.choice([1e-4, 1e-3, 1e-2])), rng)
    if kind == 1:
        return damage.drop_chunks(data, float(rng.choice([0.05, 0.2, 0.5])), rng)
    if kind == 2:
        return damage.corrupt_chunks(data, float(rng.choice([0.05, 0.2, 0.5])), rng)
    if kind == 3:
        return damage.truncate(data, float(rng.uniform(0.05, 1.0)))
    if kind == 4:
        return _shuffled(data, rng)
    if kind == 5:  # garbage inserted somewhere after HEAD
        at = int(rng.integers(damage.chunk_spans(data)[1][0], len(data)))
        return data[:at] + rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes() + data[at:]
    out = data
    for _ in range(int(rng.integers(1, 3))):
        out = _semantic(out, rng)
    return out


def check_case(data: bytes, loaded) -> str:
    """-> "ok" or "refused"; anything but ThcError propagates (a failure)."""
    frames, size = 0, None
    try:
        for e in decode_stream(io.BytesIO(data), loaded, interp_method="linear", sr="bicubic"):
            if isinstance(e, Start):
                size = e.size
            elif isinstance(e, Frame):
                assert e.index == frames and e.rgb.shape == (size[1], size[0], 3)
                frames += 1
                assert frames <= 2 * 24 + 250 + 750  # HEAD's bound plus one concealed run
    except ThcError as e:
        assert "\n" not in str(e)
        return "refused"
    return "ok"


def run_fuzz(streams: list[bytes], loaded, cases: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    seen = {"ok": 0, "refused": 0}
    for case in range(cases):
        data = mutate(streams[case % len(streams)], rng)
        t = time.monotonic()
        try:
            seen[check_case(data, loaded)] += 1
        except Exception as e:  # pragma: no cover - what the test is looking for
            raise AssertionError(f"case {case} (seed {seed}): {type(e).__name__}: {e}") from e
        assert time.monotonic() - t < SECONDS_PER_CASE, f"case {case} (seed {seed}) took too long"
    return seen


def test_receiver_fuzz(streams, loaded, cheap_render):
    seen = run_fuzz(streams, loaded, CASES, seed=22)
    assert seen["ok"] > CASES // 3  # most damage is concealed, not refused


@pytest.mark.slow
def test_receiver_fuzz_10000(streams, loaded, cheap_render):
    seen = run_fuzz(streams, loaded, 10_000, seed=2222)
    print(seen)
