"""Freed blocks of a network's size stay in the heap for the next batch (thcodec/allocator.py)."""

import os
import subprocess
import sys

import pytest

# In a child process: the thresholds are process-wide. A 40 MB block (a tensor of a batch at 256)
# is freed; glibc's defaults map and unmap it, the codec's settings keep it in the heap.
PROBE = """
import ctypes
import numpy as np
from thcodec.allocator import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
kept = keep_freed_memory()
block = np.ones(40 << 20, np.uint8)
mapped = libc.mallinfo2().hblkhd >= 40 << 20
del block
print("kept:", kept, "mapped:", mapped, "free in heap:", libc.mallinfo2().fordblks >= 40 << 20)
"""


def _glibc_with_mallinfo2() -> bool:
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return False
    return version.startswith("glibc") and tuple(int(x) for x in version.split()[1].split(".")[:2]) >= (2, 33)


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="glibc 2.33+ only (mallinfo2)")
@pytest.mark.parametrize(
    "setting, expected",
    [
        ("keep", "kept: True mapped: False free in heap: True"),
        ("default", "kept: False mapped: True free in heap: False"),
    ],
)
def test_a_freed_batch_sized_block_stays_in_the_heap(setting, expected):
    env = dict(os.environ, THC_MALLOC=setting)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == expected, done.stdout + done.stderr


def test_decode_keeps_freed_memory_and_encode_does_not(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import thcodec.cli

    calls = []
    monkeypatch.setattr("thcodec.allocator.keep_freed_memory", lambda: calls.append(1) or True)
    runner = CliRunner()
    runner.invoke(thcodec.cli.app, ["decode", str(tmp_path / "missing.thc"), str(tmp_path / "out.mp4")])
    assert calls == [1]
    runner.invoke(thcodec.cli.app, ["encode", str(tmp_path / "missing.mp4"), str(tmp_path / "out.thc")])
    assert calls == [1]


def test_an_unknown_setting_warns_and_keeps(monkeypatch):
    from thcodec import allocator

    monkeypatch.setattr(allocator, "_glibc", lambda: False)  # the warning alone; this process's malloc untouched
    monkeypatch.setenv("THC_MALLOC", "Defualt")
    with pytest.warns(RuntimeWarning, match="THC_MALLOC='defualt': choose keep or default"):
        assert allocator.keep_freed_memory() is False
