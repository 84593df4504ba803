"""The CPU inference backend. Eager torch is the default for every network: measured side by
side with ONNX Runtime's graphs, it was faster for dense motion + generator, super-resolution
and fusion, and the key-point detector, the one network its graph runs faster, runs at the
receiver only on pivot pictures, where the graph saved a few ms a pivot and its library cost
about 50 MB of memory (docs/speed.md, "Eager torch by default"). `THC_BACKEND=onnx` runs the
detector by ONNX Runtime; the other graphs are exported for the speed bench's rows.

`with_onnx(loaded, root)` swaps the networks of a LoadedModel for subclasses that keep the
torch modules (state_dict, .to(), training code and autograd all still work) and run the
exported graphs (weights/onnx/, made by thcodec.models.export_onnx) when no gradient is
wanted - which is how the encoder and the decoder call them. Same methods, same return
types (torch tensors, Keypoints), so the codec does not change.

Every graph is checked before use: its sha256 against weights/onnx/manifest.json, and the
sha256 of each .pt it was exported from against the .pt files just loaded. Anything amiss
(no onnxruntime, no files, a stale or damaged export) gives a warning and the torch model.

Precision: the receiver runs its convolutions in bfloat16 where the CPU has AMX units
(`choose_precision`; THC_PRECISION=fp32 or bf16 overrides): faster there, with the picture
within the speed issue's tolerance (docs/speed.md). Without AMX, bfloat16 convolutions
measured slower than float32. The sender always runs in float32.

Threads: THC_THREADS when set, else torch's intra-op thread count (OMP_NUM_THREADS, or
all cores), one session per graph (made on its first use), graph optimisations on, no
spin-waiting (THC_ORT_SPIN=1 to allow it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.models.fusion import Fusion
from thcodec.models.keypoints import Keypoints
from thcodec.models.manifest import read_manifest
from thcodec.models.super_resolution import SuperResolution
from thcodec.models.talking_head import TalkingHead

ONNX_DIR = "onnx"
BACKENDS = ("torch", "onnx")
PRECISIONS = ("fp32", "bf16")


class BackendUnavailable(Exception):
    """The ONNX backend cannot be used here; the message says why."""


def choose_backend(requested: str | None = None) -> str:
    """requested, else $THC_BACKEND, else torch (docs/speed.md, "Eager torch by default").
    onnx where it is absent: torch, with a warning when the model loads."""
    name = (requested or os.environ.get("THC_BACKEND") or "").strip().lower()
    if name in ("", "auto"):
        return "torch"
    if name in ("ort", "onnxruntime"):
        name = "onnx"
    if name not in BACKENDS:
        raise ThcError(f"THC_BACKEND={name!r}: choose one of {', '.join(BACKENDS)}")
    return name


def bf16_supported() -> bool:
    """Whether oneDNN has bfloat16 convolutions on this CPU (AVX512-BF16 or AMX, or AVX-NE-CONVERT):
    without them torch refuses some bfloat16 convolutions and computes the rest by a slow path."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def choose_precision(requested: str | None = None) -> str:
    """requested, else $THC_PRECISION, else bf16 where the CPU has AMX units, else fp32. bf16 on
    a CPU without bfloat16 convolutions: fp32, with a warning."""
    name = (requested or os.environ.get("THC_PRECISION") or "").strip().lower()
    if name in ("", "auto"):
        return "bf16" if torch.cpu._is_amx_tile_supported() else "fp32"
    if name not in PRECISIONS:
        raise ThcError(f"THC_PRECISION={name!r}: choose one of auto, {', '.join(PRECISIONS)}")
    if name == "bf16" and not bf16_supported():
        warnings.warn("THC_PRECISION=bf16: this CPU has no bfloat16 convolutions, using fp32", RuntimeWarning, stacklevel=2)
        return "fp32"
    return name


def default_threads() -> int:
    """THC_THREADS, else torch's intra-op count (OMP_NUM_THREADS, else all cores)."""
    env = os.environ.get("THC_THREADS", "").strip()
    if not env:
        return torch.get_num_threads()
    if not env.isdigit() or int(env) < 1:
        raise ThcError(f"THC_THREADS={env!r}: give a whole number of threads, 1 or more")
    return int(env)


class Sessions:
    """The verified onnxruntime sessions of one export folder, by graph name."""

    def __init__(self, folder: Path, pt_sha256: dict[str, str], threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            entries = {e["graph"]: e for e in manifest["files"]}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BackendUnavailable(f"cannot read {folder / 'manifest.json'}: {e}") from None
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle worker threads sleep instead of spinning: the codec shares a laptop's cores with
        # the rest of the call, and on a loaded 2-core machine spinning measured slower (docs/speed.md).
        opts.add_session_config_entry("session.intra_op.allow_spinning", os.environ.get("THC_ORT_SPIN", "0"))
        self.threads = opts.intra_op_num_threads
        self._ort, self._opts = ort, opts
        self._graphs: dict[str, bytes] = {}  # verified graphs; a session is made on first use
        self._sessions = {}
        for name, e in entries.items():
            path = folder / str(e.get("file", ""))
            try:
                data = path.read_bytes()
            except OSError as err:
                raise BackendUnavailable(f"cannot read {path}: {err}") from None
            if hashlib.sha256(data).hexdigest() != e.get("sha256"):
                raise BackendUnavailable(f"{path} does not match the sha256 in its manifest")
            sources = dict(e.get("sources", {}))
            if any(net not in pt_sha256 for net in sources):
                continue  # a graph for a network these weights do not have (its torch form is absent too)
            for net, sha in sources.items():
                if pt_sha256[net] != sha:
                    raise BackendUnavailable(f"{path} was exported from another {net}.pt than the one loaded (make export-onnx)")
            self._graphs[name] = data

    def __contains__(self, name: str) -> bool:
        return name in self._graphs

    def run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        # made on first use: a keypoint-mode decode at the model's size never runs fusion or
        # super-resolution, and making a session is a start-up cost
        sess = self._sessions.get(name)
        if sess is None:
            sess = self._sessions[name] = self._ort.InferenceSession(
                self._graphs[name], self._opts, providers=["CPUExecutionProvider"]
            )
        feeds = {i.name: np.ascontiguousarray(t.detach().numpy(), dtype=np.float32) for i, t in zip(sess.get_inputs(), inputs)}
        return [torch.from_numpy(a) for a in sess.run(None, feeds)]


def _usable(*tensors: torch.Tensor) -> bool:
    """The graphs serve inference only: no gradient wanted, float32 on the CPU."""
    return not torch.is_grad_enabled() and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


class OrtTalkingHead(TalkingHead):
    """TalkingHead whose detect_keypoints runs the exported graph (outside autograd); the
    torch sub-networks do everything else. Dense motion + generator stay in torch: eager
    measured faster than their graph (`animator`, still exported for the speed bench and
    the int8 study) at one and two threads, quiet or loaded (docs/speed.md)."""

    def __init__(self, model: TalkingHead, sessions: Sessions) -> None:
        torch.nn.Module.__init__(self)  # share the loaded sub-networks; no second initialisation
        self.num_kp = model.num_kp
        self.keypoint_detector, self.dense_motion, self.generator = model.keypoint_detector, model.dense_motion, model.generator
        self.training = model.training
        self.sessions = sessions

    def detect_keypoints(self, frames: torch.Tensor) -> Keypoints:
        """frames: (B,3,256,256) float in [0,1] -> Keypoints (B,K)."""
        if not _usable(frames) or "keypoint_detector" not in self.sessions:
            return super().detect_keypoints(frames)
        xy, jac = self.sessions.run("keypoint_detector", frames)
        return Keypoints(xy, jac)


class OrtSuperResolution(SuperResolution):
    """SuperResolution whose per-tile convolutions (head) run the exported graph; the tiles'
    sampling, the tiling and the halo are the torch module's own."""

    def __init__(self, sr: SuperResolution, sessions: Sessions) -> None:
        torch.nn.Module.__init__(self)
        self.body, self.out, self.halo = sr.body, sr.out, sr.halo
        self.register_buffer("use_pivot", sr.use_pivot)
        self.training = sr.training
        self.sessions = sessions

    def head(self, x: torch.Tensor, up: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        if not _usable(x, up, detail) or "sr_head" not in self.sessions:
            return super().head(x, up, detail)
        return self.sessions.run("sr_head", x, up, detail)[0]


class OrtFusion(Fusion):
    """Fusion run by its exported graph outside autograd."""

    def __init__(self, fusion: Fusion, sessions: Sessions) -> None:
        torch.nn.Module.__init__(self)
        for name, child in fusion.named_children():
            setattr(self, name, child)
        self.training = fusion.training
        self.sessions = sessions

    def forward(self, base: torch.Tensor, animated: torch.Tensor, occlusion: torch.Tensor) -> torch.Tensor:
        if not _usable(base, animated, occlusion) or "fusion" not in self.sessions:
            return super().forward(base, animated, occlusion)
        return self.sessions.run("fusion", base, animated, occlusion)[0]


def _pt_hashes(root: Path) -> dict[str, str]:
    return {str(e["network"]): str(e["sha256"]) for e in read_manifest(root).get("files", [])}


def onnx_sessions(root: Path, threads: int | None = None) -> Sessions:
    """The verified sessions of root/onnx against the .pt files listed in root/manifest.json
    (which load_model has checked against their own hashes). Raises BackendUnavailable."""
    return Sessions(root / ONNX_DIR, _pt_hashes(root), threads)


def with_onnx(loaded, root: Path, threads: int | None = None):
    """loaded (a LoadedModel) with its key-point detector run by onnxruntime; loaded itself, with a
    warning, when the export cannot be used."""
    try:
        sessions = onnx_sessions(root, threads)
    except BackendUnavailable as e:
        warnings.warn(f"THC_BACKEND=onnx unavailable, using torch: {e}", RuntimeWarning, stacklevel=3)
        return loaded
    return dataclasses.replace(loaded, model=OrtTalkingHead(loaded.model, sessions))
