"""What the key-point and motion parts share: (pivot, driving) pairs from the frame cache, the
teacher's key points (dlib landmark groups), the model they train, and its validation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thcodec.data.frame_cache import FrameCache
from thcodec.face.landmarks import keypoints_from_landmarks, make_template
from thcodec.media.frames import to_tensor
from thcodec.models.checkpoint import load_checkpoint
from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead
from thcodec.sender.landmark_motion import relative_keypoints
from thcodec.train.augment import geometric, jpeg_pivots, photometric
from thcodec.train.options import RunConfig, option
from thcodec.train.part import Part
from thcodec.train.run import Schedule

DRIVING = ("teacher", "detector", "landmarks")  # key points the motion networks are driven with


@dataclass(frozen=True)
class FacePairsConfig:
    """Options of the parts that train on the frame cache's (pivot, driving) pairs."""

    cache: Path = option(Path(".cache/frames"), "the frame cache (python -m thcodec.train.cache): train/ and val/")
    init: Path | None = option(
        None,
        "start from this run's best.pt or snap_<step>.pt weights (fine-tuning; a snapshot's other "
        "networks: the shipped ones; its discriminator, if it holds one, goes on with --gan; "
        "--part fusion: also exported weights such as weights/fusion.pt)",
        type=Path,
    )
    detector: Path | None = option(
        None,
        "a keypoints run's best.pt: its detector replaces the model's (motion part: drives with "
        "its key points unless --driving says otherwise)",
        type=Path,
    )
    rotate: float = option(
        0.0, "augmentation: rotate training pairs by up to +-this many degrees (0: flips, zooms and shifts only)"
    )


def valid_indices(cache: FrameCache) -> list[np.ndarray]:
    """Per clip, the frames with landmarks (clips with fewer than two left out)."""
    ok = ~np.isnan(cache.landmarks).any(axis=(1, 2))
    out = []
    for start, stop in cache.clips:
        idx = np.arange(start, stop)[ok[start:stop]]
        if len(idx) >= 2:
            out.append(idx)
    return out


def teacher_keypoints(landmarks: np.ndarray, template: np.ndarray, device) -> Keypoints:
    return Keypoints.from_numpy(*keypoints_from_landmarks(landmarks, template)).to(device)


def sample_batch(
    cache: FrameCache,
    clips: list[np.ndarray],
    batch: int,
    rng: np.random.Generator,
    template,
    device,
    rotate: float = 0.0,
    pivot_jpeg: tuple[int, int] | None = None,
):
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
    return imgs, [teacher_keypoints(lm, template, device) for lm in lms]


def val_pairs(cache: FrameCache, per_clip: int = 8) -> list[tuple[int, int]]:
    """Per clip, its first frame against up to per_clip frames spread over the rest."""
    pairs = []
    for idx in valid_indices(cache):
        for j in np.linspace(1, len(idx) - 1, min(per_clip, len(idx) - 1)).astype(int):
            pairs.append((int(idx[0]), int(idx[j])))
    return pairs


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
    """PSNR of animated val frames (key points as `driving` says) and detector error in px."""
    model.eval()
    mse_sum, frozen_sum, kp_err = 0.0, 0.0, 0.0
    for k in range(0, len(pairs), 8):
        a_idx, b_idx = [a for a, _ in pairs[k : k + 8]], [b for _, b in pairs[k : k + 8]]
        src, drv = to_tensor(cache.frames[a_idx]).to(device), to_tensor(cache.frames[b_idx]).to(device)
        teach_s, teach_d = (teacher_keypoints(cache.landmarks[i], template, device) for i in (a_idx, b_idx))
        det_d = model.detect_keypoints(drv)
        kp_err += (teach_d.xy - det_d.xy).norm(dim=-1).mean(-1).sum().item() * 128  # [-1,1] -> px at 256
        out = model.animate(src, *driving_keypoints(model, driving, src, drv, teach_s, teach_d))
        mse_sum += ((out - drv) ** 2).mean((1, 2, 3)).sum().item()
        frozen_sum += ((src - drv) ** 2).mean((1, 2, 3)).sum().item()
    n = len(pairs)
    model.train()
    return {
        "psnr": float(10 * np.log10(n / mse_sum)),
        "psnr_frozen": float(10 * np.log10(n / frozen_sum)),
        "kp_err_px": kp_err / n,
        "pairs": n,
    }


def whole_model(state: dict, model: TalkingHead) -> dict:
    """A checkpoint's weights for every network: a snapshot (--keep-all) holds only those its run
    trained, the others are the shipped ones."""
    have = {k.split(".", 1)[0] for k in state}
    if have >= {k.split(".", 1)[0] for k in model.state_dict()}:
        return state
    from thcodec.models.weights import load_model

    shipped = load_model().model.state_dict()
    return {**{k: v for k, v in shipped.items() if k.split(".", 1)[0] not in have}, **state}


class FacePairsPart(Part):
    """A part that trains some of TalkingHead's networks (TRAINED) on the frame cache's pairs."""

    TRAINED: tuple[str, ...] = ()
    distributed = True
    schedule = Schedule(warmup=200, floor=0.1)
    betas = (0.5, 0.999)
    clip_grad = 1.0
    ema_most = 0.998
    log_every = 20
    pivot_jpeg: tuple[int, int] | None = None

    def __init__(self, run: RunConfig, cfg: FacePairsConfig, device: torch.device) -> None:
        self.cfg, self.batch, self.device = cfg, run.batch, device
        self.train_set, self.val_set = FrameCache(cfg.cache / "train"), FrameCache(cfg.cache / "val")
        self.clips = valid_indices(self.train_set)
        ok = ~np.isnan(self.train_set.landmarks).any(axis=(1, 2))
        self.template = make_template(self.train_set.landmarks[ok])
        self.pairs = val_pairs(self.val_set)
        self.init = load_checkpoint(cfg.init, device) if cfg.init else {}
        model = self.make_model().to(device)
        if self.init:
            model.load_state_dict(whole_model(self.init["ema"], model))
        if cfg.detector:
            det = load_checkpoint(cfg.detector, device)["ema"]
            model.keypoint_detector.load_state_dict(
                {k.split(".", 1)[1]: v for k, v in det.items() if k.startswith("keypoint_detector.")}
            )
        trained = nn.ModuleList([getattr(model, name) for name in self.TRAINED])
        model.requires_grad_(False)  # only the trained networks take gradients (and are synchronised)
        trained.requires_grad_(True)
        super().__init__(model, trained)

    def make_model(self) -> TalkingHead:
        """The model before --init's weights go in (self.init holds them already)."""
        return TalkingHead()

    def sample(self, rng):
        return sample_batch(
            self.train_set, self.clips, self.batch, rng, self.template, self.device, self.cfg.rotate, self.pivot_jpeg
        )

    def validate_with(self, ema: nn.Module, driving: str) -> dict:
        return validate(ema, self.val_set, self.pairs, self.template, driving, self.device)

    def best_extras(self) -> dict:
        return {"template": torch.from_numpy(self.template)}

    def snapshot_state(self, ema: nn.Module) -> dict:
        return {k: t for k, t in ema.state_dict().items() if k.split(".", 1)[0] in self.TRAINED}
