"""Quality against loss: a .thc damaged by the loss simulator (thcodec/format/damage.py),
decoded with concealment, scored against the source and against the undamaged decode.

    python -m thcodec.bench.loss examples/demo.mp4 demo.thc [--seeds 3]
    python -m thcodec.bench.loss --refresh-cost a.thc b.thc ...
    python -m thcodec.bench.loss --val --refs REFS --seeds 4 [--kinds truncate] --jsonl rows.jsonl S/clip.n0.thc ...

prints a Markdown table (docs/robustness.md): per damage kind and rate, the frames decoded,
the mean PSNR (RGB, mean MSE over frames) against the source and its drop from the undamaged
decode's, and the concealment counts. `--val` does it for many streams (`NAME.nN.thc`: the
clip NAME, whose source is REFS/NAME.mkv, encoded with --kpts-refresh N) and summarises per N:
each damage case's mean and worst drop over clips and seeds, and whether every decode had the
right frame count, size and rate and reported its losses (exit code 3).

Decodes are cheap enough for that only because frames are cached by what they are rendered
from (the pivot picture and the frame's key points): a damaged stream re-renders only the
frames its concealment changed. Cached frames were rendered in other batches than a plain
decode would use, which can move a pixel value by one: far below the drops measured.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.format import damage
from thcodec.format import keypoint_bits as kpq
from thcodec.media.metrics import psnr_from_mse
from thcodec.media.video_io import VideoReader
from thcodec.models.interpolator import Interpolator
from thcodec.models.keypoints import Keypoints
from thcodec.models.weights import LoadedModel, load_model
from thcodec.receiver.decoder import Frame, Losses, Start, decode_stream
from thcodec.receiver.segment import SegmentRenderer

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


# a 10-s stream with one pivot: the pivot is about half its bytes, so a cut at 50% falls inside it
VAL_CASES = [*CASES, ("truncate", 0.5), ("truncate", 0.75), ("truncate", 0.9)]


@contextmanager
def render_cache():
    """SegmentRenderer.render with every frame cached by (pivot picture, region, output size,
    key points), and the interpolation network by its inputs: decoding many damaged copies of
    a stream renders each distinct frame once."""
    plain = SegmentRenderer.render
    frames: dict[bytes, np.ndarray] = {}

    def render(self, kp: Keypoints, base=None) -> list[np.ndarray]:
        if base is not None:
            return plain(self, kp, base)
        tag = self.__dict__.get("_bench_tag")
        if tag is None:
            pic = self.segment.picture
            tag = hashlib.sha1(pic.tobytes() + repr((self.region, self.background.shape)).encode()).digest()
            self._bench_tag = tag
        keys = [tag + kp.xy[i].numpy().tobytes() + kp.jacobian[i].numpy().tobytes() for i in range(kp.xy.shape[0])]
        missing, seen = [], set()
        for i, k in enumerate(keys):
            if k not in frames and k not in seen:
                seen.add(k)
                missing.append(i)
        if missing:
            for i, f in zip(missing, plain(self, Keypoints(kp.xy[missing], kp.jacobian[missing]))):
                frames[keys[i]] = f
        return [frames[k] for k in keys]

    interp_plain, interpolated = Interpolator.forward, {}

    def interp(self, *args: torch.Tensor) -> torch.Tensor:
        key = b"".join(a.numpy().tobytes() + bytes(str(a.shape), "ascii") for a in args)
        if key not in interpolated:
            interpolated[key] = interp_plain(self, *args)
        return interpolated[key]

    SegmentRenderer.render, Interpolator.forward = render, interp
    try:
        yield frames
    finally:
        SegmentRenderer.render, Interpolator.forward = plain, interp_plain


def _decode_checked(data: bytes, loaded: LoadedModel) -> tuple[list[np.ndarray], Losses, tuple | None, str]:
    """-> (frames, losses, (width, height, fps) from Start, error message or "")."""
    losses, frames, start = Losses(), [], None
    try:
        for e in decode_stream(io.BytesIO(data), loaded, losses=losses):
            if isinstance(e, Start):
                start = (*e.size, e.fps)
            elif isinstance(e, Frame):
                frames.append(e.rgb)
    except ThcError as e:
        return frames, losses, start, str(e)
    return frames, losses, start, ""


def _damaged(data: bytes, kind: str, rate: float, seed: int) -> bytes:
    if kind == "truncate":
        return damage.truncate(data, rate)
    # one generator per (case, seed): at a few chunks a stream, 1%, 5% and 10% all pick one
    # chunk, and the same seed would pick the same one
    rng = np.random.default_rng([seed, list(KINDS).index(kind), round(rate * 1e6)])
    return KINDS[kind](data, rate, rng)


def val_rows(
    stream: Path, source: list[np.ndarray], loaded: LoadedModel, seeds: int, cases: list[tuple[str, float]] = VAL_CASES
) -> list[dict]:
    """Every damage case (cases x seeds) of one stream -> one dict per decode."""
    data = stream.read_bytes()
    clean, _, want, err = _decode_checked(data, loaded)
    if err:
        raise ThcError(f"{stream}: the undamaged stream does not decode: {err}")
    base = mean_psnr(clean, source)
    m = re.match(r"(.+)\.n(\d+)$", stream.stem)
    name, n = (m.group(1), int(m.group(2))) if m else (stream.stem, 0)
    rows = []
    for kind, rate in cases:
        for seed in range(1 if kind == "truncate" else seeds):
            bad = _damaged(data, kind, rate, seed)
            frames, losses, start, err = _decode_checked(bad, loaded)
            p = mean_psnr(frames, source) if frames else float("nan")
            same = len(frames) == len(clean) and all(a is b or np.array_equal(a, b) for a, b in zip(frames, clean))
            ref = base if len(frames) == len(clean) else mean_psnr(clean[: len(frames)], source)  # truncated: its part
            rows.append(
                dict(
                    clip=name, n=n, bytes=len(data), kind=kind, rate=rate, seed=seed, frames=len(frames), want=len(clean),
                    shape_ok=start == want and all(f.shape == clean[0].shape for f in frames),
                    lossy=bool(losses) or same, error=err, psnr=p, base=ref, drop=ref - p,
                    losses=losses.summary(),
                )
            )  # fmt: skip
    return rows


def val_summary(rows: list[dict]) -> str:
    """Per damage case and N: mean and worst PSNR drop over clips and seeds, and the decodes
    that failed a check (frame count, size/rate, losses reported, an error)."""
    ns = sorted({r["n"] for r in rows})
    by = defaultdict(list)
    for r in rows:
        by[(r["kind"], r["rate"], r["n"])].append(r)
    head = "| damage | " + " | ".join(f"N={n}: drop dB mean / median / worst" for n in ns) + " | decodes, all N | checks failed |"
    lines = [head, "|---|" + "---|" * (len(ns) + 2)]
    for kind, rate in [c for c in VAL_CASES if any((r["kind"], r["rate"]) == c for r in rows)]:
        cells, total, bad = [], 0, []
        for n in ns:
            rs = by[(kind, rate, n)]
            drops = [r["drop"] for r in rs if not r["error"] and r["frames"]]
            cells.append(f"{np.mean(drops):.2f} / {np.median(drops):.2f} / {max(drops):.2f}" if drops else "-")
            total += len(rs)
            for r in rs:
                right = r["frames"] == r["want"] or (kind == "truncate" and r["frames"] > 0)
                if r["error"] or not right or not r["shape_ok"] or not r["lossy"]:
                    bad.append(
                        f"{r['clip']} N={r['n']} seed {r['seed']}: {r['error'] or r['losses']} ({r['frames']}/{r['want']})"
                    )
        label = f"truncate at {rate:.0%}" if kind == "truncate" else f"{kind} {rate:g}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {total} | {len(bad)}{': ' + '; '.join(bad[:3]) if bad else ''} |")
    return "\n".join(lines)


def val_main(args: argparse.Namespace) -> None:
    loaded, rows = load_model(), []
    cases = [c for c in VAL_CASES if not args.kinds or c[0] in args.kinds]
    done = set()
    if args.jsonl and args.jsonl.exists():  # resume
        rows = [json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip()]
        done = {(r["clip"], r["n"]) for r in rows}
    by_clip = defaultdict(list)
    for s in args.streams:
        by_clip[re.sub(r"\.n\d+$", "", s.stem)].append(s)
    for name, streams in by_clip.items():
        with VideoReader(args.refs / f"{name}.mkv") as reader:
            source = list(reader)
        with render_cache():  # one cache per clip: its streams at every N share their frames
            for s in streams:
                m = re.match(r"(.+)\.n(\d+)$", s.stem)
                if m and (m.group(1), int(m.group(2))) in done:
                    continue
                t = time.time()
                new = val_rows(s, source, loaded, args.seeds, cases)
                rows += new
                if args.jsonl:
                    with args.jsonl.open("a") as f:
                        f.writelines(json.dumps(r) + "\n" for r in new)
                print(f"{s.name}: {len(new)} decodes, {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    print(val_summary(rows))


def main() -> None:
    if sys.argv[1:2] == ["--summary"]:  # the table again from a --val run's rows
        print(val_summary([json.loads(line) for p in sys.argv[2:] for line in Path(p).read_text().splitlines() if line]))
        return
    if sys.argv[1:2] == ["--val"]:
        ap = argparse.ArgumentParser(description="the loss table over many streams")
        ap.add_argument("--val", action="store_true")
        ap.add_argument("--refs", type=Path, required=True)
        ap.add_argument("--seeds", type=int, default=4)
        ap.add_argument("--jsonl", type=Path)
        ap.add_argument("--kinds", nargs="+", choices=[*KINDS, "truncate"], help="only these damage kinds")
        ap.add_argument("streams", type=Path, nargs="+")
        val_main(ap.parse_args())
        return
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
