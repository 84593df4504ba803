"""Where the time of `thc encode` and `thc decode` goes, per stage.

    python -m thcodec.bench.profile encode IN.mkv OUT.thc [--threads 2]
    python -m thcodec.bench.profile decode IN.thc OUT.mp4 [--threads 2]

Each run is a fresh process, like a user's: it times the imports (torch, then the rest of the
codec), then runs the `thc` command with a timer around each stage's function. Timers are
exclusive: a stage called inside another (the sender's quality check animates and detects)
is counted once, under its own name; "other" is what no timer covers (reading the container,
the key-point timeline, the CLI). Work on the second thread (decoding the input, writing the
output, building dlib's models: thcodec/media/background.py) overlaps the main thread's: it is
reported apart, marked SECOND, and left out of the sum that "other" completes to the wall.
Prints one JSON object: {stage: seconds}, with "wall".
`thcodec.bench.speed` runs it for its per-stage table (docs/speed.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from functools import wraps

# (module, attribute path, stage): the leaf functions each stage's time is spent in; a function
# is patched where it was imported to, a method on its class
STAGES = [
    ("thcodec.models.weights", "load_model", "model loading"),
    ("thcodec.media.video_io", "VideoReader._rgb", "reading the input video"),
    ("thcodec.face.dlib_models", "_Once.__call__", "dlib's models (building, or waiting for them)"),
    ("thcodec.face.region", "FaceFinder.largest_face", "face detection (HOG)"),
    ("thcodec.face.landmarks", "LandmarkTeacher.landmarks", "landmarks (dlib)"),
    ("thcodec.face.landmarks", "LandmarkTeacher.box", "landmarks (dlib)"),
    ("thcodec.models.talking_head", "TalkingHead.detect_keypoints", "key-point detection"),
    ("thcodec.models.backend", "OrtTalkingHead.detect_keypoints", "key-point detection"),
    ("thcodec.models.talking_head", "TalkingHead.animate_with_motion", "dense motion + generator"),
    ("thcodec.models.interpolator", "Interpolator.forward", "interpolation network"),
    ("thcodec.models.fusion", "Fusion.forward", "fusion (hybrid)"),
    ("thcodec.models.backend", "OrtFusion.forward", "fusion (hybrid)"),
    ("thcodec.models.super_resolution", "SuperResolution.forward", "super-resolution"),
    ("thcodec.sender.rate_control", "encode_pivot", "pivot picture coding"),
    ("thcodec.sender.encoder", "encode_pivot", "pivot picture coding"),
    ("thcodec.sender.encoder", "decode_pivot", "pivot picture decoding"),
    ("thcodec.receiver.segment", "decode_pivot", "pivot picture decoding"),
    ("thcodec.media.base_stream", "BaseEncoder.encode", "base layer (AV1) coding"),
    ("thcodec.media.base_stream", "BaseDecoder.decode", "base layer (AV1) decoding"),
    ("thcodec.receiver.segment", "paste", "resize + paste-back"),
    ("thcodec.receiver.segment", "resize", "resize + paste-back"),
    ("thcodec.media.video_io", "VideoWriter.write_frame", "video encoding + muxing (x264)"),
    ("thcodec.media.video_io", "VideoWriter.close", "video encoding + muxing (x264)"),
]


SECOND = " (second thread)"  # marks a stage timed on another thread than the main one


class Timers:
    """Exclusive wall time per stage: a stage's time excludes the timed stages it calls. Each
    thread has its own stack; a stage timed off the main thread is recorded as stage + SECOND."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._local = threading.local()  # .stack: [stage, start, time spent in timed callees]

    def wrap(self, stage: str, fn):
        @wraps(fn)
        def timed(*args, **kwargs):
            stack = self._local.__dict__.setdefault("stack", [])
            stack.append([stage, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, start, inner = stack.pop()
                spent = time.perf_counter() - start
                main = threading.current_thread() is threading.main_thread()
                self.seconds[name if main else name + SECOND] += spent - inner
                if stack:
                    stack[-1][2] += spent

        return timed

    def install(self) -> None:
        import importlib

        for module, path, stage in STAGES:
            owner = importlib.import_module(module)
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part)
            fn = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
            if fn is not None:  # a method a subclass does not override is timed on its base class
                setattr(owner, name, self.wrap(stage, fn))


def child(argv: list[str]) -> None:
    """Runs `thc ARGV` in this process with the timers; prints the JSON line."""
    t0 = time.perf_counter()
    from thcodec.threads import sleep_when_idle

    sleep_when_idle()
    import torch  # noqa: F401  (timed on its own: the largest single share of start-up)

    t1 = time.perf_counter()
    import thcodec.cli
    import thcodec.receiver.decoder
    import thcodec.sender.encoder

    t2 = time.perf_counter()
    timers = Timers()
    timers.install()
    sys.argv = ["thc", *argv]
    try:
        thcodec.cli.app(prog_name="thc")
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    wall = time.perf_counter() - t0
    out = {"import torch": t1 - t0, "import the codec (typer, av, ...)": t2 - t1, **timers.seconds}
    out["other"] = wall - sum(v for k, v in out.items() if not k.endswith(SECOND))
    out["wall"] = wall
    print(json.dumps(out))


def profile(argv: list[str], threads: int, backend: str | None = None) -> dict[str, float]:
    """{stage: seconds} of `thc ARGV` in a fresh process at `threads` threads."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), THC_THREADS=str(threads), PYTHONWARNINGS="ignore")
    if backend:
        env["THC_BACKEND"] = backend
    cmd = [sys.executable, "-m", "thcodec.bench.profile", "--child", *argv]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(profiles: dict[tuple[str, int], dict[str, float]]) -> list[str]:
    """Markdown rows: one per stage, a column per (command, threads), seconds and share of the wall."""
    cols = list(profiles)
    stages = [s for s in dict.fromkeys(k for p in profiles.values() for k in p) if s != "wall"]
    lines = [
        "| stage | " + " | ".join(f"{cmd}, {t} thread{'s' * (t > 1)}" for cmd, t in cols) + " |",
        "| --- |" + " ---: |" * len(cols),
    ]
    for stage in [*stages, "wall"]:
        cells = []
        for c in cols:
            s, wall = profiles[c].get(stage, 0.0), profiles[c]["wall"]
            cells.append(f"{s:.2f} s" + ("" if stage == "wall" else f" ({100 * s / wall:.0f}%)"))
        lines.append(f"| {'**wall**' if stage == 'wall' else stage} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    threads = 2
    args = sys.argv[1:]
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i : i + 2]
    for stage, s in profile([*args, "--force", "--quiet"], threads).items():
        print(f"{stage:50s} {s:8.3f} s")


if __name__ == "__main__":
    main()
