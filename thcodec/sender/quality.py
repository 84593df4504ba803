"""Analysis by synthesis: the sender renders some of the frames it sends exactly as the
receiver will (thcodec/receiver/segment.py) and judges them, to find where quality drops and
a new pivot pays (the measures are in thcodec/sender/pivot_policy.py).

- `SegmentWatch`: the sender's bookkeeping for the current pivot: the face watch, the
  smoothed trends, the background thumbnails and how many key-point frames went out.
- `QualityPredictor`: renders every ANALYSE_EVERY-th sent frame, records an `Analysis`, and
  says where the predicted quality has dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import to_uint8
from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead
from thcodec.options import MODEL_SIZE
from thcodec.receiver.segment import PivotSegment
from thcodec.sender.pivot_policy import (
    BACKGROUND_GAIN_DB,
    BG_LONG_SIDE,
    CANDIDATE_AGE_S,
    FaceWatch,
    Trend,
    background_mask,
    background_psnr,
    capped_psnr,
    thumbnail,
)

ANALYSE_EVERY = 4  # sent frames between quality predictions (rendering costs like the receiver)


@dataclass(frozen=True)
class Analysis:
    """One analysed frame, as the sender predicts the receiver will show it."""

    frame: int
    motion_error_px: float  # key points found on the predicted frame vs on the frame, px at model size
    face_db: float  # PSNR of the face region
    background_db: float | None  # PSNR outside the face region (None: the region is the whole frame)
    background_gain_db: float | None  # how much better a frame 1-2 s old matches the background


@dataclass
class SegmentWatch:
    """What the sender tracks about the current segment, beside the receiver's copy of it."""

    start: int
    watch: FaceWatch
    motion: Trend
    background_gain: Trend
    background: np.ndarray  # thumbnail of the decoded pivot
    background_keep: np.ndarray  # thumbnail pixels outside the face region
    kept: int = 0  # key-point frames sent so far
    snapshots: deque = field(default_factory=deque)  # (frame, thumbnail) of recent frames, oldest first

    @classmethod
    def on(cls, segment: PivotSegment, watch: FaceWatch, max_motion_error_px: float) -> SegmentWatch:
        """The watch of a new segment (segment.picture: the decoded pivot at the source size)."""
        height, width = segment.picture.shape[:2]
        thumb = thumbnail(segment.picture, BG_LONG_SIDE)
        return cls(
            start=segment.start,
            watch=watch,
            motion=Trend(max_motion_error_px),
            background_gain=Trend(BACKGROUND_GAIN_DB),
            background=thumb,
            background_keep=background_mask(segment.region, width, height, thumb.shape[:2]),
        )

    def older_background(self, index: int, fps: Fraction) -> np.ndarray | None:
        """Thumbnail of the newest kept frame at least CANDIDATE_AGE_S before frame index."""
        snaps = self.snapshots
        age = CANDIDATE_AGE_S * float(fps)
        while len(snaps) > 1 and index - snaps[1][0] >= age:
            snaps.popleft()
        if snaps and index - snaps[0][0] >= age:
            return snaps[0][1]
        return None

    def keep_background(self, index: int, thumb: np.ndarray, fps: Fraction) -> None:
        snaps = self.snapshots
        if not snaps or index - snaps[-1][0] >= CANDIDATE_AGE_S * float(fps):
            snaps.append((index, thumb))


class QualityPredictor:
    """Predicts the receiver's frames and finds where their quality drops."""

    def __init__(self, model: TalkingHead, fps: Fraction, min_gap: int, log: list[Analysis]) -> None:
        self._model, self._fps, self._min_gap, self.log = model, fps, min_gap, log

    def picks(self, watch: SegmentWatch, indices: list[int]) -> list[int]:
        """Positions in indices (the kept frames about to be sent) that are analysed."""
        return [j for j, i in enumerate(indices) if (watch.kept + j) % ANALYSE_EVERY == 0 and i != watch.start]

    def drop(
        self,
        segment: PivotSegment,
        watch: SegmentWatch,
        frames: list[tuple[int, np.ndarray]],
        crops: list[np.ndarray],
        fields: np.ndarray,
        picks: list[int],
        seen_xy: torch.Tensor,
    ) -> int | None:
        """frames: the kept frames about to be sent, (index, source frame); crops: their regions
        at model size; fields: the key points to be sent (N,K,F); picks: self.picks(watch, frames'
        indices); seen_xy: the detector's on the frames at picks (len(picks),K,2). -> position in
        frames of the first frame whose predicted quality has dropped and that may take a new
        pivot, or None.

        The motion error is how far the key points found on the rendering lie from those
        found on the frame."""
        if not picks:
            return None
        predicted = segment.animate(self._model, Keypoints.from_numpy(*kpq.dequantize(fields[picks])))
        rendered_xy = self._model.detect_keypoints(predicted).xy
        motion_px = ((rendered_xy - seen_xy).norm(dim=-1).mean(dim=-1) * (MODEL_SIZE / 2)).tolist()
        out = to_uint8(predicted)
        has_background = watch.background_keep.any()  # not when the region is the whole frame
        for j, p in enumerate(picks):
            index, frame = frames[p]
            dropped = watch.motion.add(motion_px[j])
            bg_db = bg_gain = None
            if has_background:
                thumb = thumbnail(frame, BG_LONG_SIDE)
                bg_db = background_psnr(thumb, watch.background, watch.background_keep)
                older = watch.older_background(index, self._fps)
                if older is not None:
                    bg_gain = background_psnr(thumb, older, watch.background_keep) - bg_db
                    dropped = watch.background_gain.add(bg_gain) or dropped
                watch.keep_background(index, thumb, self._fps)
            self.log.append(Analysis(index, motion_px[j], capped_psnr(out[j], crops[p]), bg_db, bg_gain))
            if dropped and index - watch.start >= self._min_gap:
                return p
        return None
