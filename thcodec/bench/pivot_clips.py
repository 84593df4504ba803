"""Clips that need more than one pivot, made from ordinary clips (issue 6 measurements).

- cut: the first half of one th256 reference followed by the first half of another (a hard
  cut between two people).
- drift: a virtual camera on a wide source clip: the th256 face square at the start, then a
  window that slides sideways by DRIFT_SHIFT of its side and widens by DRIFT_ZOOM over the clip,
  so the head drifts from the centre towards the edge and shrinks, revealing background
  the first frame never showed.
- zoom: the same virtual camera zooming in on the face within 3 seconds, then holding the
  close-up (the key points' affine model cannot describe a face that grows this much).
- shift: a whole-frame call at 1280x720 with a still camera where the speaker moves from the
  left of the frame to the centre within 3 seconds: the source picture, scaled to SHIFT_SCALE
  of the frame, slides over a still, blurred copy of its first frame (issue 19: a body that
  moves outside the face region).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from thcodec.data.reference import TH256, find_face_region, source_indices, write_lossless
from thcodec.media.video_io import VideoReader

DRIFT_SHIFT = 0.45
DRIFT_ZOOM = 1.6
ZOOM_WIDE, ZOOM_TIGHT = 1.0, 0.55  # window side over the face region's (2.2x the face box): wide, then a close-up
ZOOM_SPAN = (0.3, 0.6)  # the zoom runs from 30% to 60% of the clip (3 s of 10)
SHIFT_SIZE = (1280, 720)
SHIFT_SCALE = 0.8  # the moving picture's size over the frame's
SHIFT_BLUR = 24  # radius of the still backdrop's blur, px


def cut_clip(first: np.ndarray, second: np.ndarray, out: Path, fps: Fraction = TH256.fps) -> int:
    """Write first[:n/2] + second[:n/2] (both (N,S,S,3)) losslessly; -> the frame of the cut."""
    n = min(len(first), len(second))
    half = n // 2
    write_lossless(np.concatenate([first[:half], second[: n - half]]), out, fps)
    return half


def drift_path(t: float) -> tuple[float, float]:
    """Drift: the window slides sideways by DRIFT_SHIFT of the face region and widens by DRIFT_ZOOM."""
    return 1 + (DRIFT_ZOOM - 1) * t, DRIFT_SHIFT * t


def eased(t: float, span: tuple[float, float]) -> float:
    """0 before span, 1 after it, a smooth step between (as a camera operator or a person moves)."""
    a, b = span
    u = min(1.0, max(0.0, (t - a) / (b - a)))
    return u * u * (3 - 2 * u)


def zoom_path(t: float) -> tuple[float, float]:
    """A camera zooming in, as talk shows do: wide (ZOOM_WIDE x the face region) for the first
    ZOOM_SPAN[0] of the clip, then in to ZOOM_TIGHT by ZOOM_SPAN[1], then held."""
    return ZOOM_WIDE + (ZOOM_TIGHT - ZOOM_WIDE) * eased(t, ZOOM_SPAN), 0.0


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


def shift_clip(src: Path, out: Path, frames: int = TH256.frames, fps: Fraction = TH256.fps) -> None:
    """Write the shifting whole-frame call of src (see the module doc) losslessly, SHIFT_SIZE at fps."""
    width, height = SHIFT_SIZE
    inner = (round(width * SHIFT_SCALE / 2) * 2, round(height * SHIFT_SCALE / 2) * 2)
    y = (height - inner[1]) // 2
    end_x = (width - inner[0]) // 2  # from the left edge to the centre
    with VideoReader(src) as r:
        wanted = source_indices(r.info.fps, fps, frames)
    out_frames: list[np.ndarray] = []
    backdrop = None
    with VideoReader(src) as reader:
        for index, frame in enumerate(reader):
            while len(out_frames) < len(wanted) and wanted[len(out_frames)] == index:
                picture = Image.fromarray(frame)
                if backdrop is None:
                    backdrop = picture.resize(SHIFT_SIZE, Image.BILINEAR).filter(ImageFilter.GaussianBlur(SHIFT_BLUR))
                canvas = backdrop.copy()
                x = round(end_x * eased(len(out_frames) / max(1, frames - 1), ZOOM_SPAN))
                canvas.paste(picture.resize(inner, Image.BILINEAR, reducing_gap=2.0), (x, y))
                out_frames.append(np.asarray(canvas))
            if len(out_frames) == len(wanted):
                break
    write_lossless(np.stack(out_frames), out, fps)
