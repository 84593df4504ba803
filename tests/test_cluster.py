"""Work on Dask distributed: a local cluster of two workers (skipped without the cluster extra)."""

from __future__ import annotations

import pytest
from test_stats import known_stream

pytest.importorskip("distributed")

from thcodec.cluster import batch_plan, dask_client, run_tasks, thc_task
from thcodec.errors import ThcError


def test_two_workers_run_thc_tasks_and_list_failures(tmp_path):
    known_stream(tmp_path / "a.thc")
    known_stream(tmp_path / "b.thc")
    (tmp_path / "broken.thc").write_bytes(b"\x89THC not really")
    names = ["a.thc", "b.thc", "broken.thc"]
    items = [(["stats", str(tmp_path / n), "--json"],) for n in names]
    seen = []
    with dask_client(2, None) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        res = run_tasks(client, thc_task, items, names, lambda label, error: seen.append((label, error)))
        with dask_client(1, client.scheduler.address) as remote:  # --scheduler: a cluster given by address
            assert run_tasks(remote, len, [("abc",)], ["len"]).results == {0: 3}
    assert sorted(label for label, _ in seen) == names  # progress: every task, as it ends
    assert sorted(res.results) == [0, 1]
    assert [label for label, _ in res.failures] == ["broken.thc"]
    assert "broken.thc" in res.failures[0][1] and "\n" not in res.failures[0][1]


def test_unreachable_scheduler_is_one_line():
    with pytest.raises(ThcError, match="--scheduler tcp://127.0.0.1:9: cannot connect"):
        with dask_client(1, "tcp://127.0.0.1:9", connect_s=1):
            pass


def test_batch_plan_skips_existing_outputs(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for n in ("a.mp4", "b.MOV", "notes.txt"):
        (src / n).write_bytes(b"x")
    (out / "a.thc").write_bytes(b"done")
    todo, skipped = batch_plan("encode", src, out, force=False)
    assert [(s.name, d.name) for s, d in todo] == [("b.MOV", "b.thc")] and skipped == [out / "a.thc"]
    assert len(batch_plan("encode", src, out, force=True)[0]) == 2


@pytest.mark.slow  # two thc encode processes (the model loads in each)
def test_thc_batch_encode_keeps_going_and_lists_failures(make_clip, tmp_path):
    from test_cli import thc

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    make_clip(frames=3, audio=False).rename(src / "good.mp4")
    (src / "bad.mp4").write_text("not a video")
    r = thc("batch", "encode", src, out, "--workers", "2", "--", "--single-pivot")
    assert r.exit_code == 1 and "FAILED (1 of 2)" in r.stderr and "bad.mp4" in r.stderr.split("FAILED (1")[1]
    assert (out / "good.thc").exists() and not (out / "bad.thc").exists()
    r = thc("batch", "encode", src, out, "--workers", "2", "--", "--single-pivot")  # again: the finished one is skipped
    assert "skipping" in r.stderr and "good.thc" in r.stderr and r.exit_code == 1
