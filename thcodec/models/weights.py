"""Shipped weights: one file per network under weights/, a manifest with their sha256.

`export` turns training checkpoints into the shipped files (state dict only) and writes
the manifest; `load_model` verifies every hash before loading with weights_only=True.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from thcodec.errors import ThcError
from thcodec.media.atomic import write_atomically
from thcodec.models.checkpoint import load_checkpoint
from thcodec.models.fusion import Fusion
from thcodec.models.generator import Generator
from thcodec.models.interpolator import Interpolator
from thcodec.models.manifest import read_manifest, sha256_file
from thcodec.models.super_resolution import SuperResolution
from thcodec.models.talking_head import TalkingHead

MODEL_ID = "thc-fomm-lite-1"
NETWORKS = ("keypoint_detector", "dense_motion", "generator")
# Receiver-only networks: verified like the others when the manifest lists them, but not part
# of the weight set a stream names (any receiver can decode the stream with or without them).
EXTRAS = ("interpolator", "super_resolution", "fusion", "light_generator")
# Where a network's weights sit in its training run's checkpoint: TalkingHead's networks under
# their attribute names, the light generator as its run's model's `generator`; the other extras
# are trained alone, their checkpoints hold nothing else.
CHECKPOINT_PREFIX = {**{name: name + "." for name in NETWORKS}, "light_generator": "generator."}
# What each training run's validation says about the network it trained.
VALIDATION_KEYS = {
    "keypoint_detector": ("kp_err_px", "pairs"),
    "dense_motion": ("psnr", "psnr_frozen", "pairs"),
    "generator": ("psnr", "psnr_frozen", "pairs"),
    "interpolator": ("net_px", "linear_px", "k2_net_px", "k2_linear_px", "k4_net_px", "k4_linear_px"),
    "super_resolution": ("x2_psnr", "x2_bicubic_psnr", "x4_psnr", "x4_bicubic_psnr"),
    "fusion": ("psnr", "psnr_base", "psnr_animated", "pairs"),
    "light_generator": ("psnr", "psnr_teacher", "pairs"),
}
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "weights"


@dataclass(frozen=True)
class LoadedModel:
    model: TalkingHead
    model_id: str
    weights_sha256: bytes  # sha256 over the per-file hashes, in NETWORKS order: names the weight set
    interpolator: Interpolator | None = None  # None: the manifest has none (decoders interpolate linearly)
    super_resolution: SuperResolution | None = None  # None: the manifest has none (decoders up-scale bicubically)
    fusion: Fusion | None = None  # None: the manifest has none (no hybrid mode)
    fusion_sha256: bytes | None = None  # names the fusion weights in a hybrid stream's BASH chunk
    light_generator: Generator | None = None  # None: the manifest has none (no thc decode --generator light)

    def with_light_generator(self) -> LoadedModel:
        """The same networks animating with the light generator (a receiver's choice: the stream
        does not depend on it). Raises ThcError where the weights have none."""
        if self.light_generator is None:
            raise ThcError("these weights have no light generator (weights/manifest.json lists no light_generator)")
        model = copy.copy(self.model)  # a shallow copy: the other networks stay shared
        model._modules = dict(model._modules) | {"generator": self.light_generator}
        return dataclasses.replace(self, model=model)


def weights_dir() -> Path:
    """weights/ beside the package (source checkout) or inside it (installed wheel)."""
    for d in (DEFAULT_DIR, Path(__file__).resolve().parents[1] / "weights"):
        if (d / "manifest.json").exists():
            return d
    raise ThcError("no trained weights found (weights/manifest.json is missing)")


def load_model(root: Path | None = None, device: torch.device | str = "cpu", backend: str | None = None) -> LoadedModel:
    """The shipped networks, hash-checked. backend: "torch" or "onnx" (onnxruntime on the CPU,
    thcodec.models.backend); None reads $THC_BACKEND, else torch. An unusable onnx export falls
    back to torch with a warning."""
    from thcodec.models.backend import choose_backend, default_threads, with_onnx

    root = root or weights_dir()
    backend = choose_backend(backend)
    torch.set_num_threads(default_threads())  # THC_THREADS for torch's networks too, not only the graphs
    manifest = read_manifest(root)
    try:
        entries = {e["network"]: {"file": str(e["file"]), "sha256": str(e["sha256"])} for e in manifest["files"]}
    except (KeyError, TypeError):
        raise ThcError(f"malformed weights manifest {root / 'manifest.json'}") from None
    model = TalkingHead()
    digest = hashlib.sha256()
    for name in NETWORKS:
        if name not in entries:
            raise ThcError(f"weights manifest has no entry for {name}")
        _load_verified(root, name, entries[name], getattr(model, name))
        digest.update(bytes.fromhex(entries[name]["sha256"]))
    model.eval().to(device)
    makers = {
        "interpolator": lambda state: Interpolator(model.num_kp),
        "super_resolution": lambda state: SuperResolution(),
        "fusion": lambda state: Fusion(),
        "light_generator": lambda state: Generator.fitting(state, model.num_kp),  # its width is the file's
    }
    extras = {}
    for name, make in makers.items():  # receiver-only networks: None when the manifest has none
        extras[name] = None
        if name in entries:
            extras[name] = _build(make, _read_verified(root, entries[name]), root / entries[name]["file"], name)
            extras[name].eval().to(device)
    fusion_sha256 = bytes.fromhex(entries["fusion"]["sha256"]) if "fusion" in entries else None
    loaded = LoadedModel(model, manifest.get("model_id", MODEL_ID), digest.digest(), **extras, fusion_sha256=fusion_sha256)
    if backend == "onnx" and torch.device(device).type == "cpu":
        loaded = with_onnx(loaded, root)
    return loaded


def _read_verified(root: Path, entry: dict) -> dict:
    path = root / entry["file"]
    if not path.exists():
        raise ThcError(f"missing weights file {path}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ThcError(f"{path} does not match the sha256 in its manifest")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _build(make, state: dict, path: Path, name: str) -> torch.nn.Module:
    """make(state) -> the network, with the state loaded into it."""
    try:
        net = make(state)
        net.load_state_dict(state)
    except (RuntimeError, KeyError, IndexError) as e:
        raise ThcError(f"{path} does not fit this thcodec's {name} network: {str(e).splitlines()[0]}") from None
    return net


def _load_verified(root: Path, name: str, entry: dict, net: torch.nn.Module) -> None:
    _build(lambda state: net, _read_verified(root, entry), root / entry["file"], name)


def export(checkpoints: dict[str, Path], out: Path, notes: dict, commands: dict[str, list[str]] | None = None) -> dict:
    """Write weights/<network>.pt from the EMA weights of training checkpoints + the manifest.

    checkpoints maps networks to the best.pt of the run that trained them; a network not
    named keeps its current manifest entry (and file), so one network can be re-exported alone.
    """
    out.mkdir(parents=True, exist_ok=True)
    old = {}
    if (out / "manifest.json").exists():
        old = {e["network"]: e for e in read_manifest(out).get("files", [])}
    files = []
    for name in NETWORKS + EXTRAS:
        if name not in checkpoints:
            if name in old:
                files.append(old[name])
            elif name in NETWORKS:
                raise ThcError(f"no checkpoint for {name} and no {name} in {out / 'manifest.json'}")
            continue
        ck = load_checkpoint(checkpoints[name])
        prefix = CHECKPOINT_PREFIX.get(name, "")
        state = {
            k[len(prefix) :]: (v.float() if v.is_floating_point() else v).contiguous()
            for k, v in ck["ema"].items()
            if k.startswith(prefix)
        }
        path = out / f"{name}.pt"
        buf = io.BytesIO()
        torch.save(state, buf)
        write_atomically(path, buf.getvalue())
        files.append(
            {
                "network": name,
                "file": path.name,
                "sha256": sha256_file(path),
                "parameters": sum(v.numel() for v in state.values()),
                "steps": int(ck["step"]),
                "validation": {k: float(v) for k, v in ck.get("val", {}).items() if k in VALIDATION_KEYS[name]},
                "checkpoint": str(checkpoints[name]),
                **({"command": commands[name]} if commands and name in commands else {}),
            }
        )
    manifest = {"model_id": MODEL_ID, "files": files, **notes}
    # The manifest goes last: until it is replaced, the old one fails the hash check loudly.
    write_atomically(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest
