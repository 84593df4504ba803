import io

import numpy as np
import pytest
import torch
from PIL import Image

from thcodec.errors import ThcError
from thcodec.media.frames import jpeg_decode, jpeg_encode, resize, to_tensor, to_uint8


def random_frames(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_to_tensor_shape_range_and_values():
    f = random_frames((2, 5, 7, 3))
    t = to_tensor(f)
    assert t.shape == (2, 3, 5, 7) and t.dtype == torch.float32
    assert 0 <= t.min() and t.max() <= 1
    assert t[1, 2, 3, 4].item() == pytest.approx(f[1, 3, 4, 2] / 255)
    assert to_tensor(f[0]).shape == (1, 3, 5, 7)  # a single (H,W,3) frame gets a batch axis


def test_to_tensor_accepts_non_contiguous_input():
    f = random_frames((9, 10, 3))[::2, ::-1]
    assert np.array_equal(to_uint8(to_tensor(f))[0], f)


def test_uint8_round_trip_is_exact():
    f = random_frames((3, 16, 12, 3))
    every_value = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, -1)
    for frames in (f, every_value):
        back = to_uint8(to_tensor(frames))
        assert back.dtype == np.uint8 and back.shape == frames.shape
        assert np.array_equal(back, frames)


def test_to_uint8_rounds_and_clamps():
    t = torch.tensor([-0.5, 0.0, 0.49 / 255, 0.51 / 255, 1.0, 3.0]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    assert to_uint8(t)[0, 0, :, 0].tolist() == [0, 0, 0, 1, 255, 255]


def test_resize():
    f = random_frames((20, 30, 3))
    assert resize(f, 30, 20) is f  # same size: untouched
    out = resize(f, 17, 9)
    assert out.shape == (9, 17, 3) and out.dtype == np.uint8


def test_jpeg_encode_decode_size_and_quality():
    y, x = np.mgrid[0:48, 0:65]
    frame = np.stack([x * 3, y * 5, (x + y) * 2], -1).astype(np.uint8)  # smooth: JPEG-friendly
    data = jpeg_encode(frame, 90)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    back = jpeg_decode(data, 65, 48)
    assert back.shape == (48, 65, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frame.astype(int)).mean() < 3
    assert len(jpeg_encode(frame, 20)) < len(data)


def test_jpeg_restart_markers_keep_the_pixels_and_confine_damage():
    frame = random_frames((64, 96, 3), seed=3)
    plain, marked = jpeg_encode(frame, 80), jpeg_encode(frame, 80, restart=True)
    assert b"\xff\xdd" in marked and b"\xff\xdd" not in plain  # DRI: a restart interval
    assert len(plain) < len(marked) < len(plain) * 1.1
    assert np.array_equal(jpeg_decode(plain, 96, 64), jpeg_decode(marked, 96, 64))


def test_jpeg_decode_refuses_wrong_size():
    data = jpeg_encode(random_frames((48, 64, 3)), 80)
    with pytest.raises(ThcError, match=r"pivot image is 64x48, expected 48x64"):
        jpeg_decode(data, 48, 64)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage, not an image",
        b"\xff\xd8\xff\xe0" + b"\0" * 40,  # a JPEG start and nothing sensible after it
    ],
)
def test_jpeg_decode_refuses_garbage(data):
    with pytest.raises(ThcError, match="damaged file"):
        jpeg_decode(data, 64, 48)


def test_jpeg_decode_refuses_truncated_jpeg():
    data = jpeg_encode(random_frames((48, 64, 3)), 80)
    with pytest.raises(ThcError, match="damaged file: pivot image cannot be decoded"):
        jpeg_decode(data[: len(data) // 2], 64, 48)


def test_jpeg_decode_refuses_other_formats():
    buf = io.BytesIO()
    Image.fromarray(random_frames((48, 64, 3))).save(buf, format="PNG")
    with pytest.raises(ThcError, match="damaged file"):
        jpeg_decode(buf.getvalue(), 64, 48)


def test_jpeg_decode_converts_greyscale_to_rgb():
    buf = io.BytesIO()
    Image.fromarray(np.full((48, 64), 128, np.uint8), "L").save(buf, format="JPEG")
    out = jpeg_decode(buf.getvalue(), 64, 48)
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - 128).max() <= 1


def test_to_tensor_of_a_read_only_array_does_not_warn(recwarn):
    f = np.asarray(Image.fromarray(random_frames((8, 8, 3))))  # PIL gives read-only arrays
    assert not f.flags.writeable
    t = to_tensor(f)
    assert not [w for w in recwarn if "not writable" in str(w.message)]
    assert np.array_equal(to_uint8(t)[0], f)


def test_jpeg_decode_refuses_progressive_before_decoding():
    buf = io.BytesIO()
    Image.new("RGB", (32, 16), (10, 20, 30)).save(buf, format="JPEG", progressive=True)
    with pytest.raises(ThcError, match="progressive"):
        jpeg_decode(buf.getvalue(), 32, 16)
    assert jpeg_decode(jpeg_encode(np.zeros((16, 32, 3), np.uint8), 50), 32, 16).shape == (16, 32, 3)
