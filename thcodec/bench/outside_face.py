"""Whole-frame quality by second, inside and outside the face (issue 19: "no frozen body under a
moving face").

The face region of each reference frame is the codec's own choice for that frame
(thcodec.face.region: dlib's HOG face, grown to choose_region's square); frames where no face
is found keep the region of the nearest frame before them (or after, at the start). The
"outside" PSNR is that of every pixel outside this region: the body and the background, what
the keypoint mode takes from its pivot. Both PSNRs are computed per second of the clip, from
the squared error pooled over that second's frames (a partial last second counts as one), and
summarised as the mean over seconds and the worst second: a body frozen while the speaker
moves shows as a worst second far below the mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from thcodec.bench.quality import PSNR_CAP
from thcodec.face.region import FaceFinder, Region, choose_region


def face_regions(frames: np.ndarray) -> list[Region | None]:
    """The face region of each (H,W,3) frame (gaps filled from the neighbours); all None without a face."""
    finder = FaceFinder()
    h, w = frames.shape[1:3]
    found = []
    for frame in frames:
        face = finder.largest_face(frame)
        found.append(choose_region(w, h, face) if face is not None else None)
    return fill_gaps(found)


def fill_gaps(regions: Sequence[Region | None]) -> list[Region | None]:
    """Each None replaced by the last region before it, or the first one after it at the start."""
    first = next((r for r in regions if r is not None), None)
    out, last = [], first
    for r in regions:
        last = r if r is not None else last
        out.append(last)
    return out


def region_sse(decoded: np.ndarray, reference: np.ndarray, regions: Sequence[Region | None]) -> tuple[np.ndarray, np.ndarray]:
    """-> ((N,) squared error summed inside each frame's region, (N,) over the whole frame), exact integers."""
    whole = np.empty(len(regions), np.int64)
    inside = np.zeros(len(regions), np.int64)
    for i, r in enumerate(regions):
        diff = decoded[i].astype(np.int32) - reference[i]
        sq = np.square(diff)
        whole[i] = sq.sum(dtype=np.int64)
        if r is not None:
            inside[i] = sq[r.y : r.y + r.h, r.x : r.x + r.w].sum(dtype=np.int64)
    return inside, whole


def psnr_of(sse: float, values: float) -> float:
    """PSNR (peak 255) of a summed squared error over `values` samples, capped as quality.py's."""
    if values <= 0:
        return float("nan")
    if sse <= 0:
        return PSNR_CAP
    return float(min(10 * np.log10(255.0**2 * values / sse), PSNR_CAP))


def per_second(
    decoded: np.ndarray, reference: np.ndarray, regions: Sequence[Region | None], fps: int
) -> tuple[list[float], list[float]]:
    """-> (whole-frame PSNR of each second, PSNR outside the face region of each second)."""
    inside, whole = region_sse(decoded, reference, regions)
    h, w, c = reference.shape[1:]
    area = np.array([h * w - (r.w * r.h if r is not None else 0) for r in regions], np.int64) * c
    whole_s, outside_s = [], []
    for start in range(0, len(regions), fps):
        sl = slice(start, start + fps)
        n = len(regions[sl])
        whole_s.append(psnr_of(float(whole[sl].sum()), float(n * h * w * c)))
        outside_s.append(psnr_of(float(whole[sl].sum() - inside[sl].sum()), float(area[sl].sum())))
    return whole_s, outside_s


def summary(decoded: np.ndarray, reference: np.ndarray, regions: Sequence[Region | None], fps: int) -> dict:
    """The per-second PSNRs and their summaries, as a sweep point's extra measures."""
    whole_s, outside_s = per_second(decoded, reference, regions, fps)
    worst = int(np.argmin(whole_s))
    out = {"psnr_worst_s": whole_s[worst], "psnr_worst_at": worst}
    if not np.isnan(outside_s).all():  # a region that fills every frame leaves nothing outside
        worst_out = int(np.nanargmin(outside_s))
        out.update(outside_psnr=float(np.nanmean(outside_s)), outside_worst_s=outside_s[worst_out], outside_worst_at=worst_out)
    return {
        **out,
        "psnr_by_s": [round(v, 3) for v in whole_s],
        "outside_by_s": [round(v, 3) for v in outside_s],
    }
