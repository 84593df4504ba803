"""Training pairs for the hybrid mode's fusion network, made once from the frame cache.

Per cached clip (256x256 face crops every 2nd frame, so 12.5 fps: the base layer's rate for a
25 fps call): the first frame is the pivot (through the codec's JPEG at a random quality);
every frame is animated from it by the shipped model, driven by key points as a stream carries
them, 8-byte quantized and coarsened like the default sender (--motion detector, which made the
shipped fusion network: the detector's own; --motion landmarks: the detector's pivot points
moved by dlib's landmarks from the cache, as the default sender sends them); and
the clip is coded by the base layer's own codec (thcodec/media/base_stream.py) at two
(size, CRF) settings drawn from SETTINGS, decoded and up-scaled, so the network learns that
codec's artefacts at the sizes and rates the sender uses.

Layout of OUT/SPLIT: gen.u8 (N,256,256,3) animated frames, occ.u8 (N,64,64) occlusion,
base.u8 (N,2,256,256,3) up-scaled decoded base frames, index.json (clips, settings, and the
frame-cache index of each target).
"""

from __future__ import annotations

import argparse
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from thcodec.data.frame_cache import FrameCache
from thcodec.face.landmarks import keypoints_from_landmarks
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import jpeg_decode, jpeg_encode, to_tensor, to_uint8
from thcodec.models.interpolator import Interpolator
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import load_model
from thcodec.sender.landmark_motion import TEMPLATE, relative_keypoints

SETTINGS = ((64, 63), (64, 55), (64, 47), (96, 63), (96, 55), (96, 47), (128, 63), (128, 55))
BASES = 2  # settings per clip
BASE_RATE = Fraction(25, 2)
COARSE_STEPS = (16, 32)  # the hybrid ladder's key-point steps (thcodec/sender/ladder.py)
SIZE = 256
BATCH = 16


def _drive_keypoints(
    model, frames: torch.Tensor, pivot_kp: Keypoints, marks: np.ndarray | None, pivot_marks: np.ndarray | None
) -> np.ndarray:
    """(B,K,6) quantized fields of the key points that drive frames."""
    kp = model.detect_keypoints(frames)
    if marks is not None and pivot_marks is not None:
        have = ~np.isnan(marks).any(axis=(1, 2))
        if have.any():
            teach_d = Keypoints.from_numpy(*keypoints_from_landmarks(marks[have], TEMPLATE))
            teach_s = Keypoints.from_numpy(*keypoints_from_landmarks(pivot_marks[None], TEMPLATE))
            moved = relative_keypoints(pivot_kp, teach_s, teach_d)
            h = torch.from_numpy(have)
            kp = Keypoints(kp.xy.clone(), kp.jacobian.clone())
            kp.xy[h], kp.jacobian[h] = moved.xy, moved.jacobian
    return kpq.quantize(*kp.numpy())


def _as_sent(fields: np.ndarray, coarse: bool, interpolator: Interpolator | None) -> np.ndarray:
    """(N,K,6) quantized fields of a clip's frames -> (N,K,6) float key points as a receiver has
    them: coarsened like the default sender (steps 4/8) or like the hybrid ladder
    (COARSE_STEPS, key points for every 2nd cached frame, i.e. every 4th at 25 fps, the frames
    between from the interpolation network, as thcodec/receiver/timeline.py fills them)."""
    xy_step, jac_step = COARSE_STEPS if coarse else (4, 8)
    xy, jac = kpq.dequantize(kpq.coarsen(fields, xy_step, jac_step))
    kp = np.concatenate([xy, jac.reshape(*jac.shape[:2], 4)], -1).astype(np.float32)
    if not coarse or interpolator is None or len(kp) < 3:
        return kp
    sent = list(range(0, len(kp), 2)) + ([len(kp) - 1] if len(kp) % 2 == 0 else [])  # the last frame is always sent
    for n in range(len(sent) - 1):
        a, b = sent[n], sent[n + 1]
        if b - a < 2:
            continue
        p, nxt = sent[max(n - 1, 0)], sent[min(n + 2, len(sent) - 1)]
        rows = [torch.from_numpy(kp[i][None]) for i in (p, a, b, nxt)]
        with torch.no_grad():
            kp[a + 1] = interpolator(*rows, torch.tensor([0.5]), torch.tensor([4.0]))[0].numpy()
    return kp


def _animate(
    loaded, pivot: np.ndarray, frames: np.ndarray, marks: np.ndarray | None, coarse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    model = loaded.model
    p = to_tensor(pivot)
    pkp = model.detect_keypoints(p)
    pivot_marks = None if marks is None or np.isnan(marks[0]).any() else marks[0]
    fields = []
    for s in range(0, len(frames), BATCH):
        f = to_tensor(np.ascontiguousarray(frames[s : s + BATCH]))
        fields.append(_drive_keypoints(model, f, pkp, None if marks is None else marks[s : s + BATCH], pivot_marks))
    kp6 = _as_sent(np.concatenate(fields), coarse, loaded.interpolator)
    gens, occs = [], []
    for s in range(0, len(frames), BATCH):
        k = kp6[s : s + BATCH]
        b = len(k)
        drive = Keypoints.from_numpy(k[..., :2], k[..., 2:].reshape(b, -1, 2, 2))
        gen, _, occ = model.animate_with_motion(p.expand(b, -1, -1, -1), pkp.expand(b), drive)
        gens.append(to_uint8(gen.clamp(0, 1)))
        occs.append((occ[:, 0] * 255).round().to(torch.uint8).numpy())
    return np.concatenate(gens), np.concatenate(occs)


def build(
    frames_dir: Path,
    out: Path,
    seed: int,
    motion: str = "detector",
    reuse_base: Path | None = None,
    coarse_share: float = 0.0,
    settings: tuple[tuple[int, int], ...] = SETTINGS,
) -> None:
    """reuse_base: a fusion cache of the same frames whose base layer (base.u8, settings) is
    kept (linked), so only the animation is made again (e.g. for another --motion).
    coarse_share: the share of clips whose key points are sent as the hybrid ladder sends them (_as_sent), drawn from their own generator so the other draws stay the same."""
    from thcodec.media.base_stream import code_sequence, upscale  # PyAV: the cache's maker only (a GPU machine lacks it)

    rng, rng_coarse = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    cache = FrameCache(frames_dir)
    loaded = load_model(backend="torch")
    out.mkdir(parents=True, exist_ok=True)
    old = json.loads((reuse_base / "index.json").read_text())["clips"] if reuse_base else None
    if reuse_base:
        (out / "base.u8").unlink(missing_ok=True)
        (out / "base.u8").symlink_to((reuse_base / "base.u8").resolve())
    clips, targets = [], []
    with (
        open(out / "gen.u8", "wb") as fg,
        open(out / "occ.u8", "wb") as fo,
        open(os.devnull if reuse_base else out / "base.u8", "wb") as fb,
        torch.inference_mode(),
    ):
        for n, (start, stop) in enumerate(cache.clips):
            frames = np.asarray(cache.frames[start:stop])
            q = int(rng.integers(30, 81))
            pivot = jpeg_decode(jpeg_encode(frames[0], q), SIZE, SIZE)
            marks = np.asarray(cache.landmarks[start:stop]) if motion == "landmarks" else None
            coarse = bool(rng_coarse.random() < coarse_share)
            gen, occ = _animate(loaded, pivot, frames, marks, coarse)
            picks = rng.choice(len(settings), BASES, replace=False)
            bases, rates = [], []
            for k in picks if old is None else ():
                size, crf = settings[k]
                packets, decoded = code_sequence(frames, size, crf, BASE_RATE)
                up = upscale(to_tensor(np.stack(decoded)), SIZE)
                bases.append(to_uint8(up))
                rates.append(sum(map(len, packets)) * 8 / (len(frames) / float(BASE_RATE)) / 1000)
            if old is not None:
                picks = [settings.index(tuple(s)) for s in old[n]["settings"]]
                rates = old[n]["kbps"]
            else:
                fb.write(np.stack(bases, 1).tobytes())
            fg.write(gen.tobytes())
            fo.write(occ.tobytes())
            clips.append(
                {
                    "frames": [len(targets), len(targets) + len(frames)],
                    "pivot_quality": q,
                    "settings": [list(settings[k]) for k in picks],
                    "kbps": [round(r, 2) for r in rates],
                    "keypoints": "coarse" if coarse else "default",
                }
            )
            targets += list(range(start, stop))
            print(
                f"[{n + 1}/{len(cache.clips)}] {len(frames)} frames, base {clips[-1]['settings']} at {clips[-1]['kbps']} kbit/s",
                flush=True,
            )
    index = {"count": len(targets), "targets": targets, "clips": clips, "frames_dir": str(frames_dir)}
    (out / "index.json").write_text(json.dumps(index))


class FusionCache:
    """Read side: gen (N,256,256,3), occ (N,64,64), base (N,2,256,256,3) uint8 memmaps, the targets
    (rows of the frame cache) and that cache's frames and landmarks."""

    def __init__(self, root: Path, frames: FrameCache) -> None:
        self.index = json.loads((root / "index.json").read_text())
        n = self.index["count"]
        self.gen = np.memmap(root / "gen.u8", np.uint8, "r", shape=(n, SIZE, SIZE, 3))
        self.occ = np.memmap(root / "occ.u8", np.uint8, "r", shape=(n, 64, 64))
        self.base = np.memmap(root / "base.u8", np.uint8, "r", shape=(n, BASES, SIZE, SIZE, 3))
        self.targets = np.asarray(self.index["targets"])
        self.frames = frames.frames
        self.landmarks = frames.landmarks

    def __len__(self) -> int:
        return len(self.targets)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=Path, default=Path(".cache/frames"), help="the frame cache (thcodec.train.cache)")
    p.add_argument("--out", type=Path, default=Path(".cache/fusion"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--motion",
        choices=("landmarks", "detector"),
        default="detector",
        help="the key points that drive the animation (the shipped fusion network: detector; landmarks: as the default sender)",
    )
    p.add_argument("--reuse-base", type=Path, help="keep the base layer of this fusion cache (same frames): only animate again")
    p.add_argument(
        "--coarse-share",
        type=float,
        default=0.0,
        help="share of clips driven by key points as the hybrid ladder sends them (fewer, coarser; the rest: default)",
    )
    p.add_argument(
        "--settings",
        nargs="+",
        default=[f"{s}:{c}" for s, c in SETTINGS],
        metavar="SIZE:CRF",
        help="the base layer's (size, CRF) settings, two drawn per clip",
    )
    a = p.parse_args()
    settings = tuple(tuple(map(int, s.split(":"))) for s in a.settings)
    torch.set_num_threads(1)
    for n, split in enumerate(("val", "train")):
        reuse = a.reuse_base / split if a.reuse_base else None
        build(a.frames / split, a.out / split, a.seed + n, a.motion, reuse, a.coarse_share, settings)


if __name__ == "__main__":
    main()
