"""Decode the higher-resolution clips once for the super-resolution network.

Per clip whose face region is at least 512 px on its short side (the codec's own region
choice): DRIVING frames spread over the clip and PIVOTS pivot frames, the region resized to
512x512. Each pivot goes through a JPEG round trip at a random quality (the receiver only
ever sees a JPEG pivot). Every (pivot, driving) pair is animated once by the shipped model,
exactly as the receiver does (detector key points, 8-byte quantization of the driving ones):
its 256x256 frame, flow and occlusion are stored, so training the SR network never runs the
big model.
Layout of DIR: frames.u8 (N,512,512,3), pivots.u8 (P,512,512,3), pairs.npz, index.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from thcodec.data.clips import iter_rgb, read_manifest
from thcodec.face.region import FaceFinder, Region, choose_region
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import jpeg_decode, jpeg_encode, to_tensor, to_uint8
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import load_model
from thcodec.options import MODEL_SIZE

SIZE = 512
DRIVING = 12
PIVOTS = 2


def small(img: np.ndarray) -> np.ndarray:
    """A 512 crop -> the model's 256 input, resampled as the codec crops a region."""
    return Region.whole(SIZE, SIZE).crop(img, MODEL_SIZE)


def jpeg_round_trip(img: np.ndarray, quality: int) -> np.ndarray:
    return jpeg_decode(jpeg_encode(img, quality), img.shape[1], img.shape[0])


def clip_frames(path: Path, count: int, wanted: int, finder: FaceFinder) -> list[np.ndarray] | None:
    """`wanted` 512x512 region crops spread over the clip, or None when the region is under 512."""
    picks = set(np.linspace(0, max(0, count - 1), wanted).round().astype(int).tolist())
    region: Region | None = None
    out = []
    for i, frame in enumerate(iter_rgb(path)):
        first = region is None
        if first:
            face = finder.largest_face(frame)
            if face is None and i < 10:
                continue
            region = choose_region(frame.shape[1], frame.shape[0], face)
            if min(region.w, region.h) < SIZE or region.w != region.h:
                return None
        if i in picks or first:  # the first frame with a face stands in for a skipped frame 0
            out.append(region.crop(frame, SIZE))
    return out


def build(data_dir: Path, out: Path, split: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    loaded = load_model()
    model = loaded.model
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in read_manifest(data_dir) if r["split"] == split and min(int(r["width"]), int(r["height"])) >= SIZE]
    finder = FaceFinder()
    clips, pivot_idx, frame_idx, gens, flows, occs = [], [], [], [], [], []
    n_frames = n_pivots = 0
    with open(out / "frames.u8", "wb") as ff, open(out / "pivots.u8", "wb") as fp, torch.inference_mode():
        for row in rows:
            crops = clip_frames(data_dir / "clips" / row["file"], int(row["frames"]), DRIVING + PIVOTS, finder)
            if not crops or len(crops) < 4:
                print(f"{row['file']}: skipped (face region under {SIZE} px)", flush=True)
                continue
            pick = np.linspace(0, len(crops) - 1, PIVOTS).round().astype(int)
            pivots = [jpeg_round_trip(crops[p], int(rng.integers(60, 91))) for p in pick]
            driving = [c for n, c in enumerate(crops) if n not in set(pick.tolist())]
            d256 = to_tensor(np.stack([small(c) for c in driving]))
            dkp = model.detect_keypoints(d256)
            fields = kpq.quantize(*dkp.numpy())  # the stream's 8-byte key points
            dkp = Keypoints.from_numpy(*kpq.dequantize(fields))
            for p in pivots:
                p256 = to_tensor(small(p))
                pkp = model.detect_keypoints(p256)
                b = len(driving)
                gen, flow, occ = model.animate_with_motion(p256.expand(b, -1, -1, -1), pkp.expand(b), dkp)
                gens.append(to_uint8(gen))
                flows.append(flow.half().numpy())
                occs.append(occ[:, 0].half().numpy())
                pivot_idx += [n_pivots] * b
                frame_idx += list(range(n_frames, n_frames + b))
                fp.write(p.tobytes())
                n_pivots += 1
            ff.writelines(c.tobytes() for c in driving)
            clips.append({"file": row["file"], "frames": [n_frames, n_frames + len(driving)]})
            n_frames += len(driving)
            print(f"{row['file']}: {len(driving)} frames x {PIVOTS} pivots", flush=True)
    np.savez(
        out / "pairs.npz",
        pivot=np.array(pivot_idx),
        frame=np.array(frame_idx),
        gen=np.concatenate(gens),
        flow=np.concatenate(flows),
        occlusion=np.concatenate(occs),
    )
    index = {
        "size": SIZE,
        "frames": n_frames,
        "pivots": n_pivots,
        "pairs": len(frame_idx),
        "clips": clips,
        "weights": loaded.weights_sha256.hex(),
    }
    (out / "index.json").write_text(json.dumps(index, indent=1))


class SrCache:
    """Read side: frames/pivots (N,512,512,3) uint8 memmaps and the animated pairs."""

    def __init__(self, root: Path) -> None:
        self.index = json.loads((root / "index.json").read_text())
        s = self.index["size"]
        self.frames = np.memmap(root / "frames.u8", np.uint8, "r", shape=(self.index["frames"], s, s, 3))
        self.pivots = np.memmap(root / "pivots.u8", np.uint8, "r", shape=(self.index["pivots"], s, s, 3))
        with np.load(root / "pairs.npz") as z:
            self.pair_pivot, self.pair_frame = z["pivot"], z["frame"]
            self.gen, self.flow, self.occlusion = z["gen"], z["flow"], z["occlusion"]

    def __len__(self) -> int:
        return len(self.pair_frame)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path(".cache/sr"))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    for n, split in enumerate(("val", "train")):
        build(a.data, a.out / split, split, a.seed + n)


if __name__ == "__main__":
    main()
