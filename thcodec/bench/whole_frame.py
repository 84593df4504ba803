"""Whole-frame calls at their own size (issue 19): thcodec's points against the scaled low-delay
AV1 anchor on 1280x720 clips where the speaker moves, measured over the whole frame.

Clips: for each of --clips (clips of --data), the shift clip of thcodec/bench/pivot_clips.py
(the picture slides from the left edge to the centre between 3 and 6 s), written once to
OUT/clips and made a whole-frame 1280x720 reference (OUT/refs). Codecs:
  - thcodec at named points: EncodeOptions field values on top of the defaults (no audio), POINTS
    below plus any --point NAME:FIELD=VALUE,... (a new field is swept by adding a point);
  - svtav1_ld_scaled: SVT-AV1 low delay on the frame down-scaled to a short side of ANCHOR_SIZES
    (aspect kept) and up-scaled back bicubically, at ANCHOR_CRFS.
Measures: kbit/s, PSNR and VMAF of the whole frame, and by second the whole-frame PSNR and the
PSNR outside the face region (thcodec/bench/outside_face.py: a frozen body shows as a worst
second far below the mean). Every point is appended to OUT/points.jsonl as it is measured; a
re-run measures only the points missing there (--redo NAME,...: those thcodec points again,
e.g. after the codec changed; "all": every one). OUT/report.md: whole_frame_report.py's tables.

    python -m thcodec.bench.whole_frame --data ../shared/data --out /work/runs/whole_frame \\
        [--point scene72:mode=hybrid,base_size=128,base_kbps=8,scene_size=72]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import asdict
from pathlib import Path

import torch

from thcodec.bench.anchors import SVTAV1_LOW_DELAY
from thcodec.bench.codec import Codec, Coded, Setting
from thcodec.bench.ours import ThcSweep
from thcodec.bench.outside_face import face_regions, summary
from thcodec.bench.pivot_clips import shift_clip
from thcodec.bench.scaled import ScaledAnchor
from thcodec.bench.sweep import Point, Scoring, read_points, stored_reference, sweep
from thcodec.bench.whole_frame_report import report
from thcodec.data.reference import Condition, Reference, make_reference
from thcodec.errors import ThcError
from thcodec.models.weights import LoadedModel, load_model
from thcodec.options import MODES, EncodeOptions

CLIPS = ("mt_justin.mp4", "lp_source_s18.mp4")
WIDE = Condition(name="wide", wide=(1280, 720))
# thcodec's points: name -> EncodeOptions fields. The hybrid points at a base-layer target rate
# and the largest base size, as `thc encode --kbps` picks for rates above the ladder's lowest.
POINTS: dict[str, dict] = {
    "kp": {},
    "kp_q30": {"pivot_quality": 30},
    "hyb_b4": {"mode": "hybrid", "base_size": 128, "base_kbps": 4.0},
    "hyb_b8": {"mode": "hybrid", "base_size": 128, "base_kbps": 8.0},
}
# Short sides and CRFs chosen so that the anchor's rates span thcodec's on these clips.
ANCHOR_SIZES = (144, 216, 288)
ANCHOR_CRFS = (31, 41, 51)
ANCHOR = ScaledAnchor(SVTAV1_LOW_DELAY, ANCHOR_CRFS, ANCHOR_CRFS, ANCHOR_SIZES)


def parse_value(text: str) -> int | float | str | bool:
    """A field's value as typed on the command line: int, float, true/false, else the string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_point(text: str) -> tuple[str, dict]:
    """ "NAME:FIELD=VALUE,FIELD=VALUE" (or just "NAME:" for the defaults) -> (name, fields)."""
    name, sep, rest = text.partition(":")
    if not sep or not name:
        raise ThcError(f"--point {text!r}: write NAME:FIELD=VALUE,... (e.g. hyb:mode=hybrid,base_kbps=8)")
    fields = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ThcError(f"--point {text!r}: {item!r} is not FIELD=VALUE")
        fields[key.strip()] = parse_value(value.strip())
    return name, fields


def thc_codec(name: str, fields: dict, loaded: LoadedModel) -> ThcSweep:
    """thcodec at one named point; its options are checked here, before any clip is read."""
    known = {f.name for f in dataclasses.fields(EncodeOptions)} - {"given"}
    if unknown := set(fields) - known:
        raise ThcError(f"point {name}: {', '.join(sorted(unknown))} not an EncodeOptions field")
    codec = ThcSweep([Setting(tuple(fields.items()))], loaded, modes={m: {"mode": m} for m in MODES}, name=f"thc_{name}")
    codec.options(codec.points[0])  # raises ThcError on a value EncodeOptions refuses
    return codec


class Remaining:
    """A codec with the settings already measured on one clip left out."""

    def __init__(self, codec: Codec, done: set[str]) -> None:
        self.inner, self.name, self.label = codec, codec.name, codec.label
        self.done = done

    def settings(self, quick: bool) -> list[Setting]:
        return [s for s in self.inner.settings(quick) if s.label not in self.done]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        return self.inner.run(ref, setting, out_dir)


def reference(data: Path, clip: str, out: Path) -> Reference:
    """The whole-frame reference of clip's shift clip, made (and its clip written) on first use."""
    name = f"shift_{Path(clip).stem}"
    ref_path = out / "refs" / f"{name}.mkv"
    if ref_path.exists():
        return stored_reference(ref_path)
    shifted = out / "clips" / f"{name}.mkv"
    if not shifted.exists():
        shifted.parent.mkdir(parents=True, exist_ok=True)
        shift_clip(data / "clips" / clip, shifted)
    return make_reference(shifted, ref_path.parent, name, WIDE)


def latest(path: Path) -> dict[tuple[str, str, str], Point]:
    """The points of path by (clip, codec, setting), a later line replacing an earlier one."""
    points = read_points(path) if path.exists() else []
    return {(p.clip, p.codec, p.label): p for p in points}


def redone(codec: Codec, redo: set[str]) -> bool:
    """Whether --redo names this thcodec point (or all of them; the anchor is never redone)."""
    if not codec.name.startswith("thc_"):
        return False
    return "all" in redo or codec.name.removeprefix("thc_") in redo


def measure_clip(ref: Reference, codecs: list[Codec], out: Path, redo: set[str], scoring: Scoring) -> None:
    """Every point not yet in OUT/points.jsonl for this clip (and the redone ones), appended there."""
    log = out / "points.jsonl"
    done = latest(log)
    todo = [Remaining(c, set() if redone(c, redo) else {k[2] for k in done if k[:2] == (ref.name, c.name)}) for c in codecs]
    if not any(c.settings(False) for c in todo):
        return
    regions = face_regions(ref.frames)
    fps = int(round(float(ref.fps)))
    given = lambda r, coded, faces: summary(coded.decoded, r.frames, regions, fps)

    def append(point: Point) -> None:
        with open(log, "a") as f:
            f.write(json.dumps(asdict(point)) + "\n")
        print(
            f"{point.clip} {point.codec} {point.label or '(defaults)'}: {point.kbps:.1f} kbit/s, PSNR {point.psnr:.2f}",
            flush=True,
        )

    sweep([ref], todo, out / "streams" / ref.name, scoring, measure=given, log=append)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("out/whole_frame"))
    p.add_argument("--clips", default=",".join(CLIPS), help="comma-separated clips of DATA/clips")
    p.add_argument("--point", action="append", default=[], metavar="NAME:FIELD=VALUE,...")
    p.add_argument("--redo", default="", help="comma-separated point names to measure again (all: every thcodec point)")
    p.add_argument("--faces", action="store_true", help="also AKD/AED (dlib on every 720p frame: slow)")
    p.add_argument("--table-from", action="store_true", help="only write the report from OUT/points.jsonl")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    if not a.table_from:
        torch.set_num_threads(2)
        points = {**POINTS, **dict(map(parse_point, a.point))}
        loaded = load_model()
        codecs: list[Codec] = [thc_codec(n, f, loaded) for n, f in points.items()] + [ANCHOR]
        scoring = Scoring(faces=a.faces, psnr=True, vmaf=True)
        redo = set(filter(None, a.redo.split(",")))
        for clip in filter(None, a.clips.split(",")):
            measure_clip(reference(a.data, clip, a.out), codecs, a.out, redo, scoring)
    text = report(list(latest(a.out / "points.jsonl").values()), ANCHOR.name)
    (a.out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
