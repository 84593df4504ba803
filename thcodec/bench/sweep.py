"""One loop for every sweep: references x codecs x settings -> encode, decode to frames, score.

A sweep names its variants as codecs (bench/codec.py's protocol) or as settings of one
(ours.ThcSweep: thcodec's encode options and receiver variants); `sweep` feeds each reference
to each codec at each of its settings and scores the frames that come back with quality.py's
metrics (those Scoring asks for). Every sweep's table is made from the same Point rows:
printed as JSON lines while a sweep runs, written as one JSON list at its end.

The references are th256 files made by `thc bench` (OUT/refs/*.mkv; `stored_references`) or
made here from the clips of the data manifest (`thcodec.data.clips`): no clip is named in code.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from thcodec.bench import quality as Q
from thcodec.bench.codec import Codec, Coded, Setting
from thcodec.data.reference import TH256, Reference, read_lossless
from thcodec.errors import ThcError
from thcodec.face.region import Region


@dataclass(frozen=True)
class Scoring:
    """What a sweep measures of each decoded clip (quality.py): AKD, AED and face_miss (dlib's
    faces, AED on every aed_every-th frame) unless faces=False; VMAF, PSNR, SSIM when asked."""

    faces: bool = True
    aed_every: int = Q.EMBED_EVERY
    vmaf: bool = False
    psnr: bool = False
    ssim: bool = False


@dataclass
class Point:
    """One codec at one setting on one reference: its rate, speed and scores."""

    clip: str
    codec: str
    setting: dict  # the setting's values, e.g. {"interp": 2, "decoder": "linear"}
    frames: int
    bytes: int
    kbps: float | None  # None: nothing is sent
    encode_fps: float | None
    decode_fps: float | None
    psnr: float | None = None  # mean over frames, RGB (quality.psnr_pair)
    psnr_mse: float | None = None
    ssim: float | None = None
    vmaf: float | None = None
    akd: float | None = None
    akd_frames: int = 0  # frames AKD is the mean of (the reference has a face)
    aed: float | None = None
    aed_frames: int = 0
    face_miss: float | None = None
    parts: dict = field(default_factory=dict)  # bytes by kind, where the codec tells
    extra: dict = field(default_factory=dict)  # the codec's own information and the sweep's own measures

    @property
    def label(self) -> str:
        return Setting(tuple(self.setting.items())).label


# (reference, what the codec returned, the face scores or None) -> the sweep's own measures
Measure = Callable[[Reference, Coded, "Q.FaceScores | None"], dict]


def print_point(point: Point) -> None:
    print(json.dumps(asdict(point)), flush=True)


def score(ref: Reference, coded: Coded, scoring: Scoring, fm: Q.FaceMetrics | None, faces: Q.ReferenceFaces | None):
    """-> (the scores as Point fields, the face scores or None)."""
    if coded.decoded.shape != ref.frames.shape:
        raise ThcError(f"{ref.name}: decoded {coded.decoded.shape}, reference {ref.frames.shape}")
    out: dict = {}
    if scoring.psnr:
        out["psnr"], out["psnr_mse"] = Q.psnr_pair(coded.decoded, ref.frames)
    if scoring.ssim:
        out["ssim"] = Q.ssim_mean(coded.decoded, ref.frames)
    if scoring.vmaf:
        if coded.bitstream_vmaf and coded.stream is not None:
            out["vmaf"] = Q.vmaf(coded.stream, ref.path, ref.count)
        else:
            out["vmaf"] = Q.vmaf_frames(coded.decoded, ref.path, ref.fps)
    face = None
    if fm is not None and faces is not None:
        face = fm.score(faces, coded.decoded)
        out.update(akd=face.akd, akd_frames=face.akd_frames, aed=face.aed, aed_frames=face.aed_frames, face_miss=face.face_miss)
    return out, face


def point_of(ref: Reference, codec: Codec, setting: Setting, coded: Coded, scores: dict) -> Point:
    """One run's Point: rate and speeds from what the codec returned (none where nothing is sent)."""
    sent = coded.stream is not None
    return Point(
        clip=ref.name,
        codec=codec.name,
        setting=dict(setting.values),
        frames=ref.count,
        bytes=coded.bytes,
        kbps=coded.bytes * 8 / ref.duration_s / 1000 if sent else None,
        encode_fps=ref.count / max(coded.encode_s, 1e-9) if sent else None,
        decode_fps=ref.count / max(coded.decode_s, 1e-9) if sent else None,
        parts=dict(coded.parts),
        extra=dict(coded.info),
        **scores,
    )


def sweep(
    refs: Iterable[Reference],
    codecs: Sequence[Codec],
    out_dir: Path,
    scoring: Scoring = Scoring(),
    *,
    quick: bool = False,
    measure: Measure | None = None,
    fm: Q.FaceMetrics | None = None,
    log: Callable[[Point], None] | None = print_point,
) -> list[Point]:
    """Every codec at every setting on every reference -> one Point each, in that order.
    Streams go to out_dir; fm: the face metrics to use (made here when scoring needs them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fm = (fm or Q.FaceMetrics()) if scoring.faces else None
    points = []
    for ref in refs:
        faces = fm.reference(ref.frames, scoring.aed_every) if fm is not None else None
        for codec in codecs:
            for setting in codec.settings(quick):
                coded = codec.run(ref, setting, out_dir)
                scores, face = score(ref, coded, scoring, fm, faces)
                point = point_of(ref, codec, setting, coded, scores)
                if measure is not None:
                    point.extra.update(measure(ref, coded, face))
                if log is not None:
                    log(point)
                points.append(point)
                del coded  # the decoded frames: one clip's worth at a time
    return points


def stored_reference(path: Path, name: str | None = None, fps=TH256.fps) -> Reference:
    """A lossless reference written earlier (`thc bench`'s OUT/refs/NAME.mkv, pivot_clips.py)."""
    frames = read_lossless(path)
    h, w = frames.shape[1:3]
    return Reference(name or path.stem, path, path, Region.whole(w, h), None, frames, fps)


def stored_references(refs: Path, only: Sequence[str] = ()) -> Iterator[Reference]:
    """The references in a folder, by name (only: just these names), each read when its turn comes."""
    paths = sorted(refs.glob("*.mkv"))
    if only:
        paths = [p for p in paths if p.stem in only]
    if not paths:
        raise ThcError(f"{refs}: no reference (*.mkv) {'named ' + ','.join(only) if only else 'there'} (thc bench makes them)")
    for p in paths:
        yield stored_reference(p)


# --------------------------------------------------------------------------- output


def write_points(points: list[Point], path: Path) -> None:
    path.write_text(json.dumps([asdict(p) for p in points], indent=1))


def read_points(path: Path) -> list[Point]:
    """Points from write_points' JSON list, or from the JSON lines a sweep printed (a cut-short run's log)."""
    text = path.read_text()
    if text.lstrip().startswith("["):
        return [Point(**d) for d in json.loads(text)]
    return [Point(**json.loads(line)) for line in text.splitlines() if line.startswith("{")]


def mean(points: list[Point], value: Callable[[Point], float | None]) -> float:
    """Mean of value over the points (those where it is None left out; NaN when none is left)."""
    vals = [v for v in map(value, points) if v is not None]
    return float(np.mean(vals)) if vals else float("nan")


def parser(doc: str, out: str, refs: bool = True, table: bool = True) -> argparse.ArgumentParser:
    """A sweep's command line: --out, --only NAME,... (alias --clips), --table-from (table) and,
    for sweeps over stored th256 references, --refs."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if refs:
        p.add_argument("--refs", type=Path, default=Path("out/bench/refs"), help="th256 references (thc bench's OUT/refs)")
    p.add_argument("--out", type=Path, default=Path(out))
    p.add_argument("--only", "--clips", default="", help="comma-separated clip names to measure (default: all)")
    if table:
        p.add_argument("--table-from", type=Path, help="only write the table, from an earlier (or cut-short) run's points")
    return p


def names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.split(",") if n)
