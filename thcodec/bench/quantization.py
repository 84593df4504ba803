"""What the 8-byte key point costs against float32 key points, on the val frame cache.

For each val clip: pivot = its first cached frame, driving = every n-th cached frame. The
receiver runs once with float32 key points and once with the same key points quantized to
8 bytes; reported: PSNR of both against the true frames, PSNR between the two outputs,
AKD (dlib's 68 landmarks, px at 256) of both, and the largest quantization error.
Usage: python -m thcodec.bench.quantization --cache .cache/frames/val
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.quality import FaceMetrics
from thcodec.data.frame_cache import FrameCache
from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import to_tensor, to_uint8
from thcodec.media.metrics import psnr
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import load_model


def quantized(kp: Keypoints) -> Keypoints:
    return Keypoints.from_numpy(*kpq.dequantize(kpq.quantize(*kp.numpy())))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, default=Path(".cache/frames/val"))
    p.add_argument("--every", type=int, default=2, help="use every n-th cached frame")
    a = p.parse_args()
    cache, model, faces = FrameCache(a.cache), load_model().model, FaceMetrics()
    psnr_f, psnr_q, psnr_fq, akd_f, akd_q, xy_err, jac_err = [], [], [], [], [], [], []
    with torch.inference_mode():
        for start, stop in cache.clips:
            pivot = to_tensor(cache.frames[start])
            kp_p = model.detect_keypoints(pivot)
            truth = np.ascontiguousarray(cache.frames[start + 1 : stop : a.every])
            kp_d = model.detect_keypoints(to_tensor(truth))
            q_d = quantized(kp_d)  # the pivot's key points are never sent: the receiver detects them
            n = truth.shape[0]
            out_f = to_uint8(model.animate(pivot.expand(n, -1, -1, -1), kp_p.expand(n), kp_d))
            out_q = to_uint8(model.animate(pivot.expand(n, -1, -1, -1), kp_p.expand(n), q_d))
            for t, f, q in zip(truth, out_f, out_q):
                psnr_f.append(psnr(f, t))
                psnr_q.append(psnr(q, t))
                psnr_fq.append(min(psnr(q, f), 100.0))
            xy_err.append(float((q_d.xy - kp_d.xy).abs().max()) * 128)
            jac_err.append(float((q_d.jacobian - kp_d.jacobian).abs().max()))
            ref = faces.reference(truth)
            for outs, acc in ((out_f, akd_f), (out_q, akd_q)):
                s = faces.score(ref, outs)
                if s.akd is not None:
                    acc.append((s.akd, s.akd_frames))
    wmean = lambda pairs: sum(v * n for v, n in pairs) / max(1, sum(n for _, n in pairs))
    print(
        json.dumps(
            {
                "frames": len(psnr_f),
                "psnr_float_db": float(np.mean(psnr_f)),
                "psnr_quantized_db": float(np.mean(psnr_q)),
                "psnr_quantized_vs_float_db": float(np.mean(psnr_fq)),
                "akd_float_px": wmean(akd_f),
                "akd_quantized_px": wmean(akd_q),
                "max_xy_error_px": max(xy_err),
                "max_jacobian_error": max(jac_err),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
