"""dlib's models: each built once per process, and ahead of need on a second thread.

Building them takes seconds (the HOG detector's filters, the 100 MB shape predictor). `thc encode`
starts building them before it imports torch (`preload`), so the sender need not wait for them
later; dlib holds the interpreter for most of the build, so the two take turns rather than
overlap (docs/speed.md, "Encoding is half start-up")."""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHAPE_PREDICTOR = "shape_predictor_68_face_landmarks.dat"


def model_file(name: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face-recognition-models is not installed (pip install face-recognition-models==0.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / name


class _Once:
    """make() run at most once per process, whichever thread asks first; the others wait for it.
    A failed make() is not kept: the next caller tries again (and meets the error itself)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._lock, self._value = make, threading.Lock(), None

    def __call__(self) -> Any:
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value


def _hog() -> Any:
    import dlib  # imported lazily: only the sender and the benches need it

    return dlib.get_frontal_face_detector()


def _shape_predictor() -> Any:
    import dlib

    return dlib.shape_predictor(str(model_file(SHAPE_PREDICTOR)))


hog_detector = _Once(_hog)  # dlib's HOG face detector
shape_predictor = _Once(_shape_predictor)  # dlib's 68-landmark shape predictor


def preload(landmarks: bool) -> threading.Thread:
    """Start building the HOG detector and, for landmark motion, the shape predictor on a
    daemon thread; an error is left for the code that needs the model to meet and report."""

    def work() -> None:
        with contextlib.suppress(Exception):  # met again, and reported, where the model is needed
            hog_detector()
            if landmarks:
                shape_predictor()

    thread = threading.Thread(target=work, name="thc-dlib", daemon=True)
    thread.start()
    return thread
