"""Long-polling jobs: MAST's EXECUTING / identical-request protocol (mast-protocol.md 3.7).

A request names a job by its key (service, params, cachebreaker). The first request with a key
starts the work on a worker thread; every request with the same key attaches to that job and
waits for it up to its own ``timeout``. A request whose job is still running when its timeout
passes is answered EXECUTING and the client repeats it. Finished results stay for paging, within
a memory budget (least recently used results are evicted first) and until nobody has asked for
them for ``expiry`` seconds (10 minutes, as MAST).

Two refinements of the legacy server's rules, which keep polling clients from looping forever:

* a failed result, and a finished one whose request says ``clearcache``, is dropped on the next
  identical request only once it has been delivered to some request; a job that fails while its
  client is between polls still reports the failure to that client's next poll;
* a job whose result must not be cached (requests carrying ``data``, or ``removecache``) is
  reachable while it runs, so polls attach to it, and is dropped as soon as its result has been
  delivered.

The manager is thread-safe and not bound to an event loop: waiters register their own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Job", "JobManager", "Outcome", "ServerBusy"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class ServerBusy(Exception):
    """Too many jobs are queued or running; the app answers 503 with a Retry-After."""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """The end of a job: its value, or the exception its work raised."""

    value: T | None = None
    error: BaseException | None = None

    @property
    def failed(self) -> bool:
        """Whether the work raised."""
        return self.error is not None


@dataclass(eq=False)
class Job(Generic[T]):
    """One unit of work and the requests waiting for it."""

    key: Hashable
    keep: bool
    last_access: float
    outcome: Outcome[T] | None = None
    nbytes: int = 0
    delivered: bool = False
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=list
    )

    @property
    def done(self) -> bool:
        """Whether the work has finished (successfully or not)."""
        return self.outcome is not None


class JobManager(Generic[T]):
    """Runs jobs on a thread pool and lets identical requests share them.

    Parameters
    ----------
    workers : int
        Worker threads (blocking database work runs there, never on the event loop).
    expiry : float
        Seconds after the last request for a job when it is dropped (MAST: 600).
    max_bytes : int
        Budget for finished results kept for paging; least recently used are evicted past it.
    max_jobs : int
        Most jobs kept at once, finished or not; past it new keys get :class:`ServerBusy`.
    sizer : callable
        Memory estimate of a finished value, in bytes.
    clock : callable
        Monotonic time in seconds; injectable so tests can expire jobs without waiting.
    """

    def __init__(
        self,
        *,
        workers: int = 4,
        expiry: float = 600.0,
        max_bytes: int = 512 * 1024 * 1024,
        max_jobs: int = 10_000,
        sizer: Callable[[T], int] = lambda _value: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.expiry = expiry
        self.max_bytes = max_bytes
        self.max_jobs = max_jobs
        self._sizer = sizer
        self._clock = clock
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._jobs: OrderedDict[Hashable, Job[T]] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._anonymous = 0
        self.closing = threading.Event()

    # ------------------------------------------------------------------ inspection (tests, info)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._jobs

    @property
    def cached_bytes(self) -> int:
        """Bytes held by finished results."""
        with self._lock:
            return self._bytes

    # ------------------------------------------------------------------ the protocol

    async def run(
        self,
        key: Hashable | None,
        work: Callable[[], T],
        *,
        timeout: float,
        fresh: bool = False,
        keep: bool = True,
    ) -> Outcome[T] | None:
        """Start or attach to the job ``key`` and wait for it up to ``timeout`` seconds.

        Parameters
        ----------
        key : hashable or None
            The job's identity. None makes a job nobody else can attach to.
        work : callable
            The blocking work, run on a worker thread if a new job starts.
        timeout : float
            Seconds to hold this request before answering EXECUTING (None returned).
        fresh : bool
            ``clearcache``: drop a finished (and delivered) result and run the work again.
        keep : bool
            Whether the result may serve later identical requests (False: dropped once delivered).

        Returns
        -------
        Outcome or None
            The job's outcome, or None when it is still running after ``timeout``.

        Raises
        ------
        ServerBusy
            When the job table is full.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        job, start = self._attach(key, fresh=fresh, keep=keep, loop=loop, waiter=waiter)
        if start:
            self._start(job, work)
        if not job.done and timeout > 0:
            # Shielded: a hold that times out must not cancel the job's completion signal.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
        with self._lock:
            if (loop, waiter) in job.waiters:
                job.waiters.remove((loop, waiter))
            outcome = job.outcome
            if outcome is None:
                return None
            job.delivered = True
            job.last_access = self._clock()
            if not job.keep and self._jobs.get(job.key) is job:
                self._drop(job.key)
            return outcome

    def _attach(
        self,
        key: Hashable | None,
        *,
        fresh: bool,
        keep: bool,
        loop: asyncio.AbstractEventLoop,
        waiter: asyncio.Future[None],
    ) -> tuple[Job[T], bool]:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key is None:
                self._anonymous += 1
                key = ("anonymous", self._anonymous)
                keep = False
            job = self._jobs.get(key)
            if job is not None and job.done and job.delivered:
                assert job.outcome is not None
                if fresh or job.outcome.failed:
                    self._drop(key)
                    job = None
            start = job is None
            if job is None:
                if len(self._jobs) >= self.max_jobs:
                    self._evict_finished(now, need_slot=True)
                if len(self._jobs) >= self.max_jobs:
                    raise ServerBusy(f"{len(self._jobs)} jobs are in progress or cached")
                job = Job(key=key, keep=keep, last_access=now)
                self._jobs[key] = job
            else:
                job.last_access = now
                job.keep = job.keep and keep
                self._jobs.move_to_end(key)
            self._evict_finished(now, need_slot=False, spare=job)
            if not job.done:
                job.waiters.append((loop, waiter))
            return job, start

    def _start(self, job: Job[T], work: Callable[[], T]) -> None:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self._workers, thread_name_prefix="mastkit-job"
                    )
        self._executor.submit(self._execute, job, work)

    def _execute(self, job: Job[T], work: Callable[[], T]) -> None:
        try:
            outcome: Outcome[T] = Outcome(value=work())
        except BaseException as exc:  # the outcome carries it to the request that waits
            outcome = Outcome(error=exc)
        nbytes = 0
        if outcome.value is not None:
            try:
                nbytes = int(self._sizer(outcome.value))
            except Exception:  # pragma: no cover - a sizer bug must not lose the result
                log.exception("sizing a job result failed")
        with self._lock:
            job.outcome = outcome
            if self._jobs.get(job.key) is job:
                job.nbytes = nbytes
                self._bytes += nbytes
                self._evict_finished(self._clock(), need_slot=False, spare=job)
            waiters, job.waiters = job.waiters, []
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that request's event loop is gone
                loop.call_soon_threadsafe(_wake, waiter)

    # ------------------------------------------------------------------ bookkeeping (lock held)

    def _drop(self, key: Hashable) -> None:
        job = self._jobs.pop(key, None)
        if job is not None:
            self._bytes -= job.nbytes
            job.nbytes = 0

    def _expire(self, now: float) -> None:
        while self._jobs:
            key, job = next(iter(self._jobs.items()))
            if now - job.last_access < self.expiry:
                break
            # A running job cannot be killed mid-query; dropping it detaches it, and its result
            # is discarded when it finishes.
            self._drop(key)

    def _evict_finished(self, now: float, *, need_slot: bool, spare: Job[T] | None = None) -> None:
        """Evict least recently used finished results until within budget."""
        if self._bytes <= self.max_bytes and not (need_slot and len(self._jobs) >= self.max_jobs):
            return  # the usual case: no copy of the (up to max_jobs) keys
        for key in list(self._jobs):
            over_bytes = self._bytes > self.max_bytes
            over_slots = need_slot and len(self._jobs) >= self.max_jobs
            if not (over_bytes or over_slots):
                return
            job = self._jobs[key]
            if job.done and job is not spare:
                self._drop(key)

    def expire(self) -> int:
        """Drop the jobs nobody has asked for within ``expiry`` now, and return how many are left.

        Expiry otherwise happens as requests arrive; this lets an idle server be measured.
        """
        with self._lock:
            self._expire(self._clock())
            return len(self._jobs)

    def discard(self, key: Hashable) -> bool:
        """Forget the job ``key`` if there is one (a running job finishes unobserved).

        Requests already waiting on it still get its outcome; the next request with the key
        starts the work over. Returns whether a job was forgotten.
        """
        with self._lock:
            if key not in self._jobs:
                return False
            self._drop(key)
            return True

    # ------------------------------------------------------------------ lifecycle

    def clear(self) -> None:
        """Forget every job (running ones finish unobserved)."""
        with self._lock:
            self._jobs.clear()
            self._bytes = 0

    def shutdown(self) -> None:
        """Stop accepting work; queued jobs are cancelled, running ones finish on their own."""
        self.closing.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
