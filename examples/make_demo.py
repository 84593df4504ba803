"""Regenerate examples/demo.mp4, the bundled talking-head demo clip.

    pip install scikit-image          # only for this script; not a thcodec dependency
    apt-get install espeak-ng         # optional: without it the audio is a tone sequence
    python examples/make_demo.py [--out examples/demo.mp4]

Picture: ``skimage.data.astronaut()``, the NASA portrait of astronaut Eileen Collins that
ships inside the scikit-image wheel (skimage/data/astronaut.png; no download). scikit-image
documents it as "downloaded from the NASA Great Images database <https://flic.kr/p/r9qvLn>.
No known copyright restrictions, released into the public domain." (a work of the US
federal government, NASA photo S94-44281).

Motion: a square crop around her face (about 2.2x the face box) is resampled for each
frame with a small smooth rotation (within +-4 degrees), translation (+-6 px) and scale
(+-3 %) about the face centre, plus a slight brightness drift: gentle head motion of a
still photo. One affine resample of the (edge-padded) full image per frame, so no black
borders appear.

Sound: eSpeak NG (a GPL-3.0-or-later program) speaking TEXT below. The synthesised audio is
program output, not a copy of the program, so the GPL does not cover it. If espeak-ng is not
installed, a short synthetic tone sequence is used instead.

Output: 256x256, 25 fps, 6 s, H.264 (libx264, crf 18, yuv420p) + AAC mono, MP4. See
examples/DEMO_LICENSE.md.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

SIZE = 256
FPS = Fraction(25)
SECONDS = 6
SAMPLE_RATE = 48000
TEXT = "Hello, this is a thcodec demo call. The face moves, the bytes stay few."

FACE_CENTRE = (224.0, 118.0)  # in the 512x512 astronaut image; face box ~ x 178-270, y 75-185
CROP_SIDE = 224.0  # ~2.2x the face box width
PAD = 64  # edge padding so that moving the crop never samples outside the photo

MAX_ROTATION_DEG = 4.0
MAX_SHIFT_PX = 6.0
MAX_SCALE = 0.03
MAX_BRIGHTNESS = 0.04


def load_photo() -> np.ndarray:
    from skimage import data  # imported here: only this script needs scikit-image

    photo = data.astronaut()
    return np.pad(photo, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="edge")


def wobble(t: float, phase: float) -> float:
    """A smooth pseudo-random signal in [-1, 1]: two incommensurate sines."""
    return 0.6 * math.sin(2 * math.pi * 0.23 * t + phase) + 0.4 * math.sin(
        2 * math.pi * 0.61 * t + 1.7 * phase
    )


def render_frame(photo: Image.Image, t: float) -> np.ndarray:
    angle = math.radians(MAX_ROTATION_DEG * wobble(t, 0.3))
    shift_x = MAX_SHIFT_PX * wobble(t, 1.9)
    shift_y = MAX_SHIFT_PX * wobble(t, 4.1)
    zoom = 1.0 + MAX_SCALE * wobble(t, 2.6)
    # Output pixel (u, v) -> photo pixel: centre + R(angle) * (k * (u - c, v - c)) - shift
    k = CROP_SIDE / SIZE / zoom
    cos, sin = math.cos(angle) * k, math.sin(angle) * k
    cx, cy = FACE_CENTRE[0] + PAD - shift_x, FACE_CENTRE[1] + PAD - shift_y
    c = SIZE / 2 - 0.5
    coeffs = (cos, -sin, cx - cos * c + sin * c, sin, cos, cy - sin * c - cos * c)
    frame = photo.transform((SIZE, SIZE), Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC)
    gain = 1.0 + MAX_BRIGHTNESS * math.sin(2 * math.pi * 0.15 * t + 0.8)
    return np.clip(np.asarray(frame, np.float32) * gain, 0, 255).astype(np.uint8)


def speech(seconds: float) -> np.ndarray:
    """Mono float32 samples at SAMPLE_RATE, exactly ``seconds`` long."""
    total = round(seconds * SAMPLE_RATE)
    voice = espeak(TEXT) if shutil.which("espeak-ng") else tones()
    start = round(0.25 * SAMPLE_RATE)
    out = np.zeros(total, np.float32)
    voice = voice[: total - start]
    out[start : start + voice.size] = voice
    return out


def espeak(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(wav), text], check=True)
        with wave.open(str(wav)) as f:
            rate, channels = f.getframerate(), f.getnchannels()
            raw = np.frombuffer(f.readframes(f.getnframes()), np.int16)
    mono = raw.reshape(-1, channels).mean(axis=1) / 32768.0
    voiced = np.flatnonzero(np.abs(mono) > 1e-3)  # trim eSpeak's leading/trailing silence
    if voiced.size:
        mono = mono[voiced[0] : voiced[-1] + 1]
    return resample(mono.astype(np.float32), rate)


def tones() -> np.ndarray:
    """Fallback: a syllable-like sequence of short gliding tones."""
    pieces = []
    for i in range(14):
        n = int(0.22 * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        f0 = 140 + 40 * math.sin(i * 1.3)
        envelope = np.sin(np.pi * t / t[-1]) ** 2
        pieces.append((0.3 * envelope * np.sin(2 * np.pi * (f0 + 30 * t) * t)).astype(np.float32))
        pieces.append(np.zeros(int(0.08 * SAMPLE_RATE), np.float32))
    return np.concatenate(pieces)


def resample(mono: np.ndarray, rate: int) -> np.ndarray:
    frame = av.AudioFrame.from_ndarray(mono[None, :], format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = [f.to_ndarray()[0] for f in resampler.resample(frame) + resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def write_demo(out: Path) -> None:
    photo = Image.fromarray(load_photo())
    audio = speech(SECONDS)
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.time_base = video.codec_context.time_base = 1 / FPS
        video.options = {"crf": "18", "preset": "slow"}
        video.thread_type = "AUTO"
        sound = container.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "mono"
        sound.bit_rate = 64000

        for i in range(int(SECONDS * FPS)):
            rgb = render_frame(photo, float(i / FPS))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))

        for start in range(0, audio.size, 1024):
            chunk = np.ascontiguousarray(audio[None, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("demo.mp4"))
    args = parser.parse_args()
    write_demo(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
