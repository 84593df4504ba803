"""Work on a second thread, so that both cores are busy: the networks run on the caller's thread
while a worker encodes and muxes the output video, or decodes the input video ahead (PyAV
releases the GIL there, as torch does in its operators). The queue between them is bounded, so
memory stays flat however long the video; an error on the worker is raised on the caller's
thread, where it would have been raised without the worker."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

DEPTH = 8  # calls or items waiting at most: a few frames ahead is all the overlap needs
_POLL_S = 0.1  # how often a blocked worker checks whether it should stop
T = TypeVar("T")


class BackgroundCalls:
    """Runs the submitted calls one after another, in order, on a worker thread."""

    def __init__(self, depth: int = DEPTH, name: str = "thc-background") -> None:
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (call := self._queue.get()) is not None:
            if self._error is None:  # after an error the rest is dropped: the caller stops at its next call
                try:
                    call()
                except BaseException as e:  # noqa: BLE001 (raised again on the caller's thread)
                    self._error = e

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, call: Callable[[], object]) -> None:
        """Queue `call` (waits while the queue is full); raises the error of an earlier call."""
        self._raise()
        self._queue.put(call)

    def close(self) -> None:
        """Wait for every submitted call, stop the worker; raises the error of a call."""
        self._stop()
        self._raise()

    def abandon(self) -> None:
        """Drop the calls not started, stop the worker (after an error on the caller's side:
        the call being run finishes first, and its error is not raised over the caller's)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class ReadAhead(Generic[T]):
    """Iterates `items` on a worker thread, at most `depth` items ahead of the caller; use as a
    context manager (leaving it stops the worker). An error of `items` is raised where the caller
    reaches it."""

    def __init__(self, items: Iterable[T], depth: int = DEPTH, name: str = "thc-reader") -> None:
        self._queue: queue.Queue[tuple[bool, object]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _work(self, items: Iterable[T]) -> None:
        try:
            for item in items:
                if not self._put((True, item)):
                    return
            self._put((False, None))
        except BaseException as e:  # noqa: BLE001 (raised again on the caller's thread)
            self._put((False, e))

    def _put(self, entry: tuple[bool, object]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            is_item, value = self._queue.get()
            if is_item:
                yield value  # type: ignore[misc]
            elif value is None:
                return
            else:
                raise value  # type: ignore[misc]

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
