"""Train the key-point detector, dense motion and generator on the frame cache.

Four parts; the first two can run side by side, one core each (2-core machines):
  --part keypoints  distils the detector from dlib landmark-group key points; --equivariance W
                    adds the key-point equivariance term (thcodec/train/equivariance.py);
  --part motion     trains dense motion + generator on the teacher's key points (they mean
                    something from step one), jittered like a detector's; --driving detector
                    fine-tunes on the detector's own key points instead, --driving landmarks on
                    what the sender sends (the detector's pivot points moved by the teacher's
                    change, thcodec/sender/landmark_motion.py); --gan W adds a
                    patch discriminator (thcodec/train/discriminator.py) for sharper frames;
  --part interp     the frame interpolator, on key-point trajectories (thcodec/train/interp.py;
                    make them first with python -m thcodec.train.trajectories);
  --part sr         the super-resolution network (thcodec/train/sr.py; make its cache first
                    with python -m thcodec.train.sr_cache), --no-pivot for the ablation.
Resumable (RUN/last.pt), CPU by default, CUDA when present; best EMA weights in RUN/best.pt.
--minutes M ends the run after M minutes of training (the learning-rate schedule follows
whichever of steps and minutes runs out first): a lent GPU's time is counted.
Usage: python -m thcodec.train.train --part motion --run runs/motion --steps 4000

Several processes (GPUs or machines): the same command under torchrun, e.g.
    torchrun --standalone --nproc_per_node 2 -m thcodec.train.train --part motion --run-dir runs/m
runs DistributedDataParallel (NCCL on GPUs, gloo on CPUs): each process samples its own
--batch, gradients are averaged, rank 0 validates, logs and writes the checkpoints.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from thcodec.media.frames import to_tensor
from thcodec.models.keypoints import Keypoints
from thcodec.sender.landmark_motion import relative_keypoints
from thcodec.media.metrics import ssim
from thcodec.models.talking_head import TalkingHead
from thcodec.face.landmarks import keypoints_from_landmarks, make_template
from thcodec.train.augment import geometric, jpeg_pivots, photometric
from thcodec.data.frame_cache import FrameCache
from thcodec.train.discriminator import CHANNELS, PatchDiscriminator, discriminator_loss, generator_terms
from thcodec.train.equivariance import equivariance_loss
from thcodec.train.losses import pyramid_l1


def valid_indices(cache: FrameCache) -> list[np.ndarray]:
    ok = ~np.isnan(cache.landmarks).any(axis=(1, 2))
    out = []
    for start, stop in cache.clips:
        idx = np.arange(start, stop)[ok[start:stop]]
        if len(idx) >= 2:
            out.append(idx)
    return out


def sample_batch(cache: FrameCache, clips: list[np.ndarray], batch: int, rng: np.random.Generator, template, device, rotate: float = 0.0,
                 pivot_jpeg: tuple[int, int] | None = None):
    """A batch of (pivot, driving) pairs from the same clip, any distance apart, augmented on the
    device (rotate: up to +-degrees; pivot_jpeg: most pivots JPEG-coded at a quality in that range)."""
    src_i, drv_i = [], []
    for c in rng.integers(0, len(clips), batch):
        a, b = rng.choice(clips[c], 2, replace=False)
        src_i.append(a)
        drv_i.append(b)
    imgs = [to_tensor(cache.frames[np.array(i)]).to(device) for i in (src_i, drv_i)]
    lms = [cache.landmarks[np.array(i)] for i in (src_i, drv_i)]
    imgs, lms = geometric(imgs, lms, rng, max_rotate_deg=rotate)
    imgs = photometric(imgs, rng)
    if pivot_jpeg:
        imgs[0] = jpeg_pivots(imgs[0], rng, pivot_jpeg)
    kps = [Keypoints.from_numpy(*keypoints_from_landmarks(lm, template)).to(device) for lm in lms]
    return imgs, kps


def val_pairs(cache: FrameCache, per_clip: int = 8) -> list[tuple[int, int]]:
    pairs = []
    for idx in valid_indices(cache):
        for j in np.linspace(1, len(idx) - 1, min(per_clip, len(idx) - 1)).astype(int):
            pairs.append((int(idx[0]), int(idx[j])))
    return pairs


DRIVING = ("teacher", "detector", "landmarks")  # key points the motion networks are driven with


def driving_keypoints(model: TalkingHead, driving: str, src, drv, teach_s: Keypoints, teach_d: Keypoints):
    """(pivot, driving) key points as the receiver gets them: the teacher's own; the detector's
    on both frames; or the sender's landmark motion (the detector's pivot points moved by the
    teacher's change, thcodec/sender/landmark_motion.py)."""
    if driving == "teacher":
        return teach_s, teach_d
    with torch.no_grad():
        det_s = model.detect_keypoints(src)
        if driving == "detector":
            return det_s, model.detect_keypoints(drv)
        return det_s, relative_keypoints(det_s, teach_s, teach_d)


@torch.no_grad()
def validate(model: TalkingHead, cache: FrameCache, pairs, template, driving: str, device) -> dict:
    """PSNR of animated val frames (key points as `driving` says; the keypoints part: the
    detector's) and detector error in px."""
    model.eval()
    mse_sum, frozen_sum, kp_err = 0.0, 0.0, 0.0
    for k in range(0, len(pairs), 8):
        a_idx, b_idx = [a for a, _ in pairs[k : k + 8]], [b for _, b in pairs[k : k + 8]]
        src, drv = to_tensor(cache.frames[a_idx]).to(device), to_tensor(cache.frames[b_idx]).to(device)
        teach_s, teach_d = (Keypoints.from_numpy(*keypoints_from_landmarks(cache.landmarks[i], template)).to(device) for i in (a_idx, b_idx))
        det_d = model.detect_keypoints(drv)
        kp_err += (teach_d.xy - det_d.xy).norm(dim=-1).mean(-1).sum().item() * 128  # [-1,1] -> px at 256
        out = model.animate(src, *driving_keypoints(model, driving, src, drv, teach_s, teach_d))
        mse_sum += ((out - drv) ** 2).mean((1, 2, 3)).sum().item()
        frozen_sum += ((src - drv) ** 2).mean((1, 2, 3)).sum().item()
    n = len(pairs)
    model.train()
    return {"psnr": float(10 * np.log10(n / mse_sum)), "psnr_frozen": float(10 * np.log10(n / frozen_sum)), "kp_err_px": kp_err / n, "pairs": n}


def load_checkpoint(path: Path, device="cpu") -> dict:
    """A training checkpoint of ours; early ones hold numpy scalars in their metadata."""
    with torch.serialization.safe_globals([np._core.multiarray.scalar, np.dtype, np.dtypes.Float64DType]):
        return torch.load(path, map_location=device, weights_only=True)


def lr_at(step: int, total: int, base: float, elapsed: float = 0.0) -> float:
    """Warm-up over 200 steps, then cosine to 0.1x; elapsed (0-1): the time budget's spent
    share, when the run has one and it runs out before the steps do."""
    warm = 200
    if step < warm:
        return base * (step + 1) / warm
    t = min(1.0, max((step - warm) / max(1, total - warm), elapsed))
    return base * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * t)))


def jitter(kp: Keypoints, rng: np.random.Generator, xy_std: float, jac_std: float) -> Keypoints:
    """Teacher key points with detector-like noise, so the motion networks learn to tolerate it."""
    nx = torch.from_numpy(rng.normal(0, xy_std, kp.xy.shape)).float().to(kp.xy.device)
    nj = torch.from_numpy(rng.normal(0, jac_std, kp.jacobian.shape)).float().to(kp.xy.device)
    return Keypoints(kp.xy + nx, kp.jacobian + nj)


def training_loss(model: TalkingHead, part: str, batch, rng, driving: str = "teacher", equivariance: float = 0.0) -> tuple[torch.Tensor, dict, torch.Tensor | None]:
    """-> (loss, logged values, the generated frames (motion part; for the discriminator) or None).
    equivariance: keypoints part, weight of the equivariance term (thcodec/train/equivariance.py)."""
    (src, drv), (kp_s, kp_d) = batch
    if part == "keypoints":
        frames = torch.cat([src, drv])
        det = model.detect_keypoints(frames)
        xy_t, jac_t = torch.cat([kp_s.xy, kp_d.xy]), torch.cat([kp_s.jacobian, kp_d.jacobian])
        xy_l1 = (det.xy - xy_t).abs().mean()
        loss = 10 * xy_l1 + (det.jacobian - jac_t).abs().mean()
        rec = {"xy_px": xy_l1.item() * 128}
        if equivariance:
            eq, eq_rec = equivariance_loss(model.detect_keypoints, frames, det, rng)
            loss = loss + equivariance * eq
            rec.update(eq_rec)
        return loss, {"loss": loss.item(), **rec}, None
    if driving == "teacher":
        kp_s, kp_d = jitter(kp_s, rng, 0.006, 0.03), jitter(kp_d, rng, 0.006, 0.03)
    else:
        kp_s, kp_d = driving_keypoints(model, driving, src, drv, kp_s, kp_d)
    out = model.animate_unclamped(src, kp_s, kp_d)
    l1, s = pyramid_l1(out, drv), ssim(out, drv)
    loss = l1 + 0.2 * (1 - s)
    return loss, {"loss": loss.item(), "l1": l1.item(), "ssim": s.item()}, out


class _LossStep(nn.Module):
    """One training loss as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, model: TalkingHead, part: str, driving: str, equivariance: float) -> None:
        super().__init__()
        self.model, self.part, self.driving, self.equivariance = model, part, driving, equivariance

    def forward(self, batch, rng):
        return training_loss(self.model, self.part, batch, rng, self.driving, self.equivariance)


TRAINED = {"keypoints": ("keypoint_detector",), "motion": ("dense_motion", "generator")}  # networks each part trains
FEATURE_MATCHING = 10.0  # feature matching against the adversarial term (the first-order motion model's ratio)


class _Adversary:
    """The patch discriminator beside the motion networks: their loss gains weight * (adversarial +
    FEATURE_MATCHING * feature matching); after each generator step the discriminator takes one step of its own."""

    def __init__(self, weight: float, lr: float, device, world: int, channels: tuple[int, ...] = CHANNELS) -> None:
        self.weight = weight
        self.disc = PatchDiscriminator(channels).to(device)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.999))
        self.synced = DistributedDataParallel(self.disc, device_ids=[device.index] if device.type == "cuda" else None) if world > 1 else self.disc

    def generator_loss(self, fake: torch.Tensor, real: torch.Tensor, rec: dict) -> torch.Tensor:
        # The discriminator is frozen here: the generator's backward pass must not touch its
        # weights (under DistributedDataParallel that would start a gradient exchange).
        self.disc.requires_grad_(False)
        with torch.no_grad():
            real_feats = self.disc(real)
        adv, fm = generator_terms(self.disc(fake.clamp(0, 1)), real_feats)
        self.disc.requires_grad_(True)
        rec.update(adv=adv.item(), fm=fm.item())
        return self.weight * (adv + FEATURE_MATCHING * fm)

    def step(self, fake: torch.Tensor, real: torch.Tensor, rec: dict) -> None:
        n = real.shape[0]
        feats = self.synced(torch.cat([real, fake.clamp(0, 1)]))
        loss = discriminator_loss([[t[n:] for t in s] for s in feats], [[t[:n] for t in s] for s in feats])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        rec["d_loss"] = loss.item()

    def state_dict(self) -> dict:
        return {"disc": self.disc.state_dict(), "opt_disc": self.opt.state_dict()}

    def load_state_dict(self, ck: dict) -> None:
        self.disc.load_state_dict(ck["disc"])
        self.opt.load_state_dict(ck["opt_disc"])


def _whole_model(state: dict, model: TalkingHead) -> dict:
    """A checkpoint's weights for every network: a snapshot (--keep-all) holds only those its run
    trained, the others are the shipped ones."""
    have = {k.split(".", 1)[0] for k in state}
    if have >= {k.split(".", 1)[0] for k in model.state_dict()}:
        return state
    from thcodec.models.weights import load_model

    shipped = load_model().model.state_dict()
    return {**{k: v for k, v in shipped.items() if k.split(".", 1)[0] not in have}, **state}


def _warm_up(gan: _Adversary, loss_step, next_batch, steps: int, rng, log) -> None:
    """Train only the discriminator, on the current networks' frames, for `steps` steps."""
    rec: dict = {}
    for _ in range(steps):
        batch = next_batch()
        with torch.no_grad():
            _, _, fake = loss_step(batch, rng)
        gan.step(fake, batch[0][1], rec)
    if log is not None:
        line = json.dumps({"gan_warmup": steps, "d_loss": rec["d_loss"]})
        print(line, flush=True)
        log.write(line + "\n")


def _channels(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(c) for c in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected channels like 32,64,128, not {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected positive channels, not {text!r}")
    return out


def _quality_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        q = (int(lo), int(hi or lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO-HI, e.g. 25-85, not {text!r}") from None
    if not 1 <= q[0] <= q[1] <= 95:
        raise argparse.ArgumentTypeError(f"JPEG qualities lie in 1-95 with LO <= HI, not {text!r}")
    return q


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("keypoints", "motion", "interp", "sr"), required=True)
    p.add_argument("--cache", type=Path, default=Path(".cache/frames"))
    p.add_argument("--kps", type=Path, default=Path(".cache/kps"), help="interp part: trajectories folder")
    p.add_argument("--sr-cache", type=Path, default=Path(".cache/sr"), help="sr part: the cache of python -m thcodec.train.sr_cache")
    p.add_argument("--no-pivot", action="store_true", help="sr part: the ablation without the pivot inputs")
    p.add_argument("--run", "--run-dir", dest="run", type=Path, required=True, help="folder for last.pt, best.pt and log.jsonl (--run-dir under torchrun, whose own --run-path would swallow --run)")
    p.add_argument("--detector", type=Path, help="a keypoints run's best.pt: its detector replaces the model's (motion part: drives with its key points unless --driving says otherwise)")
    p.add_argument("--driving", choices=DRIVING, help="motion part: the key points the networks are driven with (default: detector with --detector, else teacher)")
    p.add_argument("--init", type=Path, help="start from this run's best.pt or snap_<step>.pt weights (fine-tuning; a snapshot's other networks: the shipped ones; its discriminator, if it holds one, goes on with --gan)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--minutes", type=float, help="end after this many minutes of training (a lent GPU's time), validating and saving first")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gan", type=float, default=0.0, help="motion part: weight of the patch discriminator's adversarial + feature-matching terms (0: pixel losses only)")
    p.add_argument("--equivariance", type=float, default=0.0, help="keypoints part: weight of the key-point equivariance term under random affine warps (0: the teacher's points only)")
    p.add_argument("--pivot-jpeg", type=_quality_range, metavar="LO-HI", help="motion part: JPEG-code 9 of 10 training pivots at a random quality in LO-HI, as the codec sends them (e.g. 25-85; default: clean pivots)")
    p.add_argument("--disc-channels", type=_channels, default=CHANNELS, metavar="C1,C2,..", help="motion part with --gan: the patch discriminator's channels per stride-2 layer (default 32,64,128)")
    p.add_argument("--gan-warmup", type=int, default=0, metavar="N", help="motion part with --gan: N steps that train only the discriminator before the networks take any (a fresh one at a fine-tune's start would let the pixel losses pull towards blur)")
    p.add_argument("--keep-all", action="store_true", help="also keep the trained networks' EMA weights at every validation as snap_<step>.pt (a discriminator works against validation PSNR: let the bench pick)")
    p.add_argument("--rotate", type=float, default=0.0, help="augmentation: rotate training pairs by up to +-this many degrees (0: flips, zooms and shifts only)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    rank, world = _distributed()
    if a.part in ("interp", "sr"):  # small networks: minutes on a CPU, one process
        if world > 1:
            raise SystemExit(f"--part {a.part} trains in one process (minutes on a CPU): run it without torchrun")
        if a.part == "interp":
            from thcodec.train.interp import train as train_small
        else:
            from thcodec.train.sr import train as train_small
        train_small(a)
        return
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    train, val = FrameCache(a.cache / "train"), FrameCache(a.cache / "val")
    clips = valid_indices(train)
    ok = ~np.isnan(train.landmarks).any(axis=(1, 2))
    template = make_template(train.landmarks[ok])
    pairs = val_pairs(val)

    model = TalkingHead().to(device)
    init = load_checkpoint(a.init, device) if a.init else {}
    if init:
        model.load_state_dict(_whole_model(init["ema"], model))
    if a.detector:
        det = load_checkpoint(a.detector, device)["ema"]
        model.keypoint_detector.load_state_dict({k.split(".", 1)[1]: v for k, v in det.items() if k.startswith("keypoint_detector.")})
    trained = nn.ModuleList([getattr(model, name) for name in TRAINED[a.part]])
    for prm in model.parameters():  # only the trained part takes gradients (and is synchronised)
        prm.requires_grad_(False)
    for prm in trained.parameters():
        prm.requires_grad_(True)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.Adam(trained.parameters(), lr=a.lr, betas=(0.5, 0.999))
    gan = _Adversary(a.gan, a.lr, device, world, a.disc_channels) if a.gan and a.part == "motion" else None
    if gan is not None and "disc" in init:  # the discriminator that trained those weights, if it is this one's shape
        try:
            gan.disc.load_state_dict(init["disc"])
            print("discriminator: the one --init carries", flush=True)
        except RuntimeError:
            print("discriminator: a fresh one (--init carries one of another shape)", flush=True)
    a.run.mkdir(parents=True, exist_ok=True)
    step, best = 0, None
    last = a.run / "last.pt"
    if last.exists():
        ck = load_checkpoint(last, device)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        if gan is not None and "disc" in ck:
            gan.load_state_dict(ck)
        step, best = int(ck["step"]), ck["best"]
        print(f"resumed at step {step}", flush=True)
    rng = np.random.default_rng(a.seed + step + 100_003 * rank)  # each process its own samples
    driving = a.driving or ("detector" if a.detector else "teacher")
    loss_step = _LossStep(model, a.part, driving, a.equivariance)
    if world > 1:
        loss_step = DistributedDataParallel(loss_step, device_ids=[device.index] if device.type == "cuda" else None)
    # keypoints part: lower kp error is better; motion part: higher PSNR is better
    score = (lambda v: -v["kp_err_px"]) if a.part == "keypoints" else (lambda v: v["psnr"])
    pivot_jpeg = a.pivot_jpeg if a.part == "motion" else None  # the detector trains on clean frames
    with open(a.run / "log.jsonl", "a") as log:
        t0, seen = time.time(), 0
        budget = a.minutes * 60 if a.minutes else float("inf")
        if gan is not None and step == 0 and a.gan_warmup:
            _warm_up(gan, loss_step, lambda: sample_batch(train, clips, a.batch, rng, template, device, a.rotate, pivot_jpeg), a.gan_warmup, rng, log if rank == 0 else None)
        while step < a.steps:
            spent = (time.time() - t0) / budget
            last_one = spent >= 1  # out of time: this step validates and saves
            for g in opt.param_groups:
                g["lr"] = lr_at(step, a.steps, a.lr, spent)
            batch = sample_batch(train, clips, a.batch, rng, template, device, a.rotate, pivot_jpeg)
            loss, rec, fake = loss_step(batch, rng)
            if gan is not None:
                loss = loss + gan.generator_loss(fake, batch[0][1], rec)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
            opt.step()
            if gan is not None:
                gan.step(fake.detach(), batch[0][1], rec)
            decay = min(0.998, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - decay)
            step += 1
            seen += 1
            if world > 1:  # every process stops at the step rank 0's clock says
                flag = torch.tensor([float(last_one)], device=device)
                dist.broadcast(flag, 0)
                last_one = bool(flag.item())
            if rank:
                if last_one:
                    break
                continue  # rank 0 logs, validates and saves
            if step % 20 == 0:
                rec.update(step=step, it_s=round(seen / (time.time() - t0), 3), lr=opt.param_groups[0]["lr"], world=world)
                print(json.dumps(rec), flush=True)
                log.write(json.dumps(rec) + "\n")
                log.flush()
            if step % a.val_every == 0 or step == a.steps or last_one:
                v = validate(ema, val, pairs, template, "detector" if a.part == "keypoints" else driving, device)
                v["step"] = step
                print("val", json.dumps(v), flush=True)
                log.write(json.dumps({"val": v}) + "\n")
                log.flush()
                if a.keep_all:
                    snapshot = {"ema": {k: t for k, t in ema.state_dict().items() if k.split(".", 1)[0] in TRAINED[a.part]}, "step": step, "val": v}
                    if gan is not None and (last_one or step == a.steps):  # a later fine-tune can go on with it (--init)
                        snapshot["disc"] = gan.disc.state_dict()
                    torch.save(snapshot, a.run / "snap.tmp")
                    (a.run / "snap.tmp").replace(a.run / f"snap_{step:06d}.pt")
                if best is None or score(v) > best:
                    best = score(v)
                    torch.save({"ema": ema.state_dict(), "step": step, "val": v, "template": torch.from_numpy(template)}, a.run / "best.tmp")
                    (a.run / "best.tmp").replace(a.run / "best.pt")
                state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step, "best": best}
                if gan is not None:
                    state.update(gan.state_dict())
                torch.save(state, a.run / "last.tmp")
                (a.run / "last.tmp").replace(last)
            if last_one:
                print(f"time budget of {a.minutes} minutes spent at step {step}", flush=True)
                break
    if world > 1:
        dist.barrier()  # the others wait for rank 0's last checkpoint
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
