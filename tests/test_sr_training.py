"""The super-resolution cache and `--part sr` (thcodec/train/sr_cache.py, sr.py): a cache built
from a synthetic 512x512 clip with the shipped model, read back, and a few training steps on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thcodec.models.checkpoint import load_checkpoint
from thcodec.train import sr_cache, train
from thcodec.train.options import RunConfig
from thcodec.train.sr import SrConfig, SrPart
from thcodec.train.sr_cache import SrCache


@pytest.fixture(scope="module")
def sr_data(tmp_path_factory):
    """A data folder with one 512x512 clip per split, and the SR cache built from it."""
    from conftest import clip_factory

    root = tmp_path_factory.mktemp("srdata")
    (root / "clips").mkdir()
    make = clip_factory(root / "clips")
    rows = ["file\tsplit\twidth\theight\tframes"]
    for split in ("train", "val"):
        make(width=512, height=512, frames=24, audio=False, name=f"{split}.mp4")  # no face: the whole frame from frame 10 on
        rows.append(f"{split}.mp4\t{split}\t512\t512\t24")
    make(width=320, height=240, frames=4, audio=False, name="small.mp4")  # under 512: not in the cache
    rows.append("small.mp4\ttrain\t320\t240\t4")
    (root / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    torch.set_num_threads(1)
    for n, split in enumerate(("val", "train")):
        sr_cache.build(root, root / "sr" / split, split, n)
    return root


@pytest.mark.slow
def test_the_cache_holds_every_pair_of_the_large_clips(sr_data):
    cache = SrCache(sr_data / "sr" / "train")
    assert cache.index["clips"][0]["file"] == "train.mp4" and len(cache.index["clips"]) == 1
    assert cache.frames.shape[1:] == (512, 512, 3) and len(cache.pivots) == sr_cache.PIVOTS
    assert len(cache) == sr_cache.PIVOTS * len(cache.frames)
    assert cache.gen.shape[1:] == (256, 256, 3) and cache.flow.shape[1:] == (64, 64, 2)
    assert cache.gen.std() > 5  # animated pictures, not an empty buffer


def _tiny_cache(root, pairs: int, seed: int) -> None:
    """The SR cache's layout with random pictures: one pivot, `pairs` frames, an identity flow."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    rng.integers(0, 256, (pairs, 512, 512, 3), dtype=np.uint8).tofile(root / "frames.u8")
    rng.integers(0, 256, (1, 512, 512, 3), dtype=np.uint8).tofile(root / "pivots.u8")
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 64), np.linspace(-1, 1, 64)), -1)
    np.savez(
        root / "pairs.npz",
        pivot=np.zeros(pairs, int),
        frame=np.arange(pairs),
        gen=rng.integers(0, 256, (pairs, 256, 256, 3), dtype=np.uint8),
        flow=np.broadcast_to(grid, (pairs, 64, 64, 2)).astype(np.float16),
        occlusion=np.ones((pairs, 64, 64), np.float16),
    )
    (root / "index.json").write_text(json.dumps({"size": 512, "frames": pairs, "pivots": 1, "pairs": pairs, "clips": []}))


@pytest.mark.slow
def test_a_few_sr_steps_train_validate_and_save(tmp_path):
    _tiny_cache(tmp_path / "sr" / "train", 3, 0)
    _tiny_cache(tmp_path / "sr" / "val", 1, 1)
    run = tmp_path / "run"
    train.main(
        [
            "--part",
            "sr",
            "--sr-cache",
            str(tmp_path / "sr"),
            "--run",
            str(run),
            "--steps",
            "2",
            "--batch",
            "2",
            "--lr",
            "1e-3",
            "--val-every",
            "2",
        ]
    )
    best = load_checkpoint(run / "best.pt")
    assert {"x2_psnr", "x2_bicubic_psnr", "x4_psnr", "psnr"} <= set(best["val"])
    assert best["ema"]["use_pivot"].item() is True
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any("val" in r for r in log)


def test_small_resamples_a_512_crop_to_the_models_256():
    img = np.zeros((512, 512, 3), np.uint8)
    img[:, 256:] = 200
    out = sr_cache.small(img)
    assert out.shape == (256, 256, 3) and out[:, :120].max() == 0 and out[:, 136:].min() == 200


def test_no_pivot_builds_the_ablation(tmp_path):
    _tiny_cache(tmp_path / "sr" / "train", 1, 0)
    _tiny_cache(tmp_path / "sr" / "val", 1, 1)
    part = SrPart(RunConfig(part="sr", run=tmp_path / "run"), SrConfig(sr_cache=tmp_path / "sr", no_pivot=True))
    assert part.model.use_pivot.item() is False
    x, _, detail, _ = part.sample(np.random.default_rng(0))
    assert detail.abs().max() == 0 and x.shape[0] == 4  # the pivot inputs are zeros; RunConfig's batch
