"""Inputs and outputs that are not regular files: ``-`` (stdin, stdout), FIFOs, character devices.

They are read and written as they come, never sought in, never replaced:
- ``TimedInput`` reads what is there (short reads, so a pipe's data goes on at once) and gives
  up with a one-line ThcError when nothing arrives for ``timeout`` seconds (a FIFO nobody
  writes to, a silent stdin), instead of hanging forever.
- ``DirectOutput`` writes every call straight to the file descriptor (no buffer to flush), so
  the reader at the other end gets each chunk or frame when it is written.
Regular files keep the all-or-nothing rules of atomic.py, which decides which is which.
"""

from __future__ import annotations

import errno
import io
import os
import select
import stat
from pathlib import Path

from thcodec.errors import ThcError

STDIO = "-"  # the name of stdin (as an input) or stdout (as an output)
DEFAULT_INPUT_TIMEOUT_S = 60.0  # a pipe or FIFO that delivers nothing for this long is given up


def display_name(path: Path | str, output: bool = False) -> str:
    """How messages name a path: '-' is stdin or stdout."""
    if str(path) == STDIO:
        return "stdout" if output else "stdin"
    return str(path)


def is_stream(path: Path | str) -> bool:
    """'-', or an existing path (through symlinks) that is not a regular file or directory: a
    FIFO, a character device, a socket."""
    if str(path) == STDIO:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


class TimedInput(io.RawIOBase):
    """stdin ('-') or a FIFO/device path, read with a timeout per read (0: wait forever)."""

    def __init__(self, path: Path | str, timeout: float) -> None:
        super().__init__()
        self.name = display_name(path)
        self._timeout = timeout
        if str(path) == STDIO:
            self._fd, self._own = 0, False  # never made non-blocking: the file description is shared
        else:
            try:  # O_NONBLOCK: opening a FIFO with no writer would block here, before any timeout
                self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as e:
                raise ThcError(f"cannot read {path}: {e.strerror or e}") from None
            os.set_blocking(self._fd, True)  # our own description: poll, then a read that returns at once
            self._own = True
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN | select.POLLPRI)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def _wait(self) -> None:
        ms = None if self._timeout <= 0 else int(self._timeout * 1000)
        if not self._poll.poll(ms):
            raise ThcError(f"{self.name}: no data for {self._timeout:g} s (is anything writing to it? --input-timeout)")

    def read(self, size: int = -1) -> bytes:
        """What is there, up to size bytes (at least one, b'' only at the end)."""
        n = size if size and size > 0 else 1 << 16
        while True:
            self._wait()
            try:
                return os.read(self._fd, n)
            except BlockingIOError:
                continue  # another reader of a shared pipe took the data
            except OSError as e:
                raise ThcError(f"cannot read {self.name}: {e.strerror or e}") from None

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and self._own:
            os.close(self._fd)
        super().close()


class DirectOutput(io.RawIOBase):
    """stdout ('-') or a FIFO/device path, written through: every write goes to the descriptor
    whole. A reader that went away (EPIPE) is a one-line ThcError."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.name = display_name(path, output=True)
        if str(path) == STDIO:
            self._fd, self._own = 1, False
        else:
            try:  # a FIFO: waits for its reader, as any writer does
                self._fd = os.open(path, os.O_WRONLY)
            except OSError as e:
                raise ThcError(f"cannot write {path}: {e.strerror or e}") from None
            self._own = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            try:
                done += os.write(self._fd, view[done:])
            except BrokenPipeError:
                _silence_stdout(self._fd)
                raise ThcError(f"cannot write {self.name}: the reader closed the pipe") from None
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                raise
        return done

    def close(self) -> None:
        if not self.closed and self._own:
            os.close(self._fd)
        super().close()


def _silence_stdout(fd: int) -> None:
    """After EPIPE on stdout, point it at /dev/null: Python's exit-time flush would fail again."""
    if fd != 1:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
