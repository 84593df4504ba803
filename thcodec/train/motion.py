"""`--part motion`: dense motion + generator, driven by the teacher's key points (they mean
something from step one), jittered like a detector's; --driving detector fine-tunes on the
detector's own key points instead, --driving landmarks on what the sender sends (the detector's
pivot points moved by the teacher's change, thcodec/sender/landmark_motion.py). --gan W adds a
patch discriminator (thcodec/train/discriminator.py) for sharper frames; --pivot-jpeg codes the
pivots as the codec sends them. Validation: PSNR of animated val frames (higher is better)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from thcodec.media.metrics import ssim
from thcodec.models.keypoints import Keypoints
from thcodec.train.discriminator import CHANNELS, PatchDiscriminator, discriminator_loss, generator_terms
from thcodec.train.face_pairs import DRIVING, FacePairsConfig, FacePairsPart, driving_keypoints
from thcodec.train.losses import pyramid_l1
from thcodec.train.options import option

FEATURE_MATCHING = 10.0  # feature matching against the adversarial term (the first-order motion model's ratio)


def channels(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(c) for c in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected channels like 32,64,128, not {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected positive channels, not {text!r}")
    return out


def quality_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        q = (int(lo), int(hi or lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO-HI, e.g. 25-85, not {text!r}") from None
    if not 1 <= q[0] <= q[1] <= 95:
        raise argparse.ArgumentTypeError(f"JPEG qualities lie in 1-95 with LO <= HI, not {text!r}")
    return q


@dataclass(frozen=True)
class MotionConfig(FacePairsConfig):
    driving: str | None = option(
        None, "the key points the networks are driven with (default: detector with --detector, else teacher)", choices=DRIVING
    )
    gan: float = option(0.0, "weight of the patch discriminator's adversarial + feature-matching terms (0: pixel losses only)")
    pivot_jpeg: tuple[int, int] | None = option(
        None,
        "JPEG-code 9 of 10 training pivots at a random quality in LO-HI, as the codec "
        "sends them (e.g. 25-85; default: clean pivots)",
        type=quality_range,
        metavar="LO-HI",
    )
    disc_channels: tuple[int, ...] = option(
        CHANNELS,
        "with --gan: the patch discriminator's channels per stride-2 layer (default 32,64,128)",
        type=channels,
        metavar="C1,C2,..",
    )
    gan_warmup: int = option(
        0,
        "with --gan: N steps that train only the discriminator before the networks take any (a fresh one at a "
        "fine-tune's start would let the pixel losses pull towards blur)",
        metavar="N",
    )


def pixel_loss(out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The motion networks' reconstruction loss, pyramid L1 + 0.2 (1 - SSIM) -> (loss, L1, SSIM)."""
    l1, s = pyramid_l1(out, target), ssim(out, target)
    return l1 + 0.2 * (1 - s), l1, s


def jitter(kp: Keypoints, rng: np.random.Generator, xy_std: float, jac_std: float) -> Keypoints:
    """Teacher key points with detector-like noise, so the motion networks learn to tolerate it."""
    nx = torch.from_numpy(rng.normal(0, xy_std, kp.xy.shape)).float().to(kp.xy.device)
    nj = torch.from_numpy(rng.normal(0, jac_std, kp.jacobian.shape)).float().to(kp.xy.device)
    return Keypoints(kp.xy + nx, kp.jacobian + nj)


class Adversary:
    """The patch discriminator beside the motion networks: their loss gains weight * (adversarial +
    FEATURE_MATCHING * feature matching); after each generator step the discriminator takes one step of its own."""

    def __init__(self, weight: float, lr: float, device, world: int, channels: tuple[int, ...] = CHANNELS) -> None:
        self.weight = weight
        self.disc = PatchDiscriminator(channels).to(device)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.999))
        self.synced = (
            DistributedDataParallel(self.disc, device_ids=[device.index] if device.type == "cuda" else None)
            if world > 1
            else self.disc
        )

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


class MotionPart(FacePairsPart):
    TRAINED = ("dense_motion", "generator")

    def __init__(self, run, cfg: MotionConfig, device, world: int = 1) -> None:
        super().__init__(run, cfg, device)
        self.pivot_jpeg = cfg.pivot_jpeg
        self.driving = cfg.driving or ("detector" if cfg.detector else "teacher")
        self.gan = Adversary(cfg.gan, run.lr, device, world, cfg.disc_channels) if cfg.gan else None
        if (
            self.gan is not None and "disc" in self.init
        ):  # the discriminator that trained those weights, if it is this one's shape
            try:
                self.gan.disc.load_state_dict(self.init["disc"])
                print("discriminator: the one --init carries", flush=True)
            except RuntimeError:
                print("discriminator: a fresh one (--init carries one of another shape)", flush=True)

    def loss(self, batch, rng):
        (src, drv), (kp_s, kp_d) = batch
        if self.driving == "teacher":
            kp_s, kp_d = jitter(kp_s, rng, 0.006, 0.03), jitter(kp_d, rng, 0.006, 0.03)
        else:
            kp_s, kp_d = driving_keypoints(self.model, self.driving, src, drv, kp_s, kp_d)
        out = self.model.animate_unclamped(src, kp_s, kp_d)
        loss, l1, s = pixel_loss(out, drv)
        return loss, {"loss": loss.item(), "l1": l1.item(), "ssim": s.item()}, out

    def validate(self, ema):
        return self.validate_with(ema, self.driving)

    def score(self, v: dict) -> float:
        return v["psnr"]

    def extra_loss(self, batch, fake, rec):
        return 0.0 if self.gan is None else self.gan.generator_loss(fake, batch[0][1], rec)

    def after_step(self, batch, fake, rec) -> None:
        if self.gan is not None:
            self.gan.step(fake.detach(), batch[0][1], rec)

    def state_dict(self) -> dict:
        return {} if self.gan is None else self.gan.state_dict()

    def load_state_dict(self, ck: dict) -> None:
        if self.gan is not None and "disc" in ck:
            self.gan.load_state_dict(ck)

    def snapshot_extras(self, final: bool) -> dict:
        """The last snapshot carries the discriminator: a later fine-tune can go on with it (--init)."""
        return {"disc": self.gan.disc.state_dict()} if self.gan is not None and final else {}

    def warm_up(self, loss_step, rng, log) -> None:
        """--gan-warmup: train only the discriminator, on the current networks' frames."""
        if self.gan is None or not self.cfg.gan_warmup:
            return
        rec: dict = {}
        for _ in range(self.cfg.gan_warmup):
            batch = self.sample(rng)
            with torch.no_grad():
                _, _, fake = loss_step(batch, rng)
            self.gan.step(fake, batch[0][1], rec)
        if log is not None:
            log({"gan_warmup": self.cfg.gan_warmup, "d_loss": rec["d_loss"]})
