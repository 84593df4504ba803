import hashlib
import json
import shutil

import pytest
import torch

from thcodec.errors import ThcError
from thcodec.models.manifest import read_manifest, sha256_file
from thcodec.models.weights import MODEL_ID, NETWORKS, load_model, weights_dir


@pytest.fixture
def copy(tmp_path):
    """A private copy of the committed weights, to damage."""
    dst = tmp_path / "weights"
    shutil.copytree(weights_dir(), dst)
    return dst


def test_committed_weights_load_and_are_named(loaded):
    manifest = read_manifest(weights_dir())
    assert loaded.model_id == manifest["model_id"] == MODEL_ID
    assert loaded.model.num_kp == 10 and not loaded.model.training
    # the stream's weights id: sha256 over the per-file hashes, in NETWORKS order
    entries = {e["network"]: e for e in manifest["files"]}
    digest = hashlib.sha256(b"".join(bytes.fromhex(entries[n]["sha256"]) for n in NETWORKS)).digest()
    assert loaded.weights_sha256 == digest
    for n in NETWORKS:
        assert sha256_file(weights_dir() / entries[n]["file"]) == entries[n]["sha256"]


def test_tampered_weights_are_refused(copy):
    path = copy / "generator.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ThcError, match="does not match the sha256"):
        load_model(copy)


def test_missing_pieces_are_refused(copy):
    saved = (copy / "dense_motion.pt").read_bytes()
    (copy / "dense_motion.pt").unlink()
    with pytest.raises(ThcError, match="missing weights file"):
        load_model(copy)
    (copy / "dense_motion.pt").write_bytes(saved)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["network"] != "generator"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ThcError, match="no entry for generator"):
        load_model(copy)
    for bad in ({}, {"files": [{"network": "generator"}]}, {"files": 3}):
        (copy / "manifest.json").write_text(json.dumps(bad))
        with pytest.raises(ThcError, match="malformed weights manifest"):
            load_model(copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(ThcError, match="cannot read"):
        load_model(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ThcError, match="cannot read"):
        load_model(copy)


def test_the_shipped_sr_network_loads_and_one_network_exports_alone(copy, loaded, tmp_path):
    import torch

    from thcodec.models.super_resolution import SuperResolution
    from thcodec.models.weights import export

    assert loaded.super_resolution is not None and bool(loaded.super_resolution.use_pivot)
    before = {e["network"]: e["sha256"] for e in read_manifest(copy)["files"]}
    net = SuperResolution(use_pivot=False)
    ck = tmp_path / "best.pt"
    torch.save({"ema": net.state_dict(), "step": 7, "val": {"x2_psnr": 1.0}}, ck)
    export({"super_resolution": ck}, copy, {})
    after = {e["network"]: e["sha256"] for e in read_manifest(copy)["files"]}
    assert {n: after[n] for n in NETWORKS} == {n: before[n] for n in NETWORKS}  # the stream's weight set is untouched
    assert after["super_resolution"] != before["super_resolution"]
    again = load_model(copy)
    assert not bool(again.super_resolution.use_pivot)  # the ablation flag travels with the weights
    assert again.weights_sha256 == loaded.weights_sha256


def test_thc_threads_sets_torch_threads_and_refuses_nonsense(monkeypatch):
    """THC_THREADS is the thread count of every network call, eager torch's included."""
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("THC_THREADS", "1")
        load_model()
        assert torch.get_num_threads() == 1
        for bad in ("abc", "0", "-2"):
            monkeypatch.setenv("THC_THREADS", bad)
            with pytest.raises(ThcError, match="THC_THREADS"):
                load_model()
    finally:
        torch.set_num_threads(before)
