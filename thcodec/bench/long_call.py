"""A one-minute 720p call end to end: decode speed and memory over time.

The call: a val clip's whole frames at 1280x720, 25 fps, played forwards and backwards until
it lasts SECONDS (default 60), written as H.264. `thc encode` it once, then `thc decode` it
(in a child process, as a user would) with each --sr method while its resident memory is
sampled every 0.2 s. Memory is flat when the peak over the whole minute is no higher than
the peak over its first quarter (plus a little noise).

Usage: python -m thcodec.bench.long_call --data ../shared/data [--clip CLIP.mp4] --out out/long_call --plot docs/long_call_rss.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from thcodec.data.clips import split_rows
from thcodec.data.reference import source_indices
from thcodec.media.video_io import VideoReader, VideoWriter

SIZE = (1280, 720)
FPS = 25


def make_call(src: Path, out: Path, seconds: int) -> int:
    with VideoReader(src) as r:
        frames = [np.asarray(Image.fromarray(f).resize(SIZE, Image.BILINEAR, reducing_gap=2.0)) for f in r]
        src_fps = r.info.fps
    wanted = source_indices(src_fps, FPS, int(len(frames) * FPS / src_fps))
    clip = [frames[min(i, len(frames) - 1)] for i in wanted]
    loop = clip + clip[-2:0:-1]  # forwards then backwards: no jump at the seam
    n = seconds * FPS
    w = VideoWriter(out, *SIZE, FPS, None, crf=18)
    for i in range(n):
        w.write_frame(loop[i % len(loop)])
    w.close()
    return n


def wide_clip(data: Path) -> str:
    """The first 16:9 val clip of data's manifest (a call's shape)."""
    for r in split_rows(data, "val"):
        if abs(int(r["width"]) / int(r["height"]) - 16 / 9) < 0.02:
            return r["file"]
    raise SystemExit(f"{data}: no 16:9 val clip in the manifest; name one with --clip")


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def watched(cmd: list[str]) -> tuple[float, list[tuple[float, int]]]:
    """Run cmd, sampling its resident memory -> (seconds, [(t, KiB)])."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    while p.poll() is None:
        kib = rss_kib(p.pid)
        if kib:
            samples.append((time.perf_counter() - t0, kib))
        time.sleep(0.2)
    err = p.stderr.read().decode()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {err}")
    return time.perf_counter() - t0, samples


def summary(seconds: float, frames: int, samples: list[tuple[float, int]]) -> dict:
    t = np.array([s[0] for s in samples])
    kib = np.array([s[1] for s in samples])
    quarter = kib[t <= t[-1] / 4]
    return {
        "seconds": round(seconds, 1),
        "fps": round(frames / seconds, 2),
        "peak_rss_mib": round(kib.max() / 1024, 1),
        "peak_rss_first_quarter_mib": round(quarter.max() / 1024, 1),
        "rss_last_mib": round(kib[-1] / 1024, 1),
    }


def plot_rss(out: Path, methods: list[str], path: Path) -> None:
    """Resident memory over the decode, one line per method, from out/rss_METHOD.json."""
    from thcodec.media.plot import BLUE, GREY, Series, line_chart

    series = []
    for method, color in zip(methods, (BLUE, GREY)):
        samples = json.loads((out / f"rss_{method}.json").read_text())
        series.append(Series(f"--sr {method}", [t for t, _ in samples], [k / 1024 for _, k in samples], color))
    line_chart(series, "thc decode of a one-minute 1280x720 call: resident memory", "seconds", "MiB", path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--clip", help="a file under DATA/clips (default: the manifest's first 16:9 val clip)")
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--out", type=Path, default=Path("out/long_call"))
    p.add_argument("--methods", default="net,bicubic")
    p.add_argument("--plot", type=Path, help="also draw memory over time to this PNG")
    p.add_argument("--plot-only", action="store_true", help="only redraw --plot from an earlier run in --out")
    a = p.parse_args()
    methods = a.methods.split(",")
    if a.plot_only:
        plot_rss(a.out, methods, a.plot)
        return
    a.clip = a.clip or wide_clip(a.data)
    a.out.mkdir(parents=True, exist_ok=True)
    call = a.out / f"call_{a.seconds}s.mp4"
    frames = make_call(a.data / "clips" / a.clip, call, a.seconds)
    thc = a.out / "call.thc"
    thc_cmd = [sys.executable, "-m", "thcodec.cli"]
    enc_s, _ = watched(thc_cmd + ["encode", str(call), str(thc), "--force", "--quiet", "--no-audio"])
    result = {
        "clip": a.clip,
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "frames": frames,
        "encode_s": round(enc_s, 1),
        "kbps": round(thc.stat().st_size * 8 / a.seconds / 1000, 2),
        "decode": {},
    }
    for method in methods:
        secs, samples = watched(
            thc_cmd + ["decode", str(thc), str(a.out / f"rec_{method}.mp4"), "--sr", method, "--force", "--quiet"]
        )
        result["decode"][method] = summary(secs, frames, samples)
        (a.out / f"rss_{method}.json").write_text(json.dumps(samples))
        print(method, json.dumps(result["decode"][method]), flush=True)
    (a.out / "long_call.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    if a.plot:
        plot_rss(a.out, methods, a.plot)


if __name__ == "__main__":
    main()
