"""Decode the training clips once into a compact cache of 256x256 face crops (the write side;
thcodec/data/frame_cache.py reads it).

Per clip: the face region is chosen on the first frame where a face is found (fixed for the
clip, as the codec fixes it per segment), every `stride`-th frame is cropped to 256x256 and
stored as uint8 with dlib's 68 landmarks (NaN where dlib finds no face).
Layout of DIR: frames.u8 (N,256,256,3 memmap), landmarks.npy (N,68,2), index.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from thcodec.data.clips import iter_rgb, split_rows
from thcodec.data.frame_cache import SIZE
from thcodec.face.landmarks import LandmarkTeacher
from thcodec.face.region import FaceFinder, Region, choose_region


def clip_crops(path: Path, finder: FaceFinder, stride: int, max_frames: int):
    region: Region | None = None
    kept = 0
    for i, frame in enumerate(iter_rgb(path)):
        if region is None:
            face = finder.largest_face(frame)
            if face is None and i < 10:
                continue
            region = choose_region(frame.shape[1], frame.shape[0], face)
        if i % stride:
            continue
        yield region.crop(frame, SIZE)
        kept += 1
        if kept >= max_frames:
            return


def build(data_dir: Path, out: Path, split: str, stride: int, max_frames: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = split_rows(data_dir, split)
    finder, teacher = FaceFinder(), LandmarkTeacher()
    frames_path = out / "frames.u8"
    clips, lms = [], []
    n = 0
    with open(frames_path, "wb") as fout:
        for k, row in enumerate(rows):
            start = n
            for crop in clip_crops(data_dir / "clips" / row["file"], finder, stride, max_frames):
                lm = teacher.landmarks(crop)
                lms.append(lm if lm is not None else np.full((68, 2), np.nan, np.float32))
                fout.write(crop.tobytes())
                n += 1
            clips.append({"file": row["file"], "start": start, "stop": n})
            print(f"[{k + 1}/{len(rows)}] {row['file']}: {n - start} frames", flush=True)
    np.save(out / "landmarks.npy", np.stack(lms).astype(np.float32))
    (out / "index.json").write_text(json.dumps({"size": SIZE, "count": n, "clips": clips}, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path(".cache/frames"))
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--max-frames", type=int, default=200)
    a = p.parse_args()
    for split in ("train", "val"):
        build(a.data, a.out / split, split, a.stride, a.max_frames)


if __name__ == "__main__":
    main()
