"""Where the landmark error (AKD) comes from: the generator, the key points, or the coding.

    python -m thcodec.bench.landmark_sources --refs out/bench/refs [--clips CLIP,...]

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
Each source is a setting of one codec, Uncoded, that sends nothing: bench/sweep.py scores it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.codec import Coded, Setting
from thcodec.bench.quality import FaceMetrics
from thcodec.bench.sweep import Point, Scoring, names, parser, stored_references, sweep
from thcodec.data.reference import Reference
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


class Uncoded:
    """The first frame animated, nothing coded, with key points from each source (the module doc)."""

    name = label = "uncoded"
    sources = ("floor", "teacher", "detector", "landmark motion")

    def __init__(self, model, faces: FaceMetrics) -> None:
        self.model, self.faces = model, faces
        self._ref: tuple[Path, dict] | None = None  # the last reference's key points

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of(source=s) for s in self.sources]

    def keypoints(self, ref: Reference) -> dict:
        """Every source's pivots and key points for ref, and the detector's distance to the teacher."""
        if self._ref is not None and self._ref[0] == ref.path:
            return self._ref[1]
        landmarks = self.faces.reference(ref.frames, every=ref.count + 1).landmarks  # one embedding: not used here
        size = ref.size
        teacher, ok = teacher_keypoints(landmarks, size)
        x = to_tensor(ref.frames)
        det = detect_all(self.model, x)
        first = Keypoints(teacher.xy[:1], teacher.jacobian[:1])
        det0 = Keypoints(det.xy[:1], det.jacobian[:1])
        sent_t = teacher_keypoints(landmarks, size, TEMPLATE)[0]  # as the sender makes them
        smoother = Smoother(JACOBIAN_SMOOTHING)
        smoother.reset(0, sent_t.jacobian[0])
        motion = smoothed_motion(det0, Keypoints(sent_t.xy[:1], sent_t.jacobian[:1]), sent_t, list(range(ref.count)), smoother)
        kp = {
            "floor": (x, det, det),
            "teacher": (x[:1], first, teacher),
            "detector": (x[:1], det0, det),
            "landmark motion": (x[:1], det0, motion),
            "detector_vs_teacher_px": float((det.xy[ok] - teacher.xy[ok]).norm(dim=-1).mean()) * size / 2,
        }
        self._ref = (ref.path, kp)
        return kp

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        kp = self.keypoints(ref)
        t0 = time.perf_counter()
        frames = animate_all(self.model, *kp[setting["source"]])
        info = {"detector_vs_teacher_px": kp["detector_vs_teacher_px"]}
        return Coded(None, 0, frames, 0.0, time.perf_counter() - t0, bitstream_vmaf=False, info=info)


def summary(points: list[Point]) -> dict:
    """One clip's points -> {"clip", AKD by source, "<source> AED" by source, "detector_vs_teacher_px"}."""
    out = {"clip": points[0].clip, **{p.setting["source"]: p.akd for p in points}}
    out |= {f"{p.setting['source']} AED": p.aed for p in points}
    out["detector_vs_teacher_px"] = points[0].extra["detector_vs_teacher_px"]
    return out


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0], "out/landmark_sources", table=False)
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    fm = FaceMetrics()
    codec = Uncoded(load_model().model, fm)
    rows = []
    for ref in stored_references(a.refs, names(a.only)):
        rows.append(summary(sweep([ref], [codec], a.out, Scoring(), fm=fm, log=None)))
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}), flush=True)
    if rows:
        print("mean", json.dumps({k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0] if k != "clip"}))


if __name__ == "__main__":
    main()
