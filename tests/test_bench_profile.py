"""The per-stage profiler's timers (thcodec.bench.profile): a stage called inside another is counted once."""

import threading
import time

from thcodec.bench.profile import SECOND, STAGES, Timers


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


def test_a_stage_on_a_second_thread_is_apart_and_does_not_break_the_main_stack():
    timers = Timers()
    side = timers.wrap("write", lambda: time.sleep(0.05))
    started = threading.Event()

    def main_body():
        thread = threading.Thread(target=lambda: (started.set(), side()))
        thread.start()
        started.wait()
        time.sleep(0.03)  # the main stage's stack stays its own while the other thread pushes and pops
        thread.join()

    timers.wrap("networks", main_body)()
    assert set(timers.seconds) == {"networks", "write" + SECOND}
    assert 0.045 <= timers.seconds["write" + SECOND] < 0.07
    assert timers.seconds["networks"] >= 0.045  # it waited for the thread: nothing was taken off it
