"""Where the landmark error (AKD) comes from: the generator, the key points, or the coding.

    python -m thcodec.bench.landmark_sources --refs out/bench/refs [--clips a,b]

For every th256 reference, all frames, no stream (float key points, the raw first frame as
pivot), AKD of:
  floor     each frame animated from itself with its own detected key points (what the
            generator loses even with nothing to move);
  teacher   the first frame animated with key points made from dlib's landmarks on each
            frame (the detector's own teacher; what perfect key points would give);
  detector  the first frame animated with the detector's key points (what encode --motion
            detector sends);
  landmark motion  the first frame animated with the teacher's motion carried over to the
            detector's key points on it (what the default sender sends, thcodec/sender/landmark_motion.py).
Also AED of each, and the detector's distance to the teacher's key points, px at 256.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.quality import FaceMetrics
from thcodec.data.reference import read_lossless
from thcodec.face.landmarks import keypoints_from_landmarks, make_template
from thcodec.media.frames import to_tensor, to_uint8
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import load_model
from thcodec.sender.landmark_motion import JACOBIAN_SMOOTHING, TEMPLATE, Smoother, smoothed_motion

BATCH = 25


def teacher_keypoints(landmarks_px: np.ndarray, size: int, template: np.ndarray | None = None) -> tuple[Keypoints, np.ndarray]:
    """(N,68,2) pixel landmarks, NaN where no face -> key points (frames without a face take
    the first face's; Jacobians against template, by default the clip's mean shape), and the
    mask of frames with a face."""
    lm = (landmarks_px * 2 + 1) / size - 1  # pixel centres -> [-1, 1]
    ok = ~np.isnan(lm).any(axis=(1, 2))
    if not ok.any():
        raise SystemExit("no face in the reference")
    lm = np.where(ok[:, None, None], lm, lm[np.argmax(ok)])
    return Keypoints.from_numpy(*keypoints_from_landmarks(lm, make_template(lm[ok]) if template is None else template)), ok


def detect_all(model, frames: torch.Tensor) -> Keypoints:
    found = [model.detect_keypoints(frames[k : k + BATCH]) for k in range(0, len(frames), BATCH)]
    return Keypoints(torch.cat([f.xy for f in found]), torch.cat([f.jacobian for f in found]))


def animate_all(model, pivots: torch.Tensor, pivot_kp: Keypoints, drive: Keypoints) -> np.ndarray:
    out = []
    for k in range(0, drive.xy.shape[0], BATCH):
        kp = Keypoints(drive.xy[k : k + BATCH], drive.jacobian[k : k + BATCH])
        n = kp.xy.shape[0]
        if pivots.shape[0] == 1:
            piv, pkp = pivots.expand(n, -1, -1, -1), pivot_kp.expand(n)
        else:
            piv, pkp = pivots[k : k + n], Keypoints(pivot_kp.xy[k : k + n], pivot_kp.jacobian[k : k + n])
        out.append(to_uint8(model.animate(piv, pkp, kp)))
    return np.concatenate(out)


def measure(ref: Path, model, faces: FaceMetrics) -> dict:
    frames = read_lossless(ref)
    ref_faces = faces.reference(frames)
    size = frames.shape[1]
    teacher, ok = teacher_keypoints(ref_faces.landmarks, size)
    x = to_tensor(frames)
    det = detect_all(model, x)
    first = Keypoints(teacher.xy[:1], teacher.jacobian[:1])
    det0 = Keypoints(det.xy[:1], det.jacobian[:1])
    sent_t = teacher_keypoints(ref_faces.landmarks, size, TEMPLATE)[0]  # as the sender makes them
    smoother = Smoother(JACOBIAN_SMOOTHING)
    smoother.reset(0, sent_t.jacobian[0])
    motion = smoothed_motion(det0, Keypoints(sent_t.xy[:1], sent_t.jacobian[:1]), sent_t, list(range(len(frames))), smoother)
    rows = {
        "floor": animate_all(model, x, det, det),
        "teacher": animate_all(model, x[:1], first, teacher),
        "detector": animate_all(model, x[:1], det0, det),
        "landmark motion": animate_all(model, x[:1], det0, motion),
    }
    scores = {k: faces.score(ref_faces, v) for k, v in rows.items()}
    out = {"clip": ref.stem, **{k: s.akd for k, s in scores.items()}, **{f"{k} AED": s.aed for k, s in scores.items()}}
    out["detector_vs_teacher_px"] = float((det.xy[ok] - teacher.xy[ok]).norm(dim=-1).mean()) * size / 2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refs", type=Path, default=Path("out/bench/refs"))
    ap.add_argument("--clips", help="comma-separated clip names (default: every reference)")
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    model, faces = load_model().model, FaceMetrics()
    refs = sorted(a.refs.glob("*.mkv"))
    if a.clips:
        refs = [r for r in refs if r.stem in a.clips.split(",")]
    rows = []
    for ref in refs:
        rows.append(measure(ref, model, faces))
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}), flush=True)
    if rows:
        print("mean", json.dumps({k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0] if k != "clip"}))


if __name__ == "__main__":
    main()
