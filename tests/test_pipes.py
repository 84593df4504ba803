"""Pipes: '-' as input and output, FIFOs and symlinks written through, inputs that never deliver time out."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import square_frame
from test_cli import fails, ok, thc

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.media.atomic import output_target
from thcodec.media.streams import DirectOutput, TimedInput
from thcodec.media.video_io import VideoReader

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # thc of this venv


def nut_clip(path: Path, frames: int = 4, width: int = 48, height: int = 32) -> Path:
    """A tiny stream-container clip, as `ffmpeg -i x.mp4 -f nut -` would send it: FFV1 video and PCM audio."""
    with av.open(str(path), "w", format="nut") as c:
        v = c.add_stream("ffv1", rate=25)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = c.add_stream("pcm_s16le", rate=48000)
        a.layout = "mono"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(square_frame(i, width, height), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
            tone = (3000 * np.sin(np.arange(1920) / 10)).astype(np.int16)[None]
            af = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            af.sample_rate, af.pts = 48000, i * 1920
            c.mux(a.encode(af))
        c.mux(v.encode(None))
        c.mux(a.encode(None))
    return path


def reader_thread(path: Path) -> tuple[threading.Thread, list[bytes]]:
    """A thread that reads the FIFO path to its end into the returned list."""
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, got


# --- the helpers ---------------------------------------------------------------------------


def test_fifo_output_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "out.thc"
    os.mkfifo(fifo)
    t, got = reader_thread(fifo)
    with output_target(fifo, force=False) as out:  # no --force needed: there is no file to replace
        assert isinstance(out, DirectOutput)
        out.write(b"chunk one ")
        out.write(b"chunk two")
    t.join(5)
    assert got == [b"chunk one chunk two"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_symlinks_stay_links_their_targets_are_written(tmp_path):
    target = tmp_path / "real.thc"
    target.write_bytes(b"old")
    link = tmp_path / "link.thc"
    link.symlink_to(target)
    with pytest.raises(ThcError, match="exists"):
        with output_target(link, force=False):
            pass
    with output_target(link, force=True) as tmp:
        assert isinstance(tmp, Path) and tmp.parent == tmp_path  # a regular target: still atomic
        tmp.write_bytes(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    dangling = tmp_path / "dangling.thc"
    dangling.symlink_to(tmp_path / "made.thc")
    with output_target(dangling, force=False) as tmp:
        tmp.write_bytes(b"made")
    assert dangling.is_symlink() and (tmp_path / "made.thc").read_bytes() == b"made"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    to_fifo = tmp_path / "to_fifo.thc"
    to_fifo.symlink_to(fifo)
    t, got = reader_thread(fifo)
    with output_target(to_fifo, force=False) as out:
        out.write(b"through")
    t.join(5)
    assert got == [b"through"] and to_fifo.is_symlink() and stat.S_ISFIFO(os.stat(to_fifo).st_mode)


def test_fifo_without_writer_times_out(tmp_path):
    fifo = tmp_path / "in.thc"
    os.mkfifo(fifo)
    start = time.monotonic()
    with TimedInput(fifo, 0.3) as f, pytest.raises(ThcError, match=r"in.thc: no data for 0.3 s"):
        f.read(10)
    assert time.monotonic() - start < 3


def test_video_reader_reads_a_stream_once_with_its_audio(tmp_path):
    clip = nut_clip(tmp_path / "c.nut", frames=5)
    with open(clip, "rb") as f:
        fd = os.dup(0)
        os.dup2(f.fileno(), 0)
        try:
            with VideoReader("-", 5) as reader:
                audio = reader.audio(12000)
                frames = list(reader)
                packets = list(audio[1])
        finally:
            os.dup2(fd, 0)
            os.close(fd)
    assert reader.info.frame_count == 0 and reader.info.fps == Fraction(25)  # length unknown on a pipe
    assert len(frames) == 5 and frames[0].shape == (32, 48, 3)
    assert sum(p.duration for p in packets) >= 48000 * 5 // 25


# --- the command line ----------------------------------------------------------------------


def test_decode_gives_up_on_a_silent_fifo(tmp_path):
    fifo = tmp_path / "in.thc"
    os.mkfifo(fifo)
    line = fails(thc("decode", fifo, tmp_path / "o.mkv", "--input-timeout", "0.5"), r"in.thc: no data for 0.5 s")
    assert "--input-timeout" in line
    assert not (tmp_path / "o.mkv").exists()


def test_stdout_needs_a_streamable_format(tmp_path):
    (tmp_path / "x.thc").write_bytes(b"checked before it is read")
    fails(thc("decode", tmp_path / "x.thc", "-"), r"stdout: give the container with --format \(matroska, mkv, nut, y4m\)$")
    fails(thc("decode", tmp_path / "x.thc", "-", "--format", "mp4"), r"stdout: mp4 cannot be written to a pipe")
    fails(thc("decode", tmp_path / "x.thc", "-", "--format", "avi"), r"--format avi: choose one of", code=2)


def test_decoding_into_a_pipe_whose_reader_left_is_a_one_line_error(tmp_path):
    """`thc decode x.thc - --format nut | head -c 1000`: the writer's EPIPE is a ThcError; closing the
    container then writes into the same pipe inside PyAV's I/O callback, and that second error
    must not replace the first with a PyAVCallbackError traceback."""
    stream = tmp_path / "c.thc"
    ok(thc("encode", nut_clip(tmp_path / "c.nut"), stream, "--single-pivot", "--quiet"))
    dec = subprocess.Popen(
        ["thc", "decode", str(stream), "-", "--format", "nut", "--sr", "bicubic", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    dec.stdout.read(1000)  # as `| head -c 1000`: the container's header, then the reader is gone
    dec.stdout.close()
    err = dec.communicate(timeout=120)[1].decode()
    assert dec.returncode == 1 and err == "thc: error: cannot write stdout: the reader closed the pipe\n", err


def test_encode_into_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"  # no .thc suffix: a FIFO has no name a player goes by
    os.mkfifo(fifo)
    t, got = reader_thread(fifo)
    ok(thc("encode", nut_clip(tmp_path / "c.nut"), fifo, "--single-pivot", "--quiet"))
    t.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    (tmp_path / "got.thc").write_bytes(got[0])
    with open(tmp_path / "got.thc", "rb") as f:
        chunks = [c for c, _ in C.read_chunks(f)]
    assert isinstance(chunks[-1], C.End) and chunks[-1].frame_count == 4


@pytest.mark.slow  # two thc processes (each loads the model): 10-25 s here
def test_pipe_chain_nut_to_thc_to_nut(tmp_path):
    """cat clip.nut | thc encode - - | thc decode - - --format nut: every frame, at its size, with audio."""
    clip = nut_clip(tmp_path / "c.nut", frames=6)
    out = tmp_path / "out.nut"
    with open(clip, "rb") as src, open(out, "wb") as dst:
        enc = subprocess.Popen(
            ["thc", "encode", "-", "-", "--single-pivot"], stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
        )
        dec = subprocess.Popen(
            ["thc", "decode", "-", "-", "--format", "nut", "--sr", "bicubic"],
            stdin=enc.stdout,
            stdout=dst,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        enc.stdout.close()  # the decoder holds the pipe's only read end
        dec_err = dec.communicate(timeout=120)[1].decode()
        enc_err = enc.communicate(timeout=120)[1].decode()
    assert enc.returncode == 0 and dec.returncode == 0, (enc_err, dec_err)
    assert "wrote stdout: 6 frames" in enc_err and "wrote stdout: 6 frames" in dec_err
    with av.open(str(out)) as c:
        assert c.format.name == "nut" and [s.type for s in c.streams] == ["video", "audio"]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (32, 48, 3)


def test_kpts_block_sets_the_block_size(tmp_path):
    """--kpts-block: smaller key-point blocks, so a live receiver waits less for each frame."""
    out = tmp_path / "small.thc"
    ok(thc("encode", nut_clip(tmp_path / "c.nut", frames=9), out, "--single-pivot", "--kpts-block", "2", "--quiet"))
    with open(out, "rb") as f:
        blocks = [c for c, _ in C.read_chunks(f) if isinstance(c, C.KeypointBlock)]
    assert [b.count for b in blocks] == [2, 2, 1] and [b.first_frame for b in blocks] == [0, 4, 8]  # --interp 2: 0 2 | 4 6 | 8
