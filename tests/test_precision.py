"""bfloat16 convolutions (thcodec.models.blocks.bf16_convolutions): the receiver's choice
(THC_PRECISION, AMX), pictures close to float32's, float32 untouched outside the block, and a
sender whose bytes never depend on it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from conftest import clip_factory

from thcodec.errors import ThcError
from thcodec.media.metrics import psnr
from thcodec.models import blocks
from thcodec.models.backend import bf16_supported, choose_precision
from thcodec.models.fusion import Fusion
from thcodec.models.keypoints import Keypoints
from thcodec.models.super_resolution import PivotDetail
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.sender.encoder import EncodeOptions, encode


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
    pivot = torch.stack([x, y, (x * 7).sin() * 0.5 + 0.5])[None].expand(2, -1, -1, -1).contiguous()
    xy = torch.rand(2, 10, 2, generator=g) * 1.2 - 0.6
    jac = torch.eye(2).expand(2, 10, 2, 2).clone()
    return pivot, Keypoints(xy, jac), Keypoints(xy + 0.03 * torch.randn(2, 10, 2, generator=g), jac)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return 10 * np.log10(1 / max(mse, 1e-12))


# The tests that run bfloat16 convolutions need a CPU that has them; a CPU without is refused below.
needs_bf16 = pytest.mark.skipif(not bf16_supported(), reason="this CPU has no bfloat16 convolutions")


def test_choice_follows_the_environment_and_the_cpu(monkeypatch):
    monkeypatch.delenv("THC_PRECISION", raising=False)
    assert choose_precision() == ("bf16" if torch.cpu._is_amx_tile_supported() else "fp32")
    monkeypatch.setenv("THC_PRECISION", " BF16 ")
    if bf16_supported():
        assert choose_precision() == "bf16"
    else:
        with pytest.warns(RuntimeWarning, match="no bfloat16 convolutions"):
            assert choose_precision() == "fp32"
    assert choose_precision("fp32") == "fp32"  # a caller's request wins
    monkeypatch.setenv("THC_PRECISION", "int8")
    with pytest.raises(ThcError, match="THC_PRECISION"):
        choose_precision()


@needs_bf16
def test_float32_is_untouched_outside_the_block(loaded):
    pivot, src, drive = _inputs()
    with torch.inference_mode():
        before = loaded.model.animate(pivot, src, drive)
        with blocks.bf16_convolutions(False):
            off = loaded.model.animate(pivot, src, drive)
        with blocks.bf16_convolutions():
            inside = loaded.model.animate(pivot, src, drive)
        after = loaded.model.animate(pivot, src, drive)
    assert torch.equal(before, off) and torch.equal(before, after)
    assert inside.dtype == torch.float32 and not torch.equal(inside, before)
    assert _psnr(inside, before) > 40


@needs_bf16
def test_fusion_and_super_resolution_stay_close(loaded):
    pivot, src, drive = _inputs(1)
    fusion = loaded.fusion or Fusion().eval()
    base = torch.nn.functional.avg_pool2d(pivot, 4).repeat_interleave(4, -1).repeat_interleave(4, -2)
    with torch.inference_mode():
        gen, flow, occ = loaded.model.animate_with_motion(pivot, src, drive)
        gen = gen.clamp(0, 1)
        outs = []
        for on in (False, True):
            with blocks.bf16_convolutions(on):
                fused = fusion(base, gen, occ)
                sr = None
                if loaded.super_resolution is not None:
                    big = torch.nn.functional.interpolate(pivot[:1], size=(384, 384), mode="bicubic")
                    sr = loaded.super_resolution(gen, flow, occ, PivotDetail(big, pivot[:1]))
            outs.append((fused, sr))
    (f32, s32), (f16, s16) = outs
    assert f16.dtype == torch.float32 and _psnr(f16, f32) > 40
    if s32 is not None:
        assert s16.dtype == torch.float32 and _psnr(s16, s32) > 40


@pytest.fixture(scope="module")
def stream(tmp_path_factory, loaded):
    clip = clip_factory(tmp_path_factory.mktemp("precision"))(width=64, height=48, frames=8, fps=25, audio=False)
    out = io.BytesIO()
    encode(clip, out, loaded, EncodeOptions(interp=1))
    return clip, out.getvalue()


def _decoded(data: bytes, loaded, precision=None) -> list[np.ndarray]:
    return [e.rgb for e in decode_stream(io.BytesIO(data), loaded, precision=precision) if isinstance(e, Frame)]


@needs_bf16
def test_decoder_runs_at_the_chosen_precision(stream, loaded, monkeypatch):
    _, data = stream
    f32, b16 = _decoded(data, loaded, "fp32"), _decoded(data, loaded, "bf16")
    assert len(f32) == len(b16) == 8
    assert any(not np.array_equal(a, b) for a, b in zip(f32, b16))
    assert min(psnr(a, b) for a, b in zip(f32, b16)) > 35
    monkeypatch.setenv("THC_PRECISION", "bf16")
    assert all(np.array_equal(a, b) for a, b in zip(_decoded(data, loaded), b16))


def test_sender_bytes_do_not_depend_on_the_precision(stream, loaded, monkeypatch):
    clip, data = stream
    monkeypatch.setenv("THC_PRECISION", "bf16")
    again = io.BytesIO()
    encode(clip, again, loaded, EncodeOptions(interp=1))
    assert again.getvalue() == data
