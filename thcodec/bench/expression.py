"""Expression scores from dlib's 68 landmarks: what AKD (a mean over 68 points) barely sees.

Definitions (../shared/DESIGN.md, "Measuring expressions"):
- eye aspect ratio EAR = (|p1-p5| + |p2-p4|) / (2 |p0-p3|) per eye (points 36-41 and 42-47),
  the two eyes averaged;
- mouth aspect ratio MAR = mean of |61-67|, |62-66|, |63-65| over |60-64| (inner lips);
- errors: mean absolute difference of each to the reference's, over frames with a face in both;
- blink recall: of the reference frames whose EAR is under 0.75x the clip's median EAR (eyes
  closing), the share whose output EAR is under 0.75x the output's own median; only for clips
  with at least MIN_CLOSED such frames (else None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLOSED_RATIO = 0.75
MIN_CLOSED = 3
_EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
_MOUTH_PAIRS = ((61, 67), (62, 66), (63, 65))


def _dist(lm: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(lm[..., a, :] - lm[..., b, :], axis=-1)


def eye_aspect_ratio(lm: np.ndarray) -> np.ndarray:
    """lm: (...,68,2) -> (...) EAR, both eyes averaged."""
    lm = np.asarray(lm, np.float64)
    ears = [(_dist(lm, p1, p5) + _dist(lm, p2, p4)) / (2 * _dist(lm, p0, p3)) for p0, p1, p2, p3, p4, p5 in _EYES]
    return (ears[0] + ears[1]) / 2


def mouth_aspect_ratio(lm: np.ndarray) -> np.ndarray:
    """lm: (...,68,2) -> (...) MAR of the inner lips."""
    lm = np.asarray(lm, np.float64)
    opening = np.mean([_dist(lm, a, b) for a, b in _MOUTH_PAIRS], axis=0)
    return opening / _dist(lm, 60, 64)


@dataclass(frozen=True)
class ExpressionScores:
    ear_error: float | None
    mar_error: float | None
    blink_recall: float | None  # None: the reference has fewer than MIN_CLOSED closing frames
    closed_frames: int  # reference frames with the eyes closing
    frames: int  # frames with a face in both


def blink_recall(ref_ear: np.ndarray, out_ear: np.ndarray) -> tuple[float | None, int]:
    """(N,) EARs of frames with a face in both -> (recall or None, reference closing frames)."""
    if len(ref_ear) == 0:
        return None, 0
    closed = ref_ear < CLOSED_RATIO * np.median(ref_ear)
    n = int(closed.sum())
    if n < MIN_CLOSED:
        return None, n
    hit = out_ear[closed] < CLOSED_RATIO * np.median(out_ear)
    return float(hit.mean()), n


def expression_scores(ref_landmarks: np.ndarray, out_landmarks: np.ndarray) -> ExpressionScores:
    """(N,68,2) both, NaN rows where no face was found."""
    ok = ~(np.isnan(ref_landmarks).any(axis=(1, 2)) | np.isnan(out_landmarks).any(axis=(1, 2)))
    if not ok.any():
        return ExpressionScores(None, None, None, 0, 0)
    ref_ear, out_ear = eye_aspect_ratio(ref_landmarks[ok]), eye_aspect_ratio(out_landmarks[ok])
    ref_mar, out_mar = mouth_aspect_ratio(ref_landmarks[ok]), mouth_aspect_ratio(out_landmarks[ok])
    recall, closed = blink_recall(ref_ear, out_ear)
    return ExpressionScores(
        ear_error=float(np.abs(ref_ear - out_ear).mean()),
        mar_error=float(np.abs(ref_mar - out_mar).mean()),
        blink_recall=recall,
        closed_frames=closed,
        frames=int(ok.sum()),
    )
