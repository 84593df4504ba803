"""What each part of the hybrid receiver is worth, on the same stream: decoded (a) as shipped,
(b) with the driving key points found by the detector on the up-scaled base picture instead of
the sent ones (what a hybrid stream without key points would give), (c) with the up-scaled
base picture alone in the face (the fusion network and the animated pivot left out).

    python -m thcodec.bench.hybrid_variants --out rows.jsonl REF.mkv ... [--setting 96:55 128:55 64:50]

REF: th256 references (thcodec.data.reference.make_reference). Each is encoded with `thc
encode --mode hybrid --base-step 1 --base-size S --base-crf C` per --setting (every frame has
its base picture), and each variant is scored like the bench (PSNR, VMAF, AKD, AED). One JSON
line per (clip, setting, variant), with the stream's bytes by kind (as `thc stats` counts them).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from thcodec.bench import quality as Q
from thcodec.data.reference import read_lossless
from thcodec.face.region import paste
from thcodec.media.frames import resize, to_uint8
from thcodec.models.weights import LoadedModel, load_model
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.receiver.segment import SegmentRenderer
from thcodec.stats import stream_stats

SHIPPED = SegmentRenderer.render


def keypoints_from_base(self: SegmentRenderer, kp, base=None):
    if base is not None:
        kp = self._loaded.model.detect_keypoints(base)
    return SHIPPED(self, kp, base)


def base_alone(self: SegmentRenderer, kp, base=None):
    if base is None:
        return SHIPPED(self, kp, base)
    return [paste(self.background, resize(img, self.region.w, self.region.h), self.region, self.mask) for img in to_uint8(base)]


VARIANTS = {"shipped": SHIPPED, "keypoints_from_base": keypoints_from_base, "base_alone": base_alone}


@contextmanager
def rendering(render):
    SegmentRenderer.render = render
    try:
        yield
    finally:
        SegmentRenderer.render = SHIPPED


def decoded(data: bytes, loaded: LoadedModel, render) -> np.ndarray:
    with rendering(render), torch.inference_mode():
        return np.stack([e.rgb for e in decode_stream(io.BytesIO(data), loaded) if isinstance(e, Frame)])


def encode(ref: Path, out: Path, size: int, crf: int) -> Path:
    if not out.exists():
        cmd = [sys.executable, "-c", "from thcodec.cli import run; run()", "encode", str(ref), str(out), "--mode", "hybrid"]
        cmd += ["--base-step", "1", "--base-size", str(size), "--base-crf", str(crf), "--quiet", "--force"]
        subprocess.run(cmd, check=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("refs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    p.add_argument("--setting", nargs="+", default=["96:55", "128:55", "64:50"], help="SIZE:CRF of the base layer")
    a = p.parse_args()
    torch.set_num_threads(1)
    loaded, fm = load_model(backend="torch"), Q.FaceMetrics()
    streams = a.out.parent / "streams"
    streams.mkdir(parents=True, exist_ok=True)
    for ref in a.refs:
        frames = read_lossless(ref)
        faces = fm.reference(frames)
        for setting in a.setting:
            size, crf = map(int, setting.split(":"))
            stream = encode(ref, streams / f"{ref.stem}_{size}_{crf}.thc", size, crf)
            data, parts = stream.read_bytes(), stream_stats(stream).bytes_by_category
            for name, render in VARIANTS.items():
                out = decoded(data, loaded, render)
                face = fm.score(faces, out)
                row = dict(
                    clip=ref.stem, size=size, crf=crf, variant=name, bytes=len(data), parts=parts,
                    seconds=len(frames) / 25, psnr=Q.psnr_pair(out, frames)[0], vmaf=Q.vmaf_frames(out, ref, 25),
                    akd=face.akd, aed=face.aed,
                )  # fmt: skip
                print(json.dumps(row), flush=True)
                with a.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
