from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import square_frame

from thcodec.errors import ThcError
from thcodec.media.atomic import atomic_output
from thcodec.media.video_io import VideoWriter, probe


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_writes_via_hidden_temp_with_same_suffix(tmp_path):
    target = tmp_path / "out.thc"
    with atomic_output(target, force=False) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".out.thc.")
        assert tmp.suffix == ".thc"
        assert not target.exists()
        tmp.write_bytes(b"payload")
    assert target.read_bytes() == b"payload"
    assert listing(tmp_path) == ["out.thc"]


def test_new_file_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "out.thc", force=False) as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.thc").stat().st_mode & 0o777 == 0o644


def test_refuses_existing_without_force(tmp_path):
    target = tmp_path / "out.thc"
    target.write_bytes(b"old")
    with pytest.raises(ThcError, match=r"out\.thc exists \(use --force to overwrite\)"), atomic_output(target, force=False):
        pytest.fail("must not get here")
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.thc"]


def test_force_overwrites(tmp_path):
    target = tmp_path / "out.thc"
    target.write_bytes(b"old")
    with atomic_output(target, force=True) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert listing(tmp_path) == ["out.thc"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_error_leaves_old_file_and_no_temp(tmp_path, error):
    target = tmp_path / "out.thc"
    target.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_output(target, force=True) as tmp:
        tmp.write_bytes(b"half written")
        raise error
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.thc"]


def test_error_without_old_file_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "out.thc", force=False) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert listing(tmp_path) == []


def test_disk_full_becomes_thc_error(tmp_path):
    target = tmp_path / "out.thc"
    with pytest.raises(ThcError, match=r"^cannot write .*out\.thc: No space left on device$"):
        with atomic_output(target, force=False):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert listing(tmp_path) == []


def test_other_os_errors_pass_through(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "out.thc", force=False):
        raise FileNotFoundError(errno.ENOENT, "input vanished")
    assert listing(tmp_path) == []


def test_missing_directory(tmp_path):
    with pytest.raises(ThcError, match="does not exist"), atomic_output(tmp_path / "no" / "such" / "out.thc", force=False):
        pytest.fail("must not get here")


def test_target_is_a_directory(tmp_path):
    (tmp_path / "out.thc").mkdir()
    with pytest.raises(ThcError, match="is a directory"), atomic_output(tmp_path / "out.thc", force=True):
        pytest.fail("must not get here")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ThcError, match="not writable"), atomic_output(locked / "out.thc", force=False):
            pytest.fail("must not get here")
    finally:
        locked.chmod(0o700)


def test_video_writer_on_temp_name(tmp_path):
    target = tmp_path / "out.mp4"
    with atomic_output(target, force=False) as tmp, VideoWriter(tmp, 32, 32, Fraction(25)) as writer:
        for i in range(3):
            writer.write_frame(square_frame(i, 32, 32))
    assert probe(target).frame_count == 3
    assert listing(tmp_path) == ["out.mp4"]


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    """thc's SIGTERM handler (cli.run installs it) turns the signal into KeyboardInterrupt, so
    atomic_output removes its temp file and the target is never created."""
    import signal

    from thcodec.cli import _terminated

    target = tmp_path / "out.thc"
    old = signal.signal(signal.SIGTERM, _terminated)
    try:
        with pytest.raises(KeyboardInterrupt), atomic_output(target, force=False) as tmp:
            tmp.write_bytes(b"partial")
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, old)
    assert list(tmp_path.iterdir()) == []
