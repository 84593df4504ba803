"""Quality against loss: a .thc damaged by the loss simulator (thcodec/format/damage.py),
decoded with concealment, scored against the source and against the undamaged decode.

    python -m thcodec.bench.loss examples/demo.mp4 demo.thc [--seeds 3]
    python -m thcodec.bench.loss --refresh-cost a.thc b.thc ...

prints a Markdown table (docs/robustness.md): per damage kind and rate, the frames decoded,
the mean PSNR (RGB, mean MSE over frames) against the source and its drop from the undamaged
decode's, and the concealment counts.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from thcodec.format import container as C
from thcodec.format import damage
from thcodec.format import keypoint_bits as kpq
from thcodec.media.metrics import psnr_from_mse
from thcodec.media.video_io import VideoReader
from thcodec.models.weights import LoadedModel, load_model
from thcodec.receiver.decoder import Frame, Losses, decode_stream

KINDS = {
    "corrupt": damage.corrupt_chunks,
    "drop": damage.drop_chunks,
    "bits": damage.bit_errors,
}
CASES = [("corrupt", 0.01), ("corrupt", 0.05), ("corrupt", 0.10), ("drop", 0.01), ("drop", 0.05), ("drop", 0.10), ("bits", 1e-5)]


def decoded(data: bytes, loaded: LoadedModel) -> tuple[list[np.ndarray], Losses]:
    losses = Losses()
    frames = [e.rgb for e in decode_stream(io.BytesIO(data), loaded, losses=losses) if isinstance(e, Frame)]
    return frames, losses


def mean_psnr(frames: list[np.ndarray], source: list[np.ndarray]) -> float:
    n = min(len(frames), len(source))
    if n == 0:
        return float("nan")
    mse = np.mean([np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) for a, b in zip(frames[:n], source[:n])])
    return psnr_from_mse(float(mse))


def table(source_path: Path, thc_path: Path, seeds: int = 3, loaded: LoadedModel | None = None) -> str:
    loaded = loaded or load_model()
    with VideoReader(source_path) as reader:
        source = list(reader)
    data = thc_path.read_bytes()
    clean, _ = decoded(data, loaded)
    base = mean_psnr(clean, source)
    rows = [f"| undamaged | - | {len(clean)}/{len(clean)} | {base:.2f} | 0.00 | - |"]
    for kind, rate in CASES:
        for seed in range(seeds):
            bad = KINDS[kind](data, rate, np.random.default_rng(seed))
            frames, losses = decoded(bad, loaded)
            p = mean_psnr(frames, source)
            rows.append(
                f"| {kind} | {rate:g} (seed {seed}) | {len(frames)}/{len(clean)} | {p:.2f} | {base - p:.2f} | {losses.summary()} |"
            )
    head = "| damage | rate | frames | PSNR dB vs source | drop dB | concealed |\n|---|---|---|---|---|---|"
    return "\n".join([head, *rows])


def refresh_cost(data: bytes, every: int) -> int:
    """Bytes that `--kpts-refresh every` adds to the stream `data` (made without it): each
    segment's blocks re-coded with every n-th one independent. Exact: the sender codes the same
    fields into the same blocks, only the prediction differs."""
    chunks = [c for c, _ in C.read_chunks(io.BytesIO(data))]
    k = chunks[0].num_kp
    extra, prev, n = 0, None, 0
    for c in chunks:
        if isinstance(c, C.Pivot):
            prev, n = None, 0
        elif isinstance(c, C.KeypointBlock):
            fields = kpq.decompress_block(c.data, c.count, k, prev if c.predicted else None)
            independent = not c.predicted or n % every == 0
            extra += len(kpq.compress_block(fields, None if independent else prev)) - len(c.data)
            prev, n = fields[-1], n + 1
    return extra


def main() -> None:
    if sys.argv[1:2] == ["--refresh-cost"]:
        print("| stream | bytes | seconds | N=1 | N=2 | N=4 | N=8 |\n|---|---|---|---|---|---|---|")
        for path in sys.argv[2:]:
            data = Path(path).read_bytes()
            chunks = [c for c, _ in C.read_chunks(io.BytesIO(data))]
            head, end = chunks[0], chunks[-1]
            secs = end.frame_count * head.fps_den / head.fps_num
            cells = [f"+{100 * refresh_cost(data, n) / len(data):.2f}%" for n in (1, 2, 4, 8)]
            print(f"| {Path(path).name} | {len(data)} | {secs:.1f} | " + " | ".join(cells) + " |")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("thc", type=Path)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print(table(args.source, args.thc, args.seeds))


if __name__ == "__main__":
    main()
