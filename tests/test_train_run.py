"""A training run's folder and the one loop (thcodec/train/run.py, train.py: train) on a tiny
synthetic part: resume, best by score, EMA, log lines, snapshots, the learning-rate schedule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from thcodec.models.checkpoint import load_checkpoint
from thcodec.train.options import RunConfig
from thcodec.train.part import Part
from thcodec.train.run import Run, Schedule
from thcodec.train.train import train


class Line(Part):
    """Fit y = 3x - 1 with one linear unit; validation error falls as it learns, except where told."""

    log_every = 2

    def __init__(self, worse_at: tuple[int, ...] = ()) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Linear(1, 1))
        self.worse_at, self.validations = worse_at, []

    def sample(self, rng):
        x = torch.from_numpy(rng.uniform(-1, 1, (16, 1))).float()
        return x, 3 * x - 1

    def loss(self, batch, rng):
        x, y = batch
        loss = ((self.model(x) - y) ** 2).mean()
        return loss, {"loss": loss.item()}, None

    def validate(self, ema):
        with torch.no_grad():
            x = torch.linspace(-1, 1, 11)[:, None]
            err = float(((ema(x) - (3 * x - 1)) ** 2).mean())
        self.validations.append(err)
        return {"err": err + (100.0 if len(self.validations) in self.worse_at else 0.0)}

    def score(self, v):
        return -v["err"]


def _cfg(run: Path, **kw) -> RunConfig:
    return replace(RunConfig(part="line", run=run, steps=6, lr=0.05, val_every=2), **kw)


def test_the_loop_logs_validates_keeps_the_best_and_the_last(tmp_path):
    part = Line(worse_at=(3,))  # the third validation (step 6) scores worse: best.pt stays at step 4
    run = train(_cfg(tmp_path), part)
    assert run.step == 6
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [2, 4, 6]
    assert [r["val"]["step"] for r in log if "val" in r] == [2, 4, 6]
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 4
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 6 and set(last) >= {"model", "ema", "opt", "best"}
    assert not list(tmp_path.glob(".*tmp*"))  # atomic saves leave no temp file


def test_a_resumed_run_goes_on_where_last_pt_stopped(tmp_path):
    train(_cfg(tmp_path, steps=4), Line())
    part = Line()
    run = train(_cfg(tmp_path, steps=6), part)
    assert run.step == 6 and len(part.validations) == 1  # only step 6 validated in the second call
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["val"]["step"] for r in log if "val" in r] == [2, 4, 6]


def test_keep_all_snapshots_every_validation(tmp_path):
    train(_cfg(tmp_path, keep_all=True), Line())
    assert [p.name for p in sorted(tmp_path.glob("snap_*.pt"))] == ["snap_000002.pt", "snap_000004.pt", "snap_000006.pt"]


def test_the_ema_follows_the_model_with_a_ramped_decay(tmp_path):
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Run(tmp_path, model, opt, ema_most=0.5) as run:
        start = run.ema.weight.detach().clone()
        with torch.no_grad():
            model.weight.add_(1.0)
        run.update_ema()  # step 0: decay min(0.5, 1/10) = 0.1 -> 90% of the way
        torch.testing.assert_close(run.ema.weight, start + 0.9)
        assert run.step == 1


def test_learning_rate_follows_the_time_budget_when_it_runs_out_first():
    assert Schedule().lr(1000, 100_000, 1.0, elapsed=0.0) == pytest.approx(1.0, abs=1e-3)
    assert Schedule().lr(1000, 100_000, 1.0, elapsed=0.5) == pytest.approx(0.55)
    assert Schedule().lr(1000, 100_000, 1.0, elapsed=1.0) == pytest.approx(0.1)
    assert Schedule().lr(100_000, 100_000, 1.0) == pytest.approx(0.1)


def test_the_small_parts_schedule_is_a_plain_cosine_to_zero():
    s = Schedule(warmup=0, floor=0.0)
    assert [s.lr(k, 4, 1.0) for k in range(5)] == pytest.approx([0.5 * (1 + np.cos(np.pi * k / 4)) for k in range(5)])
