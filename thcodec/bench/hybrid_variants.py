"""What each part of the hybrid receiver is worth, on the same stream: decoded (a) as shipped,
(b) with the driving key points found by the detector on the up-scaled base picture instead of
the sent ones (what a hybrid stream without key points would give), (c) with the up-scaled
base picture alone in the face (the fusion network and the animated pivot left out), and
(d) with other fusion weights (--fusion NAME=CHECKPOINT: a training run's best.pt or an
exported fusion.pt; the stream's bytes do not depend on them).

    python -m thcodec.bench.hybrid_variants --out rows.jsonl REF.mkv ... [--setting 96:55 128:55 64:50]
        [--base-step 1] [--encode NAME="THC ENCODE OPTIONS" ...] [--variants shipped ...]
        [--fusion NAME=CHECKPOINT ...]

REF: th256 references (thcodec.data.reference.make_reference). Each is encoded with `thc
encode --mode hybrid --base-step N --base-size S --base-crf C` per --setting (N=1: every frame
has its base picture), or with the options of each --encode instead (e.g. k10="--mode hybrid
--kbps 10 --interp 2"), and each variant is scored like the bench (PSNR, VMAF, AKD, AED, the EAR
and MAR errors and blink recall). One JSON line per (clip, setting, variant), with the stream's
bytes by kind (as `thc stats` counts them).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from thcodec.bench import quality as Q
from thcodec.bench.codec import encode_with_cli
from thcodec.bench.expression import expression_scores
from thcodec.data.reference import read_lossless
from thcodec.face.region import paste
from thcodec.media.frames import resize, to_uint8
from thcodec.models.checkpoint import network_weights
from thcodec.models.fusion import Fusion
from thcodec.models.weights import LoadedModel, load_model
from thcodec.receiver.decoder import Frame, decode_stream
from thcodec.receiver.segment import SegmentRenderer
from thcodec.stats import stream_stats

SHIPPED = SegmentRenderer.render


def keypoints_from_base(self: SegmentRenderer, kp, base=None, scene=None):
    if base is not None:
        kp = self._loaded.model.detect_keypoints(base)
    return SHIPPED(self, kp, base, scene)


def base_alone(self: SegmentRenderer, kp, base=None, scene=None):
    if base is None or scene is not None:  # the scene layer's frames: as shipped
        return SHIPPED(self, kp, base, scene)
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


def with_fusion(loaded: LoadedModel, checkpoint: Path) -> LoadedModel:
    """The same model with the fusion network's weights from `checkpoint` (a run's EMA or an
    exported state); the stream's fusion hash still names the shipped ones, so it decodes."""
    net = Fusion()
    net.load_state_dict(network_weights(checkpoint))
    return dataclasses.replace(loaded, fusion=net.eval())


def settings(a: argparse.Namespace) -> dict[str, tuple[dict, list[str]]]:
    """name -> (what the row says of the setting, `thc encode` options): --encode's, else --setting's."""
    if a.encode:
        named = (spec.split("=", 1) for spec in a.encode)
        return {name: ({"setting": name, "options": options}, options.split()) for name, options in named}
    out = {}
    for setting in a.setting:
        size, crf = map(int, setting.split(":"))
        options = ["--mode", "hybrid", "--base-step", str(a.base_step), "--base-size", str(size), "--base-crf", str(crf)]
        out[f"{size}_{crf}_s{a.base_step}"] = ({"size": size, "crf": crf, "step": a.base_step}, options)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("refs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    p.add_argument("--setting", nargs="+", default=["96:55", "128:55", "64:50"], help="SIZE:CRF of the base layer")
    p.add_argument("--base-step", type=int, default=1, help="code every n-th frame in the base layer (thc encode --base-step)")
    p.add_argument("--encode", nargs="+", default=[], metavar='NAME="OPTIONS"', help="thc encode options instead of --setting")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument(
        "--fusion", nargs="+", default=[], metavar="NAME=CHECKPOINT", help="also decode as shipped with these fusion weights"
    )
    a = p.parse_args()
    torch.set_num_threads(1)
    loaded, fm = load_model(backend="torch"), Q.FaceMetrics()
    decoders = {name: (loaded, VARIANTS[name]) for name in a.variants}
    for spec in a.fusion:
        name, path = spec.split("=", 1)
        decoders[f"fusion:{name}"] = (with_fusion(loaded, Path(path)), SHIPPED)
    streams = a.out.parent / "streams"
    streams.mkdir(parents=True, exist_ok=True)
    for ref in a.refs:
        frames = read_lossless(ref)
        faces = fm.reference(frames)
        for name, (described, options) in settings(a).items():
            stream = encode_with_cli(ref, streams / f"{ref.stem}_{name}.thc", options)
            data, parts = stream.read_bytes(), stream_stats(stream).bytes_by_category
            for variant, (model, render) in decoders.items():
                out = decoded(data, model, render)
                face = fm.score(faces, out)
                expr = expression_scores(faces.landmarks, face.landmarks)
                row = dict(
                    clip=ref.stem, **described, variant=variant, bytes=len(data), parts=parts,
                    seconds=len(frames) / 25, psnr=Q.psnr_pair(out, frames)[0], vmaf=Q.vmaf_frames(out, ref, 25),
                    akd=face.akd, aed=face.aed, ear_error=expr.ear_error, mar_error=expr.mar_error,
                    blink_recall=expr.blink_recall,
                )  # fmt: skip
                print(json.dumps(row), flush=True)
                with a.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
