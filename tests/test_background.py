import threading

import pytest

from thcodec.media.background import BackgroundCalls


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
