"""Speed of the CPU backends, side by side in one run: eager torch in float32 (the yardstick)
against onnxruntime's graphs (THC_BACKEND=onnx) and against torch with bfloat16 convolutions
(THC_PRECISION=bf16), on the same inputs, per network stage; and for whole `thc` commands, the
eager float32 path with glibc's malloc as it comes against the default (bfloat16 convolutions
where the CPU has AMX, freed memory kept for the next batch: thcodec/allocator.py).

    python -m thcodec.bench.speed [--data DATA | --clip VIDEO] [--threads 2 1] [--reps 5] [--doc docs/speed.md]

Stages (medians of --reps runs, the three alternating so that a change in the machine's
load hits all alike): key-point detection, dense motion + generator, fusion (the shipped
network, or a seeded one where weights/onnx has none), super-resolution 256->512, each at
batch 8 and 256x256, at every --threads count. The clip: --clip, else the first val clip of
--data's manifest, else examples/demo.mp4. Commands: `thc encode` and `thc decode` of a
10-second th256 stream (the clip's th256 reference), `thc decode` of a 1-frame stream
(start-up), `thc --help` and `thc stats`, each in a fresh process with THC_BACKEND,
THC_PRECISION, OMP_NUM_THREADS and THC_THREADS set; then where the time of that encode and
decode goes, per stage (thcodec.bench.profile). Output equality: the decoded frames of the
default against the eager float32 path's (max |difference|, PSNR of one against the other;
thcodec.bench.cheaper_receiver scores both against the references) and whether the two encoders
write the same .thc bytes.
The tables go to --doc between the BEGIN/END markers (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thcodec.allocator import keep_freed_memory
from thcodec.threads import sleep_when_idle

sleep_when_idle()  # the stage rows measure what `thc` runs: set before torch loads OpenMP
keep_freed_memory()  # as `thc decode` does: the stages are the receiver's

import numpy as np
import torch

from thcodec.data.clips import split_clips
from thcodec.errors import ThcError

BATCH = 8
BEGIN, END = "<!-- BEGIN bench-speed -->", "<!-- END bench-speed -->"


def _medians(*fns, reps: int) -> list[float]:
    """Median seconds of each fn(), the fns alternating, after one warm-up call each."""
    for f in fns:
        f()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for f, ts in zip(fns, times):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def _max_diff(a, b) -> float:
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def _in_bf16(f):
    from thcodec.models.blocks import bf16_convolutions

    def run():
        with bf16_convolutions():
            return f()

    return run


def _seeded_fusion():
    from thcodec.models.fusion import Fusion

    torch.manual_seed(0)
    f = Fusion().eval()
    torch.nn.init.normal_(f.out.weight, std=0.02)  # an untrained output layer is all zeros
    return f


def stage_rows(threads: int, reps: int, fusion_dir: Path | None) -> list[tuple]:
    """(stage, torch s, onnx s, its max |diff|, torch bf16 s, its max |diff|) per network stage,
    at `threads` intra-op threads; the bf16 pair is None for the key-point detector, which the
    codec runs in float32. The inputs are noise: there a flow a tenth of a pixel off moves a
    warped pixel by up to half the range, so bf16's max |diff| is large; bench.cheaper_receiver judges
    the picture on real clips."""
    from thcodec.models.backend import OrtFusion, OrtSuperResolution, OrtTalkingHead, Sessions, bf16_supported, onnx_sessions
    from thcodec.models.keypoints import Keypoints
    from thcodec.models.super_resolution import PivotDetail
    from thcodec.models.weights import load_model, weights_dir

    torch.set_num_threads(threads)
    eager = load_model(backend="torch")
    sessions = onnx_sessions(weights_dir(), threads)
    ort_th = OrtTalkingHead(eager.model, sessions)
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(BATCH, 3, 256, 256, generator=g)
    with torch.inference_mode():
        pivot = frames[:1].expand(BATCH, -1, -1, -1)
        kp = eager.model.detect_keypoints(frames)
        src = Keypoints(kp.xy[:1], kp.jacobian[:1]).expand(BATCH)
        rows = []

        def row(name, fa, fb, bf16=bf16_supported()):
            if not bf16:
                ta, tb = _medians(fa, fb, reps=reps)
                rows.append((name, ta, tb, _max_diff(fa(), fb()), None, None))
                return
            fc = _in_bf16(fa)
            ta, tb, tc = _medians(fa, fb, fc, reps=reps)
            a = fa()
            rows.append((name, ta, tb, _max_diff(a, fb()), tc, _max_diff(a, fc())))

        row(
            "key-point detection (B=8)",
            lambda: tuple(vars(eager.model.detect_keypoints(frames)).values()),
            lambda: tuple(vars(ort_th.detect_keypoints(frames)).values()),
            bf16=False,  # float32 in the codec: the receiver's pivot key points must be the sender's
        )
        row(
            "dense motion + generator (B=8)",
            lambda: eager.model.animate_with_motion(pivot, src, kp),
            # the graph itself: the codec runs this stage in torch (it measured faster)
            lambda: tuple(sessions.run("animator", pivot, src.xy, src.jacobian, kp.xy, kp.jacobian)),
        )
        gen, flow, occ = eager.model.animate_with_motion(pivot, src, kp)
        gen = gen.clamp(0, 1)
        fusion = ort_fusion = None
        if eager.fusion is not None and "fusion" in sessions:  # the shipped network and its graph
            fusion, ort_fusion = eager.fusion, OrtFusion(eager.fusion, sessions)
        elif fusion_dir is not None:
            fusion = _seeded_fusion()
            ort_fusion = OrtFusion(fusion, Sessions(fusion_dir, {"fusion": "seeded"}, threads))
        if fusion is not None:
            base = torch.nn.functional.avg_pool2d(frames, 4).repeat_interleave(4, -1).repeat_interleave(4, -2)
            row("fusion (B=8)", lambda: fusion(base, gen, occ), lambda: ort_fusion(base, gen, occ))
        if eager.super_resolution is not None:
            detail = PivotDetail(torch.nn.functional.interpolate(frames[:1], size=(512, 512), mode="bicubic"), frames[:1])
            ort_sr = OrtSuperResolution(eager.super_resolution, sessions)
            row(
                "super-resolution 256->512 (B=8)",
                lambda: eager.super_resolution(gen, flow, occ, detail),
                lambda: ort_sr(gen, flow, occ, detail),
            )
    return rows


def export_seeded_fusion(out: Path) -> Path | None:
    """The seeded fusion network exported like the shipped ones, for its stage row; None
    without the exporter's packages."""
    try:
        import json

        from thcodec.models.export_onnx import Graph, export_graph

        f = _seeded_fusion()
        g = torch.Generator().manual_seed(1)
        img = torch.rand(2, 3, 256, 256, generator=g)
        graph = Graph(
            "fusion",
            f,
            ("fusion",),
            (img, img.flip(-1), torch.rand(2, 1, 64, 64, generator=g)),
            ("base", "animated", "occlusion"),
            ("out",),
        )
        out.mkdir(parents=True, exist_ok=True)
        export_graph(graph, out / "fusion.onnx")
        import hashlib

        sha = hashlib.sha256((out / "fusion.onnx").read_bytes()).hexdigest()
        (out / "manifest.json").write_text(
            json.dumps({"files": [{"graph": "fusion", "file": "fusion.onnx", "sha256": sha, "sources": {"fusion": "seeded"}}]})
        )
        return out
    except ImportError as e:
        print(f"fusion row skipped: {e}", file=sys.stderr)
        return None


def _thc() -> list[str]:
    return [sys.executable, "-c", "from thcodec.cli import run; run()"]


# The yardstick (eager torch in float32, glibc's malloc as it comes) and the default (bf16
# convolutions where there is AMX, freed blocks kept: thcodec/allocator.py).
PATHS = {
    "eager": {"THC_BACKEND": "torch", "THC_PRECISION": "fp32", "THC_MALLOC": "default"},
    "default": {"THC_BACKEND": "auto", "THC_PRECISION": "auto", "THC_MALLOC": "keep"},
}


def _timed(cmd: list[str], path: str, threads: int) -> float:
    env = dict(os.environ, **PATHS[path], OMP_NUM_THREADS=str(threads), THC_THREADS=str(threads), PYTHONWARNINGS="ignore")
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def command_rows(stream: Path, one_frame: Path, clip: Path, work: Path, threads: int, reps: int):
    """(what, eager float32 s, default s) for whole commands in fresh processes."""
    thc = _thc()
    cases = [
        ("`thc decode` 10-s 256x256 stream", thc + ["decode", str(stream), str(work / "out.mp4"), "--force", "--quiet"], reps),
        (
            "`thc decode --generator light` 10-s 256x256 stream",
            thc + ["decode", str(stream), str(work / "out.mp4"), "--generator", "light", "--force", "--quiet"],
            reps,
        ),
        (
            "`thc encode` 10-s 256x256 clip",
            thc + ["encode", str(clip), str(work / "enc.thc"), "--force", "--quiet"],
            max(1, reps // 2),
        ),
        (
            "`thc decode` 1-frame stream (start-up)",
            thc + ["decode", str(one_frame), str(work / "one.mp4"), "--force", "--quiet"],
            reps,
        ),
        ("`thc --help`", thc + ["--help"], reps),
        ("`thc stats` 10-s stream", thc + ["stats", str(stream)], reps),
    ]
    rows = []
    for name, cmd, n in cases:
        ta, tb = [], []
        for _ in range(n):
            ta.append(_timed(cmd, "eager", threads))
            tb.append(_timed(cmd, "default", threads))
        rows.append((name, statistics.median(ta), statistics.median(tb)))
    return rows


def equality(stream: Path, clip: Path, work: Path) -> dict:
    """Decoded frames of the default against the eager float32 path's; the .thc bytes of both encoders."""
    from thcodec.bench.codec import decode_frames
    from thcodec.models.weights import load_model

    a = decode_frames(stream, load_model(backend="torch"), precision="fp32").astype(np.float64)
    b = decode_frames(stream, load_model()).astype(np.float64)
    mse = float(((a - b) ** 2).mean())
    per_frame = ((a - b) ** 2).reshape(len(a), -1).mean(1)
    worst = float(10 * np.log10(255**2 / per_frame.max())) if per_frame.max() > 0 else float("inf")
    same = {}
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    for path, settings in PATHS.items():
        out = work / f"eq_{path}.thc"
        subprocess.run(
            _thc() + ["encode", str(clip), str(out), "--force", "--quiet"],
            check=True,
            env=dict(env, **settings),
            stdout=subprocess.DEVNULL,
        )
        same[path] = out.read_bytes()
    return {
        "frames": len(a),
        "max_abs": float(np.abs(a - b).max()),
        "mean_abs": float(np.abs(a - b).mean()),
        "psnr": float(10 * np.log10(255**2 / mse)) if mse > 0 else float("inf"),
        "worst_frame_psnr": worst,
        "same_thc_bytes": same["eager"] == same["default"],
        "thc_bytes": (len(same["eager"]), len(same["default"])),
    }


def make_inputs(clip: Path, work: Path) -> tuple[Path, Path, Path, int]:
    """-> (th256 reference clip, its .thc stream (torch encoder), a 1-frame .thc, frame count)."""
    from thcodec.data.reference import make_reference

    ref = make_reference(clip, work, "ref")
    env = dict(os.environ, THC_BACKEND="torch", PYTHONWARNINGS="ignore")
    stream, one = work / "ref.thc", work / "one.thc"
    subprocess.run(_thc() + ["encode", str(ref.path), str(stream), "--force", "--quiet"], check=True, env=env)
    from thcodec.data.reference import write_lossless

    write_lossless(ref.frames[:1], work / "one.mkv", ref.fps)
    subprocess.run(_thc() + ["encode", str(work / "one.mkv"), str(one), "--force", "--quiet"], check=True, env=env)
    print(f"reference: {ref.count} frames, {ref.duration_s:.1f} s at {ref.size}x{ref.size}", file=sys.stderr)
    return ref.path, stream, one, ref.count


def _fmt(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def stage_profiles(stream: Path, clip: Path, work: Path, threads: list[int]) -> dict[tuple[str, int], dict[str, float]]:
    """Per-stage seconds of `thc encode` and `thc decode` of the 10-s clip (default backend, one run each)."""
    from thcodec.bench.profile import profile

    out = {}
    for t in threads:
        out[("encode", t)] = profile(["encode", str(clip), str(work / "prof.thc"), "--force", "--quiet"], t)
        out[("decode", t)] = profile(["decode", str(stream), str(work / "prof.mp4"), "--force", "--quiet"], t)
    return out


def report(clip: Path, stages: dict, commands: dict, profiles: dict, eq: dict, loads: list[float], reps: int, frames: int) -> str:
    import onnxruntime

    from thcodec.bench.profile import table as profile_table

    lines = [
        BEGIN,
        (
            f"Measured by `python -m thcodec.bench.speed` (`make bench-speed`) on {os.cpu_count()} cores, "
            f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; clip {clip.name} as its th256 reference "
            f"({frames} frames), AMX {'present' if torch.cpu._is_amx_tile_supported() else 'absent'}. Medians of {reps} "
            "runs, the columns alternating; load average during the run "
            f"{min(loads):.1f}-{max(loads):.1f} (the machine was {'busy' if max(loads) > 1.5 else 'quiet'}: compare "
            "the two columns of one row, not rows of different runs)."
        ),
        "",
        "| stage | threads | torch, float32 | onnxruntime | speed-up | max abs diff | torch, bf16 convolutions | speed-up | max abs diff |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t, rows in stages.items():
        for name, ta, tb, db, tc, dc in rows:
            bf16 = "- | - | -" if tc is None else f"{_fmt(tc)} | {ta / tc:.2f}x | {dc:.1e}"
            lines.append(f"| {name} | {t} | {_fmt(ta)} | {_fmt(tb)} | {ta / tb:.2f}x | {db:.1e} | {bf16} |")
    lines += [
        "",
        "| command (fresh process, start-up included) | threads | eager: THC_BACKEND=torch THC_PRECISION=fp32 "
        "THC_MALLOC=default | default: bf16 where AMX, freed memory kept | speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for t, rows in commands.items():
        for name, ta, tb in rows:
            fps = f" ({frames / ta:.0f} / {frames / tb:.0f} fps)" if "10-s" in name else ""
            lines.append(f"| {name}{fps} | {t} | {_fmt(ta)} | {_fmt(tb)} | {ta / tb:.2f}x |")
    if profiles:
        lines += [
            "",
            "Where the time goes (`python -m thcodec.bench.profile`): each command once, in a fresh process, the "
            "default backend; each stage's own time (a stage inside another counts once), 'other' is what no "
            "timer covers (reading the stream, the key-point timeline, the CLI). Stages marked 'second thread' "
            "ran beside the main thread's: they overlap the rest and are not part of the sum to the wall.",
            "",
            *profile_table(profiles),
        ]
    lines += [
        "",
        f"Output: the {eq['frames']} decoded frames of the default against the eager float32 path's: max |difference| "
        f"{eq['max_abs']:.0f} of 255, mean {eq['mean_abs']:.4f}, PSNR {eq['psnr']:.1f} dB (worst frame "
        f"{eq['worst_frame_psnr']:.1f} dB). The encoders' .thc bytes: "
        + ("identical." if eq["same_thc_bytes"] else f"differ ({eq['thc_bytes'][0]} vs {eq['thc_bytes'][1]} bytes)."),
        END,
    ]
    return "\n".join(lines) + "\n"


def write_doc(doc: Path, table: str) -> None:
    text = doc.read_text() if doc.exists() else "# Speed\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + table + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + table
    doc.write_text(text)


def default_clip(data: Path) -> Path:
    """The first val clip of data's manifest; the example clip where there is no manifest."""
    try:
        return split_clips(data, "val")[0]
    except ThcError:
        return Path("examples/demo.mp4")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="its first val clip is the default --clip")
    p.add_argument("--clip", type=Path, help="the clip measured (default: see --data)")
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--doc", type=Path, default=Path("docs/speed.md"))
    p.add_argument("--no-commands", action="store_true", help="network stages only")
    a = p.parse_args(argv)
    a.clip = a.clip or default_clip(a.data)
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="thc-speed-") as tmp:
        work = Path(tmp)
        from thcodec.models.manifest import read_manifest
        from thcodec.models.weights import weights_dir

        shipped = any(e.get("graph") == "fusion" for e in read_manifest(weights_dir() / "onnx").get("files", []))
        fusion_dir = None if shipped else export_seeded_fusion(work / "fusion")
        stages, commands, profiles = {}, {}, {}
        for t in a.threads:
            stages[t] = stage_rows(t, a.reps, fusion_dir)
            loads.append(os.getloadavg()[0])
        torch.set_num_threads(max(a.threads))
        ref, stream, one, frames = make_inputs(a.clip, work)
        if not a.no_commands:
            for t in a.threads:
                commands[t] = command_rows(stream, one, ref, work, t, max(1, a.reps // 2 + 1))
                loads.append(os.getloadavg()[0])
            profiles = stage_profiles(stream, ref, work, a.threads)
            loads.append(os.getloadavg()[0])
        eq = equality(stream, ref, work)
        loads.append(os.getloadavg()[0])
    table = report(a.clip, stages, commands, profiles, eq, loads, a.reps, frames)
    print(table)
    write_doc(a.doc, table)


if __name__ == "__main__":
    main()
