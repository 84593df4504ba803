"""The sender's motion from dlib's 68 landmarks, sent relative to the receiver's pivot key points.

The key-point detector was distilled from key points made of dlib's landmarks (thcodec.face.landmarks)
and sits 2.4 px from them on faces it never saw (1.4 px on its training faces): that error is
about 29% of the landmark distance a call ends with (docs/results.md). The sender can afford
dlib itself (HOG box + shape predictor, about 7 ms a frame); the receiver cannot send its
detector's mistakes back. So the sender measures each frame's motion with the teacher, as the
change of the teacher's key points from the pivot frame, and applies that change to the key
points the receiver's detector finds on the decoded pivot (first-order motion model's
"relative" transfer):

    x_sent = x_det(pivot) + x_t(frame) - x_t(pivot)
    J_sent = J_t(frame) J_t(pivot)^-1 J_det(pivot)

The teacher's Jacobians come from least-squares fits to 5-12 landmarks and jitter: they are
smoothed over time (exponentially, causal), which costs no landmark accuracy, keeps identity
closer and spends fewer bytes than the raw ones (docs/landmark_motion.md). Positions are sent
as measured: smoothing them lags the mouth. Nothing changes for the receiver: it still detects
the pivot's key points itself and gets ordinary 8-byte key points. Segments whose pivot shows
no face the HOG detector finds are sent with the detector's key points, as before.
"""

from __future__ import annotations

import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.face.landmarks import LandmarkTeacher, keypoints_from_landmarks
from thcodec.models.dense_motion import safe_inverse
from thcodec.models.keypoints import Keypoints

# The mean of dlib's 68 landmarks over the training split's face crops ([-1, 1] over the
# 256x256 region; the template the detector was trained against). Only the teacher's change
# between two frames is sent, which hardly depends on it; it keeps each group's fit well
# conditioned when a pivot's eye is closed.
TEMPLATE = np.array(
    (
        (-0.481, -0.130),
        (-0.476, -0.001),
        (-0.459, 0.126),
        (-0.433, 0.252),
        (-0.390, 0.371),
        (-0.322, 0.478),
        (-0.233, 0.569),
        (-0.129, 0.641),
        (-0.006, 0.664),
        (0.119, 0.643),
        (0.232, 0.575),
        (0.330, 0.488),
        (0.405, 0.383),
        (0.452, 0.262),
        (0.479, 0.133),
        (0.497, 0.001),
        (0.504, -0.133),
        (-0.402, -0.252),
        (-0.346, -0.313),
        (-0.263, -0.335),
        (-0.176, -0.325),
        (-0.094, -0.292),
        (0.073, -0.293),
        (0.158, -0.327),
        (0.250, -0.336),
        (0.338, -0.312),
        (0.399, -0.250),
        (-0.011, -0.180),
        (-0.013, -0.100),
        (-0.014, -0.019),
        (-0.016, 0.064),
        (-0.106, 0.134),
        (-0.061, 0.149),
        (-0.013, 0.162),
        (0.037, 0.149),
        (0.084, 0.134),
        (-0.306, -0.153),
        (-0.254, -0.184),
        (-0.191, -0.184),
        (-0.136, -0.147),
        (-0.194, -0.134),
        (-0.256, -0.133),
        (0.124, -0.147),
        (0.179, -0.185),
        (0.243, -0.184),
        (0.297, -0.153),
        (0.245, -0.133),
        (0.182, -0.134),
        (-0.185, 0.324),
        (-0.126, 0.274),
        (-0.060, 0.250),
        (-0.012, 0.262),
        (0.037, 0.250),
        (0.107, 0.275),
        (0.174, 0.325),
        (0.110, 0.395),
        (0.042, 0.426),
        (-0.011, 0.431),
        (-0.064, 0.425),
        (-0.128, 0.394),
        (-0.154, 0.325),
        (-0.060, 0.300),
        (-0.012, 0.304),
        (0.037, 0.301),
        (0.141, 0.325),
        (0.039, 0.352),
        (-0.012, 0.357),
        (-0.061, 0.351),
    ),
    np.float32,
)


JACOBIAN_SMOOTHING = 0.25  # per frame: the weight of a frame's own Jacobians against the smoothed ones before it
HISTORY = 32  # frames of smoothed values kept: the sender may come back to a frame up to LOOKAHEAD old
BOX_EVERY = 4  # the HOG face box (10 ms of the 15 a frame costs) is found again every this many frames measured


class Smoother:
    """Exponential smoothing over frame indices that may skip (interp) and revisit recent frames:
    a gap of g frames weighs the new value 1 - (1 - alpha)^g, as g single steps would."""

    def __init__(self, alpha: float, history: int = HISTORY) -> None:
        self._alpha, self._history = alpha, history
        self._state: dict[int, torch.Tensor] = {}

    def reset(self, index: int, value: torch.Tensor) -> None:
        self._state = {index: value}

    def __call__(self, index: int, value: torch.Tensor) -> torch.Tensor:
        before = [i for i in self._state if i < index]
        if before:
            prev = max(before)
            w = 1 - (1 - self._alpha) ** (index - prev)
            value = w * value + (1 - w) * self._state[prev]
        self._state[index] = value
        self._state = {i: v for i, v in self._state.items() if i >= index - self._history}
        return value


def relative_keypoints(pivot_kp: Keypoints, pivot_t: Keypoints, frame_t: Keypoints) -> Keypoints:
    """The teacher's motion from the pivot (pivot_t, (1,K)) to frames (frame_t, (N,K)) carried
    over to the receiver's pivot key points pivot_kp (1,K) -> (N,K)."""
    xy = pivot_kp.xy + (frame_t.xy - pivot_t.xy)
    jac = frame_t.jacobian @ safe_inverse(pivot_t.jacobian) @ pivot_kp.jacobian  # the receiver's inverse
    return Keypoints(xy, jac)


def smoothed_motion(
    pivot_kp: Keypoints, pivot_t: Keypoints, frame_t: Keypoints, indices: list[int], jacobians: Smoother
) -> Keypoints:
    """relative_keypoints with the teacher's Jacobians smoothed over the frame indices (N)."""
    jac = torch.stack([jacobians(i, j) for i, j in zip(indices, frame_t.jacobian)])
    return relative_keypoints(pivot_kp, pivot_t, Keypoints(frame_t.xy, jac))


class LandmarkMotion:
    """One segment at a time: start() on its pivot, then apply() to its frames, in order (the
    last few may come again)."""

    def __init__(self) -> None:
        try:
            self._teacher = LandmarkTeacher()
        except ImportError as e:
            raise ThcError(f"--motion landmarks needs dlib's landmark model: {e}; or use --motion detector") from None
        self._box = None
        self._box_age = 0  # frames measured since the box was found
        self._pivot: tuple[Keypoints, Keypoints] | None = None  # (receiver's pivot key points, teacher's)
        self._jacobians = Smoother(JACOBIAN_SMOOTHING)

    def start(self, index: int, pivot_crop: np.ndarray, pivot_kp: Keypoints) -> bool:
        """index: the pivot's frame; pivot_crop: its face region (S,S,3) uint8, as sent (before
        JPEG); pivot_kp: the key points the receiver will find on the decoded pivot. -> whether
        the teacher found a face (`ready`; otherwise the detector's key points are sent)."""
        self._box = None
        t = self._keypoints([pivot_crop])
        self._pivot = None if t is None else (pivot_kp, t)
        if t is not None:
            self._jacobians.reset(index, t.jacobian[0])
        return self._pivot is not None

    @property
    def ready(self) -> bool:
        """The teacher found the pivot's face: apply() may be called (else the detector's key points are sent)."""
        return self._pivot is not None

    def apply(self, indices: list[int], crops: list[np.ndarray]) -> Keypoints:
        """indices: frames of the segment, after its pivot; crops: their face regions (N,S,S,3) uint8."""
        if self._pivot is None:
            raise RuntimeError("LandmarkMotion.apply before a start() that found the face")
        return smoothed_motion(*self._pivot, self._keypoints(crops), indices, self._jacobians)

    def _keypoints(self, crops: list[np.ndarray]) -> Keypoints | None:
        """Teacher key points. The face box is found every BOX_EVERY frames (the shape
        predictor follows a face that moved a little in its box); a frame where HOG finds no
        face keeps the last box."""
        marks = []
        for crop in crops:
            if self._box is None or self._box_age >= BOX_EVERY:
                box = self._teacher.box(crop)
                if box is not None:
                    self._box, self._box_age = box, 0
                elif self._box is None:
                    return None
            self._box_age += 1
            marks.append(self._teacher.landmarks(crop, self._box))
        return Keypoints.from_numpy(*keypoints_from_landmarks(np.stack(marks), TEMPLATE))
