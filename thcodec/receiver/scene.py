"""The scene layer on the receiver: the background under the pasted face, per frame.

The pivot's background is sharp but frozen at the pivot's moment; the scene layer's picture is
current but small. Where the two agree (the still background, up to the scene layer's coding
noise) the pivot's pixels stay; where they differ (the body moved, the speaker shifted) the
scene picture, up-scaled, replaces them. Both are compared at the scene layer's size, the
pivot down-scaled as the sender down-scales its frames, so nothing but the change shows.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from thcodec.media.base_stream import downscale
from thcodec.media.frames import to_tensor

# Mean absolute difference (0-255) under which the pivot stays, over which the scene replaces it:
# wide enough that the scene layer's coding noise at its rates keeps the pivot (docs/hybrid.md).
AGREE, DIFFER = 30.0, 60.0
GROW = 1  # scene pixels a change spreads by (its edges blur across neighbours when up-scaled)


def smooth(x: torch.Tensor) -> torch.Tensor:
    """3x3 box average: the scene layer's coding noise is fine-grained, a moved body is not."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def change_weight(scene: torch.Tensor, pivot_small: torch.Tensor) -> torch.Tensor:
    """(B,3,h,w) scene pictures, (1,3,h,w) the pivot's background, both in [0,1] -> (B,1,h,w)
    in [0,1]: 0 where they agree, 1 where the scene shows a change."""
    diff = (smooth(scene) - smooth(pivot_small)).abs().mean(1, keepdim=True) * 255
    weight = ((diff - AGREE) / (DIFFER - AGREE)).clamp(0, 1)
    return F.max_pool2d(weight, 2 * GROW + 1, stride=1, padding=GROW)


class SceneBackground:
    """One segment's background at the output size, brought up to date by scene pictures."""

    def __init__(self, background: np.ndarray, picture: np.ndarray, scene_size: tuple[int, int]) -> None:
        """background: (H,W,3) uint8, the pivot at the output size; picture: the pivot at its
        source size; scene_size: the scene layer's (width, height)."""
        self.background = background
        self._pivot_small = to_tensor(downscale(picture, scene_size))

    def frames(self, scenes: list[np.ndarray]) -> list[np.ndarray]:
        """Each scene picture (h,w,3) uint8 -> the background (H,W,3) uint8 under that frame's face."""
        weights = change_weight(to_tensor(np.stack(scenes)), self._pivot_small)[:, 0].numpy()
        return [self._blend(scene, weight) for scene, weight in zip(scenes, weights)]

    def _blend(self, scene: np.ndarray, weight: np.ndarray) -> np.ndarray:
        if not weight.any():  # nothing moved: the pivot's own pixels
            return self.background
        height, width = self.background.shape[:2]
        # PIL resamples and blends uint8 pictures several times faster than torch or numpy here.
        mask = Image.fromarray(np.round(weight * 255).astype(np.uint8), "L").resize((width, height), Image.BILINEAR)
        up = Image.fromarray(scene).resize((width, height), Image.BICUBIC)
        return np.asarray(Image.composite(up, Image.fromarray(self.background), mask))
