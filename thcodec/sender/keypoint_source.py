"""The key points the sender sends for each kept frame, quantized as they go into the stream.

Within a segment they follow --motion: the detector's own, or dlib's landmarks relative to
the pivot's key points (thcodec/sender/landmark_motion.py); with --refine they are then
chosen for the receiver's picture of the pivot (thcodec/sender/refine.py). The detector's own
points, as the receiver would get them, come along: the quality predictor compares the
rendering against them."""

from __future__ import annotations

import numpy as np
import torch

from thcodec.format import keypoint_bits as kpq
from thcodec.media.frames import to_tensor
from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead
from thcodec.options import MODEL_SIZE, EncodeOptions
from thcodec.receiver.segment import PivotSegment
from thcodec.sender.landmark_motion import LandmarkMotion
from thcodec.sender.refine import refine_keypoints


class KeypointSource:
    def __init__(self, model: TalkingHead, opts: EncodeOptions) -> None:
        self._model, self._opts = model, opts
        self._motion = LandmarkMotion() if opts.motion == "landmarks" else None
        self._segment: PivotSegment | None = None

    def start(self, segment: PivotSegment, frame: np.ndarray) -> None:
        """A new segment on this pivot; frame: the source frame the pivot was made from."""
        self._segment = segment
        if self._motion is not None:
            self._motion.start(segment.start, segment.region.crop(frame, MODEL_SIZE), segment.keypoints)

    def detect(
        self, indices: list[int], crops: list[np.ndarray], analysed: list[int] | None = None, detector_only: bool = False
    ) -> tuple[np.ndarray, torch.Tensor]:
        """crops: frames' face regions at model size -> (the quantized key points to send (N,K,F),
        (len(analysed),K,2) positions the detector sees in the frames at `analysed` (positions in
        crops; None: all), as the receiver would get them). detector_only: the detector's own
        points are sent (no pivot needed)."""
        k = self._model.num_kp
        analysed = list(range(len(crops))) if analysed is None else list(analysed)
        if not crops:
            return np.zeros((0, k, kpq.NUM_FIELDS), np.int32), torch.zeros(0, k, 2)
        frames = to_tensor(np.stack(crops))
        # The detector runs on every frame where its points are sent; under landmark motion only
        # on the frames the quality check analyses (it is one of the sender's largest costs).
        landmarks = not detector_only and self._motion is not None and self._motion.ready
        if landmarks:
            seen_xy = (
                _positions(self.quantize(self._model.detect_keypoints(frames[analysed]))) if analysed else torch.zeros(0, k, 2)
            )
            sent = self._motion.apply(indices, crops)
        else:
            sent = self._model.detect_keypoints(frames)
            detected = self.quantize(sent)
            seen_xy = _positions(detected)[analysed]
            if detector_only:
                return detected, seen_xy
        if self._opts.refine_steps:
            seg = self._segment
            sent = refine_keypoints(self._model, seg.image, seg.keypoints, frames, sent, self._opts.refine_steps)
        return self.quantize(sent), seen_xy

    def quantize(self, kp: Keypoints) -> np.ndarray:
        return kpq.coarsen(kpq.quantize(*kp.numpy()), self._opts.xy_step, self._opts.jac_step)


def _positions(fields: np.ndarray) -> torch.Tensor:
    """Quantized fields (N,K,F) -> (N,K,2) positions, as the receiver reads them."""
    return Keypoints.from_numpy(*kpq.dequantize(fields)).xy
