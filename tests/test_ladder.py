"""thc encode --kbps (the ladder: thcodec/sender/ladder.py) and --base-kbps (the base layer at a
target rate)."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest
from conftest import clip_factory, demo_head
from test_base_stream import moving_faces
from typer.testing import CliRunner

from thcodec.cli import app
from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.media.base_stream import code_sequence
from thcodec.options import EncodeOptions
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.sender import ladder
from thcodec.sender.encoder import encode
from thcodec.sender.rate_control import RateController

runner = CliRunner()


def target(kbps: float, audio: float = 0.0, seconds: float = 10.0, **given) -> EncodeOptions:
    """The options --kbps picks, with `given` as if typed on the command line."""
    opts = EncodeOptions(kbps=kbps, given=frozenset(given), **given)
    return ladder.for_target(opts, audio, seconds)


def thc_fails(*args, match: str, code: int = 1) -> None:
    """exit `code` (2: a usage mistake), one line: `thc: error: ...` matching `match`."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("thc: error: ") and match in lines[0], result.stderr


# --- the ladder ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kbps", "mode", "quality", "interp"),
    [(2, "keypoints", 30, 2), (7.9, "keypoints", 30, 2), (8, "keypoints", 50, 2), (9.9, "keypoints", 50, 2),
     (10, "hybrid", 50, 4), (13.9, "hybrid", 50, 4), (14, "hybrid", 50, 4), (100, "hybrid", 50, 4)],
)  # fmt: skip
def test_the_ladder_picks_the_highest_rung_at_or_under_the_rate(kbps, mode, quality, interp):
    rung = ladder.pick(kbps)
    assert (rung.mode, rung.pivot_quality, rung.interp) == (mode, quality, interp)


def test_a_mode_given_picks_within_that_mode():
    assert ladder.pick(20, "keypoints").pivot_quality == 50
    assert ladder.pick(5, "hybrid").mode == "hybrid"  # its lowest rung


def test_the_base_size_follows_the_base_rate():
    assert [ladder.base_size_for(k) for k in (-1, 3, 3.9, 4, 20)] == [96, 96, 96, 128, 128]
    assert target(10, seconds=4).base_size == 96  # a short call: its pivot leaves the base little
    assert target(10, seconds=30).base_size == 128


def test_hybrid_base_gets_what_the_key_points_and_the_pivot_leave():
    opts = target(16)
    assert (opts.mode, opts.base_size, opts.pivot_quality) == ("hybrid", 128, 50)
    assert opts.base_kbps == round(16 - ladder.keypoint_kbps(4, 16, 32) - ladder.PIVOT_BYTES * 8 / 1000 / 10, 1)
    assert target(16, seconds=60).base_kbps > opts.base_kbps  # a longer call spreads its pivot thinner
    assert target(16, seconds=0).base_kbps == opts.base_kbps  # unknown length: over PIVOT_SPREAD_S
    assert ladder.base_budget(16, ladder.keypoint_kbps(4), 10) > ladder.base_budget(16, ladder.keypoint_kbps(2), 10)
    # a 720p call's pivot is about 4 times a face crop's: 7 kbit/s more over 10 s
    assert 6.5 < ladder.base_budget(40, 3.3, 10) - ladder.base_budget(40, 3.3, 10, 1280 * 720) < 8


def test_fewer_key_points_leave_the_base_more():
    low = target(12)
    assert (low.mode, low.interp, low.xy_step, low.jac_step) == ("hybrid", 4, 16, 32)
    assert low.base_kbps == round(12 - ladder.keypoint_kbps(4, 16, 32) - ladder.PIVOT_BYTES * 8 / 1000 / 10, 1)
    assert "key points every 4 frames at steps 16/32" in ladder.describe(low)
    mine = target(12, interp=2)  # the user's --interp stays, and the base gets what it leaves
    assert (mine.interp, mine.xy_step) == (2, 16) and mine.base_kbps < low.base_kbps
    assert target(12, xy_step=4, jac_step=8).base_kbps < low.base_kbps  # finer key points cost more
    assert (target(16).interp, target(16).xy_step) == (4, 16)  # at every hybrid rate
    rates = [ladder.keypoint_kbps(i) for i in (1, 2, 3, 4)] + [ladder.keypoint_kbps(4, 16, 32)]
    assert rates == sorted(rates, reverse=True)
    assert ladder.keypoint_kbps(2, 16, 32) == ladder.keypoint_kbps(2)  # unmeasured: the default precision's


def test_the_audio_counts_and_a_short_call_falls_back_to_the_keypoint_mode():
    assert target(16, audio=12).mode == "keypoints"  # 4 kbit/s left for the picture
    assert target(10, seconds=2).mode == "keypoints"  # the pivot alone takes most of 10 kbit/s
    assert EncodeOptions().kbps == 0 and ladder.for_target(EncodeOptions(), 12, 10) == EncodeOptions()
    with pytest.raises(ThcError, match="leaves nothing for the picture"):
        target(12, audio=12)


def test_options_given_win():
    assert target(16, pivot_quality=70).pivot_quality == 70
    assert target(16, mode="keypoints").mode == "keypoints"
    assert target(16, base_size=64).base_size == 64
    crf = target(12, base_crf=40)
    assert (crf.mode, crf.base_crf, crf.base_kbps) == ("hybrid", 40, 0)  # the base layer's rate stays the user's
    assert target(16, base_kbps=5).base_kbps == 5
    assert target(9, base_step=2).mode == "hybrid"  # a --base-* option implies the hybrid mode
    with pytest.raises(ThcError, match="for the base layer"):
        target(6, base_size=64)  # hybrid asked for, and too little left for a base layer


# --- option checks: one line each --------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        (dict(mode="hybrid", base_kbps=0.5), "--base-kbps 0.5"),
        (dict(mode="hybrid", base_kbps=4, given=frozenset({"base_crf"})), "not both"),
        (dict(base_kbps=4), "add --mode hybrid"),
        (dict(base_size=48, given=frozenset({"base_size"})), "--base-size is a hybrid-mode option"),
        (dict(scene_size=96, given=frozenset({"scene_size"})), "--scene-size is a hybrid-mode option"),
        (dict(kbps=0.5), "--kbps 0.5"),
        (dict(kbps=10, mode="keypoints", base_size=96, given=frozenset({"mode", "base_size"})), "no base layer"),
    ],
)
def test_bad_rate_options_are_one_line_errors(fields, match):
    with pytest.raises(ThcError, match=match) as e:
        EncodeOptions(**fields)
    assert "\n" not in str(e.value)


def test_the_cli_knows_which_options_were_given(tmp_path):
    clip = tmp_path / "none.mp4"  # the options are checked before the input
    thc_fails(
        "encode", clip, tmp_path / "x.thc", "--mode", "hybrid", "--base-kbps", "4", "--base-crf", "40", match="not both", code=2
    )
    thc_fails("encode", clip, tmp_path / "x.thc", "--base-kbps", "4", match="add --mode hybrid", code=2)


def test_the_cli_reports_what_kbps_chose(tmp_path):
    make = clip_factory(tmp_path)
    clip = make(width=64, height=48, frames=4, audio=True)
    thc_fails("encode", clip, tmp_path / "a.thc", "--kbps", "10", match="the audio alone takes 12 kbit/s")
    result = runner.invoke(app, ["encode", str(clip), str(tmp_path / "b.thc"), "--kbps", "6", "--no-audio"])
    assert result.exit_code == 0, result.output
    assert "keypoints, pivot quality 30" in result.stderr


# --- the base layer at a target rate -----------------------------------------------------


def test_a_higher_base_target_spends_more_bytes_and_decodes():
    faces = moving_faces(16)
    low, decoded = code_sequence(faces, 96, 63, Fraction(25, 2), kbps=4)
    high, _ = code_sequence(faces, 96, 63, Fraction(25, 2), kbps=32)
    assert len(low) == len(decoded) == 16
    assert sum(map(len, high)) > 1.5 * sum(map(len, low))  # a small, easy picture: 32 kbit/s is more than it needs


def test_the_rate_cap_counts_a_base_target_before_it_is_written():
    plain = RateController(EncodeOptions(mode="hybrid"), Fraction(25), 0)
    with_base = RateController(EncodeOptions(mode="hybrid", base_kbps=8), Fraction(25), 0)
    assert with_base.prior_rate - plain.prior_rate == pytest.approx(1000)


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    return demo_head(tmp_path_factory.mktemp("ladder") / "demo12.mkv", 12)


def test_a_hybrid_stream_at_a_base_target_decodes(talking, loaded):
    _, src = talking
    out = io.BytesIO()
    opts = EncodeOptions(audio=False, mode="hybrid", base_size=64, base_kbps=6)
    result = encode(src, out, loaded, opts)
    chunks = [ch for ch, _ in C.read_chunks(io.BytesIO(out.getvalue()))]
    header = next(ch for ch in chunks if isinstance(ch, C.BaseHeader))
    assert (header.size, header.crf) == (64, 0)  # crf 0: coded at a target rate
    assert sum(isinstance(ch, C.BasePackets) for ch in chunks) >= 1
    frames = [e for e in decode_stream(io.BytesIO(out.getvalue()), loaded) if isinstance(e, Frame)]
    assert len(frames) == result.frames == 12
