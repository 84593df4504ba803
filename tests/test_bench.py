"""thcodec.bench: metric code on synthetic frames with known answers, curves, reference, report, CLI."""

from __future__ import annotations

import importlib.util
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from thcodec.bench import quality as Q
from thcodec.bench.codec import Setting
from thcodec.bench.report import Row, at_rate, bd_rate, bd_rate_rows, markdown, pareto, pchip, read_csv, write_csv
from thcodec.bench.run import clip_names, parse_codecs, val_clips
from thcodec.cli import app
from thcodec.data.reference import Condition, make_reference, read_lossless, source_indices, square_region, write_lossless
from thcodec.errors import ThcError
from thcodec.face.region import Region

HAVE_FFMPEG = importlib.util.find_spec("imageio_ffmpeg") is not None
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.mp4"


def frames(n: int = 4, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- PSNR, SSIM


def test_psnr_of_a_known_noise_level():
    ref = np.full((3, 16, 16, 3), 128, np.uint8)
    sign = np.where((np.indices((16, 16)).sum(0) % 2) == 0, 1, -1)[None, :, :, None]
    dec = (ref.astype(int) + 5 * sign).astype(np.uint8)  # error +-5 everywhere: MSE 25
    expected = 10 * math.log10(255**2 / 25)
    assert Q.psnr_pair(dec, ref)[0] == pytest.approx(expected, abs=1e-9)
    assert Q.psnr_pair(dec, ref)[1] == pytest.approx(expected, abs=1e-9)


def test_psnr_mean_of_frames_and_psnr_of_mean_mse_differ_as_defined():
    ref = np.full((2, 8, 8, 3), 100, np.uint8)
    dec = ref.copy()
    dec[0] += 5  # MSE 25
    dec[1] += 10  # MSE 100
    per_frame = [10 * math.log10(255**2 / 25), 10 * math.log10(255**2 / 100)]
    assert Q.psnr_pair(dec, ref)[0] == pytest.approx(np.mean(per_frame))
    assert Q.psnr_pair(dec, ref)[1] == pytest.approx(10 * math.log10(255**2 / 62.5))


def test_psnr_agrees_with_thcodec_metrics():
    from thcodec.media.metrics import psnr

    a, b = frames(5, 24, 3), frames(5, 24, 4)
    assert Q.psnr_pair(a, b)[0] == pytest.approx(np.mean([psnr(x, y) for x, y in zip(a, b)]), abs=1e-9)
    assert Q.psnr_pair(a, b)[1] == pytest.approx(psnr(a, b), abs=1e-9)


def test_identical_frames_cap_psnr_and_give_ssim_one():
    f = frames()
    assert Q.psnr_pair(f, f)[0] == Q.PSNR_CAP
    assert Q.ssim_mean(f, f) == pytest.approx(1.0, abs=1e-6)


def test_ssim_mean_is_the_mean_of_per_frame_ssim():
    from thcodec.media.metrics import ssim_u8

    a = frames(7, 24, 1)
    b = np.clip(a.astype(int) + np.random.default_rng(2).integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    assert Q.ssim_mean(a, b, batch=3) == pytest.approx(np.mean([ssim_u8(x, y) for x, y in zip(a, b)]), abs=1e-5)


def test_metrics_refuse_mismatched_frames():
    with pytest.raises(ThcError):
        Q.psnr_pair(frames(3), frames(4))


# --------------------------------------------------------------------------- AKD


def test_akd_of_landmarks_shifted_by_3_4_is_5():
    lm = np.random.default_rng(0).uniform(0, 256, (6, 68, 2))
    shifted = lm + np.array([3.0, 4.0])
    assert Q.landmark_distance(lm[0], shifted[0]) == pytest.approx(5.0)
    akd, n = Q.akd_of(lm, shifted)
    assert akd == pytest.approx(5.0) and n == 6


def test_akd_skips_frames_without_a_reference_face():
    lm = np.zeros((3, 68, 2))
    dec = lm + np.array([3.0, 4.0])
    lm[1] = np.nan  # no face in reference frame 1
    dec[2] += 100  # only frame 2 is far off
    akd, n = Q.akd_of(lm, dec)
    assert n == 2
    assert akd == pytest.approx((5.0 + np.hypot(103, 104)) / 2)
    assert Q.akd_of(np.full((2, 68, 2), np.nan), np.zeros((2, 68, 2))) == (None, 0)


def test_face_scores_of_the_reference_itself_are_zero_and_grow_with_a_shift():
    from thcodec.media.video_io import VideoReader

    with VideoReader(DEMO) as r:
        ref = np.stack([f for _, f in zip(range(6), r)])
    fm = Q.FaceMetrics()
    faces = fm.reference(ref, every=5)
    assert faces.faces == 6 and sorted(faces.embeddings) == [0, 5]
    same = fm.score(faces, ref)
    assert same.akd == pytest.approx(0.0) and same.aed == pytest.approx(0.0) and same.face_miss == 0.0
    moved = fm.score(faces, np.roll(ref, (6, 8), axis=(1, 2)))  # the face moves 10 px, its box does not
    assert moved.akd > 3.0 and moved.aed > 0.0


# --------------------------------------------------------------------------- curves


def test_pareto_keeps_points_that_improve_on_every_cheaper_one():
    r, q = pareto([40, 10, 20, 30, 20], [50, 10, 30, 25, 20])
    assert list(r) == [10, 20, 40] and list(q) == [10, 30, 50]
    assert len(pareto([10, 20], [None, 5])[0]) == 1


def test_pchip_is_exact_on_lines_and_monotone():
    x = np.array([0.0, 1.0, 3.0, 4.0])
    xs = np.linspace(0, 4, 41)
    assert np.allclose(pchip(x, 2 * x + 1, xs), 2 * xs + 1)
    y = np.array([0.0, 0.1, 5.0, 5.1])
    assert np.all(np.diff(pchip(x, y, xs)) >= -1e-12)
    assert np.allclose(pchip(x, y, x), y)


CURVE_R = [5.0, 10.0, 20.0, 40.0, 80.0]
CURVE_Q = [30.0, 45.0, 60.0, 72.0, 80.0]


def test_bd_rate_of_identical_curves_is_zero():
    assert bd_rate(CURVE_R, CURVE_Q, CURVE_R, CURVE_Q) == pytest.approx(0.0, abs=1e-9)


def test_bd_rate_of_a_curve_needing_half_the_rate_is_minus_50_percent():
    half = [r / 2 for r in CURVE_R]
    assert bd_rate(CURVE_R, CURVE_Q, half, CURVE_Q) == pytest.approx(-50.0, abs=1e-9)
    assert bd_rate(half, CURVE_Q, CURVE_R, CURVE_Q) == pytest.approx(100.0, abs=1e-9)


def test_bd_rate_over_the_overlapping_quality_only():
    # log-rate linear in quality (so any subset interpolates the same line); the test curve covers
    # quality 45..75 only, where it needs half the rate
    rates, quals = [5.0, 10.0, 20.0, 40.0, 80.0], [30.0, 45.0, 60.0, 75.0, 90.0]
    assert bd_rate(rates, quals, [5.0, 10.0, 20.0], [45.0, 60.0, 75.0]) == pytest.approx(-50.0, abs=1e-9)


def test_bd_rate_is_none_without_overlap_or_points():
    assert bd_rate(CURVE_R, CURVE_Q, [1.0, 2.0], [5.0, 10.0]) is None
    assert bd_rate(CURVE_R, CURVE_Q, [1.0], [50.0]) is None
    assert bd_rate(CURVE_R, CURVE_Q, [1.0, 2.0], [50.0, 40.0]) is None  # one Pareto point


def row(codec: str, kbps: float, vmaf: float | None, akd: float | None, setting: str = "crf=1", clip: str = "c") -> Row:
    return Row(clip, codec, codec, setting, 250, int(kbps * 1250), kbps, 0.01, 30.0, 29.5, 0.9, vmaf, akd, 250,
               0.3, 50, 0.0, 10.0, 20.0, None, None, "s")  # fmt: skip


def test_bd_rate_on_akd_treats_lower_as_better():
    anchor = [row("x264", r, None, a) for r, a in zip([10, 20, 40], [3.0, 2.0, 1.0])]
    ours = [row("thc", r / 2, None, a) for r, a in zip([10, 20, 40], [3.0, 2.0, 1.0])]
    assert bd_rate_rows(anchor, ours, "akd") == pytest.approx(-50.0, abs=1e-9)


def test_rate_matched_interpolation_is_linear_in_log_rate():
    assert at_rate([10, 40], [20, 40], 20) == pytest.approx(30.0)  # 20 kbps is halfway in log rate
    assert at_rate([40, 10], [40, 20], 10) == pytest.approx(20.0)
    assert at_rate([10, 40], [20, 40], 9.9) is None
    assert at_rate([10, 40], [20, 40], 41) is None
    assert at_rate([10, 40], [None, None], 20) is None


# --------------------------------------------------------------------------- reference


def test_source_indices_resample_by_timestamp():
    assert source_indices(Fraction(25), Fraction(25), 5) == [0, 1, 2, 3, 4]
    assert source_indices(Fraction(30), Fraction(25), 6) == [0, 1, 2, 4, 5, 6]  # nearest of t = j/25
    assert source_indices(Fraction(25, 2), Fraction(25), 5) == [0, 1, 1, 2, 2]


def test_square_region():
    assert square_region(Region(10, 20, 100, 100), 640, 480, None) == Region(10, 20, 100, 100)
    assert square_region(Region.whole(64, 48), 64, 48, None) == Region(8, 0, 48, 48)
    assert square_region(Region.whole(64, 48), 64, 48, (60.0, 20.0, 30.0)) == Region(16, 0, 48, 48)


def test_lossless_reference_round_trips_exactly(tmp_path: Path):
    f = frames(5, 40)
    write_lossless(f, tmp_path / "r.mkv", Fraction(25))
    assert np.array_equal(read_lossless(tmp_path / "r.mkv"), f)


def test_make_reference_crops_resizes_and_resamples(make_clip, tmp_path: Path):
    clip = make_clip(width=80, height=48, frames=36, fps=30, audio=True)  # 1.2 s at 30 fps, no face
    ref = make_reference(clip, tmp_path / "refs", "c", Condition(size=32, frames=250))
    assert ref.frames.shape == (30, 32, 32, 3)  # 1.2 s at 25 fps
    assert ref.region == Region(16, 0, 48, 48) and ref.face_frame is None and ref.warnings
    assert np.array_equal(read_lossless(ref.path), ref.frames)
    short = make_reference(clip, tmp_path / "refs", "d", Condition(size=32, frames=7))
    assert short.count == 7 and short.duration_s == pytest.approx(0.28)


def test_native_and_wide_references(make_clip, tmp_path: Path):
    clip = make_clip(width=81, height=48, frames=5, audio=False)  # no face: the centred 48x48 square
    native = make_reference(clip, tmp_path / "refs", "n", Condition(name="crop", size=None))
    assert native.frames.shape == (5, 48, 48, 3)  # the region's own size
    wide = make_reference(clip, tmp_path / "refs", "w", Condition(name="wide", wide=(64, 36)))
    assert wide.frames.shape == (5, 36, 64, 3) and wide.region == Region(0, 0, 81, 48)


def test_long_call_memory_summary():
    from thcodec.bench.long_call import summary

    samples = [(t, 1024 * (100 + (50 if t > 9 else 0))) for t in range(12)]  # grows in the last quarter
    s = summary(12.0, 300, samples)
    assert s["fps"] == 25.0 and s["peak_rss_mib"] == 150.0 and s["peak_rss_first_quarter_mib"] == 100.0


# --------------------------------------------------------------------------- run, report, CLI


def test_settings_parse_and_names():
    s = Setting.of(pivot_quality=50, interp=2)
    assert s["interp"] == 2 and s.label == "pivot_quality=50,interp=2" and s.slug == "pivot_quality50_interp2"
    assert parse_codecs(None)[0] == "thc"
    assert parse_codecs("x264, frozen") == ("x264", "frozen")
    with pytest.raises(ThcError):
        parse_codecs("x264,mpeg2")
    assert clip_names([Path("a/x y.mp4"), Path("b/x y.mp4"), Path("c.mov")]) == ["x_y", "x_y_2", "c"]


def test_val_clips_reads_the_manifest(tmp_path: Path):
    (tmp_path / "MANIFEST.tsv").write_text("file\tsplit\tkind\na.mp4\ttrain\treal\nb.mp4\tval\treal\n")
    assert val_clips(tmp_path) == [tmp_path / "clips" / "b.mp4"]
    with pytest.raises(ThcError):
        val_clips(tmp_path, "test")
    with pytest.raises(ThcError):
        val_clips(tmp_path / "missing")


def test_csv_round_trip_and_markdown(tmp_path: Path):
    rows = [row("x264", r, v, a) for r, v, a in zip([10, 20, 40], [30, 50, 70], [3, 2, 1])]
    rows += [row("thc", r, v, a, setting=f"pivot_quality={q},interp=1")
             for r, v, a, q in zip([5, 10], [40, 60], [2.5, 1.5], [30, 75])]  # fmt: skip
    rows.append(row("vvenc", 30, None, None, setting="qp=63"))
    write_csv(rows, tmp_path / "p.csv")
    back = read_csv(tmp_path / "p.csv")
    assert [r.codec for r in back] == [r.codec for r in rows]
    assert back[0].vmaf == 30 and back[-1].vmaf is None and back[0].pivot_bytes is None and back[0].frames == 250
    md = markdown(back, {"thc": "ours", "x264": "H.264", "vvenc": "H.266"}, "t", ["note"])
    assert "| H.264 |" in md and "| q30 i1 |" in md
    assert "(≥ 10.0 kbps)" in md  # our 5 kbps point lies below x264's lowest rate
    assert "| 30.0 / 3.00 / 0.300 |" in md  # our 10 kbps point: x264 at 10 kbps is its lowest point


def test_bench_measures_the_weights_it_is_given(tmp_path: Path):
    from thcodec.bench.run import make_codecs
    from thcodec.models.weights import weights_dir

    shipped = make_codecs(("thc",))["thc"].loaded
    assert make_codecs(("thc",), weights_dir())["thc"].loaded.weights_sha256 == shipped.weights_sha256
    with pytest.raises(ThcError, match="manifest"):
        _ = make_codecs(("thc",), tmp_path)["thc"].loaded


def test_only_picks_named_settings_from_either_sweep():
    from thcodec.bench.run import _only, make_codecs

    codecs = make_codecs(("thc", "x265"))
    default = "pivot_quality=50,interp=2,motion=landmarks,xy_step=4,jac_step=8"
    full_only = "pivot_quality=55,interp=1"  # in the full sweep, not the quick one
    plan = _only(codecs, (default, full_only))
    assert [s.label for s in plan["thc"]] == [default, full_only] and plan["x265"] == []
    assert [s.label for s in _only(codecs, ("crf=51",))["x265"]] == ["crf=51"]
    with pytest.raises(ThcError, match="--only pivot_quality=51"):
        _only(codecs, ("pivot_quality=51",))


@pytest.mark.parametrize(("every", "min_gap"), [(3, 2.0), (1, 1)])
def test_pivot_refresh_points_send_a_pivot_at_least_that_often(monkeypatch, tmp_path, every, min_gap):
    from thcodec.bench import codec, ours
    from thcodec.bench.run import _only, make_codecs

    label = f"pivot_quality=30,interp=2,motion=landmarks,xy_step=4,jac_step=8,pivot_every={every}"
    codecs = make_codecs(("thc",))
    [point] = _only(codecs, (label,))["thc"]  # in the full sweep only
    assert label not in {s.label for s in codecs["thc"].settings(True)}
    seen = []

    def fake_encode(path, f, loaded, opts):
        seen.append(opts)
        raise ThcError("stop here")

    monkeypatch.setattr(codec, "encode", fake_encode)
    monkeypatch.setattr(ours.Thc, "loaded", None)
    with pytest.raises(ThcError, match="stop here"):
        codecs["thc"].run(type("Ref", (), {"path": tmp_path / "x.mkv"})(), point, tmp_path)
    assert (seen[0].max_pivot_interval_s, seen[0].min_pivot_interval_s, seen[0].pivot_quality) == (every, min_gap, 30)


def test_refined_points_are_listed_but_kept_out_of_the_bd_rate():
    rows = [row("x264", r, v, a) for r, v, a in zip([10, 20, 40], [30, 50, 70], [3, 2, 1])]
    rows += [row("thc", r, v, a, setting=f"pivot_quality={q},interp=1")
             for r, v, a, q in zip([8, 16, 30], [35, 45, 60], [2.5, 2.0, 1.5], [30, 55, 75])]  # fmt: skip
    labels = {"thc": "ours", "x264": "H.264"}
    plain = markdown(rows, labels, "t", [])
    refined = row("thc", 12, 90, 0.5, setting="pivot_quality=30,interp=1,refine=5")
    both = markdown([*rows, refined], labels, "t", [])
    bd = [next(line for line in md.splitlines() if line.startswith("| H.264 |")) for md in (plain, both)]
    assert bd[0] == bd[1] and "n/o" not in bd[0] and "| detector |" in bd[0]
    assert "| q30 i1 r5 | 12.00 | 90.0 |" in both and "r5" not in plain
    # a refined point whose label goes on after refine= (key-point steps) is refined too
    stepped = row("thc", 12, 90, 0.5, setting="pivot_quality=30,interp=1,refine=5,xy_step=4,jac_step=8")
    assert (
        next(line for line in markdown([*rows, stepped], labels, "t", []).splitlines() if line.startswith("| H.264 |")) == bd[0]
    )


def test_each_sender_has_its_own_bd_rate_curve():
    rows = [row("x264", r, v, a) for r, v, a in zip([10, 20, 40], [30, 50, 70], [3, 2, 1])]
    rows += [
        row("thc", r, v, a, setting=f"pivot_quality={q},interp=2") for r, v, a, q in zip([8, 16], [35, 45], [2.5, 2.0], [30, 80])
    ]
    rows += [row("thc", r, v, a, setting=f"pivot_quality={q},interp=2,motion=landmarks,xy_step=4,jac_step=8")
             for r, v, a, q in zip([8, 16], [35, 45], [1.5, 1.0], [30, 80])]  # fmt: skip
    md = markdown(rows, {"thc": "ours", "x264": "H.264"}, "t", [])
    lines = {s: next(x for x in md.splitlines() if x.startswith(f"| H.264 | {s} |")) for s in ("landmarks", "detector")}
    assert lines["landmarks"] != lines["detector"]
    akd = {s: float(line.split("|")[5].strip().rstrip("%")) for s, line in lines.items()}
    assert akd["landmarks"] < akd["detector"]  # lower AKD at the same rates: fewer bits for it
    assert "| q30 i2 L s4x8 | 8.00 |" in md


@pytest.mark.skipif(not HAVE_FFMPEG, reason="needs imageio-ffmpeg (the eval extra)")
def test_vmaf_of_the_reference_itself_is_high_and_noise_lowers_it(tmp_path: Path):
    _yy, xx = np.mgrid[0:96, 0:96]
    base = np.stack([(xx * 2 + t * 3) % 256 for t in range(8)]).astype(np.uint8)
    ref = np.repeat(base[..., None], 3, axis=-1)
    write_lossless(ref, tmp_path / "ref.mkv", Fraction(25))
    noisy = np.clip(ref.astype(int) + np.random.default_rng(0).integers(-40, 40, ref.shape), 0, 255).astype(np.uint8)
    same = Q.vmaf_frames(ref, tmp_path / "ref.mkv", Fraction(25))
    worse = Q.vmaf_frames(noisy, tmp_path / "ref.mkv", Fraction(25))
    assert same > 95 and worse < same - 10


def test_bench_cli_errors_are_one_line():
    runner = CliRunner()
    r = runner.invoke(app, ["bench"])
    assert r.exit_code == 1 and "no clips" in r.output
    r = runner.invoke(app, ["bench", "missing.mp4", "--codecs", "x264"])
    assert r.exit_code == 1 and "no such file" in r.output
    r = runner.invoke(app, ["bench", "missing.mp4", "--codecs", "h261"])
    assert r.exit_code == 1 and "unknown codec" in r.output


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_FFMPEG, reason="needs the eval extra")
def test_bench_end_to_end_on_a_tiny_clip(make_clip, tmp_path: Path, monkeypatch):
    """Every codec at one setting (its lowest rate) on a 20-frame synthetic clip, through the CLI."""
    from thcodec.bench import run as R

    real = R.make_codecs

    class OneSetting:
        def __init__(self, codec):
            self.codec, self.name, self.label = codec, codec.name, codec.label

        def settings(self, quick):
            return self.codec.settings(quick)[-1:]

        def run(self, ref, setting, out_dir):
            return self.codec.run(ref, setting, out_dir)

    monkeypatch.setattr(R, "make_codecs", lambda names, weights=None: {n: OneSetting(c) for n, c in real(names, weights).items()})
    clip = make_clip(width=96, height=96, frames=24, fps=25, audio=True)
    out = tmp_path / "bench"
    r = CliRunner().invoke(app, ["bench", str(clip), "--frames", "20", "--quick", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = read_csv(out / "points.csv")
    assert sorted(r.codec for r in rows) == sorted(R.CODECS)
    for x in rows:
        assert x.frames == 20 and x.bytes == Path(x.stream).stat().st_size
        assert x.kbps == pytest.approx(x.bytes * 8 / 0.8 / 1000, rel=1e-5)
        assert 5 < x.psnr < 100 and 0 < x.ssim <= 1 and x.vmaf is not None
        assert x.akd is None  # no face in the synthetic clip
    assert (out / "report.md").read_text().count("| thc |") == 1
    assert (out / "plots" / f"{clip.stem}.png").stat().st_size > 1000
    assert read_lossless(out / "refs" / f"{clip.stem}.mkv").shape == (20, 256, 256, 3)


def test_default_point_is_judged_at_the_anchor_rate_or_at_the_ends_of_its_sweep():
    """Clip a: our rate inside x264's sweep; b: below its lowest rate; c: above its highest."""
    default = "pivot_quality=80,interp=2,xy_step=4,jac_step=8"
    rows = []
    for clip, ours_kbps in (("a", 20.0), ("b", 5.0), ("c", 50.0)):
        rows += [row("x264", r, v, a, clip=clip) for r, v, a in zip([10, 40], [30, 70], [3.0, 1.0])]
        rows.append(row("thc", ours_kbps, 40, 2.1, setting=default, clip=clip))
        rows.append(row("thc", ours_kbps * 2, 99, 0.1, setting="pivot_quality=30,interp=1", clip=clip))  # not the default
    md = markdown(rows, {"thc": "ours", "x264": "H.264"}, "t", [], default)
    assert "## The default operating point (q80 i2 s4x8) against each anchor" in md
    lines = {line.split(" | ")[1]: line for line in md.splitlines() if line.startswith("| H.264 | ")}
    # a: x264 at 20 kbps, halfway in log rate: AKD 2.0, VMAF 50
    assert (
        lines["at our rate"]
        == "| H.264 | at our rate | 1 | 20.00 | 20.00 | 2.10 / 2.00 (0/1) | 0.300 / 0.300 (0/1) | 40.0 / 50.0 (0/1) |"
    )
    assert (
        lines["its lowest rate"]
        == "| H.264 | its lowest rate | 1 | 5.00 | 10.00 | 2.10 / 3.00 (1/1) | 0.300 / 0.300 (0/1) | 40.0 / 30.0 (1/1) |"
    )
    assert (
        lines["its highest rate"]
        == "| H.264 | its highest rate | 1 | 50.00 | 40.00 | 2.10 / 1.00 (0/1) | 0.300 / 0.300 (0/1) | 40.0 / 70.0 (0/1) |"
    )
    assert "## The default operating point" not in markdown(rows, {"thc": "ours", "x264": "H.264"}, "t", [])


def test_teacher_keypoints_fill_frames_without_a_face():
    from thcodec.bench.landmark_sources import teacher_keypoints

    rng = np.random.default_rng(0)
    lm = rng.uniform(60, 200, (3, 68, 2))
    lm[1] = np.nan
    kp, ok = teacher_keypoints(lm, 256)
    assert ok.tolist() == [True, False, True] and kp.xy.shape == (3, 10, 2)
    torch.testing.assert_close(kp.xy[1], kp.xy[0])  # the first face stands in
    assert kp.xy.abs().max() < 1  # pixels became [-1, 1] coordinates
    with pytest.raises(SystemExit):
        teacher_keypoints(np.full((2, 68, 2), np.nan), 256)


def test_codec_names_are_the_codecs_bench_makes():
    """The CLI lists thcodec.bench.codec_names without importing the codecs: the same names."""
    from thcodec.bench.anchors import ANCHORS
    from thcodec.bench.codec_names import CODECS
    from thcodec.bench.scaled import SCALED

    assert sorted(CODECS) == sorted(["thc", "thc_hybrid", *ANCHORS, *SCALED])


def test_bench_says_what_is_missing_before_measuring(make_clip, monkeypatch):
    """Without the eval extra the bench stops at once with one line, not after its last point."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    clip = make_clip(width=64, height=64, frames=3, fps=25)
    r = CliRunner().invoke(app, ["bench", str(clip), "--codecs", "frozen", "--quiet"])
    assert r.exit_code == 1 and r.output.count("\n") == 1
    assert "the benchmark needs" in r.output and "matplotlib" in r.output and "thcodec[eval]" in r.output
