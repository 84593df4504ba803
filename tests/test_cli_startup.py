"""A user's mistake is answered before the heavy imports: no torch for a wrong path or option;
`thc stats` loads neither torch nor the progress bar's module (it draws none)."""

import subprocess
import sys

import pytest
from test_stats import known_stream

PROBE = """
import sys
from thcodec.cli import run
sys.argv = ["thc", *sys.argv[1:]]
try:
    run()
except SystemExit as e:
    code = e.code
print("torch imported:", "torch" in sys.modules, "exit:", code, "bar imported:", "rich.progress" in sys.modules)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "missing.mp4", "out.thc"],
        ["decode", "missing.thc", "out.mp4"],
    ],
)
def test_user_mistakes_do_not_load_torch(tmp_path, args):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "torch imported: False exit: 1" in done.stdout, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "thc: error:" in done.stderr


def test_stats_loads_no_torch_and_no_bar(tmp_path):
    known_stream(tmp_path / "s.thc")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "stats", "s.thc"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "torch imported: False exit: 0 bar imported: False" in done.stdout, done.stdout + done.stderr
