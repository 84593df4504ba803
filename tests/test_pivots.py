"""Adaptive pivots end to end: scene cuts, forced intervals, the rate cap, and `thc stats`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import clip_factory, face_frame
from PIL import Image
from test_cli import fails, ok, thc

from thcodec.format import container as C
from thcodec.media.metrics import psnr
from thcodec.media.video_io import VideoReader
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.sender.encoder import encode
from thcodec.stats import stream_stats

CUT = 40
FRAMES = 75


def cut_picture(index: int, width: int, height: int) -> np.ndarray:
    """The demo head, then from frame CUT on a different picture (its negative, mirrored)."""
    f = face_frame(index % 30, width, height)
    return f if index < CUT else np.ascontiguousarray(255 - f[:, ::-1])


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    return clip_factory(tmp_path_factory.mktemp("pivots"))(width=128, height=128, frames=FRAMES, audio=False, picture=cut_picture)


def _encode(src, dst, loaded, **opts):
    with open(dst, "wb") as f:
        return encode(src, f, loaded, EncodeOptions(**opts))


def _frames(path, loaded) -> list[np.ndarray]:
    with open(path, "rb") as f:
        return [e.rgb for e in decode_stream(f, loaded) if isinstance(e, Frame)]


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_a_scene_cut_gets_a_new_pivot(cut_clip, tmp_path, loaded):
    out = tmp_path / "cut.thc"
    r = _encode(cut_clip, out, loaded)
    assert [(f, why) for f, why, _ in r.pivots] == [(0, "start"), (CUT, "scene_cut")]
    chunks = [c for c, _ in C.read_chunks(open(out, "rb"))]
    switches = [c for c in chunks if isinstance(c, C.PivotSwitch)]
    assert [(s.frame_index, s.reason) for s in switches] == [(0, C.SwitchReason.START), (CUT, C.SwitchReason.SCENE_CUT)]
    # the first segment's last frame is sent, and no block is predicted across the switch
    blocks = [c for c in chunks if isinstance(c, C.KeypointBlock)]
    sent = {b.first_frame + i * b.step for b in blocks for i in range(b.count)}
    assert CUT - 1 in sent and CUT in sent
    assert not next(b for b in blocks if b.first_frame == CUT).predicted
    frames = _frames(out, loaded)
    with VideoReader(cut_clip) as reader:
        source = list(reader)
    assert len(frames) == FRAMES
    # after the cut the receiver shows the new picture, not the old one animated
    assert psnr(frames[CUT + 5], source[CUT + 5]) > psnr(frames[CUT + 5], source[CUT - 5]) + 3
    single = tmp_path / "single.thc"
    r1 = _encode(cut_clip, single, loaded, adaptive=False)
    assert [p[1] for p in r1.pivots] == ["start"]
    assert psnr(_frames(single, loaded)[CUT + 5], source[CUT + 5]) < psnr(frames[CUT + 5], source[CUT + 5]) - 3


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_max_pivot_interval_forces_pivots(make_clip, tmp_path, loaded):
    clip = make_clip(width=64, height=64, frames=30, audio=False, picture=face_frame)
    out = tmp_path / "often.thc"
    r = _encode(clip, out, loaded, interp=3, min_pivot_interval_s=0.2, max_pivot_interval_s=0.4)
    assert [(f, why) for f, why, _ in r.pivots] == [(0, "start"), (10, "max_interval"), (20, "max_interval")]
    frames = _frames(out, loaded)
    assert len(frames) == 30
    s = stream_stats(out)
    assert [(p.frame, p.reason) for p in s.pivots] == [(0, "start"), (10, "max_interval"), (20, "max_interval")]


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_the_rate_cap_holds_over_every_window(cut_clip, tmp_path, loaded):
    # the detector's full-precision key points (about 3.5 kbit/s here) and quality-80 pivots:
    # a 6 kbit/s cap squeezes both pivots
    opts = dict(interp=1, pivot_quality=80, xy_step=1, jac_step=1, motion="detector")
    free = _encode(cut_clip, tmp_path / "free.thc", loaded, **opts)
    cap = 6.0
    capped_path = tmp_path / "capped.thc"
    capped = _encode(cut_clip, capped_path, loaded, max_kbps=cap, **opts)
    s = stream_stats(capped_path)
    # the cap counts bytes per 10 s; stats divides the worst window by the clip's 3 s
    assert s.window_s == 3.0 and s.worst_window_kbps * s.window_s / 10 <= cap
    # the clip is 3 s, but the cap assumes the key points go on for the whole 10 s window,
    # so both pivots must shrink; the cut still gets its own
    assert [p[:2] for p in capped.pivots] == [(0, "start"), (CUT, "scene_cut")]
    assert capped.pivots[0][2] < free.pivots[0][2] and capped.pivots[1][2] < free.pivots[1][2]
    assert not capped.warnings


def test_a_cap_below_the_audio_rate_is_refused(make_clip, tmp_path):
    clip = make_clip(frames=5, audio=True)
    fails(thc("encode", clip, tmp_path / "x.thc", "--max-kbps", 10, "--audio-kbps", 12), "audio alone takes 12 kbit/s")
    assert not (tmp_path / "x.thc").exists()
    fails(thc("encode", clip, tmp_path / "x.thc", "--min-pivot-interval", 5, "--max-pivot-interval", 2), "shorter than", code=2)


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_stats_lists_pivots_and_plots_quality(cut_clip, tmp_path, loaded):
    stream = tmp_path / "cut.thc"
    ok(thc("encode", cut_clip, stream, "--quiet"))
    plot = tmp_path / "q.png"
    result = thc("stats", stream, "--reference", cut_clip, "--plot", plot)
    ok(result)
    assert "frame 40 at 1.60 s (scene cut)" in result.stdout and "worst 3 s" in result.stdout
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.size == (960, 360)
    fails(thc("stats", stream, "--reference", cut_clip, "--plot", plot), "exists")  # no overwrite without --force
    ok(thc("stats", stream, "--reference", cut_clip, "--plot", plot, "--force"))
    fails(thc("stats", stream, "--plot", tmp_path / "p.png"), "--plot needs --reference", code=2)
    s = json.loads(thc("stats", stream, "--reference", cut_clip, "--json").stdout)
    assert len(s["psnr_y_per_frame"]) == FRAMES and [p["reason"] for p in s["pivots"]] == ["start", "scene_cut"]


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
def test_a_refresh_fades_in_and_a_cut_does_not(cut_clip, make_clip, tmp_path, loaded, monkeypatch):
    import thcodec.receiver.decoder as D

    clip = make_clip(width=128, height=128, frames=40, audio=False, picture=face_frame)
    out = tmp_path / "refresh.thc"
    r = _encode(clip, out, loaded, min_pivot_interval_s=0.2, max_pivot_interval_s=0.8)
    m = r.pivots[1][0]
    assert r.pivots[1][1] == "max_interval"
    faded = _frames(out, loaded)
    monkeypatch.setattr(D, "FADE_FRAMES", 0)
    hard = _frames(out, loaded)
    step = lambda frames, i: np.abs(frames[i].astype(float) - frames[i - 1]).mean()
    assert all(np.array_equal(a, b) for a, b in zip(faded[:m], hard[:m]))
    assert any(not np.array_equal(faded[i], hard[i]) for i in range(m, m + 8))
    assert all(np.array_equal(faded[i], hard[i]) for i in range(m + 8, 40))
    assert step(faded, m) < step(hard, m)
    monkeypatch.undo()
    cut = tmp_path / "cut.thc"
    _encode(cut_clip, cut, loaded)
    with_fade = _frames(cut, loaded)
    monkeypatch.setattr(D, "FADE_FRAMES", 0)
    assert all(np.array_equal(a, b) for a, b in zip(with_fade, _frames(cut, loaded)))


def _early_cut(index: int, width: int, height: int) -> np.ndarray:
    f = face_frame(index, width, height)
    return f if index < 5 else np.ascontiguousarray(255 - f[:, ::-1])


@pytest.mark.parametrize("cap", [0.0, 40.0])
def test_a_cut_in_the_first_frames_is_seen_with_or_without_a_cap(make_clip, tmp_path, loaded, cap):
    # under a cap the first pivot waits for 12 frames; a cut among them must still count
    clip = make_clip(width=128, height=128, frames=30, audio=False, picture=_early_cut)
    r = _encode(clip, tmp_path / "early.thc", loaded, max_kbps=cap)
    assert [(f, why) for f, why, _ in r.pivots] == [(0, "start"), (5, "scene_cut")]
    assert len(_frames(tmp_path / "early.thc", loaded)) == 30


@pytest.mark.slow  # a whole encode for one reader check; container and fuzz tests cover misplaced chunks
def test_a_switch_marker_must_name_its_pivots_frame(cut_clip, tmp_path, loaded):
    from thcodec.errors import ThcError

    good = tmp_path / "good.thc"
    _encode(cut_clip, good, loaded)
    chunks = [c for c, _ in C.read_chunks(open(good, "rb"))]
    bad = tmp_path / "bad.thc"
    with open(bad, "wb") as f:
        w = C.ContainerWriter(f)
        w.write_header(chunks[0])
        for c in chunks[1:]:
            if isinstance(c, C.PivotSwitch) and c.frame_index == CUT:
                c = C.PivotSwitch(frame_index=CUT - 1, reason=c.reason)
            w.write(c)
    with pytest.raises(ThcError, match="pivot switch for frame 39, pivot for frame 40"), open(bad, "rb") as f:
        list(decode_stream(f, loaded, strict=True))
