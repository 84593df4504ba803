import threading
import time

import pytest

from thcodec.media.background import BackgroundCalls, ReadAhead


def test_calls_run_in_order_on_another_thread():
    done, threads = [], set()
    calls = BackgroundCalls(depth=2)
    for i in range(20):
        calls.submit(lambda i=i: (done.append(i), threads.add(threading.get_ident())))
    calls.close()
    assert done == list(range(20))
    assert threads and threading.get_ident() not in threads


def test_a_worker_error_is_raised_at_the_next_call_and_the_rest_is_dropped():
    done = []
    calls = BackgroundCalls()
    calls.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        for i in range(1000):  # the worker gets to the failing call while these are queued
            calls.submit(lambda i=i: done.append(i))
    calls.close()  # the error was raised once
    assert len(done) < 1000


def test_close_raises_the_error_of_the_last_calls():
    calls = BackgroundCalls()
    calls.submit(lambda: None)
    calls.submit(lambda: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="No space"):
        calls.close()


def test_the_queue_is_bounded_and_abandon_drops_what_waits_without_raising():
    started, release, done = threading.Event(), threading.Event(), []
    calls = BackgroundCalls(depth=3)
    calls.submit(lambda: (started.set(), release.wait(5)))
    started.wait(5)
    for i in range(3):
        calls.submit(lambda i=i: done.append(i))
    full = threading.Thread(target=calls.submit, args=(lambda: done.append("late"),))
    full.start()
    full.join(0.2)
    assert full.is_alive()  # a fourth waiting call blocks: memory stays bounded
    threading.Timer(0.1, release.set).start()
    calls.abandon()
    full.join(5)
    assert not full.is_alive()
    assert done in ([], ["late"])  # the three waiting calls were dropped; the blocked one may have got in after


def test_read_ahead_yields_everything_in_order_from_another_thread():
    threads = set()

    def items():
        for i in range(50):
            threads.add(threading.get_ident())
            yield i

    with ReadAhead(items(), depth=3) as ahead:
        assert list(ahead) == list(range(50))
    assert threads and threading.get_ident() not in threads


def test_read_ahead_raises_an_error_where_the_caller_reaches_it():
    def items():
        yield 1
        yield 2
        raise ValueError("a timestamp gap")

    got = []
    with ReadAhead(items()) as ahead, pytest.raises(ValueError, match="gap"):
        got.extend(ahead)
    assert got == [1, 2]


def test_read_ahead_stays_bounded_and_stops_when_the_caller_leaves_early():
    made = []

    def items():
        for i in range(10_000):
            made.append(i)
            yield i

    with ReadAhead(items(), depth=4) as ahead:
        for x in ahead:
            if x == 2:
                break
        time.sleep(0.2)  # the worker runs as far ahead as it may
        assert len(made) <= 3 + 4 + 1  # what was taken, what waits in the queue, one in the worker's hand
    assert len(made) < 10_000
