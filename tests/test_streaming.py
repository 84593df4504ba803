"""Memory stays flat with the length of the input: `thc encode` and `thc decode` stream.

A generated clip of THC_STREAMING_MINUTES (default 10: 64x64 at 25 fps, 15,000 frames, with a
44.1 kHz stereo tone) and one of THC_STREAMING_BASE_MINUTES (default 1) are encoded and decoded
through the CLI in subprocesses; each subprocess's peak RSS (wait4's ru_maxrss) must stay within
+25% of the short clip's. Both peaks are printed.

Slow (the default 10 minutes is a long run on a CPU): `python -m pytest -m slow -s tests/test_streaming.py`;
a quick check of the mechanics: THC_STREAMING_MINUTES=0.2 THC_STREAMING_BASE_MINUTES=0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import ROOT, square_frame

MINUTES = float(os.environ.get("THC_STREAMING_MINUTES", "10"))
BASE_MINUTES = float(os.environ.get("THC_STREAMING_BASE_MINUTES", "1"))
TOLERANCE = 1.25  # the long clip's peak may be at most 25% above the short clip's
WIDTH = HEIGHT = 64
FPS = 25
SAMPLE_RATE = 44100
AUDIO_CHUNK = 1024


def write_clip(path: Path, frames: int) -> Path:
    """An H.264 + AAC (stereo 440 Hz tone) MP4 of `frames` frames, written a frame at a time:
    nothing is held in memory, whatever the length."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "20"}
        video.time_base = video.codec_context.time_base = Fraction(1, FPS)
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        samples = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(square_frame(i, WIDTH, HEIGHT), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
            # audio up to the end of this video frame, so the two stay interleaved
            until = (i + 1) * SAMPLE_RATE // FPS
            while samples < until:
                n = min(AUDIO_CHUNK, until - samples)
                t = (samples + np.arange(n)) / SAMPLE_RATE
                tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.stack([tone, tone])), format="fltp", layout="stereo")
                chunk.sample_rate = SAMPLE_RATE
                chunk.pts = samples
                container.mux(audio.encode(chunk))
                samples += n
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return path


def run_measured(args: list) -> tuple[int, float, str]:
    """Run `python -m thcodec.cli *args`; (peak RSS in KiB, seconds, stderr). Fails on a non-zero exit."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # as conftest: leave the machine's other cores alone
    cmd = [sys.executable, "-m", "thcodec.cli", *map(str, args)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    assert proc.returncode == 0, (cmd, proc.returncode, stderr)
    return usage.ru_maxrss, seconds, stderr  # ru_maxrss is in KiB on Linux


def measure(directory: Path, label: str, minutes: float) -> dict:
    frames = round(minutes * 60 * FPS)
    clip = write_clip(directory / f"{label}.mp4", frames)
    stream, out = directory / f"{label}.thc", directory / f"{label}_out.mp4"
    enc_kib, enc_s, err = run_measured(["encode", clip, stream])
    assert re.search(rf": {frames} frames, \d+ bytes", err), err
    dec_kib, dec_s, err = run_measured(["decode", stream, out])
    assert f"wrote {out}: {frames} frames" in err, err
    result = {
        "label": label,
        "minutes": minutes,
        "frames": frames,
        "encode_kib": enc_kib,
        "decode_kib": dec_kib,
        "encode_s": enc_s,
        "decode_s": dec_s,
        "thc_bytes": stream.stat().st_size,
    }
    for path in (clip, stream, out):  # the long clip's files are large
        path.unlink()
    return result


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and os.wait4 as on Linux")
def test_peak_memory_is_flat(tmp_path, capsys, record_property):
    assert 0 < BASE_MINUTES < MINUTES, "need 0 < THC_STREAMING_BASE_MINUTES < THC_STREAMING_MINUTES"
    base = measure(tmp_path, "base", BASE_MINUTES)
    long = measure(tmp_path, "long", MINUTES)
    with capsys.disabled():
        print()
        for r in (base, long):
            print(
                f"streaming {r['minutes']:g} min ({r['frames']} frames {WIDTH}x{HEIGHT}, {r['thc_bytes']} bytes of .thc): "
                f"encode peak RSS {r['encode_kib'] / 1024:.1f} MiB in {r['encode_s']:.1f} s, "
                f"decode peak RSS {r['decode_kib'] / 1024:.1f} MiB in {r['decode_s']:.1f} s"
            )
        for step in ("encode", "decode"):
            ratio = long[f"{step}_kib"] / base[f"{step}_kib"]
            print(f"streaming {step}: {MINUTES:g} min / {BASE_MINUTES:g} min peak = {ratio:.3f} (limit {TOLERANCE})")
    for step in ("encode", "decode"):
        record_property(f"{step}_peak_kib_{BASE_MINUTES:g}min", base[f"{step}_kib"])
        record_property(f"{step}_peak_kib_{MINUTES:g}min", long[f"{step}_kib"])
    assert long["encode_kib"] <= TOLERANCE * base["encode_kib"], (base, long)
    assert long["decode_kib"] <= TOLERANCE * base["decode_kib"], (base, long)
