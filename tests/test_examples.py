"""examples/*.sh batch scripts: keep going past a bad file, list failures, skip finished outputs, real CSV."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_stats import known_stream

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # thc of this venv


def script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "examples" / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # about 5 s here: a thc process starts (torch import)
def test_stats_csv_keeps_going_and_quotes_names(tmp_path):
    known_stream(tmp_path / "a.thc")
    known_stream(tmp_path / "d,e.thc")
    (tmp_path / "broken.thc").write_bytes(b"\x89THC not really")
    r = script("stats_csv.sh", tmp_path)
    assert r.returncode == 1 and "broken.thc" in r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert sorted(Path(row["file"]).name for row in rows) == ["a.thc", "broken.thc", "d,e.thc"]
    assert [row["error"] != "" for row in rows if Path(row["file"]).name != "broken.thc"] == [False, False]


@pytest.mark.slow  # loads the model twice (two thc encode runs)
def test_encode_folder_keeps_going_skips_and_lists_failures(make_clip, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    make_clip(frames=3, audio=False).rename(src / "good.mp4")
    (src / "bad.mp4").write_text("not a video")
    r = script("encode_folder.sh", src, out, "--single-pivot")
    assert r.returncode == 1 and "FAILED (1 of 2)" in r.stderr and "bad.mp4" in r.stderr.split("FAILED")[1]
    assert (out / "good.thc").exists() and not (out / "bad.thc").exists()
    r = script("encode_folder.sh", src, out, "--single-pivot")  # again: the finished one is skipped
    assert "skipping" in r.stderr and "good.thc exists" in r.stderr and r.returncode == 1
