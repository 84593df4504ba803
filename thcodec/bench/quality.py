"""Quality of decoded frames against the reference: PSNR, SSIM, VMAF, AKD, AED.

- PSNR (RGB, peak 255): `psnr` is the mean over frames of each frame's PSNR (capped at 100 dB,
  as `thc stats` does); `psnr_mse` is the PSNR of the mean squared error over the whole clip
  (what ffmpeg's psnr filter calls "average"). SSIM: mean over frames of thcodec.media.metrics.ssim
  (the same as ssim_u8 per frame).
- VMAF: ffmpeg's libvmaf (model vmaf_v0.6.1), pooled mean. Both inputs are brought to
  yuv420p by the same BT.601 limited-range conversion the anchors' encoders were fed.
- AKD: dlib's 68 landmarks. The face box is found (HOG) once on each reference frame and
  reused on the decoded frame, so AKD measures where the face's parts moved, not whether the
  detector still fires on a blurred frame; AKD = mean over frames of the mean L2 distance of the
  68 points, in pixels of the 256x256 frame. Frames where the reference has no face are skipped.
- AED: L2 distance between dlib's 128-D face embeddings (dlib_face_recognition_resnet_model_v1)
  of reference and decoded frame, each from its own 68 landmarks in the reference box, on every
  5th frame (every 10th in quick runs). (0.6 is dlib's threshold for "another person".)
- face_miss: the share of those sampled frames where HOG finds no face in the decoded frame.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from thcodec.bench.ffmpeg import TO_YUV, run_ffmpeg
from thcodec.data.reference import write_lossless
from thcodec.errors import ThcError
from thcodec.media.frames import to_tensor
from thcodec.media.metrics import ssim

PSNR_CAP = 100.0
EMBED_EVERY = 5
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def _check_pair(decoded: np.ndarray, reference: np.ndarray) -> None:
    if decoded.shape != reference.shape:
        raise ThcError(f"decoded frames {decoded.shape} do not match the reference {reference.shape}")


def frame_mse(decoded: np.ndarray, reference: np.ndarray, chunk: int = 50) -> np.ndarray:
    """(N,) mean squared error of each frame over all pixels and channels (exact integer sums)."""
    _check_pair(decoded, reference)
    n = decoded.shape[0]
    sse = np.empty(n, np.int64)
    for i in range(0, n, chunk):
        diff = decoded[i : i + chunk].astype(np.int32) - reference[i : i + chunk]
        sse[i : i + chunk] = np.square(diff).reshape(diff.shape[0], -1).sum(axis=1, dtype=np.int64)
    return sse / float(np.prod(decoded.shape[1:]))


def _psnr_db(mse):
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / np.asarray(mse, np.float64))  # as thcodec.media.metrics.psnr


def psnr_pair(decoded: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(decoded, reference: (N,H,W,3) uint8) -> (the mean over frames of each frame's RGB PSNR in dB,
    each capped at 100; the PSNR of the mean squared error over all frames and channels, inf if
    identical: what ffmpeg's psnr filter on gbrp reports as "average")."""
    mse = frame_mse(decoded, reference)
    return float(np.minimum(_psnr_db(mse), PSNR_CAP).mean()), float(_psnr_db(mse.mean()))


def ssim_mean(decoded: np.ndarray, reference: np.ndarray, batch: int = 25) -> float:
    """Mean over frames of thcodec.media.metrics.ssim (RGB channels averaged), computed in batches of frames."""
    _check_pair(decoded, reference)
    total = 0.0
    with torch.inference_mode():
        for i in range(0, decoded.shape[0], batch):
            d, r = to_tensor(decoded[i : i + batch]), to_tensor(reference[i : i + batch])
            total += float(ssim(d, r)) * d.shape[0]  # equal-size frames: batch mean = mean of frame means
    return total / decoded.shape[0]


def vmaf(distorted: Path, reference: Path, frames: int, threads: int = 2) -> float:
    """Pooled mean VMAF of a distorted video file (any format ffmpeg reads, e.g. a raw bitstream)
    against the lossless reference file, over their first `frames` frames, matched by index."""
    prep = f"setpts=N/(25*TB),{TO_YUV},format=yuv420p"
    with tempfile.TemporaryDirectory(prefix="thc-vmaf-") as tmp:
        log = Path(tmp) / "vmaf.json"
        graph = (
            f"[0:v]{prep}[dist];[1:v]{prep}[ref];"
            f"[dist][ref]libvmaf=log_fmt=json:log_path={log.as_posix()}:n_threads={threads}:shortest=1"
        )
        run_ffmpeg(
            ["-i", str(distorted), "-i", str(reference), "-lavfi", graph, "-frames:v", str(frames), "-f", "null", "-"],
            f"VMAF of {distorted.name}",
        )
        try:
            doc = json.loads(log.read_text())
            return float(doc["pooled_metrics"]["vmaf"]["mean"])
        except (OSError, ValueError, KeyError) as e:
            raise ThcError(f"cannot read the VMAF log of {distorted.name}: {e}") from None


def vmaf_frames(decoded: np.ndarray, reference: Path, fps, threads: int = 2) -> float:
    """VMAF of decoded RGB frames (written losslessly to a temporary file) against the reference file."""
    with tempfile.TemporaryDirectory(prefix="thc-vmaf-") as tmp:
        path = Path(tmp) / "decoded.mkv"
        write_lossless(decoded, path, fps)
        return vmaf(path, reference, decoded.shape[0], threads)


# --------------------------------------------------------------------------- faces


@dataclass
class ReferenceFaces:
    """What the reference frames' faces are, computed once per clip.

    boxes: per frame (left, top, right, bottom) or None; landmarks: (N,68,2) pixels, NaN
    where no face; embeddings: frame index -> (128,) for every EMBED_EVERY-th frame with a face."""

    boxes: list[tuple[int, int, int, int] | None]
    landmarks: np.ndarray
    embeddings: dict[int, np.ndarray]

    @property
    def faces(self) -> int:
        return sum(b is not None for b in self.boxes)


@dataclass
class FaceScores:
    akd: float | None  # px at the reference size
    akd_frames: int  # frames measured (the reference has a face)
    aed: float | None
    aed_frames: int
    face_miss: float | None  # share of sampled frames where no face is detected in the decoded frame
    per_frame_akd: np.ndarray | None = None  # (N,) px, NaN where the reference has no face
    per_frame_aed: dict[int, float] = field(default_factory=dict)  # frame -> embedding distance
    landmarks: np.ndarray | None = None  # (N,68,2) px in the decoded frames, NaN where the reference has no face


def landmark_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean L2 distance between two (68,2) landmark sets (same units as the input)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1).mean())


def akd_of(ref_landmarks: np.ndarray, dec_landmarks: np.ndarray) -> tuple[float | None, int]:
    """(N,68,2) both, NaN rows where no face: mean over frames of the mean point distance, frames used."""
    d = np.linalg.norm(ref_landmarks.astype(np.float64) - dec_landmarks.astype(np.float64), axis=-1).mean(axis=-1)
    ok = ~np.isnan(d)
    return (float(d[ok].mean()) if ok.any() else None), int(ok.sum())


class FaceMetrics:
    """dlib's HOG detector, 68-landmark predictor and 128-D embedding network (face-recognition-models)."""

    def __init__(self) -> None:
        try:
            import dlib

            from thcodec.face.dlib_models import model_file
            from thcodec.face.landmarks import LandmarkTeacher

            self._dlib = dlib
            self._teacher = LandmarkTeacher()
            self._embedder = dlib.face_recognition_model_v1(str(model_file(EMBEDDING_MODEL)))
        except (ImportError, RuntimeError) as e:
            raise ThcError(f"AKD/AED need dlib and face-recognition-models (dependencies of thcodec): {e}") from None

    def _landmarks_px(self, img: np.ndarray, box) -> np.ndarray:
        lm = self._teacher.landmarks(img, self._dlib.rectangle(*box))
        size = np.array([img.shape[1], img.shape[0]], np.float64)
        return ((lm.astype(np.float64) + 1) * size - 1) / 2  # [-1,1] pixel-centre convention -> pixels

    def _embedding(self, img: np.ndarray, box, lm_px: np.ndarray) -> np.ndarray:
        pts = [self._dlib.point(int(round(x)), int(round(y))) for x, y in lm_px]
        shape = self._dlib.full_object_detection(self._dlib.rectangle(*box), pts)
        return np.array(self._embedder.compute_face_descriptor(np.ascontiguousarray(img), shape), np.float64)

    def reference(self, frames: np.ndarray, every: int = EMBED_EVERY) -> ReferenceFaces:
        """frames: (N,S,S,3) uint8. Embeddings on every `every`-th frame."""
        boxes: list[tuple[int, int, int, int] | None] = []
        lms = np.full((frames.shape[0], 68, 2), np.nan)
        emb: dict[int, np.ndarray] = {}
        for i, img in enumerate(frames):
            r = self._teacher.box(img)
            if r is None:
                boxes.append(None)
                continue
            box = (r.left(), r.top(), r.right(), r.bottom())
            boxes.append(box)
            lms[i] = self._landmarks_px(img, box)
            if i % every == 0:
                emb[i] = self._embedding(img, box, lms[i])
        return ReferenceFaces(boxes, lms, emb)

    def score(self, ref: ReferenceFaces, decoded: np.ndarray) -> FaceScores:
        if decoded.shape[0] != len(ref.boxes):
            raise ThcError(f"{decoded.shape[0]} decoded frames for {len(ref.boxes)} reference frames")
        lms = np.full_like(ref.landmarks, np.nan)
        dists, misses = {}, 0
        for i, box in enumerate(ref.boxes):
            if box is None:
                continue
            img = np.ascontiguousarray(decoded[i])
            lms[i] = self._landmarks_px(img, box)
            if i in ref.embeddings:
                dists[i] = float(np.linalg.norm(self._embedding(img, box, lms[i]) - ref.embeddings[i]))
                misses += self._teacher.box(img) is None
        akd, n = akd_of(ref.landmarks, lms)
        aed = float(np.mean(list(dists.values()))) if dists else None
        per_frame = np.linalg.norm(ref.landmarks - lms, axis=-1).mean(axis=-1)
        return FaceScores(akd, n, aed, len(dists), (misses / len(dists)) if dists else None, per_frame, dists, lms)
