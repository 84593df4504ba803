"""The `thc` command line, driven in-process with typer's CliRunner."""

from __future__ import annotations

import csv
import inspect
import io
import json
import re
import shutil
import sys

import av
import numpy as np
import pytest
import typer.main
from conftest import clip_factory
from typer.testing import CliRunner

from thcodec import __version__
from thcodec.cli import app
from thcodec.media.video_io import VideoReader, probe

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands


def thc(*args) -> typer.testing.Result:
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.exception is None


def fails(result, match: str, code: int = 1) -> str:
    """Exit `code` (2: a usage mistake) with exactly one line on stderr, `thc: error: ...`, and no traceback."""
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not an escaped exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("thc: error: ")
    assert "Traceback" not in result.output
    assert re.search(match, lines[0]), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A clip and its .thc, made once through the CLI (the module's tests must not change them)."""
    make = clip_factory(tmp_path_factory.mktemp("cli"))
    clip = make(width=64, height=48, frames=8, audio=True)
    stream = clip.with_suffix(".thc")
    result = thc("encode", clip, stream, "--quiet")
    ok(result)
    return clip, stream, make


# --- version and help -------------------------------------------------------------------


def test_version():
    result = thc("--version")
    ok(result)
    assert result.stdout == f"thc {__version__}\n"


def test_no_arguments_shows_help():
    result = thc()
    assert "encode" in result.output and "decode" in result.output and "stats" in result.output


def test_every_command_is_listed():
    result = thc("--help")
    ok(result)
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_mentions_every_option(command):
    result = thc(command, "--help")
    ok(result)
    for param in COMMANDS[command].params:
        for opt in param.opts:
            if opt.startswith("-") and not param.hidden:
                assert opt in result.stdout, (command, opt)
    assert "--help" in result.stdout and "-h" in result.stdout
    assert thc(command, "-h").stdout == result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_paragraphs_are_one_line_each(command):
    """typer joins the lines of a command's first paragraph but keeps the line breaks of the
    others: there a docstring's source wrapping would show as ragged lines in --help."""
    _first, *rest = inspect.cleandoc(COMMANDS[command].help or "").split("\n\n")
    for paragraph in rest:
        assert "\n" not in paragraph.strip(), (command, paragraph)


def test_old_option_names_are_hidden_aliases(files, tmp_path):
    clip, _, _ = files
    help_text = thc("encode", "--help").stdout
    assert "--max-motion-error" in help_text and "--quality " not in help_text and " -q " not in help_text
    out = tmp_path / "old.thc"
    result = thc("encode", clip, out, "--quality", 3, "-q", "--single-pivot")
    ok(result)
    assert "--quality is now --max-motion-error" in result.stderr and "-q is now --quiet" in result.stderr
    assert "wrote" not in result.stderr  # -q still means quiet, for this version
    result = thc("encode", clip, tmp_path / "new.thc", "--max-motion-error", 3, "--quiet", "--single-pivot")
    ok(result)
    assert result.stderr.count("warning") == result.stderr.count("no face found")


def test_encode_refuses_an_output_not_named_thc(files, tmp_path):
    clip, _, _ = files
    fails(thc("encode", clip, tmp_path / "wrongname.mp4", "--single-pivot"), r"wrongname\.mp4: .*name the output \.thc")
    assert not (tmp_path / "wrongname.mp4").exists()
    result = thc("encode", clip, tmp_path / "stream.bin", "--force", "--quiet", "--single-pivot")
    ok(result)
    assert "stream.bin: a .thc stream under another name" in result.stderr


# --- happy paths ------------------------------------------------------------------------


def test_encode_decode_stats(files, tmp_path):
    _clip, stream, _ = files
    assert stream.read_bytes()[:4] == b"\x89THC"
    out = tmp_path / "back.mp4"
    result = thc("decode", stream, out)
    ok(result)
    assert f"wrote {out}: 8 frames" in result.stderr
    info = probe(out)
    assert (info.width, info.height, info.fps, info.has_audio) == (64, 48, 25, True)

    result = thc("stats", stream)
    ok(result)
    assert "kbit/s" in result.stdout and "keypoints" in result.stdout

    result = thc("stats", stream, "--json")
    ok(result)
    s = json.loads(result.stdout)
    assert s["frames"] == 8 and s["bytes_total"] == stream.stat().st_size
    assert sum(s["bytes_by_category"].values()) == s["bytes_total"]
    assert s["psnr_y"] is None and s["schema_version"] == 2 and s["frame_bytes"] is None


def test_encode_reports_what_it_wrote(files, tmp_path):
    clip, _, _ = files
    out = tmp_path / "loud.thc"
    result = thc("encode", clip, out, "--interp", 2, "--audio-kbps", 8, "--pivot-quality", 50)
    ok(result)
    assert re.search(rf"wrote {re.escape(str(out))}: 8 frames, \d+ bytes, [\d.]+ kbit/s", result.stderr)
    assert "warning: no face found" in result.stderr  # the synthetic clip has no face


def test_stats_with_reference(files):
    clip, stream, _ = files
    result = thc("stats", stream, "--reference", clip, "--json")
    ok(result)
    s = json.loads(result.stdout)
    assert 10 < s["psnr_y"] < 100 and 10 < s["psnr_rgb"] < 100 and 0 < s["ssim_rgb"] <= 1
    assert s["compared_frames"] == 8 and not s["warnings"]
    result = thc("stats", stream, "--reference", clip, "--csv")  # as examples/stats_csv.sh calls it
    ok(result)
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert float(row["psnr_y"]) == pytest.approx(s["psnr_y"], abs=0.01) and row["reference"] == str(clip)


def test_stats_decodes_as_thc_decode_is_told(files):
    clip, stream, _ = files
    full = json.loads(thc("stats", stream, "--reference", clip, "--json").stdout)
    result = thc("stats", stream, "--reference", clip, "--json", "--generator", "light", "--interp-method", "linear")
    ok(result)
    light = json.loads(result.stdout)
    assert light["psnr_y_per_frame"] != full["psnr_y_per_frame"]  # another network painted the frames
    fails(thc("stats", stream, "--sr", "bicubic"), "--sr needs --reference", code=2)


def test_stats_table_names_every_figure(files):
    _, stream, _ = files
    out = thc("stats", stream, "--frames").stdout
    for text in ("video", "bits/pixel", "audio", "container", "worst 0.32 s", "the whole clip", "video bytes per frame"):
        assert text in out, text
    s = json.loads(thc("stats", stream, "--json", "--frames").stdout)
    assert len(s["frame_bytes"]) == 8 and sum(f["video"] for f in s["frame_bytes"]) == s["video_bytes"]
    assert s["window_s"] == pytest.approx(0.32)


def test_stats_of_many_files_as_csv(files, tmp_path):
    import csv
    import io
    import shutil

    _, stream, _ = files
    odd = tmp_path / 'd,e "q".thc'  # a comma and quotes in the name: the csv module quotes them
    shutil.copy(stream, odd)
    broken = tmp_path / "broken.thc"
    broken.write_bytes(stream.read_bytes()[:100])
    result = thc("stats", stream, odd, broken, "--csv")  # broken: cut short, read with losses
    assert result.exit_code == 3
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["file"] for r in rows] == [str(stream), str(odd), str(broken)]
    assert rows[0]["bytes_total"] == rows[1]["bytes_total"] == str(stream.stat().st_size)
    assert rows[2]["error"] == "" and "truncated" in rows[2]["losses"] and rows[0]["losses"] == ""
    garbage = tmp_path / "garbage.thc"
    garbage.write_bytes(b"not a thc stream")
    result = thc("stats", stream, garbage, "--csv")
    assert result.exit_code == 1 and "garbage.thc" in result.stderr
    assert list(csv.DictReader(io.StringIO(result.stdout)))[1]["error"] != ""
    ok(thc("stats", stream, odd, "--csv"))
    assert len(json.loads(thc("stats", stream, odd, "--json").stdout)) == 2
    fails(thc("stats", stream, odd, "--reference", stream), "one INPUT", code=2)


def test_decode_without_audio(files, tmp_path):
    _, stream, _ = files
    out = tmp_path / "mute.mkv"
    ok(thc("decode", stream, out, "--no-audio", "--quiet"))
    assert not probe(out).has_audio
    assert probe(out).width == 64


def test_odd_size_plays_everywhere_as_mp4_and_stays_exact_as_mkv(files, tmp_path):
    make = files[2]
    clip = make(width=65, height=49, frames=3, audio=False)
    stream = tmp_path / "odd.thc"
    ok(thc("encode", clip, stream, "--quiet"))
    ok(thc("decode", stream, tmp_path / "odd.mp4", "--quiet"))
    with av.open(str(tmp_path / "odd.mp4")) as c:  # 4:2:0 (browsers, QuickTime): padded to even
        v = c.streams.video[0].codec_context
        assert (v.pix_fmt, v.width, v.height) == ("yuv420p", 66, 50)
    ok(thc("decode", stream, tmp_path / "odd.mkv", "--quiet"))
    with VideoReader(tmp_path / "odd.mkv") as reader:
        frames = list(reader)
    assert reader.info.width == 65 and reader.info.height == 49
    assert len(frames) == 3 and frames[0].shape == (49, 65, 3)


def test_size_keeps_the_aspect_with_minus_one_and_crf_sets_the_rate(files, tmp_path):
    make = files[2]
    clip = make(width=64, height=48, frames=3, audio=False)
    stream = tmp_path / "a.thc"
    ok(thc("encode", clip, stream, "--quiet"))
    ok(thc("decode", stream, tmp_path / "w.mp4", "--size", "128x-1", "--quiet"))
    assert (probe(tmp_path / "w.mp4").width, probe(tmp_path / "w.mp4").height) == (128, 96)
    ok(thc("decode", stream, tmp_path / "hi.mp4", "--crf", "0", "--quiet"))
    ok(thc("decode", stream, tmp_path / "lo.mp4", "--crf", "45", "--quiet"))
    assert (tmp_path / "lo.mp4").stat().st_size < (tmp_path / "hi.mp4").stat().st_size


def test_preset_sets_x264s_speed(files, tmp_path):
    make = files[2]
    clip = make(width=64, height=48, frames=3, audio=False)
    stream = tmp_path / "a.thc"
    ok(thc("encode", clip, stream, "--quiet"))
    for preset in ("ultrafast", "veryslow"):
        ok(thc("decode", stream, tmp_path / f"{preset}.mp4", "--preset", preset, "--quiet"))
    # ultrafast leaves out CABAC and most of the search: more bytes at the same --crf
    assert (tmp_path / "veryslow.mp4").stat().st_size < (tmp_path / "ultrafast.mp4").stat().st_size
    bad = thc("decode", stream, tmp_path / "x.mp4", "--preset", "instant", "--quiet")
    assert bad.exit_code == 2 and "--preset" in bad.output and not (tmp_path / "x.mp4").exists()


def test_one_frame_video(files, tmp_path):
    make = files[2]
    clip = make(frames=1, audio=True)
    stream, out = tmp_path / "one.thc", tmp_path / "one.mp4"
    ok(thc("encode", clip, stream, "--quiet"))
    result = thc("stats", stream, "--json")
    ok(result)
    assert json.loads(result.stdout)["frames"] == 1
    ok(thc("decode", stream, out, "--quiet"))
    with VideoReader(out) as reader:
        assert len(list(reader)) == 1


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["encode", "decode", "stats"])
def test_missing_input(command, tmp_path):
    args = [command, tmp_path / "nope.mp4"] + ([tmp_path / "out.x"] if command != "stats" else [])
    fails(thc(*args), r"nope\.mp4: no such file")
    assert not (tmp_path / "out.x").exists()


def test_input_is_a_directory(tmp_path):
    fails(thc("encode", tmp_path, tmp_path / "out.thc"), "is a directory")


def test_text_file_is_not_a_video(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a video\n" * 20)
    fails(thc("encode", text, tmp_path / "out.thc"), "not a media file")
    assert not (tmp_path / "out.thc").exists()
    fails(thc("decode", text, tmp_path / "out.mp4"), "not a .thc file")
    fails(thc("stats", text), "not a .thc file")


def test_audio_only_input(files, tmp_path):
    make = files[2]
    m4a = make(video=False, audio=True)
    fails(thc("encode", m4a, tmp_path / "out.thc"), r"no video stream \(audio only\?\)")
    assert not (tmp_path / "out.thc").exists()


def test_output_exists_needs_force(files, tmp_path):
    clip, stream, _ = files
    target = tmp_path / "taken.thc"
    target.write_bytes(b"precious")
    fails(thc("encode", clip, target), r"exists \(use --force to overwrite\)")
    assert target.read_bytes() == b"precious"
    video = tmp_path / "taken.mp4"
    video.write_bytes(b"precious")
    fails(thc("decode", stream, video), "exists")
    assert video.read_bytes() == b"precious"

    ok(thc("encode", clip, target, "--force", "--quiet"))
    assert target.read_bytes()[:4] == b"\x89THC"
    ok(thc("decode", stream, video, "-f", "--quiet"))
    assert probe(video).width == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.mp4", "taken.thc"]  # no temp files left


def test_output_directory_missing(files, tmp_path):
    clip, stream, _ = files
    fails(thc("encode", clip, tmp_path / "no" / "dir" / "x.thc"), "does not exist")
    fails(thc("decode", stream, tmp_path / "no" / "x.mp4"), "does not exist")
    assert not (tmp_path / "no").exists()


def test_output_is_a_directory(files, tmp_path):
    clip, _, _ = files
    fails(thc("encode", clip, tmp_path), "is a directory")


def test_damaged_stream_flipped_byte(files, tmp_path):
    _, stream, _ = files
    data = bytearray(stream.read_bytes())
    data[len(data) // 2] ^= 0x20
    bad = tmp_path / "flipped.thc"
    bad.write_bytes(bytes(data))
    fails(thc("decode", bad, tmp_path / "out.mp4", "--strict"), "damaged file: CRC mismatch")
    assert not (tmp_path / "out.mp4").exists()  # nothing half-written is left
    assert [p.name for p in tmp_path.iterdir()] == ["flipped.thc"]
    concealed = thc("decode", bad, tmp_path / "out.mp4")  # by default: concealed, exit 3, one warning
    if concealed.exit_code == 1:  # the flipped byte is in the only pivot: no picture to show
        fails(concealed, "no frames")
    else:
        assert concealed.exit_code == 3 and "thc: warning: decoded with losses" in concealed.output
        assert probe(tmp_path / "out.mp4").frame_count == probe(files[0]).frame_count
    read = thc("stats", bad)  # what it can read, one warning line for the rest, exit 3
    assert read.exit_code == 3 and re.search(r"thc: warning: .+: damaged file: 1 damaged regions skipped", read.stderr)


@pytest.mark.parametrize("keep", [5, 100, -3])
def test_damaged_stream_truncated(files, tmp_path, keep):
    _, stream, _ = files
    data = stream.read_bytes()
    bad = tmp_path / "cut.thc"
    bad.write_bytes(data[:keep])
    fails(thc("decode", bad, tmp_path / "out.mp4", "--strict"), "truncated file")
    assert not (tmp_path / "out.mp4").exists()
    if keep == 5:  # not even the file header: nothing to describe
        fails(thc("stats", bad), "truncated file")
    else:
        read = thc("stats", bad)
        assert read.exit_code == 3 and read.stderr.startswith(f"thc: warning: {bad}: damaged file:"), read.stderr
        assert "truncated" in read.stderr or "END" in read.stderr


def test_bad_option_values(files, tmp_path):
    clip, _, _ = files
    for args in (["--interp", "0"], ["--interp", "5"], ["--pivot-quality", "100"], ["--audio-kbps", "1"]):
        result = thc("encode", clip, tmp_path / "x.thc", *args)
        assert result.exit_code == 2, args  # usage error
        assert not (tmp_path / "x.thc").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "--min-pivot-interval", "inf"],
        ["encode", "--max-pivot-interval", "nan"],
        ["encode", "--max-motion-error", "nan"],  # nan compares false: it passed min= and max=
        ["encode", "--max-kbps", "nan"],
        ["decode", "--input-timeout", "nan"],
    ],
)
def test_float_options_take_finite_numbers(files, tmp_path, args):
    clip, stream, _ = files
    command, *option = args
    result = thc(
        command, clip if command == "encode" else stream, tmp_path / ("x.thc" if command == "encode" else "x.mp4"), *option
    )
    assert result.exit_code == 2 and "give a finite number" in result.stderr, result.output
    assert "Traceback" not in result.output


def test_paths_with_brackets_print_as_themselves(tmp_path):
    # the message holds the user's path; it must not be read as console markup
    for name in ("clip[bold].mp4", "clip[/].mp4", "a[/red]b.mp4"):
        line = fails(thc("encode", tmp_path / name, tmp_path / "out.thc"), "no such file")
        assert name in line


def test_long_paths_are_not_wrapped(tmp_path):
    deep = tmp_path / ("long_directory_name_" * 8)
    deep.mkdir()
    line = fails(thc("encode", deep / "missing_input_file_with_a_long_name.mp4", tmp_path / "o.thc"), "no such file")
    assert str(deep / "missing_input_file_with_a_long_name.mp4") in line


def test_decode_to_another_size(files, tmp_path):
    _, stream, _ = files
    out = tmp_path / "big.mp4"
    ok(thc("decode", stream, out, "--size", "96x72", "--sr", "bicubic", "--quiet"))
    assert (probe(out).width, probe(out).height) == (96, 72)


def test_decode_with_the_light_generator(files, tmp_path, monkeypatch):
    from thcodec.models import weights

    _, stream, _ = files
    outs = {}
    for name in ("full", "light"):
        outs[name] = tmp_path / f"{name}.mkv"
        result = thc("decode", stream, outs[name], "--generator", name)
        ok(result)
        assert ("light generator" in result.output) == (name == "light")  # the summary says which painted it
    full, light = (np.stack(list(VideoReader(outs[n]))) for n in ("full", "light"))
    assert full.shape == light.shape and not np.array_equal(full, light)  # the same frames, painted otherwise

    bare = tmp_path / "weights"  # weights without a light generator: said in one line
    shutil.copytree(weights.weights_dir(), bare)
    manifest = json.loads((bare / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["network"] != "light_generator"]
    (bare / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(weights, "weights_dir", lambda: bare)
    fails(thc("decode", stream, tmp_path / "x.mp4", "--generator", "light"), "no light generator")
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("size", ["96", "96x", "x72", "0x72", "96x72x3", "99999x72", "-4x8"])
def test_decode_bad_size(files, tmp_path, size):
    """A usage error, as a --crf out of range is (README, "Exit codes and errors")."""
    _, stream, _ = files
    bad = thc("decode", stream, tmp_path / "x.mp4", "--size", size)
    assert bad.exit_code == 2 and "--size" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x.mp4").exists()


def test_warnings_from_inside_are_one_line(monkeypatch, capsys):
    """A warning raised in the codec or a library prints as `thc: warning: ...`, not as Python's
    two lines of file name and source."""
    import signal
    import warnings

    import thcodec.cli

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # run() sets these: restored after
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(
        thcodec.cli, "app", lambda **kw: warnings.warn("THC_BACKEND=onnx unavailable, using torch", RuntimeWarning)
    )
    thcodec.cli.run()
    assert capsys.readouterr().err == "thc: warning: THC_BACKEND=onnx unavailable, using torch\n"


def test_top_level_help_names_the_environment_variables():
    out = thc("--help").output
    assert all(name in out for name in ("THC_THREADS", "THC_PRECISION", "THC_BACKEND", "THC_MALLOC")), out


def test_an_odd_size_for_h264_is_said(files, tmp_path):
    _, stream, _ = files
    padded = thc("decode", stream, tmp_path / "x.mp4", "--size", "65x48")
    assert padded.exit_code == 0 and "thc: warning: --size 65x48: H.264 needs even sides" in padded.stderr
    assert "66x48" in padded.stderr
    exact = thc("decode", stream, tmp_path / "x.mkv", "--size", "65x48")
    assert exact.exit_code == 0 and "warning" not in exact.stderr


@pytest.mark.parametrize("command", [[], ["encode"], ["decode"], ["stats"], ["bench"], ["batch"]])
def test_help_fits_an_80_column_terminal(command):
    """Nothing cut off with an ellipsis, and no summary broken where its docstring's source was."""
    out = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"}).output
    assert "…" not in out, out
    for info in typer.main.get_command(app).commands.values():  # each paragraph one line, for rich to wrap
        assert "\n" not in (info.help or "").replace("\n\n", ""), info.name
