"""Ctrl-C during `thc encode` and `thc decode`, sent as a real SIGINT to a `python -m thcodec.cli`
subprocess once its hidden temp output has appeared.

The promise (thcodec/cli.py, thcodec/media/atomic.py): exit code 130, one line on stderr, no
traceback, no temp file left, and the target either absent or, when --force was going to
replace it, byte for byte what it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, clip_factory

# Generous: under load, importing torch and loading the weights can take several seconds.
APPEAR_TIMEOUT_S = 120
EXIT_TIMEOUT_S = 60
PRECIOUS = b"an older file that must survive the interrupted overwrite\n" * 100


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # leave the machine's other cores alone, as conftest does
    return env


def temp_files(directory: Path, target: Path) -> list[Path]:
    """The hidden temp siblings that atomic_output makes for target (see temp_path_for)."""
    return sorted(directory.glob(f".{target.name}.*.tmp*"))


def interrupt_when_temp_appears(args: list, target: Path, delay_s: float) -> subprocess.CompletedProcess:
    """Run `python -m thcodec.cli *args`; SIGINT it delay_s after target's temp file appears."""
    cmd = [sys.executable, "-m", "thcodec.cli", *map(str, args)]
    # A shell that starts jobs in the background (as `cmd &` or some CI runners do) leaves
    # SIGINT ignored, and children inherit that: give the CLI the default disposition, as a
    # terminal would, so Python turns the signal into KeyboardInterrupt.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 (the test process runs no threads here)
    )
    try:
        deadline = time.monotonic() + APPEAR_TIMEOUT_S
        while not temp_files(target.parent, target):
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"thc exited ({proc.returncode}) before its temp file appeared:\n{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"no temp file for {target.name} after {APPEAR_TIMEOUT_S} s")
            time.sleep(0.01)
        time.sleep(delay_s)
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"thc finished ({proc.returncode}) before the SIGINT; make the input longer:\n{err}")
        # A SIGINT that lands inside one of FFmpeg's blocking calls can be swallowed by PyAV,
        # as it can for a person at a terminal; like that person, press Ctrl-C again.
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        while True:
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise
    finally:
        if proc.poll() is None:  # never leave a stray encoder running
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def check_interrupted(result: subprocess.CompletedProcess, target: Path, before: bytes | None) -> None:
    # 130, or killed by SIGINT itself when the signal lands during interpreter shutdown: a shell
    # reports both as $? = 130. What matters is below: one line, no traceback, nothing left.
    assert result.returncode in (130, -signal.SIGINT), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines() == ["thc: interrupted, nothing written"], result.stderr
    assert result.stdout == ""
    assert temp_files(target.parent, target) == []
    if before is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == before  # --force must not have replaced it


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """64x64, 300 frames (12 s) with audio: encoding it takes many seconds even on a fast machine."""
    return clip_factory(tmp_path_factory.mktemp("interrupt"))(width=64, height=64, frames=300, name="long.mp4")


@pytest.fixture(scope="module")
def long_stream(tmp_path_factory, loaded) -> Path:
    """A .thc of 120 frames (decoding animates every frame: several seconds even on a fast machine)."""
    from thcodec.options import EncodeOptions
    from thcodec.sender.encoder import encode

    directory = tmp_path_factory.mktemp("interrupt_thc")
    clip = clip_factory(directory)(width=64, height=64, frames=120, name="long.mp4")
    stream = directory / "long.thc"
    with open(stream, "wb") as f:
        encode(clip, f, loaded, EncodeOptions())
    return stream


# (existing target, seconds between the temp file appearing and the SIGINT): right away hits
# the set-up (opening the input, audio, face finding); a second later, the frame loop.
CASES = [
    pytest.param(False, 0.0, id="new-target-early"),
    pytest.param(True, 1.0, id="force-over-existing-mid-run", marks=pytest.mark.slow),  # (the default suite under 2 minutes)
]


@pytest.mark.parametrize("existing, delay_s", CASES)
@pytest.mark.parametrize("command, source, output", [("encode", "long_clip", "out.thc"), ("decode", "long_stream", "out.mp4")])
def test_ctrl_c(request, tmp_path, command, source, output, existing, delay_s):
    target = tmp_path / output
    before = None
    if existing:
        target.write_bytes(PRECIOUS)
        before = PRECIOUS
    args = [command, request.getfixturevalue(source), target] + (["--force"] if existing else [])
    result = interrupt_when_temp_appears(args, target, delay_s)
    check_interrupted(result, target, before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ([output] if existing else [])


def test_ctrl_c_inside_a_compiled_import_is_an_interrupt():
    """dlib is imported on first use; Ctrl-C during its initialisation arrives as an ImportError."""
    import typer

    from thcodec import cli

    def interrupted_import():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise ImportError("initialization failed") from e

    with pytest.raises(typer.Exit) as ex:
        cli._run(interrupted_import)
    assert ex.value.exit_code == 130
    with pytest.raises(ImportError):  # any other failed import is a bug, not an interrupt
        cli._run(lambda: __import__("no_such_module_here"))


def test_ctrl_c_in_a_callback_python_cannot_raise_from_is_raised_again(tmp_path):
    """A SIGINT that lands in importlib's module-lock cleanup (a weakref callback) would print
    "Exception ignored" with a traceback and be lost; the CLI raises it again in the main thread."""
    code = (
        "import signal, sys, time, weakref\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal gives it\n"
        "from thcodec.cli import _unraisable\n"
        "sys.unraisablehook = _unraisable()\n"
        "class A: pass\n"
        "a = A()\n"
        "def cb(_): raise KeyboardInterrupt\n"
        "r = weakref.ref(a, cb)\n"
        "try:\n"
        "    del a\n"
        "    for _ in range(500): time.sleep(0.01)\n"
        "    print('lost')\n"
        "except KeyboardInterrupt:\n"
        "    print('raised again')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "raised again" and "Traceback" not in done.stderr, done.stderr
