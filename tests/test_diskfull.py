"""The output cannot be written: the disk fills up, or the output's filesystem is read-only.

Every case must end with exit code 1, exactly one line `thc: error: cannot write OUTPUT: ...`
(or `... is not writable`) on stderr, no traceback, no temp file left, and no output: the
target is absent, or, when --force was to replace it, untouched.

Two ways in:
- in-process (CliRunner), always run: the temp file that atomic_output creates is swapped for
  a symlink to /dev/full, so every real write of the product (Python's buffered file for
  .thc, FFmpeg's AVIO for .mp4/.mkv) gets ENOSPC from the kernel; os.open is patched to
  refuse the temp file with EROFS or EACCES.
- in a private mount namespace (`unshare --mount`, needs root or CAP_SYS_ADMIN; skipped
  elsewhere): a real 4 KiB tmpfs that fills up part-way through the write, and a real
  read-only tmpfs. The mount exists only inside that namespace.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, clip_factory
from typer.testing import CliRunner

import thcodec.media.atomic
from thcodec.cli import app

runner = CliRunner()
PRECIOUS = b"an older file that a failed --force must leave alone\n"


def thc(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(returncode: int, stderr: str, match: str) -> str:
    assert returncode == 1, (returncode, stderr)
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("thc: error: "), lines[0]
    assert match in lines[0], lines[0]
    return lines[0]


def fails(result, match: str) -> str:
    assert isinstance(result.exception, SystemExit), result.exception  # not an escaped exception
    return one_error_line(result.exit_code, result.stderr, match)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 64x48 8-frame clip with audio and its .thc (in their own folder, away from the outputs)."""
    directory = tmp_path_factory.mktemp("diskfull_inputs")
    clip = clip_factory(directory)(width=64, height=48, frames=8, name="clip.mp4")
    stream = directory / "clip.thc"
    result = thc("encode", clip, stream, "--quiet")
    assert result.exit_code == 0, result.output
    return clip, stream


def prepare_target(directory: Path, name: str, existing: bool) -> tuple[Path, list[str]]:
    """(target, extra args): with `existing`, the target holds PRECIOUS and --force is passed."""
    target = directory / name
    if existing:
        target.write_bytes(PRECIOUS)
    return target, (["--force"] if existing else [])


def check_nothing_written(directory: Path, target: Path, existing: bool) -> None:
    assert listing(directory) == ([target.name] if existing else [])  # no temp file, no output
    if existing:
        assert target.read_bytes() == PRECIOUS


# --- disk full: the temp file is /dev/full -----------------------------------------------------


@pytest.fixture
def temp_on_full_disk(monkeypatch):
    """atomic_output's temp file becomes a symlink to /dev/full (writes fail with ENOSPC)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    real = thcodec.media.atomic._create_empty

    def create_on_full_disk(tmp: Path, path: Path) -> None:
        real(tmp, path)  # the product's own O_EXCL create, then the swap
        tmp.unlink()
        tmp.symlink_to("/dev/full")

    monkeypatch.setattr(thcodec.media.atomic, "_create_empty", create_on_full_disk)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "force"])
def test_disk_full_during_encode(inputs, tmp_path, temp_on_full_disk, existing):
    clip, _ = inputs
    target, force = prepare_target(tmp_path, "out.thc", existing)
    line = fails(thc("encode", clip, target, *force), "No space left on device")
    assert line == f"thc: error: cannot write {target}: No space left on device"
    check_nothing_written(tmp_path, target, existing)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "force"])
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_disk_full_during_decode(inputs, tmp_path, temp_on_full_disk, suffix, existing):
    _, stream = inputs
    target, force = prepare_target(tmp_path, "out" + suffix, existing)
    line = fails(thc("decode", stream, target, *force), "No space left on device")
    assert line == f"thc: error: cannot write {target}: No space left on device"
    check_nothing_written(tmp_path, target, existing)


# --- read-only or forbidden output location: os.open refuses the temp file ---------------------


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES], ids=["EROFS", "EACCES"])
@pytest.mark.parametrize("command", ["encode", "decode"])
def test_temp_file_refused(inputs, tmp_path, monkeypatch, command, code):
    clip, stream = inputs
    source, name = (clip, "out.thc") if command == "encode" else (stream, "out.mp4")
    target = tmp_path / name
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if Path(os.fsdecode(path)).name.startswith(f".{name}.") and flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    line = fails(thc(command, source, target), os.strerror(code))
    assert line == f"thc: error: cannot write {target}: {os.strerror(code)}"  # the target, not the temp name
    assert listing(tmp_path) == []


# --- real filesystems in a private mount namespace ---------------------------------------------

# Runs inside `unshare --mount`: mounts a tmpfs on DIR, puts FILES in it, optionally remounts it
# read-only, runs CMD, and reports its exit code, output and what DIR holds afterwards.
NAMESPACE_HELPER = r"""
import json, os, subprocess, sys
spec = json.loads(sys.argv[1])
d = spec["dir"]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + spec["size"], "thc-test", d], check=True)
for name, data in spec["files"].items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes.fromhex(data))
if spec["readonly"]:
    subprocess.run(["mount", "-o", "remount,ro", d], check=True)
p = subprocess.run(spec["cmd"], capture_output=True, text=True)
files = {}
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        files[name] = f.read().hex()
json.dump({"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr, "files": files}, sys.stdout)
"""


@pytest.fixture(scope="module")
def namespaces(tmp_path_factory):
    """Skip unless this process may make a private mount namespace and mount a tmpfs in it."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("mount") is None:
        pytest.skip("no unshare(1) or mount(8)")
    probe = tmp_path_factory.mktemp("ns_probe")
    cmd = [unshare, "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=4k", "thc-probe", str(probe)]
    try:
        ok = subprocess.run(cmd, check=False, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        pytest.skip("cannot mount a tmpfs in a private mount namespace (needs root or CAP_SYS_ADMIN)")
    return unshare


def run_on_tmpfs(unshare: str, directory: Path, size: str, args: list, files: dict[str, bytes], readonly: bool = False) -> dict:
    """`python -m thcodec.cli *args` with `directory` a fresh tmpfs of `size` holding `files`."""
    directory.mkdir()
    spec = {
        "dir": str(directory),
        "size": size,
        "files": {name: data.hex() for name, data in files.items()},
        "readonly": readonly,
        "cmd": [sys.executable, "-m", "thcodec.cli", *map(str, args)],
    }
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [unshare, "--mount", "--propagation", "private", sys.executable, "-c", NAMESPACE_HELPER, json.dumps(spec)]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    report["files"] = {name: bytes.fromhex(data) for name, data in report["files"].items()}
    assert listing(directory) == []  # the tmpfs lived only in the namespace
    return report


@pytest.fixture(scope="module")
def longer_clip(tmp_path_factory):
    """100 frames with audio: about 15 KB of .thc, so the 4 KiB disk fills up mid-encode."""
    return clip_factory(tmp_path_factory.mktemp("diskfull_long"))(width=64, height=48, frames=100, name="long.mp4")


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "force"])
@pytest.mark.parametrize("command", ["encode", "decode"])
def test_real_disk_fills_up(namespaces, inputs, longer_clip, tmp_path, command, existing):
    # One 4 KiB page free: the .thc (about 15 KB) or the .mp4 (about 6 KB) is cut off part-way.
    source, name = (longer_clip, "out.thc") if command == "encode" else (inputs[1], "out.mp4")
    files = {name: PRECIOUS} if existing else {}
    target = tmp_path / "disk" / name
    args = [command, source, target] + (["--force"] if existing else [])
    report = run_on_tmpfs(namespaces, tmp_path / "disk", "8k" if existing else "4k", args, files)
    one_error_line(report["rc"], report["stderr"], "No space left on device")
    assert report["stderr"] == f"thc: error: cannot write {target}: No space left on device\n"
    assert report["files"] == files  # no temp file, no partial output, the old file intact


@pytest.mark.slow  # (issue 18: the default suite under 2 minutes; make test-slow)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "force"])
@pytest.mark.parametrize("command", ["encode", "decode"])
def test_real_read_only_filesystem(namespaces, inputs, tmp_path, command, existing):
    clip, stream = inputs
    source, name = (clip, "out.thc") if command == "encode" else (stream, "out.mp4")
    files = {name: PRECIOUS} if existing else {}
    target = tmp_path / "ro" / name
    args = [command, source, target] + (["--force"] if existing else [])
    report = run_on_tmpfs(namespaces, tmp_path / "ro", "64k", args, files, readonly=True)
    one_error_line(report["rc"], report["stderr"], "not writable")
    assert report["stderr"] == f"thc: error: cannot write {target}: directory {target.parent} is not writable\n"
    assert report["files"] == files
