"""What the 8-byte key point costs against float32 key points, on the val frame cache.

For each val clip: pivot = its first cached frame, driving = every n-th cached frame. The
receiver runs once with float32 key points and once with the same key points quantized to
8 bytes (two settings of one codec that sends nothing, scored by bench/sweep.py's loop);
reported: PSNR of both against the true frames, PSNR between the two outputs, AKD (dlib's 68
landmarks, px at 256) of both, and the largest quantization error.
Usage: python -m thcodec.bench.quantization --cache .cache/frames/val
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.codec import Coded, Setting
from thcodec.bench.quality import PSNR_CAP, frame_mse
from thcodec.bench.sweep import Point, Scoring, sweep
from thcodec.data.frame_cache import FrameCache
from thcodec.data.reference import Reference
from thcodec.face.region import Region
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import to_tensor, to_uint8
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import load_model


def quantized(kp: Keypoints) -> Keypoints:
    return Keypoints.from_numpy(*kpq.dequantize(kpq.quantize(*kp.numpy())))


class Animated:
    """The receiver's networks on a cached clip's first frame, driven by the true frames' key
    points as float32 or as 8 bytes (the pivot's are never sent: the receiver detects them)."""

    name = label = "animated"

    def __init__(self, model, pivots: dict[str, np.ndarray]) -> None:
        self.model, self.pivots = model, pivots
        self._float: tuple[str, np.ndarray] | None = None  # the last clip's float32 output

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of(keypoints="float32"), Setting.of(keypoints="8-byte")]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        with torch.inference_mode():
            pivot = to_tensor(self.pivots[ref.name])
            kp_p, kp_d = self.model.detect_keypoints(pivot), self.model.detect_keypoints(to_tensor(ref.frames))
            info = {}
            if setting["keypoints"] == "8-byte":
                q = quantized(kp_d)
                info["max_xy_error_px"] = float((q.xy - kp_d.xy).abs().max()) * 128
                info["max_jacobian_error"] = float((q.jacobian - kp_d.jacobian).abs().max())
                kp_d = q
            n = ref.count
            out = to_uint8(self.model.animate(pivot.expand(n, -1, -1, -1), kp_p.expand(n), kp_d))
        if setting["keypoints"] == "float32":
            self._float = (ref.name, out)
        elif self._float is not None and self._float[0] == ref.name:  # each frame's PSNR against float32's, capped
            with np.errstate(divide="ignore"):
                info["psnr_vs_float"] = np.minimum(10 * np.log10(255.0**2 / frame_mse(out, self._float[1])), PSNR_CAP).tolist()
        return Coded(None, 0, out, 0.0, 0.0, bitstream_vmaf=False, info=info)


def cached_clips(cache: FrameCache, every: int, pivots: dict[str, np.ndarray]) -> Iterator[Reference]:
    """Each cached clip's true frames (every n-th after the first) as a reference, read when its
    turn comes; its first frame goes into pivots."""
    for i, (start, stop) in enumerate(cache.clips):
        name = f"clip{i}"
        pivots[name] = np.asarray(cache.frames[start])
        truth = np.ascontiguousarray(cache.frames[start + 1 : stop : every])
        path = Path(f"{name}.cache")  # no file: nothing is sent, no VMAF
        yield Reference(name, path, path, Region.whole(truth.shape[2], truth.shape[1]), None, truth, Fraction(25))


def summary(points: list[Point]) -> dict:
    f = [p for p in points if p.setting["keypoints"] == "float32"]
    q = [p for p in points if p.setting["keypoints"] == "8-byte"]
    frames = sum(p.frames for p in f)
    wmean = lambda sel: (
        sum(p.akd * p.akd_frames for p in sel if p.akd is not None) / max(1, sum(p.akd_frames for p in sel if p.akd is not None))
    )
    return {
        "frames": frames,
        "psnr_float_db": sum(p.psnr * p.frames for p in f) / frames,
        "psnr_quantized_db": sum(p.psnr * p.frames for p in q) / frames,
        "psnr_quantized_vs_float_db": float(np.mean([v for p in q for v in p.extra["psnr_vs_float"]])),
        "akd_float_px": wmean(f),
        "akd_quantized_px": wmean(q),
        "max_xy_error_px": max(p.extra["max_xy_error_px"] for p in q),
        "max_jacobian_error": max(p.extra["max_jacobian_error"] for p in q),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, default=Path(".cache/frames/val"))
    p.add_argument("--every", type=int, default=2, help="use every n-th cached frame")
    p.add_argument("--out", type=Path, default=Path("out/quantization"))
    a = p.parse_args()
    pivots: dict[str, np.ndarray] = {}
    codec = Animated(load_model().model, pivots)
    points = sweep(cached_clips(FrameCache(a.cache), a.every, pivots), [codec], a.out, Scoring(psnr=True), log=None)
    print(json.dumps(summary(points), indent=2))


if __name__ == "__main__":
    main()
