"""A training run's folder and state: resumable RUN/last.pt, RUN/best.pt by a validation score,
snap_<step>.pt snapshots, the EMA of the weights, and RUN/log.jsonl (one JSON object a line).

Every file is written whole or not at all (thcodec/media/atomic.py): a run killed mid-save
resumes from the previous last.pt."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from thcodec.media.atomic import atomic_output
from thcodec.models.checkpoint import load_checkpoint


@dataclass(frozen=True)
class Schedule:
    """Learning rate: a linear warm-up over `warmup` steps, then a cosine from the peak down to
    `floor` x the peak."""

    warmup: int = 200
    floor: float = 0.1

    def lr(self, step: int, total: int, base: float, elapsed: float = 0.0) -> float:
        """elapsed (0-1): the time budget's spent share, when the run has one and it runs out
        before the steps do (the cosine follows whichever is further)."""
        if step < self.warmup:
            return base * (step + 1) / self.warmup
        t = min(1.0, max((step - self.warmup) / max(1, total - self.warmup), elapsed))
        return base * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * t)))


def save(obj: dict, path: Path) -> None:
    """torch.save, all or nothing."""
    with atomic_output(path, force=True) as tmp:
        torch.save(obj, tmp)


class Run:
    """One run's folder: owns the model's EMA, resumes and saves the optimiser state, keeps the
    best EMA weights by a score (higher is better) and writes the log. Rank 0 of a distributed
    run writes; the others only keep their EMA."""

    def __init__(self, folder: Path, model: nn.Module, opt: torch.optim.Optimizer, ema_most: float, writer: bool = True) -> None:
        self.folder, self.model, self.opt, self.ema_most, self.writer = folder, model, opt, ema_most, writer
        self.ema = copy.deepcopy(model).eval()
        self.step, self.best = 0, None
        self._log = None

    def __enter__(self) -> Run:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.writer:
            self._log = open(self.folder / "log.jsonl", "a")
        return self

    def __exit__(self, *exc) -> None:
        if self._log is not None:
            self._log.close()

    def resume(self, device: torch.device | str = "cpu") -> dict:
        """Load RUN/last.pt when there is one (step, best score, model, EMA, optimiser) -> the checkpoint ({} if none)."""
        last = self.folder / "last.pt"
        if not last.exists():
            return {}
        ck = load_checkpoint(last, device)
        self.model.load_state_dict(ck["model"])
        self.ema.load_state_dict(ck["ema"])
        self.opt.load_state_dict(ck["opt"])
        self.step, self.best = int(ck["step"]), ck["best"]
        print(f"resumed at step {self.step}", flush=True)
        return ck

    def update_ema(self) -> None:
        """Move the EMA towards the model (decay ramping up to ema_most) and count the step."""
        decay = min(self.ema_most, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                pe.lerp_(pm, 1 - decay)
        self.step += 1

    def log(self, rec: dict) -> None:
        """One line to stdout and log.jsonl (rank 0)."""
        if self._log is not None:
            print(json.dumps(rec), flush=True)
            self._write(rec)

    def _write(self, rec: dict) -> None:
        self._log.write(json.dumps(rec) + "\n")
        self._log.flush()

    def validated(self, v: dict, score: float, best_extras: dict, extra_state: dict) -> bool:
        """Log validation v, keep best.pt when score beats the best so far, save last.pt -> whether best.pt was replaced."""
        print("val", json.dumps(v), flush=True)
        if self._log is not None:
            self._write({"val": v})
        better = self.best is None or score > self.best
        if better:
            self.best = score
            save({"ema": self.ema.state_dict(), "step": self.step, "val": v, **best_extras}, self.folder / "best.pt")
        state = {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "step": self.step,
            "best": self.best,
        }
        save({**state, **extra_state}, self.folder / "last.pt")
        return better

    def snapshot(self, ema_state: dict, v: dict, extras: dict) -> Path:
        """snap_<step>.pt: the given EMA weights (e.g. only the trained networks') at this validation."""
        path = self.folder / f"snap_{self.step:06d}.pt"
        save({"ema": ema_state, "step": self.step, "val": v, **extras}, path)
        return path
