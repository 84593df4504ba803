"""Train the codec's networks on the frame cache: one loop, one option parser, a part per network.

Parts (thcodec/train/parts.py; each module's docstring says more):
  --part keypoints  the key-point detector, distilled from dlib landmark-group key points
                    (thcodec/train/keypoints.py);
  --part motion     dense motion + generator (thcodec/train/motion.py); keypoints and motion can
                    run side by side, one core each (2-core machines);
  --part light      a narrower generator taught by the shipped one, for slow receivers
                    (thcodec/train/light.py);
  --part interp     the frame interpolator, on key-point trajectories (thcodec/train/interp.py;
                    make them first with python -m thcodec.train.trajectories);
  --part sr         the super-resolution network (thcodec/train/sr.py; make its cache first
                    with python -m thcodec.train.sr_cache), --no-pivot for the ablation.
Resumable (RUN/last.pt), CPU by default, CUDA when present; best EMA weights in RUN/best.pt
(thcodec/train/run.py). --minutes M ends the run after M minutes of training (the learning-rate
schedule follows whichever of steps and minutes runs out first): a lent GPU's time is counted.
Usage: python -m thcodec.train.train --part motion --run runs/motion --steps 4000

Several processes (GPUs or machines), keypoints and motion parts: the same command under torchrun, e.g.
    torchrun --standalone --nproc_per_node 2 -m thcodec.train.train --part motion --run-dir runs/m
runs DistributedDataParallel (NCCL on GPUs, gloo on CPUs): each process samples its own
--batch, gradients are averaged, rank 0 validates, logs and writes the checkpoints.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from thcodec.train.options import RunConfig, configs, parser
from thcodec.train.part import LossStep, Part
from thcodec.train.parts import PARTS
from thcodec.train.run import Run


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def _agreed(flag: bool, world: int, device) -> bool:
    """Rank 0's flag on every process (every process stops at the step rank 0's clock says)."""
    if world == 1:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.broadcast(t, 0)
    return bool(t.item())


def _train_step(part: Part, run: Run, loss_step, opt, rng, lr: float) -> dict:
    """One optimiser step of the part's trained parameters, then the EMA -> the values to log."""
    for g in opt.param_groups:
        g["lr"] = lr
    batch = part.sample(rng)
    loss, rec, aux = loss_step(batch, rng)
    loss = loss + part.extra_loss(batch, aux, rec)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if part.clip_grad is not None:
        torch.nn.utils.clip_grad_norm_(part.trained.parameters(), part.clip_grad)
    opt.step()
    part.after_step(batch, aux, rec)
    run.update_ema()
    return rec


def _validate(part: Part, run: Run, cfg: RunConfig, final: bool) -> None:
    v = part.validate(run.ema) | {"step": run.step}
    if cfg.keep_all:
        run.snapshot(part.snapshot_state(run.ema), v, part.snapshot_extras(final))
    run.validated(v, part.score(v), part.best_extras(), part.state_dict())


def train(cfg: RunConfig, part: Part, rank: int = 0, world: int = 1, device: torch.device | str = "cpu") -> Run:
    """Train `part` for cfg.steps steps (or cfg.minutes), resuming from cfg.run/last.pt -> the run."""
    opt = torch.optim.Adam(part.trained.parameters(), lr=cfg.lr, betas=part.betas)
    with Run(cfg.run, part.model, opt, part.ema_most, writer=rank == 0) as run:
        part.load_state_dict(run.resume(device))
        rng = np.random.default_rng(cfg.seed + run.step + 100_003 * rank)  # each process its own samples
        loss_step = LossStep(part)
        if world > 1:
            loss_step = DistributedDataParallel(loss_step, device_ids=[device.index] if device.type == "cuda" else None)
        if run.step == 0:
            part.warm_up(loss_step, rng, run.log if rank == 0 else None)
        t0, seen, budget = time.time(), 0, cfg.minutes * 60 if cfg.minutes else float("inf")
        while run.step < cfg.steps:
            spent = (time.time() - t0) / budget
            rec = _train_step(part, run, loss_step, opt, rng, part.schedule.lr(run.step, cfg.steps, cfg.lr, spent))
            seen += 1
            last_one = _agreed(spent >= 1, world, device)  # out of time: this step validates and saves
            if rank == 0:
                if run.step % part.log_every == 0:
                    run.log(
                        rec
                        | {
                            "step": run.step,
                            "it_s": round(seen / (time.time() - t0), 3),
                            "lr": opt.param_groups[0]["lr"],
                            "world": world,
                        }
                    )
                final = last_one or run.step == cfg.steps
                if run.step % cfg.val_every == 0 or final:
                    _validate(part, run, cfg, final)
            if last_one:
                if rank == 0:
                    print(f"time budget of {cfg.minutes} minutes spent at step {run.step}", flush=True)
                break
    return run


def main(argv: list[str] | None = None) -> None:
    ns = parser({name: config for name, (config, _) in PARTS.items()}, __doc__).parse_args(argv)
    config, part_class = PARTS[ns.part]
    cfg, part_cfg = configs(ns, config)
    torch.set_num_threads(cfg.threads)
    rank, world = _distributed()
    if world > 1 and not part_class.distributed:
        raise SystemExit(f"--part {cfg.part} trains in one process (minutes on a CPU): run it without torchrun")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu")
    train(cfg, part_class(cfg, part_cfg, device, world), rank, world, device)
    if world > 1:
        dist.barrier()  # the others wait for rank 0's last checkpoint
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
