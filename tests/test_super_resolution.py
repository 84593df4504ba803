"""Patch-wise super-resolution: tiles, the pivot's detail, and the decoder's --sr / --size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import face_frame

from thcodec.face.region import Region
from thcodec.models import blocks
from thcodec.models.backend import bf16_supported
from thcodec.models.blocks import channels_last, make_coordinate_grid
from thcodec.models.super_resolution import PivotDetail, SuperResolution
from thcodec.receiver.decoder import Frame, Start, decode_stream
from thcodec.receiver.segment import scaled_region
from thcodec.sender.encoder import EncodeOptions, encode


def random_net(use_pivot: bool = True, seed: int = 0) -> SuperResolution:
    torch.manual_seed(seed)
    net = SuperResolution(use_pivot=use_pivot)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.2)
    return net.eval()


def inputs(h: int, w: int, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    gen = torch.rand(batch, 3, 256, 256, generator=g)
    flow = torch.rand(batch, 64, 64, 2, generator=g) * 2 - 1
    occ = torch.rand(batch, 1, 64, 64, generator=g)
    pivot = PivotDetail(torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, 256, 256, generator=g))
    return gen, flow, occ, pivot


@pytest.mark.parametrize("h,w", [(512, 512), (333, 517), pytest.param(1024, 300, marks=pytest.mark.slow)])
def test_tiles_give_the_output_of_one_pass(h, w):
    net = random_net()
    args = inputs(h, w)
    with torch.no_grad():
        whole = net(*args, tile=max(h, w))
        for tile in (37, 160):
            assert torch.allclose(net(*args, tile=tile), whole, atol=1e-5), tile
    assert whole.shape == (2, 3, h, w)


@pytest.mark.parametrize(
    "bf16", [False, pytest.param(True, marks=pytest.mark.skipif(not bf16_supported(), reason="no bfloat16 convolutions"))]
)
def test_convolutions_fused_with_their_relu_give_the_eager_values(bf16, monkeypatch):
    if blocks._FUSED_CONV is None:
        pytest.skip("this torch build has no fused convolution")
    calls = []
    monkeypatch.setattr(blocks, "_FUSED_CONV", lambda *a: calls.append(a[7]) or torch.ops.mkldnn._convolution_pointwise(*a))
    net = random_net()
    x = channels_last(torch.rand(2, 10, 37, 53, generator=torch.Generator().manual_seed(2)))
    up, detail = torch.rand(2, 3, 37, 53), torch.rand(2, 3, 37, 53) - 0.5
    with blocks.bf16_convolutions(bf16):
        eager = net.head(x, up, detail).detach()  # a gradient is wanted: module by module
        assert calls == []
        with torch.no_grad():
            fused = net.head(x, up, detail)
    assert calls == ["relu", "relu", "relu", "none"]  # three conv + ReLU pairs, then the output convolution
    assert torch.allclose(fused, eager, atol=1e-5)


def test_the_ablation_never_looks_at_the_pivot():
    gen, flow, occ, pivot = inputs(300, 300)
    other = PivotDetail(torch.rand(1, 3, 300, 300), torch.rand(1, 3, 256, 256))
    with torch.no_grad():
        blind = random_net(use_pivot=False)
        assert torch.equal(blind(gen, flow, occ, pivot), blind(gen, flow, occ, other))
        seeing = random_net(use_pivot=True)
        assert not torch.allclose(seeing(gen, flow, occ, pivot), seeing(gen, flow, occ, other))


def test_still_motion_brings_back_the_pivot_at_full_resolution():
    """Frame = pivot, flow = identity, gate fully open: up-scaled frame + warped detail = the pivot.
    Checks that the flow, the detail layer and the up-scaling agree on where each pixel is."""
    big = torch.rand(1, 3, 64, 64)
    pivot = torch.nn.functional.interpolate(big, size=(512, 512), mode="bicubic", align_corners=False).clamp(0, 1)
    pivot = pivot + 0.1 * torch.rand(1, 3, 512, 512)  # detail the 256 version cannot hold
    small = torch.nn.functional.interpolate(pivot, size=(256, 256), mode="area")
    net = SuperResolution().eval()
    with torch.no_grad():
        net.out.weight.zero_()
        net.out.bias.copy_(torch.tensor([20.0, 0, 0, 0]))  # gate = 1, no correction
        out = net(small, make_coordinate_grid(64, 64)[None], torch.zeros(1, 1, 64, 64), PivotDetail(pivot, small))
    inner = (out - pivot)[..., 16:-16, 16:-16].abs()  # the identity flow is exact away from the border
    assert inner.max() < 1e-4


def test_scaled_region():
    assert scaled_region(Region(100, 50, 200, 200), 0.5, 0.5) == Region(50, 25, 100, 100)
    r = scaled_region(Region(1, 1, 3, 3), 1 / 3, 1 / 3)
    assert r.w >= 1 and r.h >= 1


def test_region_crop_to_a_rectangle():
    frame = np.zeros((40, 60, 3), np.uint8)
    assert Region(0, 0, 60, 40).crop(frame, (30, 20)).shape == (20, 30, 3)
    assert Region(10, 0, 40, 40).crop(frame, 40).shape == (40, 40, 3)


# --- in the decoder -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_stream(tmp_path_factory, loaded) -> Path:
    """A 576x432 clip with a face region larger than the model's 256x256, encoded."""
    from conftest import clip_factory

    d = tmp_path_factory.mktemp("sr")
    clip = clip_factory(d)(width=576, height=432, frames=4, audio=False, picture=face_frame)
    thc = d / "face.thc"
    with open(thc, "wb") as f:
        result = encode(clip, f, loaded, EncodeOptions(audio=False))
    assert max(result.region.w, result.region.h) > 256
    return thc


def frames_of(thc: Path, loaded, **kw) -> tuple[Start, list[np.ndarray]]:
    with open(thc, "rb") as f:
        events = list(decode_stream(f, loaded, **kw))
    return events[0], [e.rgb for e in events if isinstance(e, Frame)]


def test_sr_net_and_bicubic_on_the_same_stream(face_stream, loaded):
    with_net = dataclasses.replace(loaded, super_resolution=random_net())
    _, net = frames_of(face_stream, with_net, sr="net")
    _, bicubic = frames_of(face_stream, with_net, sr="bicubic")
    _, none = frames_of(face_stream, dataclasses.replace(loaded, super_resolution=None), sr="net")
    assert len(net) == len(bicubic) == 4 and net[0].shape == (432, 576, 3)
    assert not np.array_equal(net[1], bicubic[1])
    assert len(none) == len(bicubic) == 4
    assert all(np.array_equal(a, b) for a, b in zip(none, bicubic))  # no SR weights: bicubic


@pytest.mark.parametrize("size", [(288, 216), (1000, 500), (97, 61)])
def test_any_output_size(face_stream, loaded, size):
    with_net = dataclasses.replace(loaded, super_resolution=random_net())
    start, frames = frames_of(face_stream, with_net, size=size)
    assert start.size == size
    assert len(frames) == 4
    assert all(f.shape == (size[1], size[0], 3) for f in frames)


def test_regions_at_most_the_model_size_skip_the_network(tiny_clip, tmp_path, loaded):
    thc = tmp_path / "t.thc"
    with open(thc, "wb") as f:
        encode(tiny_clip, f, loaded, EncodeOptions(audio=False))
    with_net = dataclasses.replace(loaded, super_resolution=random_net())
    _, a = frames_of(thc, with_net, sr="net")
    _, b = frames_of(thc, with_net, sr="bicubic")
    assert len(a) == len(b) > 0
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
