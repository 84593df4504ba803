"""A training run's folder: resumable last.pt, best.pt by validation, log.jsonl (small parts)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn


def resume(run: Path, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, float | None]:
    """Load run/last.pt when there is one -> (step, best score so far)."""
    run.mkdir(parents=True, exist_ok=True)
    last = run / "last.pt"
    if not last.exists():
        return 0, None
    ck = torch.load(last, weights_only=True)
    model.load_state_dict(ck["model"])
    ema.load_state_dict(ck["ema"])
    opt.load_state_dict(ck["opt"])
    print(f"resumed at step {int(ck['step'])}", flush=True)
    return int(ck["step"]), ck["best"]


def ema_update(ema: nn.Module, model: nn.Module, step: int, most: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - min(most, (1 + step) / (10 + step)))


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def checkpoint(run: Path, log, model, ema, opt, step: int, v: dict, score: float, best: float | None) -> float:
    """Log validation v, keep best.pt when score beats best (higher is better), save last.pt -> best."""
    print("val", json.dumps(v), flush=True)
    log.write(json.dumps({"val": v}) + "\n")
    log.flush()
    if best is None or score > best:
        best = score
        _save({"ema": ema.state_dict(), "step": step, "val": v}, run / "best.pt")
    _save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step, "best": best}, run / "last.pt")
    return best
