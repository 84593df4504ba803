"""Side-by-side stills: original | thcodec | H.265 (and H.266) at the nearest rate, for a person to judge.

    python -m thcodec.bench.grid --bench out/bench --clips CLIP,CLIP,... --out docs

Uses the streams a `thc bench` run left under BENCH/streams: ours at the default point
(what `thc encode` does without options) and, per anchor, its stream whose rate is nearest ours
(the rates are printed on the picture). Rows are the frames at 2, 5 and 8 seconds.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from thcodec.bench.codec import decode_frames
from thcodec.bench.ffmpeg import decode_rgb
from thcodec.bench.ours import default_setting
from thcodec.data.reference import read_lossless
from thcodec.models.weights import load_model

TIMES_S = (2, 5, 8)
ANCHORS = ("x265", "vvenc")
LABEL_H = 22


def nearest(points: list[dict], codec: str, kbps: float) -> dict:
    return min((p for p in points if p["codec"] == codec), key=lambda p: abs(float(p["kbps"]) - kbps))


def grid(clip: str, bench: Path, out: Path, loaded) -> Path:
    with open(bench / "points.csv", newline="") as f:
        points = [p for p in csv.DictReader(f) if p["clip"] == clip]
    ours = next(p for p in points if p["codec"] == "thc" and p["setting"] == default_setting().label)
    ref = read_lossless(bench / "refs" / f"{clip}.mkv")
    size = ref.shape[1]
    columns = [("original", ref), (f"thcodec {float(ours['kbps']):.1f} kbit/s", decode_frames(Path(ours["stream"]), loaded))]
    for codec in ANCHORS:
        p = nearest(points, codec, float(ours["kbps"]))
        name = {"x265": "H.265", "vvenc": "H.266"}[codec]
        columns.append((f"{name} {float(p['kbps']):.1f} kbit/s", decode_rgb(Path(p["stream"]), size, size)))
    rows = [t * 25 for t in TIMES_S if t * 25 < len(ref)]
    img = Image.new("RGB", (size * len(columns), LABEL_H + size * len(rows)), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    for c, (label, frames) in enumerate(columns):
        d.text((c * size + size / 2, LABEL_H / 2), label, fill=(0, 0, 0), font=font, anchor="mm")
        for r, t in enumerate(rows):
            img.paste(Image.fromarray(frames[t]), (c * size, LABEL_H + r * size))
    path = out / f"grid_{clip}.png"
    img.save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=Path("out/bench"))
    ap.add_argument("--clips", help="comma-separated clip names (default: every clip of BENCH/points.csv)")
    ap.add_argument("--out", type=Path, default=Path("docs"))
    a = ap.parse_args()
    loaded = load_model()
    if a.clips:
        clips = a.clips.split(",")
    else:
        with open(a.bench / "points.csv", newline="") as f:
            clips = list(dict.fromkeys(p["clip"] for p in csv.DictReader(f)))
    for clip in clips:
        print(grid(clip, a.bench, a.out, loaded))


if __name__ == "__main__":
    main()
