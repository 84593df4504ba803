"""`--part light`: a narrower generator for slow receivers, taught by the shipped one.

The shipped key-point detector and dense motion stay as they are (frozen); only the generator is
replaced, by one of --channels and --blocks, so a receiver can swap it in without the sender
knowing (the stream names the shipped networks; the light generator is a receiver-only extra,
weights/light_generator.pt). Its loss is the motion part's pixel loss against the shipped
generator's frame for the same flow (--distill: the student learns the shipped picture, detail
and all), plus, with --real, the same loss against the real frame, and with --gan the motion
part's discriminator. Validation: PSNR against the real frames (`psnr`) and against the shipped
generator's frames (`psnr_teacher`, which keeps best.pt)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from thcodec.media.frames import to_tensor
from thcodec.models.generator import Generator
from thcodec.models.talking_head import TalkingHead
from thcodec.train.face_pairs import driving_keypoints, teacher_keypoints
from thcodec.train.motion import MotionConfig, MotionPart, channels, pixel_loss
from thcodec.train.options import option


@dataclass(frozen=True)
class LightConfig(MotionConfig):
    channels: tuple[int, ...] = option(
        (16, 32),
        "the light generator's channels at half and quarter size (the shipped one: 24,48)",
        type=channels,
        metavar="C1,C2",
    )
    blocks: int = option(2, "the light generator's residual blocks at quarter size (the shipped one: 2)")
    distill: float = option(1.0, "weight of the pixel loss against the shipped generator's frame")
    real: float = option(0.0, "weight of the pixel loss against the real frame")


class LightPart(MotionPart):
    TRAINED = ("generator",)

    def __init__(self, run, cfg: LightConfig, device, world: int = 1) -> None:
        if len(cfg.channels) != 2:
            raise SystemExit(f"--channels takes two numbers (half and quarter size), not {len(cfg.channels)}")
        super().__init__(run, cfg, device, world)
        self.teacher = self.teacher.to(device)

    def make_model(self) -> TalkingHead:
        from thcodec.models.weights import load_model

        model = load_model().model  # the shipped networks: the frozen motion and the teacher
        self.teacher = copy.deepcopy(model.generator).eval().requires_grad_(False)
        own = {k.split(".", 1)[1]: v for k, v in self.init.get("ema", {}).items() if k.startswith("generator.")}
        cfg = self.cfg
        model.generator = Generator.fitting(own, model.num_kp) if own else Generator(model.num_kp, cfg.channels, cfg.blocks)
        return model

    def _frames(self, model: TalkingHead, src, kp_s, kp_d):
        """(the model's generator's frame, the teacher's) for the same flow."""
        with torch.no_grad():
            flow, occ = model.dense_motion(src, kp_s.xy, kp_s.jacobian, kp_d.xy, kp_d.jacobian)
            target = self.teacher(src, flow, occ, kp_d.xy)
        return model.generator(src, flow, occ, kp_d.xy), target

    def loss(self, batch, rng):
        (src, drv), (kp_s, kp_d) = batch
        kp_s, kp_d = driving_keypoints(self.model, self.driving, src, drv, kp_s, kp_d)
        out, target = self._frames(self.model, src, kp_s, kp_d)
        distill, _, s = pixel_loss(out, target)
        loss = self.cfg.distill * distill
        rec = {"distill": distill.item(), "ssim_teacher": s.item()}
        if self.cfg.real:
            real, _, s_real = pixel_loss(out, drv)
            loss = loss + self.cfg.real * real
            rec |= {"real": real.item(), "ssim": s_real.item()}
        return loss, rec | {"loss": loss.item()}, out

    @torch.no_grad()
    def validate(self, ema: nn.Module) -> dict:
        v = super().validate(ema)
        ema.eval()
        se = 0.0
        for k in range(0, len(self.pairs), 8):
            a, b = [p for p, _ in self.pairs[k : k + 8]], [q for _, q in self.pairs[k : k + 8]]
            src, drv = (to_tensor(self.val_set.frames[i]).to(self.device) for i in (a, b))
            teach = (teacher_keypoints(self.val_set.landmarks[i], self.template, self.device) for i in (a, b))
            out, target = self._frames(ema, src, *driving_keypoints(ema, self.driving, src, drv, *teach))
            se += ((out.clamp(0, 1) - target.clamp(0, 1)) ** 2).mean((1, 2, 3)).sum().item()
        ema.train()
        return v | {"psnr_teacher": float(10 * np.log10(len(self.pairs) / se))}

    def score(self, v: dict) -> float:
        return v["psnr_teacher"]
