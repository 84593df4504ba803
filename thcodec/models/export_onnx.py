"""Export the receiver's hot networks to ONNX for the CPU backend (thcodec.models.backend).

    python -m thcodec.models.export_onnx --out weights/onnx

One graph per call the codec makes, each with a dynamic batch (and, for super-resolution,
dynamic tile height and width), from the shipped, hash-checked .pt files:
  keypoint_detector  frames (B,3,256,256) -> xy (B,K,2), jacobian (B,K,2,2)
  animator           dense motion + generator in one graph: pivot (B,3,256,256), pivot_xy,
                     pivot_jac, drive_xy, drive_jac -> frame (unclamped), flow (B,64,64,2),
                     occlusion (B,1,64,64)  (TalkingHead.animate_with_motion)
  sr_head            the super-resolution convolutions on one tile: x (B,10,h,w), up, detail
                     (B,3,h,w) -> (B,3,h,w)  (SuperResolution.head; the tile's sampling stays
                     in torch, so any tiling and output size works)
  fusion             base, animated (B,3,256,256), occlusion (B,1,64,64) -> (B,3,256,256),
                     when the weights manifest lists a fusion network (or --fusion names one)
The manifest (manifest.json beside them) records each file's sha256, the sha256 of every .pt
it came from, the opset and the tool versions; the backend refuses a graph whose hashes do
not match. Export needs `onnx` and `onnxscript` (the `export` extra); running needs only
`onnxruntime`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from thcodec.errors import ThcError
from thcodec.media.atomic import atomic_output, write_atomically
from thcodec.models.fusion import Fusion
from thcodec.models.super_resolution import SuperResolution
from thcodec.models.talking_head import TalkingHead

OPSET = 18  # Resize with antialias (the detector's and the generator's down-scaling)
FORMAT = 1
MANIFEST = "manifest.json"
EXAMPLE_BATCH = 2  # an example batch of 1 would let the exporter specialise the batch to 1


class Animator(nn.Module):
    """TalkingHead.animate_with_motion as one graph with plain tensor inputs."""

    def __init__(self, model: TalkingHead) -> None:
        super().__init__()
        self.dense_motion, self.generator = model.dense_motion, model.generator

    def forward(self, pivot, pivot_xy, pivot_jac, drive_xy, drive_jac):
        flow, occlusion = self.dense_motion(pivot, pivot_xy, pivot_jac, drive_xy, drive_jac)
        return self.generator(pivot, flow, occlusion, drive_xy), flow, occlusion


class SRHead(nn.Module):
    def __init__(self, sr: SuperResolution) -> None:
        super().__init__()
        self.sr = sr

    def forward(self, x, up, detail):
        return self.sr.head(x, up, detail)


@dataclass(frozen=True)
class Graph:
    name: str
    module: nn.Module
    sources: tuple[str, ...]  # the weights networks whose .pt files it holds
    example: tuple[torch.Tensor, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    spatial: bool = False  # dims 2 and 3 of every input dynamic too (tiles of any size)


def _example_kp(b: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(b, k, 2, generator=g) * 1.6 - 0.8
    jac = torch.eye(2).expand(b, k, 2, 2) + 0.1 * torch.randn(b, k, 2, 2, generator=g)
    return xy, jac


def graphs(model: TalkingHead, sr: SuperResolution | None, fusion: Fusion | None) -> list[Graph]:
    b, k = EXAMPLE_BATCH, model.num_kp
    img = torch.rand(b, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    found = [
        Graph("keypoint_detector", model.keypoint_detector, ("keypoint_detector",), (img,), ("frames",), ("xy", "jacobian")),
        Graph(
            "animator",
            Animator(model),
            ("dense_motion", "generator"),
            (img, *_example_kp(b, k), *_example_kp(b, k)),
            ("pivot", "pivot_xy", "pivot_jac", "drive_xy", "drive_jac"),
            ("frame", "flow", "occlusion"),
        ),
    ]
    if sr is not None:
        h, w = 40, 48
        found.append(
            Graph(
                "sr_head",
                SRHead(sr),
                ("super_resolution",),
                (torch.rand(b, 10, h, w), torch.rand(b, 3, h, w), torch.rand(b, 3, h, w) - 0.5),
                ("x", "up", "detail"),
                ("out",),
                spatial=True,
            )
        )
    if fusion is not None:
        found.append(
            Graph(
                "fusion",
                fusion,
                ("fusion",),
                (img, img.flip(-1), torch.rand(b, 1, 64, 64)),
                ("base", "animated", "occlusion"),
                ("out",),
            )
        )
    return found


def export_graph(g: Graph, path: Path) -> None:
    """Write g to path as ONNX (the torch.export-based exporter; the TorchScript one cannot
    export antialiased resizing)."""
    from torch.export import Dim

    batch = Dim("batch", min=1, max=4096)
    dims: dict[int, Dim] = {0: batch}
    if g.spatial:
        dims = {0: batch, 2: Dim("height", min=8, max=4096), 3: Dim("width", min=8, max=4096)}
    shapes = tuple({i: d for i, d in dims.items() if i < t.dim()} for t in g.example)
    g.module.eval()
    with torch.no_grad():
        program = torch.onnx.export(
            g.module,
            g.example,
            dynamo=True,
            input_names=list(g.inputs),
            output_names=list(g.outputs),
            opset_version=OPSET,
            dynamic_shapes=shapes,
            external_data=False,
            verbose=False,
        )
    with atomic_output(path, force=True) as tmp:
        program.save(str(tmp), external_data=False)


def check_graph(g: Graph, path: Path) -> float:
    """Largest difference between the graph's outputs under onnxruntime and the module's."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {n: t.numpy() for n, t in zip(g.inputs, g.example)})
    with torch.no_grad():
        want = g.module(*g.example)
    want = want if isinstance(want, tuple) else (want,)
    return max(float((torch.from_numpy(a) - b).abs().max()) for a, b in zip(got, want))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(out: Path, weights_root: Path | None = None, fusion_path: Path | None = None) -> dict:
    """Export the shipped networks (verified by load_model) to out/*.onnx and out/manifest.json."""
    import onnx
    import onnxruntime
    import onnxscript

    from thcodec.models.manifest import read_manifest
    from thcodec.models.weights import load_model, weights_dir

    root = weights_root or weights_dir()
    loaded = load_model(root, backend="torch")
    sources = {e["network"]: e["sha256"] for e in read_manifest(root)["files"]}
    fusion = loaded.fusion  # the shipped one, hash-checked, when the manifest lists it
    if fusion_path is not None:
        fusion = Fusion().eval()
        fusion.load_state_dict(torch.load(fusion_path, map_location="cpu", weights_only=True))
        sources["fusion"] = _sha256(fusion_path)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for g in graphs(loaded.model, loaded.super_resolution, fusion):
        path = out / f"{g.name}.onnx"
        export_graph(g, path)
        err = check_graph(g, path)
        if err > 1e-2:
            raise ThcError(f"{g.name}: onnxruntime differs from torch by {err:.3g} on the export example")
        files.append(
            {
                "graph": g.name,
                "file": path.name,
                "sha256": _sha256(path),
                "sources": {n: sources[n] for n in g.sources},
                "inputs": list(g.inputs),
                "outputs": list(g.outputs),
                "dynamic": ["batch", "height", "width"] if g.spatial else ["batch"],
                "max_abs_diff_vs_torch": err,
            }
        )
        print(f"{path}: max |onnxruntime - torch| = {err:.2e}", file=sys.stderr)
    manifest = {
        "format": FORMAT,
        "opset": OPSET,
        "made_by": "python -m thcodec.models.export_onnx (torch.onnx.export, dynamo=True)",
        "versions": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxscript": onnxscript.__version__,
            "onnxruntime_checked": onnxruntime.__version__,
        },
        "files": files,
    }
    write_atomically(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="folder for the .onnx files (default: weights/onnx)")
    p.add_argument("--weights", type=Path, default=None, help="the shipped weights folder (default: weights/)")
    p.add_argument("--fusion", type=Path, default=None, help="a fusion state dict (.pt) to export too")
    a = p.parse_args(argv)
    from thcodec.models.weights import weights_dir

    root = a.weights or weights_dir()
    export(a.out or root / "onnx", root, a.fusion)


if __name__ == "__main__":
    main()
