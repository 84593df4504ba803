"""Write an output file all-or-nothing: a temp file in the same directory, renamed on success.

    with atomic_output(Path("out.thc"), force=False) as tmp:
        write_everything_to(tmp)
    # out.thc now exists and is complete; on any error (or Ctrl-C) it is untouched

The temp name keeps the target's suffix last (``.out.thc.<pid>.<rand>.tmp.thc``), so
muxers that guess the container format from the file name still pick the right one.

``output_target`` is what the commands use: the same for a regular file, but an output that is
not one (stdout as ``-``, a FIFO, a character device such as /dev/null) is written through
(streams.DirectOutput) and never replaced, and a symlink stays a symlink: the file it points to
is what gets replaced (atomically, when it is a regular file or does not exist yet).
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from thcodec.errors import ThcError
from thcodec.media.streams import STDIO, DirectOutput, is_stream

# errno values that mean "the output could not be written", as opposed to e.g. a vanished input.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def write_error(path: Path, exc: OSError) -> ThcError:
    """The one-line user-facing error for an OSError hit while writing ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ThcError(f"cannot write {path}: {reason}")


def temp_path_for(path: Path) -> Path:
    """A fresh hidden sibling of ``path`` whose name ends with ``path``'s suffix."""
    tag = f"{os.getpid()}.{secrets.token_hex(4)}"
    return path.with_name(f".{path.name}.{tag}.tmp{path.suffix}")


def _check_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise ThcError(f"{path} is a directory")
    if path.exists() and not force:
        raise ThcError(f"{path} exists (use --force to overwrite)")
    parent = path.parent
    if not parent.is_dir():
        raise ThcError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ThcError(f"cannot write {path}: directory {parent} is not writable")


def _create_empty(tmp: Path, path: Path) -> None:
    try:
        # O_EXCL: never clobber someone else's file; mode 0o666 so the umask applies as usual.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise write_error(path, exc) from exc
    os.close(fd)


def _fsync_file(tmp: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Best effort: make the rename durable. Some filesystems refuse fsync on a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(tmp: Path) -> None:
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass  # cleanup must never hide the original error


@contextmanager
def atomic_output(path: Path, force: bool) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it replaces ``path`` atomically.

    Raises ThcError when ``path`` exists and not ``force``, when its directory is missing
    or not writable, and for write failures (ENOSPC, EDQUOT, EROFS, ...) raised inside the
    block. On any exception, KeyboardInterrupt included, the temp file is removed, an
    existing ``path`` is left untouched, and the exception propagates.
    """
    path = Path(path)
    _check_target(path, force)
    tmp = temp_path_for(path)
    _create_empty(tmp, path)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        if exc.errno in WRITE_ERRNOS:
            raise write_error(path, exc) from exc
        raise
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(path.parent)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace (or create) path with data, all or nothing: atomic_output with force."""
    with atomic_output(path, force=True) as tmp:
        tmp.write_bytes(data)


@contextmanager
def output_target(path: Path, force: bool) -> Iterator[Path | BinaryIO]:
    """Where a command writes ``path``: a temp path that replaces a regular file when complete
    (atomic_output: ``force`` rules, cleanup on error), or, for stdout ('-'), a FIFO or a device,
    a file object written straight through (no --force needed: there is no file to replace).
    A symlink is followed: the file it points to is written, the link itself stays."""
    if str(path) == STDIO and os.isatty(1):
        raise ThcError("stdout is a terminal: pipe the output into a program or a file (or name an output file)")
    if is_stream(path):
        out = DirectOutput(path)
        try:
            yield out
        finally:
            out.close()
        return
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # a dangling link: the file it names, created
    with atomic_output(path, force) as tmp:
        yield tmp
