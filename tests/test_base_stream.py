from fractions import Fraction

import numpy as np
import pytest
import torch

from thcodec.errors import ThcError
from thcodec.media.base_stream import BaseDecoder, BaseEncoder, code_sequence, downscale, upscale


def moving_faces(n: int, size: int = 256) -> np.ndarray:
    """A bright disc drifting over a gradient: enough structure for the codec to spend bits on."""
    yy, xx = np.mgrid[:size, :size]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        cx, cy = 60 + 12 * i, 128
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < 40**2
        out[i, ..., 0] = (xx * 255 // size).astype(np.uint8)
        out[i, ..., 1] = (yy * 255 // size).astype(np.uint8)
        out[i, ..., 2] = np.where(disc, 230, 40)
    return out


def test_one_packet_per_frame_and_the_picture_survives():
    faces = moving_faces(12)
    packets, decoded = code_sequence(faces, 64, 40, Fraction(25, 2))
    assert len(packets) == len(decoded) == 12
    assert all(d.shape == (64, 64, 3) for d in decoded)
    small = np.stack([downscale(f, 64) for f in faces]).astype(np.float64)
    err = np.abs(np.stack(decoded).astype(np.float64) - small).mean()
    assert err < 6  # a grey or frozen picture is off by far more
    frozen = np.abs(np.repeat(np.stack(decoded)[:1], 12, 0).astype(np.float64) - small).mean()
    assert frozen > 2 * err


def test_a_higher_crf_spends_fewer_bytes():
    faces = moving_faces(10)
    low, _ = code_sequence(faces, 96, 30, Fraction(25))
    high, _ = code_sequence(faces, 96, 63, Fraction(25))
    assert sum(map(len, high)) < sum(map(len, low))


def test_packets_decode_as_they_arrive():
    enc, dec = BaseEncoder(64, 50, Fraction(25)), BaseDecoder()
    out = []
    for f in moving_faces(5):
        for p in enc.encode(f):
            out += dec.decode(p)
    for p in enc.flush():
        out += dec.decode(p)
    out += dec.flush()
    assert len(out) == 5


def test_bad_settings_and_damaged_packets_are_one_line_errors():
    with pytest.raises(ThcError, match="base size"):
        BaseEncoder(63, 50, Fraction(25))
    with pytest.raises(ThcError, match="CRF"):
        BaseEncoder(64, 70, Fraction(25))
    dec = BaseDecoder()
    with pytest.raises(ThcError, match="damaged file"):
        for _ in range(3):
            dec.decode(b"\x12\x00\x0a\x0b\x00\x00\x00\x24\xc4\xff\xdf\x00\x68\x02" + bytes(40))
        dec.flush()
        raise ThcError("damaged file: nothing decoded")  # a decoder that swallows garbage and yields nothing is fine too


def test_upscale_keeps_range_and_size():
    x = torch.rand(2, 3, 64, 64)
    y = upscale(x, 256)
    assert y.shape == (2, 3, 256, 256)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert upscale(y, 256) is y


@pytest.mark.parametrize("side", [64, 96, 128])
def test_upscale_is_torch_bicubic(side):
    # The fusion network was trained on F.interpolate's bicubic pictures; the receiver's matrix
    # form must give the same ones.
    x = torch.rand(2, 3, side, side)
    want = torch.nn.functional.interpolate(x, size=(256, 256), mode="bicubic", align_corners=False).clamp(0, 1)
    assert torch.allclose(upscale(x, 256), want, atol=1e-5)


def _layer(step: int, frames: list[int]):
    """A receiver's face layer fed base pictures for `frames` (its packets coded in one run)."""
    from thcodec.format import container as C
    from thcodec.receiver.base_layer import LayerReceiver

    header = C.BaseHeader(codec=C.BaseCodec.AV1, size=64, step=step, crf=40, fusion_sha256=bytes(32))
    layer = LayerReceiver(header, (64, 64))
    faces = [downscale(f, 64) for f in moving_faces(len(frames))]
    packets, decoded = code_sequence(faces, 64, 40, Fraction(25, 2))
    for frame, packet in zip(frames, packets):
        layer.add(C.BasePackets(first_frame=frame, step=step, packets=(packet,)))
    return layer, decoded


def test_a_frame_between_two_base_pictures_gets_both_blended_by_distance():
    layer, (p0, p3, p6) = _layer(3, [0, 3, 6])
    at = layer.at([0, 1, 2, 3, 4, 7])
    f = [p.astype(np.float64) for p in (p0, p3, p6)]
    assert np.array_equal(at[0], p0) and np.array_equal(at[3], p3)
    assert np.abs(at[1] - (f[0] * 2 / 3 + f[1] / 3)).max() <= 0.5
    assert np.abs(at[2] - (f[0] / 3 + f[1] * 2 / 3)).max() <= 0.5
    assert np.abs(at[4] - (f[1] * 2 / 3 + f[2] / 3)).max() <= 0.5
    assert np.array_equal(at[5], p6)  # no next picture yet: the newest


def test_a_gap_a_lost_packet_left_keeps_the_older_picture():
    layer, (p0, p4) = _layer(2, [0, 4])
    at = layer.at([1, 2, 3])
    assert all(np.array_equal(a, p0) for a in at)
    assert layer.at([5])[0] is not None and np.array_equal(layer.at([5])[0], p4)
