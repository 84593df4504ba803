import numpy as np
import pytest
from conftest import demo_face, face_frame

from thcodec.face.region import FACE_SCALE, FaceFinder, Region, choose_region, feather_mask, paste

# --- choose_region ----------------------------------------------------------------------


def inside(r: Region, width: int, height: int) -> bool:
    return r.x >= 0 and r.y >= 0 and r.w >= 1 and r.h >= 1 and r.x + r.w <= width and r.y + r.h <= height


@pytest.mark.parametrize("size", [(640, 360), (64, 48), (65, 49), (1, 1), (256, 256)])
def test_no_face_is_the_whole_frame(size):
    assert choose_region(*size, None) == Region(0, 0, *size) == Region.whole(*size)


@pytest.mark.parametrize(
    "width,height,face",
    [
        (256, 256, (128, 130, 110)),  # the demo: a head crop, face ~ half the frame
        (256, 256, (128, 128, 200)),  # face bigger than the frame allows
        (300, 256, (150, 128, 110)),  # nearly square (1.17)
        (256, 300, (128, 150, 110)),
    ],
)
def test_head_crop_is_the_whole_frame(width, height, face):
    assert choose_region(width, height, face) == Region.whole(width, height)


def test_small_face_in_wide_frame():
    r = choose_region(1280, 720, (640.0, 360.0, 100.0))
    assert r.w == r.h == round(FACE_SCALE * 100)
    assert r.w % 2 == 0 and inside(r, 1280, 720)
    # centred on the face horizontally; shifted up by 0.1 side so the head top fits
    assert r.x + r.w / 2 == pytest.approx(640, abs=1)
    assert r.y + r.h / 2 == pytest.approx(360 - 10, abs=1)


@pytest.mark.parametrize("side", [33.0, 50.3, 77.7, 101.0])
def test_region_side_is_even(side):
    r = choose_region(1920, 1080, (900.0, 500.0, side))
    assert r.w == r.h and r.w % 2 == 0
    assert abs(r.w - FACE_SCALE * side) <= 2


@pytest.mark.parametrize(
    "face,expect_xy",
    [
        ((10.0, 10.0, 100.0), (0, 0)),  # top-left corner
        ((1275.0, 715.0, 100.0), (1280 - 220, 720 - 220)),  # bottom-right corner
        ((10.0, 700.0, 100.0), (0, 720 - 220)),
        ((1270.0, 5.0, 100.0), (1280 - 220, 0)),
    ],
)
def test_region_is_clamped_at_borders(face, expect_xy):
    r = choose_region(1280, 720, face)
    assert (r.x, r.y) == expect_xy
    assert (r.w, r.h) == (220, 220)
    assert inside(r, 1280, 720)


def test_face_larger_than_short_side_of_wide_frame():
    # The region cannot be taller than the frame: it is the full height, still square.
    r = choose_region(1280, 720, (640.0, 360.0, 500.0))
    assert r.h == r.w == 720 and inside(r, 1280, 720)


def test_odd_short_side_stays_inside():
    r = choose_region(641, 361, (320.0, 180.0, 300.0))
    assert r.w == r.h == 360 and inside(r, 641, 361)


@pytest.mark.parametrize("width,height,side", [(640, 360, 0.3), (640, 360, 0.6), (100, 1, 5.0), (1, 100, 5.0), (3, 100, 50.0)])
def test_tiny_face_or_frame_gives_a_non_empty_region(width, height, side):
    r = choose_region(width, height, (width / 2, height / 2, side))
    assert inside(r, width, height)


def test_region_always_inside(seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(500):
        w, h = (int(v) for v in rng.integers(1, 2000, 2))
        face = (rng.uniform(-50, w + 50), rng.uniform(-50, h + 50), rng.uniform(0, 1.5 * max(w, h)))
        r = choose_region(w, h, face)
        assert inside(r, w, h), (w, h, face, r)
        assert r == Region.whole(w, h) or (r.w == r.h and (r.w % 2 == 0 or min(w, h) == 1))


# --- the detector on a real face ----------------------------------------------------------


def test_face_finder_on_the_demo_face():
    finder = FaceFinder()
    assert finder.largest_face(np.full((120, 160, 3), 90, np.uint8)) is None
    # the demo is a head crop: the whole frame
    face = finder.largest_face(demo_face())
    assert face is not None
    assert choose_region(256, 256, face) == Region.whole(256, 256)
    # the same head small in a wide frame: a square region around it
    frame = face_frame(0, 320, 160)  # head of side 120 at x = 80..200, y = 20..140
    face = finder.largest_face(frame)
    assert face is not None
    cx, cy, side = face
    assert 80 < cx < 200 and 20 < cy < 140 and 20 < side < 120
    r = choose_region(320, 160, face)
    assert r.w == r.h and r.w % 2 == 0 and inside(r, 320, 160)
    assert r.x <= cx <= r.x + r.w and r.y <= cy <= r.y + r.h


# --- crop, mask, paste ------------------------------------------------------------------


@pytest.mark.parametrize("region", [Region(0, 0, 64, 48), Region(10, 5, 20, 20), Region(3, 1, 7, 31)])
@pytest.mark.parametrize("size", [256, 32])
def test_crop_shape(region, size):
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = region.crop(frame, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8


def test_crop_at_model_size_is_exact():
    frame = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    r = Region(17, 23, 256, 256)
    assert np.array_equal(r.crop(frame, 256), frame[23:279, 17:273])


def test_crop_of_a_flat_region_stays_flat():
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[10:30, 20:40] = (10, 200, 30)
    out = Region(20, 10, 20, 20).crop(frame, 64)
    assert (out == (10, 200, 30)).all()


def test_feather_mask_values():
    m = feather_mask(40, 30, 4)
    assert m.shape == (30, 40, 1) and m.dtype == np.float32
    assert (m[4:-4, 4:-4] == 1).all()  # inside: 1
    assert m.min() > 0 and m.max() == 1
    # ramps 1/4, 2/4, 3/4, 1 from each edge, along the middle row and column
    assert m[15, :5, 0].tolist() == pytest.approx([0.25, 0.5, 0.75, 1, 1])
    assert m[15, -5:, 0].tolist() == pytest.approx([1, 1, 0.75, 0.5, 0.25])
    assert m[:5, 20, 0].tolist() == pytest.approx([0.25, 0.5, 0.75, 1, 1])
    assert m[0, 0, 0] == pytest.approx(0.25)  # corner: the smaller of both ramps
    assert np.array_equal(m, m[::-1]) and np.array_equal(m, m[:, ::-1])  # symmetric


@pytest.mark.parametrize("border", [0, -3])
def test_feather_mask_without_border_is_ones(border):
    assert (feather_mask(7, 5, border) == 1).all()


def test_paste_without_mask_replaces_the_region():
    bg = np.full((48, 64, 3), 50, np.uint8)
    patch = np.full((20, 30, 3), 200, np.uint8)
    r = Region(5, 7, 30, 20)
    out = paste(bg, patch, r, None)
    assert (out[7:27, 5:35] == 200).all()
    out[7:27, 5:35] = 50
    assert (out == 50).all()
    assert (bg == 50).all()  # the background is not modified in place


def test_paste_with_mask_feathers_the_edge():
    bg = np.zeros((48, 64, 3), np.uint8)
    patch = np.full((20, 20, 3), 200, np.uint8)
    r = Region(10, 10, 20, 20)
    out = paste(bg, patch, r, feather_mask(20, 20, 4))
    assert (out[14:26, 14:26] == 200).all()  # inside the border: the patch
    assert out[20, 10, 0] == 50 and out[20, 11, 0] == 100 and out[20, 12, 0] == 150  # ramp
    assert out[20, 29, 0] == 50
    assert (out[:10] == 0).all() and (out[:, :10] == 0).all() and (out[30:] == 0).all()  # outside
    assert (bg == 0).all()


def test_paste_full_mask_equals_no_mask():
    rng = np.random.default_rng(2)
    bg = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    r = Region(3, 4, 12, 10)
    assert np.array_equal(paste(bg, patch, r, feather_mask(12, 10, 0)), paste(bg, patch, r, None))


@pytest.mark.parametrize(("w", "h", "border"), [(20, 20, 4), (37, 29, 5), (474, 474, 19), (9, 9, 6), (12, 10, 1)])
def test_paste_blends_the_whole_region_as_one_formula(w, h, border):
    # paste blends only the feathered band; the result must be the whole region's blend.
    rng = np.random.default_rng(w + border)
    bg = rng.integers(0, 256, (h + 9, w + 7, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = feather_mask(w, h, border)
    want = bg.copy()
    region = want[4 : 4 + h, 3 : 3 + w].astype(np.float32)
    want[4 : 4 + h, 3 : 3 + w] = np.clip(region + (patch.astype(np.float32) - region) * mask + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(paste(bg, patch, Region(3, 4, w, h), mask), want)
