"""`--part interp`: train the frame interpolator on key-point trajectories.

Trajectories come from `python -m thcodec.train.trajectories` (.cache/kps/{train,val}.npz):
the shipped detector's quantized key points for every frame at 25 fps. A sample is a
missing frame at offset j of a step k (2..4) with its four sent neighbours; the loss is L1
on positions plus a fifth of L1 on Jacobians. Validation reports the mean position error
(px at 256) of the network, of linear interpolation (the baseline) and of a Catmull-Rom
spline through the same four sent frames, over every missing frame of the val clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thcodec.format import keypoint_bits as kpq
from thcodec.models.interpolator import MAX_STEP, Interpolator, catmull_rom
from thcodec.train.options import RunConfig, option
from thcodec.train.part import Part

PX = 128  # model units ([-1, 1]) -> pixels at 256


def load_trajectories(path: Path) -> list[np.ndarray]:
    """(N, K, 6) float32 per clip: positions then the row-major Jacobian, dequantized."""
    out = []
    with np.load(path) as z:
        for name in z.files:
            xy, jac = kpq.dequantize(z[name])
            if len(xy) > 2 * MAX_STEP:
                out.append(np.concatenate([xy, jac.reshape(jac.shape[:2] + (4,))], axis=-1))
    return out


def neighbours(traj: np.ndarray, i: int, k: int) -> tuple[np.ndarray, ...]:
    """(P, A, B, N) for sent frames A = i, B = i + k, replicated at the clip's ends."""
    n = len(traj)
    before = traj[i - k] if i - k >= 0 else traj[i]
    after = traj[i + 2 * k] if i + 2 * k < n else traj[i + k]
    return before, traj[i], traj[i + k], after


def sample(trajs: list[np.ndarray], batch: int, rng: np.random.Generator):
    p, a, b, n, tgt, t, step = ([] for _ in range(7))
    for c in rng.integers(0, len(trajs), batch):
        traj = trajs[c]
        k = int(rng.integers(2, MAX_STEP + 1))
        i = int(rng.integers(0, len(traj) - k))
        j = int(rng.integers(1, k))
        q = neighbours(traj, i, k)
        if rng.random() < 0.1:  # segment edges: the decoder replicates the missing neighbour
            q = (q[1], q[1], q[2], q[3]) if rng.random() < 0.5 else (q[0], q[1], q[2], q[2])
        for lst, v in zip((p, a, b, n), q):
            lst.append(v)
        tgt.append(traj[i + j])
        t.append(j / k)
        step.append(k)
    f = lambda x: torch.from_numpy(np.stack(x)).float()
    return f(p), f(a), f(b), f(n), f(tgt), torch.tensor(t).float(), torch.tensor(step).float()


def loss_of(pred: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    return (pred[..., :2] - tgt[..., :2]).abs().mean() + 0.2 * (pred[..., 2:] - tgt[..., 2:]).abs().mean()


def val_set(trajs: list[np.ndarray]):
    """Every missing frame of every step 2..4 in the val clips, as one batch per step."""
    sets = {}
    for k in range(2, MAX_STEP + 1):
        rows = [[] for _ in range(7)]
        for traj in trajs:
            for i in range(0, len(traj) - k, k):
                q = neighbours(traj, i, k)
                for j in range(1, k):
                    for lst, v in zip(rows, (*q, traj[i + j], j / k, k)):
                        lst.append(v)
        sets[k] = tuple(torch.from_numpy(np.array(r)).float() for r in rows)
    return sets


@torch.no_grad()
def validate(model: Interpolator, sets) -> dict:
    out = {}
    for k, (p, a, b, n, tgt, t, step) in sets.items():
        err = lambda pred: float((pred[..., :2] - tgt[..., :2]).norm(dim=-1).mean() * PX)  # noqa: B023 (used within the iteration)
        out[f"k{k}_net_px"] = err(model(p, a, b, n, t, step))
        out[f"k{k}_linear_px"] = err(a + t[:, None, None] * (b - a))
        out[f"k{k}_catmull_rom_px"] = err(catmull_rom(p, a, b, n, t))
    out["net_px"] = float(np.mean([out[f"k{k}_net_px"] for k in sets]))
    out["linear_px"] = float(np.mean([out[f"k{k}_linear_px"] for k in sets]))
    return out


@dataclass(frozen=True)
class InterpConfig:
    kps: Path = option(Path(".cache/kps"), "the trajectories folder (python -m thcodec.train.trajectories): train.npz, val.npz")


class InterpPart(Part):
    ema_most = 0.995
    log_every = 100

    def __init__(self, run: RunConfig, cfg: InterpConfig, device=None, world: int = 1) -> None:
        super().__init__(Interpolator())
        self.batch = run.batch
        self.trajs = load_trajectories(cfg.kps / "train.npz")
        self.sets = val_set(load_trajectories(cfg.kps / "val.npz"))

    def sample(self, rng):
        return sample(self.trajs, self.batch, rng)

    def loss(self, batch, rng):
        p, a, b, n, tgt, t, k = batch
        loss = loss_of(self.model(p, a, b, n, t, k), tgt)
        return loss, {"loss": loss.item()}, None

    def validate(self, ema):
        return validate(ema, self.sets)

    def score(self, v: dict) -> float:
        return -v["net_px"]
