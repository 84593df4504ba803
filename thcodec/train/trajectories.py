"""Key-point trajectories of the training clips at 25 fps, as the receiver gets them.

For the frame interpolator: every frame of every clip (resampled to 25 fps, up to
--max-frames), cropped to the codec's face region (chosen on the first frame, as the
encoder chooses it for a segment), run through the shipped key-point detector and the 8-byte
quantization. Writes OUT/<split>.npz: one (N, K, 6) int32 array of quantized fields per clip.

    python -m thcodec.train.trajectories --data ../shared/data --out .cache/kps
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from thcodec.data.clips import read_manifest
from thcodec.data.reference import source_indices
from thcodec.face.region import FaceFinder, choose_region
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import to_tensor
from thcodec.media.video_io import VideoReader
from thcodec.models.weights import load_model
from thcodec.options import MODEL_SIZE

FPS = Fraction(25)
BATCH = 32


def clip_fields(path: Path, model, finder: FaceFinder, max_frames: int) -> np.ndarray:
    with VideoReader(path) as reader:
        wanted = set(source_indices(reader.info.fps, FPS, max_frames))
        last = max(wanted, default=-1)
        region, crops, out = None, [], []
        for i, frame in enumerate(reader):
            if i > last:
                break
            if i not in wanted:
                continue
            if region is None:
                region = choose_region(frame.shape[1], frame.shape[0], finder.largest_face(frame))
            crops.append(region.crop(frame, MODEL_SIZE))
            if len(crops) == BATCH:
                out.append(kpq.quantize(*model.detect_keypoints(to_tensor(np.stack(crops))).numpy()))
                crops = []
        if crops:
            out.append(kpq.quantize(*model.detect_keypoints(to_tensor(np.stack(crops))).numpy()))
    return np.concatenate(out) if out else np.zeros((0, model.num_kp, kpq.NUM_FIELDS), np.int32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path(".cache/kps"))
    p.add_argument("--max-frames", type=int, default=300)
    p.add_argument("--splits", default="train,val")
    a = p.parse_args()
    torch.set_num_threads(1)
    model = load_model().model
    finder = FaceFinder()
    a.out.mkdir(parents=True, exist_ok=True)
    rows = read_manifest(a.data)
    with torch.inference_mode():
        for split in a.splits.split(","):
            clips = {}
            todo = [r for r in rows if r["split"] == split]
            for k, row in enumerate(todo):
                clips[Path(row["file"]).stem] = clip_fields(a.data / "clips" / row["file"], model, finder, a.max_frames)
                print(f"{split} [{k + 1}/{len(todo)}] {row['file']}: {len(clips[Path(row['file']).stem])} frames", flush=True)
            np.savez_compressed(a.out / f"{split}.npz", **clips)


if __name__ == "__main__":
    main()
