"""Clips that need more than one pivot, made from ordinary clips (issue 6 measurements).

- cut: the first half of one th256 reference followed by the first half of another (a hard
  cut between two people).
- drift: a virtual camera on a wide source clip: the th256 face square at the start, then a
  window that slides sideways by DRIFT_SHIFT of its side and widens by DRIFT_ZOOM over the clip,
  so the head drifts from the centre towards the edge and shrinks, revealing background
  the first frame never showed.
- zoom: the same virtual camera zooming in on the face within 3 seconds, then holding the
  close-up (the key points' affine model cannot describe a face that grows this much).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from thcodec.data.reference import TH256, find_face_region, source_indices, write_lossless
from thcodec.media.video_io import VideoReader

DRIFT_SHIFT = 0.45
DRIFT_ZOOM = 1.6
ZOOM_WIDE, ZOOM_TIGHT = 1.0, 0.55  # window side over the face region's (2.2x the face box): wide, then a close-up
ZOOM_SPAN = (0.3, 0.6)  # the zoom runs from 30% to 60% of the clip (3 s of 10)


def cut_clip(first: np.ndarray, second: np.ndarray, out: Path, fps: Fraction = TH256.fps) -> int:
    """Write first[:n/2] + second[:n/2] (both (N,S,S,3)) losslessly; -> the frame of the cut."""
    n = min(len(first), len(second))
    half = n // 2
    write_lossless(np.concatenate([first[:half], second[: n - half]]), out, fps)
    return half


def drift_path(t: float) -> tuple[float, float]:
    """Drift: the window slides sideways by DRIFT_SHIFT of the face region and widens by DRIFT_ZOOM."""
    return 1 + (DRIFT_ZOOM - 1) * t, DRIFT_SHIFT * t


def zoom_path(t: float) -> tuple[float, float]:
    """A camera zooming in, as talk shows do: wide (ZOOM_WIDE x the face region) for the first
    ZOOM_SPAN[0] of the clip, then in to ZOOM_TIGHT by ZOOM_SPAN[1], then held."""
    a, b = ZOOM_SPAN
    u = min(1.0, max(0.0, (t - a) / (b - a)))
    u = u * u * (3 - 2 * u)  # eased, as a camera operator would
    return ZOOM_WIDE + (ZOOM_TIGHT - ZOOM_WIDE) * u, 0.0


def drift_clip(src: Path, out: Path, frames: int = TH256.frames, size: int = TH256.size) -> None:
    """Write the drifting virtual-camera clip of src (see the module doc) losslessly."""
    virtual_camera(src, out, drift_path, frames, size)


def zoom_clip(src: Path, out: Path, frames: int = TH256.frames, size: int = TH256.size) -> None:
    """Write the zooming virtual-camera clip of src (zoom_path) losslessly."""
    virtual_camera(src, out, zoom_path, frames, size)


def virtual_camera(src: Path, out: Path, path, frames: int = TH256.frames, size: int = TH256.size) -> None:
    """A square window over src, following path(t) -> (side as a multiple of the face region's,
    sideways shift as a share of it) for t from 0 to 1 over the clip; written losslessly."""
    with VideoReader(src) as r:
        w, h, src_fps = r.info.width, r.info.height, r.info.fps
    wanted = source_indices(src_fps, TH256.fps, frames)
    region, _ = find_face_region(src, wanted[-1] + 1)
    out_frames = []
    with VideoReader(src) as reader:
        pos = 0
        for index, frame in enumerate(reader):
            while pos < len(wanted) and wanted[pos] == index:
                scale, shift = path(pos / max(1, frames - 1))
                side = min(region.w * scale, w, h)
                cx = region.x + region.w / 2 + shift * region.w
                cy = region.y + region.h / 2
                x0 = min(max(cx - side / 2, 0), w - side)
                y0 = min(max(cy - side / 2, 0), h - side)
                box = (x0, y0, x0 + side, y0 + side)
                out_frames.append(
                    np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR, box=box, reducing_gap=2.0))
                )
                pos += 1
            if pos == len(wanted):
                break
    write_lossless(np.stack(out_frames), out, TH256.fps)
