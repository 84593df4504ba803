"""The whole-frame benchmark's parts that need no clip: the scaled anchor's sizes on a non-square
frame, the per-second PSNR outside the face region, the points of the command line."""

import numpy as np
import pytest

from thcodec.bench.codec import Setting
from thcodec.bench.outside_face import fill_gaps, per_second, summary
from thcodec.bench.scaled import bicubic_up, scaled_size
from thcodec.bench.sweep import Point
from thcodec.bench.whole_frame import Remaining, parse_point, redone
from thcodec.bench.whole_frame_report import anchor_at, report
from thcodec.errors import ThcError
from thcodec.face.region import Region


def test_scaled_size_keeps_the_aspect_ratio():
    assert scaled_size(256, 256, 96) == (96, 96)  # square: as before
    assert scaled_size(1280, 720, 72) == (128, 72)
    assert scaled_size(1280, 720, 144) == (256, 144)
    assert scaled_size(720, 1280, 144) == (144, 256)  # portrait
    assert scaled_size(1280, 720, 100) == (178, 100)  # 177.8, made even


def test_bicubic_up_non_square():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (3, 9, 16, 3), dtype=np.uint8)
    up = bicubic_up(small, (64, 36))
    assert up.shape == (3, 36, 64, 3) and up.dtype == np.uint8
    flat = np.full((2, 9, 16, 3), 77, np.uint8)
    assert (bicubic_up(flat, (32, 18)) == 77).all()
    assert bicubic_up(small[:, :9, :9], 18).shape == (3, 18, 18, 3)  # an int: square, as before


def frames(n=50, h=40, w=60):
    return np.random.default_rng(1).integers(0, 200, (n, h, w, 3), dtype=np.uint8)


def test_per_second_outside_the_region():
    ref = frames()
    region = Region(10, 5, 20, 20)
    dec = ref.copy()
    dec[:, 5:25, 10:30] += 8  # an error only inside the face region: outside is perfect
    dec[30:35, 0:2, :] += 4  # and in the second second, a little outside it
    whole, outside = per_second(dec, ref, [region] * 50, fps=25)
    assert len(whole) == 2 and outside[0] == 100.0  # capped: no error outside in the first second
    outside_px = (25 * (40 * 60 - 400) * 3) * 1.0
    assert outside[1] == pytest.approx(10 * np.log10(255**2 * outside_px / (5 * 2 * 60 * 3 * 16)))
    assert whole[0] == pytest.approx(10 * np.log10(255**2 / (64 * 400 / 2400)))
    s = summary(dec, ref, [region] * 50, 25)
    assert s["outside_worst_at"] == 1 and s["outside_worst_s"] < s["outside_psnr"] < 100.0


def test_a_frozen_body_shows_in_its_worst_second():
    ref = np.repeat(frames(n=1), 75, axis=0)  # a still picture
    ref[25:] = np.roll(ref[25:], 3, axis=2)  # that moves after the first second
    frozen = np.repeat(ref[:1], 75, axis=0)
    s = summary(frozen, ref, [Region(0, 0, 10, 10)] * 75, 25)
    assert s["outside_by_s"][0] > 40 and s["outside_worst_s"] < 15 and s["outside_worst_at"] in (1, 2)


def test_fill_gaps():
    a, b = Region(0, 0, 2, 2), Region(4, 4, 2, 2)
    assert fill_gaps([None, a, None, b, None]) == [a, a, a, b, b]
    assert fill_gaps([None, None]) == [None, None]


def test_parse_point():
    assert parse_point("scene:mode=hybrid,base_size=128,base_kbps=8.5,adaptive=false") == (
        "scene",
        {"mode": "hybrid", "base_size": 128, "base_kbps": 8.5, "adaptive": False},
    )
    assert parse_point("kp:") == ("kp", {})
    for bad in ("nocolon", ":pivot_quality=30", "x:pivot_quality"):
        with pytest.raises(ThcError):
            parse_point(bad)


class Fake:
    name, label = "thc_kp", "thcodec"

    def settings(self, quick):
        return [Setting.of(pivot_quality=30), Setting.of(pivot_quality=50)]


def test_remaining_and_redo():
    left = Remaining(Fake(), {"pivot_quality=30"})
    assert [s.label for s in left.settings(False)] == ["pivot_quality=50"]
    assert redone(Fake(), {"kp"}) and redone(Fake(), {"all"}) and not redone(Fake(), {"hyb"})


def point(codec, kbps, psnr, label="", **extra):
    return Point("c", codec, {"x": label} if label else {}, 250, 0, kbps, 1.0, 1.0, psnr=psnr, vmaf=psnr, extra=extra)


def test_anchor_hull_and_report():
    anchor = [point("a", 10, 30, "s1"), point("a", 20, 32, "s2"), point("a", 40, 33, "s3"), point("a", 30, 31, "s4")]
    assert anchor_at(anchor, "psnr", 15) == pytest.approx(31)
    assert anchor_at(anchor, "psnr", 50) is None  # never extrapolated
    assert anchor_at(anchor, "psnr", 35) == pytest.approx(32.75)  # s4 lies under the hull
    ours = point("thc_kp", 15, 29, outside_psnr=25.0, outside_by_s=[30.0, 20.0])
    text = report([ours, *anchor], "a")
    assert "| kp | (defaults) | 15.00 | 29.00 / 31.00 |" in text
