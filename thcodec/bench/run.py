"""A whole benchmark: clips -> references -> every codec at every setting -> rows -> report.

Output folder:
  points.csv            every (clip, codec, setting) with its rate, quality and speed
  report.md             the Markdown report (rate-matched table, BD-rates, all points)
  plots/<clip>.png      rate-quality curves
  refs/<clip>.mkv       the lossless th256 references every codec was fed
  streams/<clip>/...    the compressed files whose sizes are the rates
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from thcodec.bench import quality as Q
from thcodec.bench.anchors import ANCHORS
from thcodec.bench.codec import Codec, Setting
from thcodec.bench.codec_names import CODECS
from thcodec.bench.expression import expression_scores
from thcodec.bench.ffmpeg import ffmpeg_exe
from thcodec.bench.hybrid_report import hybrid_section
from thcodec.bench.ours import Thc, ThcHybrid, default_setting
from thcodec.bench.report import OURS, Row, markdown, plot_clip, read_csv, write_csv
from thcodec.bench.scaled import SCALED
from thcodec.data.clips import split_clips as val_clips  # noqa: F401  (thc bench reads it from here)
from thcodec.data.reference import TH256, Condition, Reference, make_reference
from thcodec.errors import ThcError


@dataclass(frozen=True)
class BenchOptions:
    frames: int = TH256.frames
    codecs: tuple[str, ...] = CODECS
    quick: bool = False
    aed_every: int = Q.EMBED_EVERY
    resume: bool = False  # keep the points already in OUT/points.csv and measure only the missing ones
    weights: Path | None = None  # thcodec's weights folder (None: the shipped weights/)
    only: tuple[str, ...] = ()  # measure only the settings with these labels (points.csv's setting column)


@dataclass
class BenchResult:
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    csv: Path | None = None
    report: Path | None = None
    plots: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # points (or clips) that failed, with why


class Progress:
    """Callbacks of a run: start(total steps), step(description) before each step, done() after it."""

    def start(self, total: int) -> None: ...

    def step(self, what: str) -> None: ...

    def done(self) -> None: ...

    def warn(self, message: str) -> None: ...


def parse_codecs(text: str | None) -> tuple[str, ...]:
    if not text:
        return CODECS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in CODECS]
    if bad or not names:
        raise ThcError(f"unknown codec {', '.join(bad) or text!r}; choose from {','.join(CODECS)}")
    return names


def clip_names(clips: list[Path]) -> list[str]:
    """File-name-safe, unique names from the clips' stems."""
    names, seen = [], set()
    for p in clips:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", p.stem) or "clip"
        name, k = base, 2
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        names.append(name)
    return names


def make_codecs(names: tuple[str, ...], weights: Path | None = None) -> dict[str, Codec]:
    ours = {"thc": Thc, "thc_hybrid": ThcHybrid}
    return {n: (ours[n](weights) if n in ours else (ANCHORS | SCALED)[n]) for n in names}


def measure(ref: Reference, faces: Q.ReferenceFaces, fm: Q.FaceMetrics, codec: Codec, setting: Setting, out_dir: Path) -> Row:
    coded = codec.run(ref, setting, out_dir)
    if coded.decoded.shape != ref.frames.shape:
        raise ThcError(f"{codec.name} {setting.label}: decoded {coded.decoded.shape}, reference {ref.frames.shape}")
    if coded.bitstream_vmaf:
        vmaf = Q.vmaf(coded.stream, ref.path, ref.count)
    else:
        vmaf = Q.vmaf_frames(coded.decoded, ref.path, ref.fps)
    face = fm.score(faces, coded.decoded)
    expr = expression_scores(faces.landmarks, face.landmarks)
    psnr_mean, psnr_mse = Q.psnr_pair(coded.decoded, ref.frames)
    n = ref.count
    return Row(
        clip=ref.name, codec=codec.name, label=codec.label, setting=setting.label, frames=n, bytes=coded.bytes,
        kbps=coded.bytes * 8 / ref.duration_s / 1000, bpp=coded.bytes * 8 / (n * ref.size * ref.size),
        psnr=psnr_mean, psnr_mse=psnr_mse,
        ssim=Q.ssim_mean(coded.decoded, ref.frames), vmaf=vmaf,
        akd=face.akd, akd_frames=face.akd_frames, aed=face.aed, aed_frames=face.aed_frames, face_miss=face.face_miss,
        encode_fps=n / max(coded.encode_s, 1e-9), decode_fps=n / max(coded.decode_s, 1e-9),
        pivot_bytes=coded.parts.get("pivot"), keypoint_bytes=coded.parts.get("keypoints"), stream=str(coded.stream),
        ear_error=expr.ear_error, mar_error=expr.mar_error, blink_recall=expr.blink_recall, base_bytes=coded.parts.get("base"),
    )  # fmt: skip


def _only(codecs: dict, labels: tuple[str, ...]) -> dict:
    """Each codec's settings (quick or full sweep) whose label is one of labels."""
    plan, found = {}, set()
    for name, codec in codecs.items():
        every = {s.label: s for s in (*codec.settings(False), *codec.settings(True))}
        plan[name] = [every[label] for label in labels if label in every]
        found |= set(every) & set(labels)
    missing = [label for label in labels if label not in found]
    if missing:
        raise ThcError(f"--only {missing[0]}: no codec measured has that setting (see points.csv's setting column)")
    return plan


def _check_eval_extra() -> None:
    """The scores, the report's BD-rates and its plots need the eval extra: say so before the
    first point, not after an hour of measuring."""
    from importlib.util import find_spec

    missing = [m for m in ("imageio_ffmpeg", "matplotlib", "scipy") if find_spec(m) is None]
    if missing:
        raise ThcError(f"the benchmark needs {', '.join(missing)}: pip install 'thcodec[eval]'")


def run_bench(clips: list[Path], out: Path, opts: BenchOptions, progress: Progress | None = None) -> BenchResult:
    progress = progress or Progress()
    if not clips:
        raise ThcError("no clips to measure")
    for c in clips:
        if not c.is_file():
            raise ThcError(f"{c}: no such file")
    _check_eval_extra()
    if any(n != "frozen" for n in opts.codecs):
        ffmpeg_exe()
    cond = Condition(frames=opts.frames)
    codecs = make_codecs(opts.codecs, opts.weights)
    plan = {n: c.settings(opts.quick) for n, c in codecs.items()} if not opts.only else _only(codecs, opts.only)
    progress.start(len(clips) * (1 + sum(len(s) for s in plan.values())))
    fm = Q.FaceMetrics()
    result = BenchResult()
    out.mkdir(parents=True, exist_ok=True)
    result.csv = out / "points.csv"
    if opts.resume and result.csv.exists():
        result.rows = read_csv(result.csv)
    done = {(r.clip, r.codec, r.setting) for r in result.rows}

    def warn(msg: str) -> None:
        result.warnings.append(msg)
        progress.warn(msg)

    for clip, name in zip(clips, clip_names(clips)):
        progress.step(f"{name}: reference")
        try:
            ref = make_reference(clip, out / "refs", name, cond)
            faces = fm.reference(ref.frames, opts.aed_every)
        except ThcError as e:
            warn(f"{name}: skipped ({e})")
            for _ in range(sum(len(s) for s in plan.values())):
                progress.done()
            progress.done()
            continue
        for w in ref.warnings:
            warn(w)
        if faces.faces == 0:
            warn(f"{name}: no face in any reference frame, AKD and AED are not measured")
        progress.done()
        streams = out / "streams" / name
        streams.mkdir(parents=True, exist_ok=True)
        for cname, codec in codecs.items():
            for setting in plan[cname]:
                progress.step(f"{name}: {cname} {setting.label}")
                if (name, cname, setting.label) in done:
                    progress.done()
                    continue
                try:
                    result.rows.append(measure(ref, faces, fm, codec, setting, streams))
                except ThcError as e:
                    warn(f"{name}: {cname} {setting.label} failed: {e}")
                    result.failures.append(f"{name}: {cname} {setting.label}: {e}")
                progress.done()
                write_csv(result.rows, result.csv)  # partial results survive an interruption
    if not result.rows:
        raise ThcError("no point was measured: " + "; ".join(result.warnings[-3:]))
    write_report(result, out, make_codecs(tuple(dict.fromkeys(r.codec for r in result.rows))), opts)
    return result


# --------------------------------------------------------------------------- on a Dask cluster
# The unit of work is one (clip, codec, setting) point. Each clip's reference and its faces are
# made once (a task per clip, pickled beside refs/<clip>.mkv); every point's task reads them back,
# once per worker process, and measures as the serial run does. thcodec.cluster starts the cluster.


def prepare_clip(clip: Path, name: str, out: Path, frames: int, aed_every: int) -> tuple[list[str], int]:
    """Task: the clip's reference and faces to out/refs/<name>.pkl -> (warnings, frames with a face)."""
    ref = make_reference(clip, out / "refs", name, Condition(frames=frames))
    faces = _face_metrics().reference(ref.frames, aed_every)
    with open(out / "refs" / f"{name}.pkl", "wb") as f:
        pickle.dump((ref, faces), f, protocol=pickle.HIGHEST_PROTOCOL)
    return ref.warnings, faces.faces


@lru_cache(maxsize=1)
def _face_metrics() -> Q.FaceMetrics:
    return Q.FaceMetrics()


@lru_cache(maxsize=2)
def _prepared(path: Path) -> tuple[Reference, Q.ReferenceFaces]:
    with open(path, "rb") as f:
        return pickle.load(f)


@lru_cache(maxsize=4)
def _codec(name: str, weights: Path | None) -> Codec:
    return make_codecs((name,), weights)[name]


def measure_point(name: str, codec_name: str, setting: Setting, out: Path, weights: Path | None) -> Row:
    """Task: one point, as run_bench measures it."""
    import torch

    torch.set_num_threads(1)  # one task a worker; the workers share the cores
    ref, faces = _prepared(out / "refs" / f"{name}.pkl")
    streams = out / "streams" / name
    streams.mkdir(parents=True, exist_ok=True)
    return measure(ref, faces, _face_metrics(), _codec(codec_name, weights), setting, streams)


def run_bench_cluster(clips: list[Path], out: Path, opts: BenchOptions, client, progress: Progress | None = None) -> BenchResult:
    """run_bench with every clip's reference and every point a task on the Dask client's cluster
    (thcodec.cluster.dask_client); failures are listed in result.failures, not raised."""
    from thcodec.cluster import run_tasks

    progress = progress or Progress()
    codecs = make_codecs(opts.codecs, opts.weights)
    plan = {n: c.settings(opts.quick) for n, c in codecs.items()} if not opts.only else _only(codecs, opts.only)
    names = clip_names(clips)
    result = BenchResult(csv=out / "points.csv")
    out.mkdir(parents=True, exist_ok=True)
    if opts.resume and result.csv.exists():
        result.rows = read_csv(result.csv)
    done = {(r.clip, r.codec, r.setting) for r in result.rows}
    points = [(n, c, s, out, opts.weights) for n in names for c in plan for s in plan[c] if (n, c, s.label) not in done]
    progress.start(len(clips) + len(points))

    def finished(label: str, error: str | None) -> None:
        if error:
            result.failures.append(f"{label}: {error}")
            progress.warn(f"{label} failed: {error}")
        progress.done()

    prepared = run_tasks(
        client, prepare_clip, [(c, n, out, opts.frames, opts.aed_every) for c, n in zip(clips, names)], names, finished
    )
    ready = {names[i] for i in prepared.results}
    for i, (warnings, seen) in prepared.results.items():
        result.warnings += warnings + (
            [f"{names[i]}: no face in any reference frame, AKD and AED are not measured"] if not seen else []
        )
    for _ in [p for p in points if p[0] not in ready]:  # a failed clip's points are not run
        progress.done()
    points = [p for p in points if p[0] in ready]
    labels = [f"{n}: {c} {s.label}" for n, c, s, _, _ in points]
    measured = run_tasks(client, measure_point, points, labels, finished)
    result.rows += [measured.results[i] for i in sorted(measured.results)]
    write_csv(result.rows, result.csv)
    if not result.rows:
        raise ThcError("no point was measured: " + "; ".join(result.failures[-3:]))
    write_report(result, out, make_codecs(tuple(dict.fromkeys(r.codec for r in result.rows))), opts)
    return result


def write_report(result: BenchResult, out: Path, codecs: dict[str, Codec], opts: BenchOptions) -> None:
    labels = {n: c.label for n, c in codecs.items()}
    notes = [
        f"Condition th256: square face crop, 256x256, 25 fps, first {opts.frames} frames, lossless reference; "
        "rates from the compressed files' sizes.",
        "VMAF: libvmaf vmaf_v0.6.1 pooled mean; AKD: mean distance of dlib's 68 landmarks (px at 256, "
        f"reference face box); AED: dlib 128-D embedding distance on every {opts.aed_every}th frame.",
        "PSNR: RGB, mean over frames of each frame's PSNR (capped at 100 dB); PSNR of MSE: of the clip's mean squared "
        "error (ffmpeg's psnr filter on gbrp calls it 'average'). Anchors are decoded by ffmpeg (BT.601 limited range, "
        "as tagged in their streams) and their VMAF is measured on the stream files themselves.",
        f"Settings: {'quick' if opts.quick else 'full'} sweeps. Speeds (fps) are wall-clock on this machine, "
        "including reading the reference (encode) and converting to RGB (decode).",
    ]
    notes += [f"Warning: {w}" for w in result.warnings]
    result.report = out / "report.md"
    default = default_setting().label if OURS in codecs else None
    text = markdown(result.rows, labels, "thcodec benchmark (th256)", notes, default)
    result.report.write_text(text + "\n" + "\n".join(hybrid_section(result.rows)))
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    for clip in dict.fromkeys(r.clip for r in result.rows):
        path = plots / f"{clip}.png"
        plot_clip([r for r in result.rows if r.clip == clip], labels, path, f"{clip} (th256)")
        result.plots.append(path)
