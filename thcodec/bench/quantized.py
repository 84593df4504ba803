"""int8 graphs for the CPU backend: how much faster, and how far from eager (docs/speed.md).

    python -m thcodec.bench.quantized --reference REF.mkv --stream REF.thc [--graphs keypoint_detector,animator]

Quantizes the named graphs of weights/onnx (static, QDQ, per-channel int8 weights, uint8
activations, convolutions only; calibrated on frames of the reference) into a copy of the
weights folder, then prints, at one thread: each stage's time in fp32 and int8 (batch 8),
the key points' largest move, and the decoded stream's PSNR against the reference for eager
torch and for int8, and of int8 against eager. Nothing here is shipped: the backend uses
the fp32 graphs until a measurement on the val clips shows the picture unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from thcodec.models.keypoints import Keypoints

BATCH = 8


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    mse = ((a[:n].astype(np.float64) - b[:n].astype(np.float64)) ** 2).reshape(n, -1).mean(1)
    return float(np.mean(10 * np.log10(255**2 / np.maximum(mse, 1e-12))))


def quantize(root: Path, graphs: list[str], frames: torch.Tensor, eager) -> None:
    """Replace root/onnx/<graph>.onnx by int8 versions, updating the manifest's hashes."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with torch.inference_mode():
        kp = eager.model.detect_keypoints(frames[::10])
    calib = {"keypoint_detector": [{"frames": frames[i : i + 4].numpy()} for i in range(0, len(frames) - 4, 40)]}
    one = Keypoints(kp.xy[:1], kp.jacobian[:1]).expand(4)
    calib["animator"] = [
        {
            "pivot": frames[:1].expand(4, -1, -1, -1).contiguous().numpy(),
            "pivot_xy": one.xy.contiguous().numpy(),
            "pivot_jac": one.jacobian.contiguous().numpy(),
            "drive_xy": kp.xy[i : i + 4].numpy(),
            "drive_jac": kp.jacobian[i : i + 4].numpy(),
        }
        for i in range(0, kp.xy.shape[0] - 4, 4)
    ]

    class Reader(CalibrationDataReader):
        def __init__(self, data):
            self.it = iter(data)

        def get_next(self):
            return next(self.it, None)

    manifest_path = root / "onnx" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for e in manifest["files"]:
        if e["graph"] not in graphs:
            continue
        if e["graph"] not in calib:
            raise SystemExit(f"no calibration data for {e['graph']}")
        src = root / "onnx" / e["file"]
        pre = src.with_suffix(".pre.onnx")
        quant_pre_process(str(src), str(pre))
        quantize_static(
            str(pre),
            str(src),
            Reader(calib[e["graph"]]),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=["Conv"],
        )
        pre.unlink()
        e["sha256"] = hashlib.sha256(src.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2))


def main(argv: list[str] | None = None) -> None:
    from thcodec.bench.codec import decode_frames
    from thcodec.data.reference import read_lossless
    from thcodec.models.weights import load_model, weights_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", type=Path, required=True, help="a th256 reference (.mkv, thcodec.data.reference)")
    p.add_argument("--stream", type=Path, required=True, help="the reference encoded by thc encode")
    p.add_argument("--graphs", default="keypoint_detector,animator")
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args(argv)
    ref = read_lossless(a.reference)
    frames = torch.from_numpy(ref).permute(0, 3, 1, 2).float() / 255
    torch.set_num_threads(1)
    eager = load_model(backend="torch")
    with tempfile.TemporaryDirectory(prefix="thc-int8-") as tmp:
        root = Path(tmp) / "weights"
        shutil.copytree(weights_dir(), root)
        quantize(root, a.graphs.split(","), frames, eager)
        fp32, int8 = load_model(backend="onnx"), load_model(root, backend="onnx")
        f8 = frames[:BATCH]
        with torch.inference_mode():
            k8 = eager.model.detect_keypoints(f8)
            src, pivot = Keypoints(k8.xy[:1], k8.jacobian[:1]).expand(BATCH), f8[:1].expand(BATCH, -1, -1, -1)
            for name, call in [
                ("key-point detection", lambda m: m.model.detect_keypoints(f8)),
                ("dense motion + generator", lambda m: m.model.animate_with_motion(pivot, src, k8)),
            ]:
                times = {"fp32": [], "int8": []}
                for label, m in (("fp32", fp32), ("int8", int8)):
                    call(m)
                for _ in range(a.reps):
                    for label, m in (("fp32", fp32), ("int8", int8)):
                        t = time.perf_counter()
                        call(m)
                        times[label].append(time.perf_counter() - t)
                print(
                    f"{name} (B={BATCH}, 1 thread): fp32 {statistics.median(times['fp32']) * 1000:.0f} ms, "
                    f"int8 {statistics.median(times['int8']) * 1000:.0f} ms"
                )
            moved = float((int8.model.detect_keypoints(f8).xy - k8.xy).abs().max()) * 128
        print(f"key points: largest move {moved:.3f} px (256x256)")
        a_frames, b_frames = decode_frames(a.stream, eager), decode_frames(a.stream, int8)
        print(
            f"decoded PSNR against the reference: eager {_psnr(a_frames, ref):.3f} dB, int8 {_psnr(b_frames, ref):.3f} dB; "
            f"int8 against eager {_psnr(b_frames, a_frames):.2f} dB"
        )


if __name__ == "__main__":
    main()
