import threading
import time

import pytest

from thcodec.face import dlib_models
from thcodec.face.dlib_models import _Once


def test_once_builds_one_model_whichever_threads_ask():
    made = []

    def make():
        made.append(1)
        time.sleep(0.2)  # slow, as dlib's models are: the other callers come while it builds
        return object()

    once = _Once(make)
    got = []
    threads = [threading.Thread(target=lambda: got.append(once())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len({id(g) for g in got}) == 1


def test_a_failed_build_is_tried_again_by_the_next_caller():
    calls = []

    def make():
        calls.append(1)
        if len(calls) == 1:
            raise ImportError("no model")
        return "model"

    once = _Once(make)
    with pytest.raises(ImportError):
        once()
    assert once() == "model" and once() == "model" and len(calls) == 2


def test_preload_builds_the_models_on_a_thread(monkeypatch):
    built = []
    monkeypatch.setattr(dlib_models, "hog_detector", _Once(lambda: built.append(("hog", threading.get_ident())) or "hog"))
    monkeypatch.setattr(dlib_models, "shape_predictor", _Once(lambda: built.append(("sp", threading.get_ident())) or "sp"))
    dlib_models.preload(landmarks=True).join(10)
    assert [b[0] for b in built] == ["hog", "sp"] and all(b[1] != threading.get_ident() for b in built)
    built.clear()
    dlib_models.preload(landmarks=False).join(10)  # built already: nothing more
    assert built == [] and dlib_models.hog_detector() == "hog"


def test_the_shipped_models_load():
    detector, predictor = dlib_models.hog_detector(), dlib_models.shape_predictor()
    assert dlib_models.hog_detector() is detector and dlib_models.shape_predictor() is predictor
