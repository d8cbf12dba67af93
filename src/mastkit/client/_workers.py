"""Worker threads shared by every synchronous call: started once, then reused.

A query's concurrent pages, a product list's batches and the decoding of their replies each
run on a thread. A fresh ``ThreadPoolExecutor`` per call starts its threads anew every time,
and on a busy machine starting a thread waits for the scheduler to run it: about a millisecond
each, several per call, a tenth of a 40 ms product listing. Here an idle thread takes the next
task, and a new one starts only when none is idle, so nested fan-outs (batches whose pages are
fetched side by side) can never wait for each other's threads: there is no bound to deadlock
on. Callers bound their own concurrency (:func:`bounded_map`). Threads idle for
:data:`IDLE_SECONDS` exit.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from typing import Any, TypeVar

__all__ = ["IDLE_SECONDS", "Workers", "bounded_map", "workers"]

T = TypeVar("T")
A = TypeVar("A")

#: A thread with nothing to do for this long exits.
IDLE_SECONDS = 30.0

_Task = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class Workers:
    """An unbounded pool of reusable threads (see the module documentation).

    Parameters
    ----------
    name : str
        Prefix of the threads' names.
    idle_seconds : float
        How long an idle thread waits for work before it exits.
    """

    def __init__(self, name: str = "mastkit-worker", idle_seconds: float = IDLE_SECONDS) -> None:
        self._name = name
        self._idle_seconds = idle_seconds
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._lock = threading.Lock()
        #: Threads waiting for a task and not yet promised one by :meth:`submit`.
        self._idle = 0
        #: Tasks submitted and not yet finished.
        self._busy = 0
        self._count = itertools.count(1)

    @property
    def busy(self) -> int:
        """Tasks submitted and not finished yet (queued or running)."""
        with self._lock:
            return self._busy

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on an idle thread, or on a new one if none is idle."""
        future: Future[T] = Future()
        with self._lock:
            self._busy += 1
            start = self._idle == 0
            if not start:
                self._idle -= 1  # that thread's next task is this one
        self._tasks.put((future, fn, args))
        if start:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}_{next(self._count)}", daemon=True
            )
            thread.start()
        return future

    def _work(self) -> None:
        while True:
            try:
                future, fn, args = self._tasks.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0 and self._tasks.empty():
                        self._idle -= 1
                        return
                continue  # a task was promised to an idle thread meanwhile: take it
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:  # the caller's future carries it
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn, args  # nothing of the task outlives it while idle
            with self._lock:
                self._busy -= 1
                self._idle += 1


_WORKERS = Workers()


def workers() -> Workers:
    """The process's shared :class:`Workers`."""
    return _WORKERS


def bounded_map(fn: Callable[[A], T], items: Sequence[A], limit: int) -> list[T]:
    """``[fn(item) for item in items]``, at most ``limit`` at once, results in input order.

    The concurrency of the driver's :class:`~mastkit.protocol.flows.Parallel`, shared with the
    plan driver of :mod:`mastkit.services` so that both fan out the same way. Items run on the
    shared :func:`workers`. The first failure in input order is raised once the items already
    running have finished; the items not yet started are never started.
    """
    if len(items) <= 1 or limit <= 1:
        return [fn(item) for item in items]
    pool = workers()
    slots = threading.BoundedSemaphore(limit)

    def run(item: A) -> T:
        try:
            return fn(item)
        finally:
            slots.release()

    futures: list[Future[T]] = []
    for item in items:
        slots.acquire()
        if any(f.done() and f.exception() is not None for f in futures):
            slots.release()
            break  # a failure: start nothing more
        futures.append(pool.submit(run, item))
    wait(futures)  # after a failure, the running ones finish before it is raised
    # Raises the first failure in input order (there is one if the loop stopped early).
    return [f.result() for f in futures]
