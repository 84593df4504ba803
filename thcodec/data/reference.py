"""The reference of the standard condition "th256" for one clip.

Square face crop, 256x256, 25 fps, first 250 frames (fewer when the clip is shorter), no
audio, stored losslessly (FFV1, bgr0 pixels, in Matroska: PyAV and ffmpeg both read it back
to the exact RGB values). Every codec of the benchmark is fed this file.

- Face region: chosen on the first frame where dlib's HOG finds a face, by the codec's own
  `choose_region` (so head-crop inputs use the whole frame). When that region is not square
  (a whole non-square frame), the centred square of the short side is taken instead, around
  the face when there is one. No face in any frame: the centred square, with a warning.
- Frame rate: the clip is read at its own constant rate (VideoReader) and resampled to 25 fps
  by timestamp: output frame j shows the source frame nearest to time j/25.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from thcodec.errors import ThcError
from thcodec.face.region import FaceFinder, Region, choose_region
from thcodec.media.video_io import VideoReader


@dataclass(frozen=True)
class Condition:
    """The measurement condition: output size, frame rate and the most frames kept.

    size: side of the square face crop, None for the region's own side (native, made even);
    wide: instead of a face crop, the whole frame resized to this (width, height)."""

    name: str = "th256"
    size: int | None = 256
    fps: Fraction = Fraction(25)
    frames: int = 250
    wide: tuple[int, int] | None = None


TH256 = Condition()


@dataclass
class Reference:
    name: str  # a short, file-name-safe name of the clip
    source: Path
    path: Path  # the lossless reference file
    region: Region  # in source pixels
    face_frame: int | None  # source frame where the region's face was found, None if none
    frames: np.ndarray  # (N,S,S,3) uint8 RGB
    fps: Fraction
    warnings: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration_s(self) -> float:
        return float(self.count / self.fps)


def source_indices(src_fps: Fraction, dst_fps: Fraction, count: int) -> list[int]:
    """Source frame index shown by each of `count` output frames: nearest to time j/dst_fps."""
    ratio = Fraction(src_fps) / Fraction(dst_fps)
    return [int(j * ratio + Fraction(1, 2)) for j in range(count)]  # floor(x + 1/2), exact


def square_region(region: Region, width: int, height: int, face: tuple[float, float, float] | None) -> Region:
    """region if square, else the square of the short side centred on the face (or the frame)."""
    if region.w == region.h:
        return region
    side = min(width, height)
    cx, cy = (face[0], face[1]) if face is not None else (width / 2, height / 2)
    x = int(round(min(max(cx - side / 2, 0), width - side)))
    y = int(round(min(max(cy - side / 2, 0), height - side)))
    return Region(x, y, side, side)


def find_face_region(src: Path, max_frames: int) -> tuple[Region, int | None]:
    """The square face region of the first of the first `max_frames` frames with a face."""
    finder = FaceFinder()
    with VideoReader(src) as reader:
        w, h = reader.info.width, reader.info.height
        for index, frame in enumerate(reader):
            if index >= max_frames:
                break
            face = finder.largest_face(frame)
            if face is not None:
                return square_region(choose_region(w, h, face), w, h, face), index
    return square_region(Region.whole(w, h), w, h, None), None


def write_lossless(frames: np.ndarray, path: Path, fps: Fraction) -> None:
    """(N,H,W,3) uint8 RGB -> FFV1 (bgr0) in Matroska, frame i at time i/fps."""
    n, h, w, _ = frames.shape
    with av.open(str(path), "w", format="matroska") as c:
        s = c.add_stream("ffv1", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "bgr0"
        s.time_base = s.codec_context.time_base = 1 / Fraction(fps)
        for i in range(n):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24").reformat(format="bgr0")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))


def read_lossless(path: Path) -> np.ndarray:
    """All frames of a lossless reference as (N,H,W,3) uint8 RGB."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def make_reference(src: Path, out_dir: Path, name: str, cond: Condition = TH256) -> Reference:
    """Cut `src` to the condition's reference, write it to out_dir/<name>.mkv and check the round trip."""
    with VideoReader(src) as probe_reader:
        src_fps, width, height = probe_reader.info.fps, probe_reader.info.width, probe_reader.info.height
    wanted = source_indices(src_fps, cond.fps, cond.frames)
    if cond.wide:
        region, face_frame, warnings, out_size = Region.whole(width, height), None, [], cond.wide
    else:
        region, face_frame = find_face_region(src, wanted[-1] + 1)
        warnings = [] if face_frame is not None else [f"{src.name}: no face found, the centred square is used"]
        out_size = cond.size or region.w - region.w % 2
    frames: list[np.ndarray] = []
    with VideoReader(src) as reader:
        pos = 0
        for index, frame in enumerate(reader):
            if pos == len(wanted):
                break
            crop = None
            while pos < len(wanted) and wanted[pos] == index:
                crop = region.crop(frame, out_size) if crop is None else crop
                frames.append(crop)
                pos += 1
    if not frames:
        raise ThcError(f"{src}: no video frames")
    stack = np.stack(frames)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.mkv"
    write_lossless(stack, path, cond.fps)
    back = read_lossless(path)
    if back.shape != stack.shape or not np.array_equal(back, stack):
        raise ThcError(f"{path}: the lossless reference does not read back exactly")
    return Reference(name, src, path, region, face_frame, stack, cond.fps, warnings)
