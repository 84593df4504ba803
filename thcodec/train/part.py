"""What the training loop (thcodec/train/train.py) asks of one part.

A part is a config dataclass (its command-line options, thcodec/train/options.py) and a `Part`
subclass built from (RunConfig, its config, device, world size): the model, the parameters it
trains, how a batch is drawn, its loss, its validation and the score that keeps best.pt. The
class attributes say how the loop drives it (schedule, optimiser betas, gradient clipping, EMA,
logging, whether it may run under torchrun). The hooks below have do-nothing defaults; only
a part with a second network beside the trained ones (the motion part's discriminator) needs them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from thcodec.train.run import Schedule


class Part:
    distributed = False  # may run under torchrun (DistributedDataParallel)
    schedule = Schedule(warmup=0, floor=0.0)
    betas = (0.9, 0.999)
    clip_grad: float | None = None  # the trained parameters' gradient norm is clipped to this
    ema_most = 0.998  # the EMA's decay at most
    log_every = 50  # a training log line every this many steps

    def __init__(self, model: nn.Module, trained: nn.Module | None = None) -> None:
        self.model = model
        self.trained = model if trained is None else trained  # the parameters the optimiser steps

    def sample(self, rng: np.random.Generator):
        """One training batch."""
        raise NotImplementedError

    def loss(self, batch, rng: np.random.Generator) -> tuple[torch.Tensor, dict, object]:
        """-> (loss, values to log, anything extra the hooks want, e.g. the generated frames)."""
        raise NotImplementedError

    def validate(self, ema: nn.Module) -> dict:
        """The EMA model's validation (JSON-able values)."""
        raise NotImplementedError

    def score(self, v: dict) -> float:
        """Higher is better: keeps best.pt."""
        raise NotImplementedError

    # Hooks.
    def best_extras(self) -> dict:
        """More fields for best.pt."""
        return {}

    def snapshot_state(self, ema: nn.Module) -> dict:
        """The weights a snap_<step>.pt keeps (default: the whole EMA model)."""
        return ema.state_dict()

    def snapshot_extras(self, final: bool) -> dict:
        """More fields for a snapshot (final: the run's last one)."""
        return {}

    def state_dict(self) -> dict:
        """More state for last.pt (e.g. a discriminator and its optimiser)."""
        return {}

    def load_state_dict(self, ck: dict) -> None:
        """Resume what state_dict saved, from last.pt."""

    def extra_loss(self, batch, aux, rec: dict) -> torch.Tensor | float:
        """Added to the loss before the backward pass."""
        return 0.0

    def after_step(self, batch, aux, rec: dict) -> None:
        """After the optimiser's step (e.g. the discriminator's own step)."""

    def warm_up(self, loss_step: nn.Module, rng: np.random.Generator, log) -> None:
        """Before a fresh run's first step; log(rec) writes a log line (None off rank 0)."""


class LossStep(nn.Module):
    """A part's loss as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, part: Part) -> None:
        super().__init__()
        self.model = part.model
        self._part = part

    def forward(self, batch, rng):
        return self._part.loss(batch, rng)
