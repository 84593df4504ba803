"""Export the best EMA weights of the training runs to weights/ with a manifest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from thcodec.models.weights import export


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--keypoints", type=Path, help="best.pt of the keypoints run (default: keep the shipped detector)")
    p.add_argument("--motion", type=Path, help="best.pt of the motion run (default: keep the shipped dense motion + generator)")
    p.add_argument("--interp", type=Path, help="best.pt of the interp run (default: keep the shipped interpolator)")
    p.add_argument("--sr", type=Path, help="best.pt of the sr run (default: keep the shipped super-resolution network)")
    p.add_argument("--fusion", type=Path, help="best.pt of the fusion run (default: keep the shipped fusion network)")
    p.add_argument(
        "--light", type=Path, help="best.pt or snap_<step>.pt of the light run (default: keep the shipped light generator)"
    )
    p.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="NETWORK=TEXT",
        help="a command that made NETWORK's file, for its manifest entry (repeat, in order)",
    )
    p.add_argument("--out", type=Path, default=Path("weights"))
    p.add_argument("--notes", type=Path, help="JSON file of extra manifest fields (data, commands)")
    a = p.parse_args()
    notes = json.loads(a.notes.read_text()) if a.notes else {}
    runs = {}
    if a.keypoints:
        runs["keypoint_detector"] = a.keypoints
    if a.motion:
        runs["dense_motion"] = runs["generator"] = a.motion
    if a.interp:
        runs["interpolator"] = a.interp
    if a.sr:
        runs["super_resolution"] = a.sr
    if a.fusion:
        runs["fusion"] = a.fusion
    if a.light:
        runs["light_generator"] = a.light
    commands: dict[str, list[str]] = {}
    for c in a.command:
        network, _, text = c.partition("=")
        commands.setdefault(network, []).append(text)
    m = export(runs, a.out, notes, commands)
    for f in m["files"]:
        print(f"{f['file']}: {f['parameters']} parameters, step {f['steps']}, sha256 {f['sha256'][:16]}")


if __name__ == "__main__":
    main()
