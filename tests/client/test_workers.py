"""The shared worker threads: reused, never a bound to deadlock on, idle ones leave."""

from __future__ import annotations

import threading
import time

import pytest

from mastkit.client._workers import Workers, bounded_map, workers
from mastkit.errors import ServiceError


def test_threads_are_reused_across_calls() -> None:
    pool = Workers("test-reuse")
    first = pool.submit(threading.get_ident).result(timeout=10)
    time.sleep(0.05)  # the thread is idle again
    again = [pool.submit(threading.get_ident).result(timeout=10) for _ in range(20)]
    assert set(again) == {first}


def test_a_busy_pool_starts_a_thread_rather_than_wait() -> None:
    pool = Workers("test-busy")
    release = threading.Event()
    blocked = [pool.submit(release.wait, 30) for _ in range(5)]
    # Five threads are blocked; a sixth task still runs at once on a thread of its own.
    assert pool.submit(lambda: "ran").result(timeout=10) == "ran"
    release.set()
    assert all(f.result(timeout=10) for f in blocked)


def test_nested_fan_outs_cannot_deadlock() -> None:
    """Every level waits on the next: a fixed-size pool smaller than the tree would hang."""

    def tree(depth: int) -> int:
        if depth == 0:
            time.sleep(0.001)
            return 1
        return sum(bounded_map(tree, [depth - 1] * 4, 4))

    assert tree(3) == 64


def test_failures_reach_the_caller() -> None:
    pool = Workers("test-fail")

    def fail() -> None:
        raise ServiceError("broken")

    with pytest.raises(ServiceError, match="broken"):
        pool.submit(fail).result(timeout=10)
    # The thread survives the failure and serves the next task.
    assert pool.submit(lambda: 3).result(timeout=10) == 3


def test_idle_threads_exit() -> None:
    pool = Workers("test-idle", idle_seconds=0.2)
    for future in [pool.submit(time.sleep, 0.05) for _ in range(3)]:
        future.result(timeout=10)

    def named() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("test-idle_")]

    assert named()
    deadline = time.monotonic() + 10
    while named() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not named()
    # And the pool still works afterwards.
    assert pool.submit(lambda: 5).result(timeout=10) == 5


def test_a_failure_stops_new_items_and_waits_for_running_ones() -> None:
    started: list[int] = []
    finished: list[int] = []
    lock = threading.Lock()

    def item(x: int) -> int:
        with lock:
            started.append(x)
        if x == 0:
            raise ServiceError("first")
        time.sleep(0.05)
        with lock:
            finished.append(x)
        return x

    with pytest.raises(ServiceError, match="first"):
        bounded_map(item, list(range(40)), 2)
    # Whatever had started has finished before the error was raised; far from all started.
    assert sorted(finished) == sorted(x for x in started if x != 0)
    assert len(started) < 40


def test_the_shared_pool_is_one() -> None:
    assert workers() is workers()
