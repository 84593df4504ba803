"""Work on a second thread, so that both cores are busy: the networks run on the caller's thread
while a worker encodes and muxes the output video (PyAV releases the GIL there, as torch does in
its operators). The queue between them is bounded, so memory stays flat however long the video;
an error on the worker is raised on the caller's thread, at its next call or at close."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

DEPTH = 8  # calls waiting at most: a few frames ahead is all the overlap needs


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
