"""Work spread over Dask distributed (the `cluster` extra): a local cluster of --workers processes,
or the cluster whose scheduler --scheduler names (tcp://host:8786; its workers must see the same
paths, e.g. a shared file system, and have thcodec installed).

`run_tasks` submits one task per item, reports each as it finishes (the whole batch's progress)
and keeps going past failures: a task's exception becomes its error line, never a traceback.
Beside the codec like bench/: the runtime never imports it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from thcodec.errors import ThcError

INSTALL_HINT = "pip install 'thcodec[cluster]'"


@dataclass
class TaskResults:
    results: dict[int, object] = field(default_factory=dict)  # item index -> what the task returned
    failures: list[tuple[str, str]] = field(default_factory=list)  # (item label, error line)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ThcError(f"running on a cluster needs Dask distributed: {INSTALL_HINT}") from None
    return distributed


@contextmanager
def dask_client(workers: int, scheduler: str | None, threads: int = 1, connect_s: float = 20) -> Iterator[object]:
    """A distributed.Client: of the scheduler at `scheduler`, else of a local cluster of `workers`
    processes with one task at a time each and `threads` threads each for torch (so N workers
    do not fight over the cores; its dashboard on a free port). connect_s: how long to try the scheduler."""
    distributed = _distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=f"{connect_s}s")
        except (OSError, TimeoutError) as e:
            raise ThcError(f"--scheduler {scheduler}: cannot connect ({e})") from None
        with client:
            yield client
        return
    env = {"OMP_NUM_THREADS": str(threads), "THC_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env, silence_logs=50
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def error_line(exc: BaseException) -> str:
    """A task's failure as one line."""
    text = str(exc).strip().splitlines()
    return text[0] if text and isinstance(exc, ThcError) else f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def run_tasks(
    client,
    fn: Callable,
    items: Sequence[tuple],
    labels: Sequence[str],
    on_done: Callable[[str, str | None], None] | None = None,
) -> TaskResults:
    """fn(*item) for every item on the cluster; on_done(label, error line or None) as each ends."""
    distributed = _distributed()
    futures = {client.submit(fn, *item, pure=False): i for i, item in enumerate(items)}
    out = TaskResults()
    for future in distributed.as_completed(futures):
        i = futures[future]
        try:
            out.results[i] = future.result()
            error = None
        except Exception as e:  # noqa: BLE001  (the task's own exception, whatever it is, is its error line)
            error = error_line(e)
            out.failures.append((labels[i], error))
        if on_done:
            on_done(labels[i], error)
    return out


# --------------------------------------------------------------------------- thc batch

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")  # as examples/encode_folder.sh
EXIT_LOSSES = 3  # thc decode: written, with losses concealed (a warning, not a failure)


def batch_plan(command: str, in_dir: Path, out_dir: Path, force: bool) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(inputs with their outputs to make, outputs skipped because they exist) for `thc batch
    encode|decode IN_DIR OUT_DIR`: every video -> OUT_DIR/<stem>.thc, every .thc -> <stem>.mp4."""
    if not in_dir.is_dir():
        raise ThcError(f"{in_dir}: no such folder")
    suffixes, out_suffix = (VIDEO_SUFFIXES, ".thc") if command == "encode" else ((".thc",), ".mp4")
    inputs = sorted(p for p in in_dir.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not inputs:
        raise ThcError(f"{in_dir}: no {'videos' if command == 'encode' else '.thc files'} in it")
    todo, skipped = [], []
    for src in inputs:
        dst = out_dir / (src.stem + out_suffix)
        if dst.exists() and not force:
            skipped.append(dst)
        else:
            todo.append((src, dst))
    return todo, skipped


def thc_task(args: list[str]) -> str:
    """Run `thc ARGS` in a fresh process (on whichever worker runs the task) -> its last stderr line;
    a failure raises ThcError with thc's own error line."""
    command = [sys.executable, "-c", "from thcodec.cli import run; run()", *args]
    r = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    if r.returncode not in (0, EXIT_LOSSES):
        raise ThcError(lines[-1].removeprefix("thc: error: ") if lines else f"thc exited with {r.returncode}")
    return lines[-1] if lines else ""


def batch_tasks(command: str, todo: list[tuple[Path, Path]], force: bool, options: Sequence[str]) -> list[tuple]:
    """One thc_task argument list per (input, output), absolute paths (workers may run elsewhere)."""
    extra = ["--force"] if force else []
    return [([command, str(src.resolve()), str(dst.resolve()), *extra, *options],) for src, dst in todo]
