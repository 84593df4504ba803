"""The light generator: trained by `--part light` against the shipped one, exported as a
receiver-only extra, swapped in by the receiver without changing the stream's weight set."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import pytest
import torch
from conftest import motion_argv

from thcodec.errors import ThcError
from thcodec.models.checkpoint import load_checkpoint
from thcodec.models.generator import Generator
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import export, load_model, weights_dir
from thcodec.train import train


@pytest.mark.parametrize(("channels", "blocks"), [((24, 48), 2), ((8, 16), 1), ((12, 20), 3)])
def test_a_generator_is_rebuilt_at_the_shape_of_its_weights(channels, blocks):
    net = Generator(10, channels, blocks)
    again = Generator.fitting(net.state_dict())
    assert (again.channels, again.blocks) == (channels, blocks)
    again.load_state_dict(net.state_dict())


def test_weights_without_a_light_generator_say_so(tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(weights_dir(), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["network"] != "light_generator"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    bare = load_model(folder)
    assert bare.light_generator is None and load_model().light_generator is not None
    with pytest.raises(ThcError, match="no light generator"):
        bare.with_light_generator()


def test_a_light_run_exports_a_generator_the_receiver_swaps_in(tmp_path, monkeypatch):
    argv = motion_argv(tmp_path, "--batch", "2", "--keep-all", "--channels", "8,16", "--blocks", "1", "--real", "0.5")
    argv[argv.index("motion")] = "light"
    monkeypatch.setattr(sys, "argv", [*argv, "--run", str(tmp_path / "run"), "--steps", "2", "--val-every", "2"])
    train.main()
    snap = load_checkpoint(tmp_path / "run" / "snap_000002.pt")
    assert {k.split(".", 1)[0] for k in snap["ema"]} == {"generator"}  # only what it trained
    assert snap["val"]["psnr_teacher"] > 0 and "psnr" in snap["val"]

    folder = tmp_path / "weights"
    shutil.copytree(weights_dir(), folder)
    export({"light_generator": tmp_path / "run" / "snap_000002.pt"}, folder, {})
    shipped, copy = load_model(), load_model(folder)
    assert copy.weights_sha256 == shipped.weights_sha256  # the stream's weight set is untouched
    light = copy.with_light_generator()
    assert (light.model.generator.channels, light.model.generator.blocks) == ((8, 16), 1)
    assert copy.model.generator.channels == (24, 48)  # the loaded model itself keeps the shipped one
    assert light.model.dense_motion is copy.model.dense_motion  # shared, not copied

    pivot = torch.rand(1, 3, 256, 256)
    kp = Keypoints(torch.rand(1, 10, 2) - 0.5, torch.eye(2).expand(1, 10, 2, 2).clone())
    with torch.inference_mode():
        full, flow, _ = copy.model.animate_with_motion(pivot, kp, kp)
        fast, flow_fast, _ = light.model.animate_with_motion(pivot, kp, kp)
    assert fast.shape == full.shape and not torch.equal(fast, full)
    torch.testing.assert_close(flow_fast, flow)  # the same motion: only the generator differs


def test_a_light_generator_file_of_another_shape_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(weights_dir(), folder)
    torch.save({"unrelated.weight": torch.zeros(3)}, folder / "light_generator.pt")
    manifest = json.loads((folder / "manifest.json").read_text())
    for e in manifest["files"]:
        if e["network"] == "light_generator":
            e["sha256"] = hashlib.sha256((folder / "light_generator.pt").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ThcError, match="does not fit this thcodec's light_generator network"):
        load_model(folder)
