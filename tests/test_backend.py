"""The ONNX Runtime backend (thcodec.models.backend): same outputs as eager torch, refused
(torch with a warning) when its files do not match."""

import json
import os
import shutil

import pytest
import torch

from thcodec.errors import ThcError
from thcodec.models.backend import (
    OrtFusion,
    OrtSuperResolution,
    OrtTalkingHead,
    Sessions,
    choose_backend,
    onnx_sessions,
)
from thcodec.models.fusion import Fusion
from thcodec.models.keypoints import Keypoints
from thcodec.models.super_resolution import PivotDetail, SuperResolution
from thcodec.models.talking_head import TalkingHead
from thcodec.models.weights import load_model, weights_dir

pytest.importorskip("onnxruntime")
if not (weights_dir() / "onnx" / "manifest.json").exists():
    pytest.skip("no ONNX export in weights/onnx (make export-onnx)", allow_module_level=True)


@pytest.fixture(scope="module")
def pair():
    """(eager, onnx) LoadedModels from the committed weights."""
    torch_loaded = load_model(backend="torch")
    onnx_loaded = load_model(backend="onnx")
    assert isinstance(onnx_loaded.model, OrtTalkingHead)
    return torch_loaded, onnx_loaded


@pytest.fixture
def copy(tmp_path):
    dst = tmp_path / "weights"
    shutil.copytree(weights_dir(), dst)
    return dst


def _kp(b, k, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(b, k, 2, generator=g) * 1.6 - 0.8
    jac = torch.eye(2).expand(b, k, 2, 2) + 0.15 * torch.randn(b, k, 2, 2, generator=g)
    return Keypoints(xy, jac)


def test_keypoints_match_eager(pair):
    frames = torch.rand(3, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        a, b = (p.model.detect_keypoints(frames) for p in pair)
    torch.testing.assert_close(b.xy, a.xy, atol=1e-4, rtol=0)
    torch.testing.assert_close(b.jacobian, a.jacobian, atol=1e-4, rtol=0)


def test_animation_matches_eager(pair):
    b = 3
    pivot = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1)).expand(b, -1, -1, -1)
    src, drive = _kp(1, 10, 2).expand(b), _kp(b, 10, 3)
    with torch.inference_mode():
        ref = pair[0].model.animate_with_motion(pivot, src, drive)
        got = pair[1].model.animate_with_motion(pivot, src, drive)
        frame = pair[1].model.animate(pivot, src, drive)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype
        torch.testing.assert_close(g, r, atol=2e-3, rtol=0)
    assert float((got[0] - ref[0]).abs().mean()) < 1e-5
    torch.testing.assert_close(frame, ref[0].clamp(0, 1), atol=2e-3, rtol=0)


def test_only_the_detector_runs_its_graph(pair):
    """Super-resolution and fusion measured faster in eager torch (docs/speed.md)."""
    assert type(pair[1].super_resolution) is SuperResolution and type(pair[1].fusion) is Fusion
    assert isinstance(pair[1].model, OrtTalkingHead)


def test_super_resolution_graph_matches_eager_at_any_tiling(pair):
    ort_sr = OrtSuperResolution(pair[0].super_resolution, onnx_sessions(weights_dir(), 1))
    g = torch.Generator().manual_seed(4)
    gen, occ = torch.rand(2, 3, 256, 256, generator=g), torch.rand(2, 1, 64, 64, generator=g)
    flow = torch.rand(2, 64, 64, 2, generator=g) * 1.8 - 0.9
    detail = PivotDetail(torch.rand(1, 3, 300, 420, generator=g), torch.rand(1, 3, 256, 256, generator=g))
    with torch.inference_mode():
        ref = pair[0].super_resolution(gen, flow, occ, detail)
        got = ort_sr(gen, flow, occ, detail, tile=96)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)


def test_gradients_still_flow_through_torch(pair):
    """Training and the sender's refinement ask for gradients: the torch modules answer."""
    xy = _kp(1, 10, 5).xy.requires_grad_(True)
    drive = Keypoints(xy, _kp(1, 10, 5).jacobian)
    out = pair[1].model.animate_unclamped(torch.rand(1, 3, 256, 256), _kp(1, 10, 6), drive)
    out.mean().backward()
    assert xy.grad is not None and xy.grad.abs().sum() > 0
    assert pair[1].model.state_dict().keys() == pair[0].model.state_dict().keys()


def test_damaged_onnx_file_falls_back_to_torch(copy):
    path = copy / "onnx" / "animator.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="does not match the sha256"):
        loaded = load_model(copy, backend="onnx")
    assert type(loaded.model) is TalkingHead


def test_export_of_other_weights_falls_back_to_torch(copy):
    """A graph exported from another .pt than the one loaded (a stale export) is refused."""
    path = copy / "onnx" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"][0]["sources"] = {n: "0" * 64 for n in manifest["files"][0]["sources"]}
    path.write_text(json.dumps(manifest))
    with pytest.warns(RuntimeWarning, match="exported from another"):
        loaded = load_model(copy, backend="onnx")
    assert type(loaded.model) is TalkingHead


def test_backend_choice(copy, monkeypatch):
    """Eager torch unless asked for (docs/speed.md, "Eager torch by default")."""
    monkeypatch.delenv("THC_BACKEND", raising=False)
    assert choose_backend() == "torch"
    assert type(load_model(copy).model) is TalkingHead
    assert choose_backend("onnx") == "onnx"
    monkeypatch.setenv("THC_BACKEND", "onnx")
    assert choose_backend() == "onnx"
    assert choose_backend("torch") == "torch"
    assert isinstance(load_model(copy).model, OrtTalkingHead)
    monkeypatch.setenv("THC_BACKEND", "tensorflow")
    with pytest.raises(ThcError, match="THC_BACKEND"):
        choose_backend()


def test_threads_are_set(copy):
    from thcodec.models.backend import onnx_sessions

    assert onnx_sessions(copy, threads=1).threads == 1
    assert isinstance(onnx_sessions(copy, threads=2), Sessions)


@pytest.mark.slow
def test_fusion_graph_matches_eager(tmp_path):
    """The fusion network (hybrid mode) through the exporter and the backend (a seeded network:
    its export runs the exporter, about 15 s)."""
    pytest.importorskip("onnxscript")
    import hashlib

    from thcodec.models.export_onnx import Graph, export_graph

    torch.manual_seed(0)
    fusion = Fusion().eval()
    torch.nn.init.normal_(fusion.out.weight, std=0.02)
    g = torch.Generator().manual_seed(1)
    base, animated, occ = (
        torch.rand(2, 3, 256, 256, generator=g),
        torch.rand(2, 3, 256, 256, generator=g),
        torch.rand(2, 1, 64, 64, generator=g),
    )
    export_graph(
        Graph("fusion", fusion, ("fusion",), (base, animated, occ), ("base", "animated", "occlusion"), ("out",)),
        tmp_path / "fusion.onnx",
    )
    sha = hashlib.sha256((tmp_path / "fusion.onnx").read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(
        json.dumps({"files": [{"graph": "fusion", "file": "fusion.onnx", "sha256": sha, "sources": {"fusion": "x"}}]})
    )
    ort_fusion = OrtFusion(fusion, Sessions(tmp_path, {"fusion": "x"}, 1))
    with torch.inference_mode():
        b = 3  # another batch size than the export's
        args = (base[:1].expand(b, -1, -1, -1), animated[:1].expand(b, -1, -1, -1), occ[:1].expand(b, -1, -1, -1))
        torch.testing.assert_close(ort_fusion(*args), fusion(*args), atol=1e-4, rtol=0)


def test_shipped_fusion_graph_matches_eager(pair):
    sessions = onnx_sessions(weights_dir(), 1)
    if pair[0].fusion is None or "fusion" not in sessions:
        pytest.skip("no fusion network or no fusion graph in this export")
    ort_fusion = OrtFusion(pair[0].fusion, sessions)
    g = torch.Generator().manual_seed(7)
    base, animated, occ = (
        torch.rand(2, 3, 256, 256, generator=g),
        torch.rand(2, 3, 256, 256, generator=g),
        torch.rand(2, 1, 64, 64, generator=g),
    )
    with torch.inference_mode():
        torch.testing.assert_close(ort_fusion(base, animated, occ), pair[0].fusion(base, animated, occ), atol=1e-4, rtol=0)


def test_graph_sessions_are_made_on_first_use():
    """Verified at load, made when first run: a decode that never runs a graph never pays for it."""
    sessions = onnx_sessions(weights_dir(), 1)
    assert "fusion" in sessions and "keypoint_detector" in sessions
    assert not sessions._sessions
    sessions.run("keypoint_detector", torch.rand(1, 3, 256, 256))
    assert list(sessions._sessions) == ["keypoint_detector"]


def test_openmp_workers_sleep_unless_the_user_chose(monkeypatch):
    from thcodec.threads import sleep_when_idle

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    sleep_when_idle()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    sleep_when_idle()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
