import torch

from thcodec.models.fusion import Fusion, low_pass


def test_an_untrained_fusion_keeps_the_base_structure_and_the_animation_detail():
    torch.manual_seed(0)
    base = low_pass(torch.rand(1, 3, 64, 64))  # smooth: what an up-scaled base looks like
    animated = base + 0.2 * (torch.rand(1, 3, 64, 64) - 0.5)  # same structure, plus detail
    occ = torch.ones(1, 1, 16, 16)
    out = Fusion()(base, animated, occ)
    assert out.shape == base.shape
    detail = animated - low_pass(animated)
    # the output's high band follows the animation's detail, its low band the base
    assert torch.corrcoef(torch.stack([(out - low_pass(out)).flatten(), detail.flatten()]))[0, 1] > 0.8
    assert (low_pass(out) - base).abs().mean() < 0.05


def test_fusion_is_differentiable_and_fully_convolutional():
    net = Fusion()
    for size in (64, 128):
        base = torch.rand(2, 3, size, size, requires_grad=True)
        out = net(base, torch.rand(2, 3, size, size), torch.rand(2, 1, size // 4, size // 4))
        out.mean().backward()
        assert out.shape == (2, 3, size, size)
        assert base.grad is not None and base.grad.abs().sum() > 0


def test_the_detail_energy_term_pays_for_blur_but_not_for_detail_out_of_place():
    from thcodec.train.fusion import fusion_loss

    torch.manual_seed(0)
    target = low_pass(torch.rand(1, 3, 64, 64)) + 0.2 * (torch.rand(1, 3, 64, 64) - 0.5)
    blurred = low_pass(target)
    shifted = target.roll(1, -1)  # the same texture, one pixel off
    energy = lambda out: fusion_loss(out, target, 0.0, 1.0) - fusion_loss(out, target, 0.0, 0.0)
    assert energy(shifted) < 0.1 * energy(blurred)
    # pixel L1 alone prefers the blur to the shifted detail: why the term exists
    assert fusion_loss(blurred, target, 0.0) < fusion_loss(shifted, target, 0.0)


def test_the_expression_weight_is_on_the_eyes_and_the_mouth():
    import numpy as np

    from thcodec.train.fusion import expression_weights, fusion_loss

    lm = np.zeros((1, 68, 2), np.float32)
    lm[0, 36:42] = [-0.5, -0.3]  # an eye, a point at pixel (31.5, 44.3) of 64
    lm[0, 42:48] = [0.5, -0.3]
    lm[0, 48:68] = [0.0, 0.5]
    w = expression_weights(lm, 64, 3.0)
    assert w.shape == (1, 1, 64, 64) and set(w.unique().tolist()) == {1.0, 4.0}
    assert w[0, 0, 22, 16] == 4 and w[0, 0, 22, 48] == 4 and w[0, 0, 48, 32] == 4 and w[0, 0, 5, 5] == 1
    # an error inside the boxes costs more than the same error outside them
    target = torch.zeros(1, 3, 64, 64)
    inside, outside = target.clone(), target.clone()
    inside[..., 48, 32] = 1
    outside[..., 5, 5] = 1
    assert fusion_loss(inside, target, 0.5, weight=w) > 3 * fusion_loss(outside, target, 0.5, weight=w)
    assert torch.isclose(fusion_loss(inside, target, 0.5), fusion_loss(outside, target, 0.5))
    assert torch.equal(expression_weights(np.full((1, 68, 2), np.nan), 64, 3.0), torch.ones(1, 1, 64, 64))  # no face found


def test_hybrid_variants_decodes_with_other_fusion_weights(tmp_path):
    from thcodec.bench.hybrid_variants import with_fusion
    from thcodec.models.weights import load_model

    loaded = load_model(backend="torch")
    net = Fusion()
    torch.nn.init.normal_(net.out.weight, std=0.1)
    torch.save({"ema": net.state_dict(), "step": 5}, tmp_path / "best.pt")  # a run's checkpoint
    torch.save(net.state_dict(), tmp_path / "fusion.pt")  # exported weights
    for path in (tmp_path / "best.pt", tmp_path / "fusion.pt"):
        other = with_fusion(loaded, path)
        assert torch.equal(other.fusion.out.weight, net.out.weight)
        assert not torch.equal(other.fusion.out.weight, loaded.fusion.out.weight)
        assert other.model is loaded.model and other.fusion_sha256 == loaded.fusion_sha256


def test_hybrid_variants_encodes_per_setting_or_with_the_options_given():
    from argparse import Namespace

    from thcodec.bench.hybrid_variants import settings

    plain = settings(Namespace(encode=[], setting=["96:55"], base_step=2))
    assert plain == {
        "96_55_s2": (
            {"size": 96, "crf": 55, "step": 2},
            ["--mode", "hybrid", "--base-step", "2", "--base-size", "96", "--base-crf", "55"],
        )
    }
    named = settings(Namespace(encode=["k10=--mode hybrid --kbps 10"], setting=["96:55"], base_step=1))
    assert named == {"k10": ({"setting": "k10", "options": "--mode hybrid --kbps 10"}, ["--mode", "hybrid", "--kbps", "10"])}


def test_fusion_pairs_can_be_driven_as_the_ladders_low_rung_sends_key_points():
    import numpy as np

    from thcodec.format import keypoint_bits as kpq
    from thcodec.models.interpolator import Interpolator
    from thcodec.train.fusion_cache import COARSE_STEPS, _as_sent

    rng = np.random.default_rng(0)
    xy = np.cumsum(rng.normal(0, 0.01, (7, 10, 2)), 0).clip(-0.9, 0.9)
    jac = np.eye(2) + rng.normal(0, 0.05, (7, 10, 2, 2))
    fields = kpq.quantize(xy, jac)
    default = _as_sent(fields, False, Interpolator())
    assert np.allclose(default[..., :2], kpq.dequantize(kpq.coarsen(fields, 4, 8))[0])
    coarse = _as_sent(fields, True, Interpolator())  # an untrained interpolator: the spline
    sent_xy = kpq.dequantize(kpq.coarsen(fields, *COARSE_STEPS))[0]
    assert np.allclose(coarse[::2, :, :2], sent_xy[::2])  # every 2nd cached frame sent, coarse
    assert np.allclose(coarse[6, :, :2], sent_xy[6])
    between = coarse[1:6:2, :, :2]  # the others filled between their neighbours
    assert not np.allclose(between, sent_xy[1:6:2])
    lo, hi = np.minimum(sent_xy[0:5:2], sent_xy[2:7:2]), np.maximum(sent_xy[0:5:2], sent_xy[2:7:2])
    assert (between >= lo - 0.02).all() and (between <= hi + 0.02).all()


def test_a_training_base_between_two_frames_is_their_average():
    import types

    import numpy as np

    from thcodec.train.fusion import batch_of

    rng = np.random.default_rng(0)
    n = 4
    cache = types.SimpleNamespace(
        base=rng.integers(0, 256, (n, 2, 8, 8, 3), dtype=np.uint8),
        gen=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
        occ=rng.integers(0, 256, (n, 2, 2), dtype=np.uint8),
        frames=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
        targets=list(range(n)),
    )
    picks, bases = np.array([1, 2]), np.array([0, 1])
    own = batch_of(cache, picks, bases)[0]
    between = batch_of(cache, picks, bases, picks - np.array([1, 0]), picks + np.array([1, 0]))[0]
    assert torch.equal(between[1], own[1])  # not stale: its own base
    expected = (cache.base[0, 0].astype(np.float32) + cache.base[2, 0]) / 2 / 255
    assert torch.allclose(between[0], torch.from_numpy(expected).permute(2, 0, 1), atol=1e-6)
