"""The per-stage profiler's timers (thcodec.bench.profile): a stage called inside another is counted once."""

import time

from thcodec.bench.profile import STAGES, Timers


def test_nested_stages_are_exclusive():
    timers = Timers()
    inner = timers.wrap("inner", lambda: time.sleep(0.05))

    def outer_body():
        time.sleep(0.02)
        inner()

    outer = timers.wrap("outer", outer_body)
    t = time.perf_counter()
    outer()
    wall = time.perf_counter() - t
    assert 0.05 <= timers.seconds["inner"] < 0.07
    assert 0.02 <= timers.seconds["outer"] < 0.04
    assert abs(timers.seconds["inner"] + timers.seconds["outer"] - wall) < 0.005


def test_every_stage_names_a_function_that_exists():
    """A renamed function would silently drop out of the profile."""
    import importlib

    for module, path, _ in STAGES:
        owner = importlib.import_module(module)
        for part in path.split("."):
            owner = getattr(owner, part)
        assert callable(owner), (module, path)
