"""The hybrid mode's scene layer: the whole frame, small, so what moves outside the face region
comes through (format 3)."""

from __future__ import annotations

import av
import numpy as np
import pytest
from conftest import demo_head

from thcodec.format import container as C
from thcodec.media.base_stream import downscale
from thcodec.media.metrics import psnr
from thcodec.options import MIN_SCENE_KBPS, SCENE_SHARE
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.receiver.scene import SceneBackground
from thcodec.sender.base_layer import has_scene_layer, scene_size
from thcodec.sender.encoder import EncodeOptions, encode

FRAMES, WIDTH, HEIGHT, SHIFT = 30, 480, 320, 3  # the picture slides SHIFT px a frame


@pytest.fixture(scope="module")
def sliding(tmp_path_factory):
    """The bundled example's head sliding sideways over a still backdrop: a whole-frame call
    whose body moves outside the face region."""
    out = tmp_path_factory.mktemp("scene")
    faces, _ = demo_head(out / "demo.mkv", FRAMES)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    backdrop = np.stack([xx * 255 // WIDTH, yy * 255 // HEIGHT, np.full_like(xx, 90)], -1).astype(np.uint8)
    frames = []
    for i, face in enumerate(faces):
        f = backdrop.copy()
        x = 40 + SHIFT * i
        f[40:296, x : x + 256] = face
        frames.append(f)
    path = out / "sliding.mkv"
    with av.open(str(path), "w") as o:
        s = o.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "bgr0"
        for f in frames:
            o.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="bgr0")))
        o.mux(s.encode(None))
    return np.stack(frames), path


def coded(src, dst, loaded, **opts):
    with open(dst, "wb") as f:
        encode(src, f, loaded, EncodeOptions(audio=False, mode="hybrid", base_size=64, base_crf=45, adaptive=False, **opts))
    with open(dst, "rb") as f:
        chunks = [ch for ch, _ in C.read_chunks(f)]
    with open(dst, "rb") as f:
        frames = [e.rgb for e in decode_stream(f, loaded) if isinstance(e, Frame)]
    return chunks, np.stack(frames)


def test_the_scene_layer_brings_the_moving_body_through(sliding, loaded, tmp_path):
    ref, src = sliding
    chunks, with_scene = coded(src, tmp_path / "scene.thc", loaded, scene_size=72)
    assert (tmp_path / "scene.thc").read_bytes()[8:10] == b"\x00\x03"
    heads = [c for c in chunks if isinstance(c, C.SceneHeader)]
    assert len(heads) == 1 and (heads[0].width, heads[0].height) == scene_size(WIDTH, HEIGHT, 72) == (108, 72)
    assert [i for c in chunks if type(c) is C.ScenePackets for i in c.frames] == list(range(0, FRAMES, 2))
    assert chunks.index(heads[0]) < next(n for n, c in enumerate(chunks) if isinstance(c, C.Pivot))

    chunks0, without = coded(src, tmp_path / "noscene.thc", loaded, scene_size=0)
    assert (tmp_path / "noscene.thc").read_bytes()[8:10] == b"\x00\x02"
    assert not any(isinstance(c, (C.SceneHeader, C.ScenePackets)) for c in chunks0)
    # The last frames, after the picture has slid 60-90 px: the frozen pivot is far off, the
    # scene layer follows.
    late = slice(FRAMES - 10, FRAMES)
    assert psnr(with_scene[late], ref[late]) > psnr(without[late], ref[late]) + 1.0


def test_a_face_crop_call_has_no_scene_layer(loaded, tmp_path):
    _, src = demo_head(tmp_path / "head.mkv", 6)
    chunks, _ = coded(src, tmp_path / "head.thc", loaded)  # 256x256: the face region is the frame
    assert (tmp_path / "head.thc").read_bytes()[8:10] == b"\x00\x02"
    assert not any(isinstance(c, C.SceneHeader) for c in chunks)


def test_where_the_scene_agrees_with_the_pivot_its_pixels_stay():
    rng = np.random.default_rng(0)
    pivot = rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)
    small = downscale(pivot, (64, 36)).copy()
    bg = SceneBackground(pivot, pivot, (64, 36))
    assert bg.frames([small])[0] is pivot  # nothing changed: the pivot's own pixels
    moved = small.copy()
    moved[10:20, 30:40] = 0  # something new (dark) in one block
    out = bg.frames([moved])[0]
    changed = np.any(out != pivot, axis=-1)
    ys, xs = np.nonzero(changed)
    # only around the block (5x its size in frame pixels, plus the spread of a change)
    assert 35 <= ys.min() and ys.max() < 120 and 130 <= xs.min() and xs.max() < 230


def test_a_very_wide_frame_keeps_its_scene_picture_within_the_codec_limit():
    assert scene_size(1280, 720, 144) == (256, 144)
    assert scene_size(2560, 720, 144) == (256, 72)  # 32:9: the long side caps it


def test_a_rate_too_low_for_the_scene_layer_leaves_it_out():
    hd = (1280, 720)
    assert has_scene_layer(EncodeOptions(mode="hybrid"), *hd)  # at a CRF
    assert has_scene_layer(EncodeOptions(mode="hybrid", base_kbps=MIN_SCENE_KBPS / SCENE_SHARE), *hd)
    assert not has_scene_layer(EncodeOptions(mode="hybrid", base_kbps=MIN_SCENE_KBPS / SCENE_SHARE - 1), *hd)
    assert not has_scene_layer(EncodeOptions(mode="hybrid"), 256, 256)  # the frame is the face picture
