"""Shared fixtures: tiny synthetic clips written with PyAV (no files shipped with the tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

ClipFactory = Callable[..., Path]
FrameFn = Callable[[int, int, int], np.ndarray]  # (index, width, height) -> (H,W,3) uint8

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.mp4"

# The model runs faster on one thread when the machine's cores are busy, and the tests
# must not take cores away from other work.
torch.set_num_threads(1)


def stream_header(**fields):
    """A HEAD chunk for tests: a 64x48, 25-fps stream of unknown length; fields override."""
    from thcodec.format.container import StreamHeader

    base = dict(
        width=64,
        height=48,
        fps_num=25,
        fps_den=1,
        frame_count=0,
        model_size=256,
        num_kp=10,
        interp=1,
        model_id="m",
        weights_sha256=bytes(32),
    )
    return StreamHeader(**{**base, **fields})


def square_frame(index: int, width: int, height: int) -> np.ndarray:
    """A grey frame with a coloured square that moves one step right and down per frame."""
    rgb = np.full((height, width, 3), 96, np.uint8)
    side = max(4, min(width, height) // 3)
    x = (index * 3) % max(1, width - side)
    y = (index * 2) % max(1, height - side)
    rgb[y : y + side, x : x + side] = ((index * 37) % 256, 200, 255 - (index * 23) % 256)
    return rgb


@lru_cache(maxsize=1)
def demo_face() -> np.ndarray:
    """The first frame of examples/demo.mp4: a 256x256 head crop (a real face for dlib)."""
    with av.open(str(DEMO)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


@lru_cache(maxsize=8)
def _face_of_side(side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(demo_face()).resize((side, side), Image.BILINEAR))


def face_frame(index: int, width: int, height: int) -> np.ndarray:
    """A grey frame with the demo head (side 3/4 of the frame height) that drifts right
    one pixel per frame, starting a quarter of the way across."""
    rgb = np.full((height, width, 3), 90, np.uint8)
    side = min(height * 3 // 4, width)
    x = min(width // 4 + index, width - side)
    y = (height - side) // 2
    rgb[y : y + side, x : x + side] = _face_of_side(side)
    return rgb


def _add_video(container, width: int, height: int, fps: Fraction, variable: bool):
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv444p" if width % 2 or height % 2 else "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": "20"}
    if variable:  # millisecond timestamps
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
    else:
        stream.time_base = stream.codec_context.time_base = 1 / fps
    return stream


def _write_video(
    container, stream, width: int, height: int, frames: int, frame_times: Sequence[float] | None, picture: FrameFn
) -> None:
    count = len(frame_times) if frame_times is not None else frames
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
        frame.pts = round(frame_times[i] * 1000) if frame_times is not None else i
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _add_audio(container, sample_rate: int, layout: str):
    stream = container.add_stream("aac", rate=sample_rate)
    stream.layout = layout
    return stream


def _write_audio(container, stream, seconds: float, sample_rate: int, layout: str) -> None:
    channels = 2 if layout == "stereo" else 1
    total = round(seconds * sample_rate)
    t = np.arange(total) / sample_rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, 1024):
        chunk = np.ascontiguousarray(np.repeat(tone[None, start : start + 1024], channels, 0))
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def clip_factory(directory: Path) -> ClipFactory:
    """Factory: ``make_clip(width=64, height=48, frames=10, fps=25, audio=True) -> Path``.

    Other keywords: ``video=False`` for an audio-only .m4a, ``audio_seconds`` (default: the
    video's length), ``sample_rate`` (44100, so readers must resample), ``layout`` ("stereo"),
    ``frame_times`` (seconds per frame, for variable frame rate), ``name``, ``picture``
    (a function (index, width, height) -> RGB frame; default ``square_frame``, which has no
    face; ``face_frame`` puts a real face in it).
    """
    counter = iter(range(10**6))

    def make(
        width: int = 64,
        height: int = 48,
        frames: int = 10,
        fps: int | Fraction = 25,
        audio: bool = True,
        video: bool = True,
        audio_seconds: float | None = None,
        sample_rate: int = 44100,
        layout: str = "stereo",
        frame_times: Sequence[float] | None = None,
        name: str | None = None,
        picture: FrameFn = square_frame,
    ) -> Path:
        fps = Fraction(fps)
        path = directory / (name or f"clip{next(counter)}.{'mp4' if video else 'm4a'}")
        if audio_seconds is None:
            last = frame_times[-1] + 1 / fps if frame_times is not None else frames / fps
            audio_seconds = float(last)
        with av.open(str(path), "w", format="mp4") as container:
            # every stream must exist before the first packet is muxed
            vfr = frame_times is not None
            vstream = _add_video(container, width, height, fps, vfr) if video else None
            astream = _add_audio(container, sample_rate, layout) if audio else None
            if vstream is not None:
                _write_video(container, vstream, width, height, frames, frame_times, picture)
            if astream is not None:
                _write_audio(container, astream, audio_seconds, sample_rate, layout)
        return path

    return make


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipFactory:
    """Factory: ``make_clip(width=64, height=48, frames=10, fps=25, audio=True) -> Path``,
    writing into the test's tmp_path; see clip_factory for the keywords."""
    return clip_factory(tmp_path)


@pytest.fixture
def tiny_clip(make_clip: ClipFactory) -> Path:
    """The default clip: 64x48, 10 frames at 25 fps, with a stereo 44.1 kHz tone."""
    return make_clip()


@pytest.fixture(scope="session")
def loaded():
    """The committed weights (weights/), loaded once per session."""
    from thcodec.models.weights import load_model

    return load_model()


def write_frame_cache(root: Path, n: int, seed: int) -> None:
    """A tiny training frame cache (thcodec.train.cache's layout): n noise pictures in two clips,
    landmarks scattered around a fixed 68-point shape."""
    import json

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    frames = rng.integers(0, 256, (n, 256, 256, 3), dtype=np.uint8)
    frames.tofile(root / "frames.u8")
    shape = np.random.default_rng(0).uniform(-0.5, 0.5, (68, 2))
    np.save(root / "landmarks.npy", (shape + rng.normal(0, 0.02, (n, 68, 2))).astype(np.float32))
    half = n // 2
    clips = [{"file": "a.mp4", "start": 0, "stop": half}, {"file": "b.mp4", "start": half, "stop": n}]
    (root / "index.json").write_text(json.dumps({"size": 256, "count": n, "clips": clips}))


def demo_head(path: Path, frames: int) -> tuple[list[np.ndarray], Path]:
    """The first `frames` frames of the bundled example (a real talking head, 256x256) written
    losslessly to path -> (the frames as read back, path)."""
    from thcodec.media.video_io import VideoReader

    with av.open(str(DEMO)) as c, av.open(str(path), "w") as o:
        s = o.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 256, 256, "bgr0"
        for i, f in enumerate(c.decode(video=0)):
            if i == frames:
                break
            o.mux(s.encode(av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24").reformat(format="bgr0")))
        o.mux(s.encode(None))
    with VideoReader(path) as reader:
        return list(reader), path


def motion_argv(root: Path, *options: str) -> list[str]:
    """sys.argv of a tiny `--part motion` run on landmark motion: writes a frame cache of 6 train
    and 4 val pictures under root/cache and returns the entry point's arguments, then `options`."""
    write_frame_cache(root / "cache" / "train", 6, 1)
    write_frame_cache(root / "cache" / "val", 4, 2)
    return ["train", "--part", "motion", "--driving", "landmarks", "--cache", str(root / "cache"), *options]
