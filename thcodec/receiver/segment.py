"""One pivot as the receiver holds it, and how it becomes frames.

Both sides use this: the decoder renders every frame through it, and the sender's analysis by
synthesis (thcodec/sender/quality.py) animates the same segment to predict what the receiver
will show, so the two cannot drift apart.

- `PivotSegment`: the decoded pivot picture, its face region at model size and the key points
  the detector finds there; `animate` poses it at model size.
- `SegmentRenderer`: a segment at the output size (background, pasted region, feathered
  mask, optional super-resolution); `render` gives whole output frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.face.region import Region, feather_mask, paste
from thcodec.format import container as C
from thcodec.media.frames import resize, to_tensor, to_uint8
from thcodec.media.pivot_image import decode_pivot
from thcodec.models.blocks import bf16_convolutions
from thcodec.models.keypoints import Keypoints
from thcodec.models.super_resolution import PivotDetail
from thcodec.models.talking_head import TalkingHead
from thcodec.models.weights import LoadedModel
from thcodec.receiver.scene import SceneBackground

SR_MAX_PIXELS = 2048 * 2048  # a face region larger than this is up-scaled bicubically (memory: docs/FORMAT.md, "Bounds")


@dataclass(frozen=True)
class PivotSegment:
    """What both sides hold for one pivot, from its frame on until the next pivot."""

    start: int  # frame index of the pivot
    region: Region  # the face region, in source pixels
    picture: np.ndarray  # (H,W,3) uint8: the decoded pivot image at the source size
    image: torch.Tensor  # (1,3,S,S) float in [0,1]: the region at model size, what the networks see
    keypoints: Keypoints  # (1,K): the detector's key points on `image`

    @classmethod
    def receive(cls, model: TalkingHead, start: int, region: Region, picture: np.ndarray, model_size: int) -> PivotSegment:
        """The segment the receiver builds from a decoded pivot picture (the whole frame)."""
        image = to_tensor(region.crop(picture, model_size))  # the model sees the same pivot at any output size
        return cls(start, region, picture, image, model.detect_keypoints(image))

    @classmethod
    def from_chunk(cls, model: TalkingHead, pivot: C.Pivot, header: C.StreamHeader) -> PivotSegment:
        """From a PIVT chunk of the stream `header` opens; a region outside the frame is damage."""
        r = Region(pivot.x, pivot.y, pivot.w, pivot.h)
        if r.x + r.w > header.width or r.y + r.h > header.height:
            raise ThcError("damaged file: pivot region lies outside the frame")
        picture = decode_pivot(pivot.image, pivot.codec, header.width, header.height)
        return cls.receive(model, pivot.frame_index, r, picture, header.model_size)

    def animate(self, model: TalkingHead, drive: Keypoints) -> torch.Tensor:
        """drive: (B,K) key points -> (B,3,S,S) frames in [0,1] at model size."""
        b = drive.xy.shape[0]
        return model.animate(self.image.expand(b, -1, -1, -1), self.keypoints.expand(b), drive)

    def animate_with_motion(self, model: TalkingHead, drive: Keypoints):
        """As animate, unclamped, with the motion field: -> (frames, flow, occlusion)."""
        b = drive.xy.shape[0]
        return model.animate_with_motion(self.image.expand(b, -1, -1, -1), self.keypoints.expand(b), drive)


def scaled_region(r: Region, sx: float, sy: float) -> Region:
    """r in source pixels -> the same rectangle in an output frame scaled by (sx, sy)."""
    x, y = round(r.x * sx), round(r.y * sy)
    return Region(x, y, max(1, round((r.x + r.w) * sx) - x), max(1, round((r.y + r.h) * sy) - y))


class SegmentRenderer:
    """A segment at the output size: its background, its region there, the feathered mask,
    and (with super-resolution) the pivot's full-resolution region as the detail layer."""

    def __init__(
        self, segment: PivotSegment, loaded: LoadedModel, size: tuple[int, int], sr: str = "net", bf16: bool = False
    ) -> None:
        self.segment = segment
        self._loaded = loaded
        self._bf16 = bf16  # the networks' convolutions in bfloat16 (thcodec.models.backend.choose_precision)
        height, width = segment.picture.shape[:2]
        model_size = segment.image.shape[-1]
        self.background = resize(segment.picture, *size)
        r = segment.region
        self.region = r if size == (width, height) else scaled_region(r, size[0] / width, size[1] / height)
        r = self.region
        self.mask = None if (r.w, r.h) == size else feather_mask(r.w, r.h, max(2, r.w // 24))
        self._scene: SceneBackground | None = None  # made for the scene layer's size on first use
        self._scene_size: tuple[int, int] | None = None
        self.detail = None  # super-resolution only when the region is larger than the model's frame
        big = r.w * r.h > SR_MAX_PIXELS  # and not so large that its working set breaks the memory ceiling
        if sr == "net" and loaded.super_resolution is not None and max(r.w, r.h) > model_size and not big:
            full = to_tensor(np.ascontiguousarray(self.background[r.y : r.y + r.h, r.x : r.x + r.w]))
            self.detail = PivotDetail(full, segment.image)

    @property
    def start(self) -> int:
        return self.segment.start

    def backgrounds(self, scene: list[np.ndarray] | None, count: int) -> list[np.ndarray]:
        """The background under each of count frames: the pivot's, brought up to date by the
        scene layer's pictures (B of (h,w,3) uint8) when the stream has one."""
        if scene is None:
            return [self.background] * count
        size = (scene[0].shape[1], scene[0].shape[0])
        if self._scene is None or self._scene_size != size:
            self._scene, self._scene_size = SceneBackground(self.background, self.segment.picture, size), size
        return self._scene.frames(scene)

    def render(self, kp: Keypoints, base: torch.Tensor | None = None, scene: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """(B,K) driving key points -> B frames (H,W,3) uint8 at the output size. base: the hybrid
        mode's up-scaled base pictures (B,3,S,S), painted into the face by the fusion network;
        scene: the scene layer's pictures, the background brought up to date."""
        with bf16_convolutions(self._bf16):
            gen, flow, occlusion = self.segment.animate_with_motion(self._loaded.model, kp)
            if base is not None:
                gen = self._loaded.fusion(base, gen.clamp(0, 1), occlusion)
            if self.detail is not None:
                patches = to_uint8(self._loaded.super_resolution(gen.clamp(0, 1), flow, occlusion, self.detail))
        if self.detail is None:
            patches = [resize(img, self.region.w, self.region.h) for img in to_uint8(gen)]
        backgrounds = self.backgrounds(scene, len(patches))
        return [paste(bg, patch, self.region, self.mask) for bg, patch in zip(backgrounds, patches)]
