"""A training run's folder: resumable last.pt, best.pt by validation, log.jsonl (small parts)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
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


def train_loop(a, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, loss_fn, validate, score, ema_most: float,
               log_every: int) -> None:
    """The small networks' loop: cosine learning rate, EMA, validation every a.val_every steps.

    a: train.py's arguments (run, steps, lr, seed, val_every); loss_fn(rng) -> loss of one batch;
    validate() -> dict of the EMA's validation; score(dict) -> higher is better (keeps best.pt)."""
    step, best = resume(a.run, model, ema, opt)
    rng = np.random.default_rng(a.seed + step)
    with open(a.run / "log.jsonl", "a") as log:
        t0 = time.time()
        while step < a.steps:
            for g in opt.param_groups:
                g["lr"] = a.lr * 0.5 * (1 + np.cos(np.pi * step / a.steps))
            loss = loss_fn(rng)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema_update(ema, model, step, ema_most)
            step += 1
            if step % log_every == 0:
                rec = {"step": step, "loss": loss.item(), "s": round(time.time() - t0, 1)}
                print(json.dumps(rec), flush=True)
                log.write(json.dumps(rec) + "\n")
            if step % a.val_every == 0 or step == a.steps:
                v = validate() | {"step": step}
                best = checkpoint(a.run, log, model, ema, opt, step, v, score(v), best)
