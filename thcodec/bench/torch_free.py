"""Could the receiver start without torch? Issue 20 asks for a `thc decode` start-up of at most
1.5 s and for real time on one core; importing torch alone takes most of that start-up. This
bench measures, side by side in one run, what a receiver that never imports torch could use:

- imports, each in a fresh process, alternating: torch, onnxruntime, OpenVINO (when
  installed: `pip install openvino`; it is no dependency of the codec), and the codec's own
  command line (what `thc decode` imports before its first network);
- dense motion + generator at batch 8 (the stage that is most of a decode: docs/speed.md), at
  each --threads count: eager torch (what the codec runs) against the same networks as an
  ONNX graph under onnxruntime and under OpenVINO (float32), for the shipped generator and the
  light one (`thc decode --generator light`), the runtimes alternating.

    python -m thcodec.bench.torch_free [--threads 2 1] [--reps 7] [--out OUT]

The graphs are exported from the shipped weights into OUT (or a temporary folder); the inputs
are noise frames, as in thcodec.bench.speed's stage rows.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thcodec.allocator import keep_freed_memory
from thcodec.threads import sleep_when_idle

sleep_when_idle()  # as `thc decode` runs torch: set before torch loads OpenMP
keep_freed_memory()

import numpy as np
import torch

BATCH = 8
IMPORTS = {
    "torch": "import torch",
    "onnxruntime": "import onnxruntime",
    "openvino": "import openvino",
    "the codec's command line (no torch)": "import thcodec.cli",
}


def has_openvino() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def import_times(reps: int) -> dict[str, float]:
    """Median wall seconds of `python -c STATEMENT` per import, fresh processes, alternating
    (the interpreter's own start-up included: it is part of any command's)."""
    names = [n for n in IMPORTS if n != "openvino" or has_openvino()]
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(reps):
        for n in names:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", IMPORTS[n]], check=True)
            times[n].append(time.perf_counter() - t)
    times["python alone"] = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times["python alone"].append(time.perf_counter() - t)
    return {n: statistics.median(ts) for n, ts in times.items()}


def export_animators(out: Path) -> dict[str, Path]:
    """The animator graph (dense motion + generator) of the shipped and the light generator."""
    from thcodec.models.export_onnx import export_graph, graphs
    from thcodec.models.weights import load_model

    loaded = load_model(backend="torch")
    paths = {}
    for name, model in (("full", loaded.model), ("light", loaded.with_light_generator().model)):
        g = next(g for g in graphs(model, None, None) if g.name == "animator")
        paths[name] = out / f"animator_{name}.onnx"
        export_graph(g, paths[name])
    return paths


def _ort_runner(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()  # as thcodec.models.backend.Sessions makes them
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return lambda feed: sess.run(None, feed)


def _openvino_runner(path: Path, threads: int):
    import openvino as ov

    compiled = ov.Core().compile_model(
        str(path), "CPU", {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    )
    request = compiled.create_infer_request()
    return lambda feed: request.infer(feed)


def stage_times(graphs: dict[str, Path], threads: int, reps: int) -> dict[tuple[str, str], tuple[float, float]]:
    """{(generator, runtime): (median seconds per batch of 8, max |frame difference| to torch's)}."""
    from thcodec.models.keypoints import Keypoints
    from thcodec.models.weights import load_model

    torch.set_num_threads(threads)
    loaded = load_model(backend="torch")
    frames = torch.rand(BATCH, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    result = {}
    with torch.inference_mode():
        drive = loaded.model.detect_keypoints(frames)
        src = Keypoints(drive.xy[:1], drive.jacobian[:1]).expand(BATCH)
        pivot = frames[:1].expand(BATCH, -1, -1, -1)
        feed = {
            "pivot": pivot.contiguous().numpy(),
            "pivot_xy": src.xy.contiguous().numpy(),
            "pivot_jac": src.jacobian.contiguous().numpy(),
            "drive_xy": drive.xy.numpy(),
            "drive_jac": drive.jacobian.numpy(),
        }
        for gen, path in graphs.items():
            model = (loaded.with_light_generator() if gen == "light" else loaded).model
            runners = {"torch (eager)": lambda m=model: m.animate_with_motion(pivot, src, drive)[0].numpy()}
            ort_run = _ort_runner(path, threads)
            runners["onnxruntime"] = lambda r=ort_run: r(feed)[0]
            if has_openvino():
                ov_run = _openvino_runner(path, threads)
                runners["openvino"] = lambda r=ov_run: next(iter(r(feed).values()))
            want = runners["torch (eager)"]()
            diffs = {n: float(np.abs(np.asarray(f()) - want).max()) for n, f in runners.items()}
            times: dict[str, list[float]] = {n: [] for n in runners}
            for _ in range(reps):  # after the warm-up calls above, alternating
                for n, f in runners.items():
                    t = time.perf_counter()
                    f()
                    times[n].append(time.perf_counter() - t)
            for n, ts in times.items():
                result[(gen, n)] = (statistics.median(ts), diffs[n])
    return result


def report(imports: dict[str, float], stages: dict[int, dict], reps: int) -> str:
    lines = [
        f"Imports (fresh processes, medians of {reps}, the interpreter's start-up included):",
        "",
        "| import | wall |",
        "| --- | ---: |",
        *(f"| {n} | {s * 1000:.0f} ms |" for n, s in imports.items()),
        "",
        f"Dense motion + generator, batch 8 of 256x256 noise frames (medians of {reps}, the runtimes alternating; "
        "fps: frames a second from this stage alone):",
        "",
        "| generator | threads | runtime | per batch | fps | against torch | max abs diff |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for threads, rows in stages.items():
        for (gen, runtime), (s, diff) in rows.items():
            torch_s = rows[(gen, "torch (eager)")][0]
            lines.append(
                f"| {gen} | {threads} | {runtime} | {s * 1000:.0f} ms | {BATCH / s:.0f} | {torch_s / s:.2f}x | {diff:.1e} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--out", type=Path, help="folder for the exported graphs (default: a temporary one)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        graphs = export_animators(out)
        stages = {t: stage_times(graphs, t, args.reps) for t in args.threads}
    print(report(import_times(args.reps), stages, args.reps))


if __name__ == "__main__":
    main()
