"""dlib's 68 landmarks and the 10 key points derived from them (training targets, AKD).

dlib-bin + face-recognition-models (core dependencies: the sender uses it too). A key point is the
centroid of a fixed landmark group; its Jacobian is the linear part of the least-squares
affine map from the group's canonical template to the group in this frame. Coordinates
follow thcodec.format.keypoint_bits: [-1, 1] over the image, pixel centres at (2i+1)/size - 1.
"""

from __future__ import annotations

import numpy as np

from thcodec.face.dlib_models import hog_detector, shape_predictor

# Fixed landmark groups (iBUG 68 indexing), one key point each.
GROUPS: tuple[tuple[int, ...], ...] = (
    (17, 18, 19, 20, 21),  # right brow (image left)
    (22, 23, 24, 25, 26),  # left brow
    (36, 37, 38, 39, 40, 41),  # right eye
    (42, 43, 44, 45, 46, 47),  # left eye
    (27, 28, 29, 30, 31, 32, 33, 34, 35),  # nose
    (48, 49, 50, 51, 52, 53, 54, 60, 61, 62, 63, 64),  # upper lip with corners
    (54, 55, 56, 57, 58, 59, 48, 64, 65, 66, 67, 60),  # lower lip with corners
    (0, 1, 2, 3, 4, 5),  # jaw, image left
    (11, 12, 13, 14, 15, 16),  # jaw, image right
    (6, 7, 8, 9, 10),  # chin
)
NUM_KP = len(GROUPS)


class LandmarkTeacher:
    """68 landmarks of the face in a head crop: dlib HOG box + shape predictor."""

    def __init__(self) -> None:
        self._det = hog_detector()
        self._sp = shape_predictor()

    def box(self, img: np.ndarray):
        rects = self._det(img, 0)
        if len(rects) == 0:
            rects = self._det(img, 1)
        if len(rects) == 0:
            return None
        return max(rects, key=lambda r: r.width() * r.height())

    def landmarks(self, img: np.ndarray, box=None) -> np.ndarray | None:
        """img: (S,S,3) uint8 -> (68,2) float32 in [-1,1], or None when no face is found."""
        box = box if box is not None else self.box(img)
        if box is None:
            return None
        shape = self._sp(img, box)
        pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        size = np.array([img.shape[1], img.shape[0]], np.float32)
        return (2 * pts + 1) / size - 1


def group_points(lm: np.ndarray) -> list[np.ndarray]:
    """lm: (..., 68, 2) -> list of (..., n_g, 2)."""
    return [lm[..., list(g), :] for g in GROUPS]


def make_template(landmarks: np.ndarray) -> np.ndarray:
    """Mean shape (68,2) of many (N,68,2) landmark sets: the canonical template."""
    return landmarks.mean(axis=0).astype(np.float32)


def keypoints_from_landmarks(lm: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lm: (N,68,2) -> xy (N,K,2), jacobian (N,K,2,2) with frame_offset = J @ template_offset."""
    xys, jacs = [], []
    for g_pts, t_pts in zip(group_points(lm), group_points(template)):
        c = g_pts.mean(axis=-2, keepdims=True)
        tc = t_pts - t_pts.mean(axis=-2, keepdims=True)  # (n,2)
        # Least squares: (g - c) ~= tc @ J^T  ->  J^T = pinv(tc) @ (g - c)
        jt = np.linalg.pinv(tc) @ (g_pts - c)  # (N,2,2)
        xys.append(c[..., 0, :])
        jacs.append(floor_singular_values(np.swapaxes(jt, -1, -2)))
    return np.stack(xys, -2).astype(np.float32), np.stack(jacs, -3).astype(np.float32)


def floor_singular_values(j: np.ndarray, ratio: float = 0.35) -> np.ndarray:
    """Keep (...,2,2) maps well conditioned: a closed eye collapses its group to a line."""
    u, s, vt = np.linalg.svd(j)
    s = np.maximum(s, ratio * s[..., :1])
    return (u * s[..., None, :]) @ vt
