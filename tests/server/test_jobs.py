"""The long-polling job manager, with synthetic work (no database)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mastkit.server.jobs import JobManager, ServerBusy

pytestmark = pytest.mark.anyio


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Work:
    """Counts its runs; blocks until released when ``gate`` is given."""

    def __init__(
        self, value: str = "ok", *, gate: threading.Event | None = None, fail: bool = False
    ) -> None:
        self.runs = 0
        self.value = value
        self.gate = gate
        self.fail = fail

    def __call__(self) -> str:
        self.runs += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail:
            raise ValueError(f"failure {self.runs}")
        return f"{self.value}{self.runs}"


def manager(**kwargs: object) -> JobManager[str]:
    options: dict[str, object] = {"workers": 4, "sizer": len}
    options.update(kwargs)
    return JobManager(**options)  # type: ignore[arg-type]


async def test_fast_job_completes_within_the_hold() -> None:
    jobs = manager()
    work = Work()
    outcome = await jobs.run("k", work, timeout=5)
    assert outcome is not None and outcome.value == "ok1"
    again = await jobs.run("k", work, timeout=5)
    assert again is not None and again.value == "ok1"  # served from the finished job
    assert work.runs == 1
    jobs.shutdown()


async def test_slow_job_answers_executing_then_the_same_job_completes() -> None:
    jobs = manager()
    gate = threading.Event()
    work = Work(gate=gate)
    assert await jobs.run("k", work, timeout=0.05) is None
    assert await jobs.run("k", work, timeout=0.05) is None  # attaches, does not start another
    gate.set()
    outcome = await jobs.run("k", work, timeout=5)
    assert outcome is not None and outcome.value == "ok1"
    assert work.runs == 1
    jobs.shutdown()


async def test_concurrent_identical_requests_share_one_job() -> None:
    jobs = manager()
    gate = threading.Event()
    work = Work(gate=gate)
    tasks = [asyncio.create_task(jobs.run("k", work, timeout=5)) for _ in range(10)]
    await asyncio.sleep(0.05)
    gate.set()
    outcomes = await asyncio.gather(*tasks)
    assert {o.value for o in outcomes if o is not None} == {"ok1"}
    assert work.runs == 1
    jobs.shutdown()


async def test_different_keys_run_separately() -> None:
    jobs = manager()
    work = Work()
    a = await jobs.run(("svc", "p", "cb1"), work, timeout=5)
    b = await jobs.run(("svc", "p", "cb2"), work, timeout=5)
    assert a is not None and b is not None and a.value != b.value
    assert work.runs == 2
    jobs.shutdown()


async def test_fresh_reruns_a_finished_job() -> None:
    jobs = manager()
    work = Work()
    await jobs.run("k", work, timeout=5)
    outcome = await jobs.run("k", work, timeout=5, fresh=True)
    assert outcome is not None and outcome.value == "ok2"
    jobs.shutdown()


async def test_fresh_while_running_attaches() -> None:
    jobs = manager()
    gate = threading.Event()
    work = Work(gate=gate)
    assert await jobs.run("k", work, timeout=0.02, fresh=True) is None
    gate.set()
    outcome = await jobs.run("k", work, timeout=5, fresh=True)
    assert outcome is not None and outcome.value == "ok1"  # not dropped before delivery
    jobs.shutdown()


async def test_a_delivered_error_is_dropped_on_the_next_identical_request() -> None:
    jobs = manager()
    work = Work(fail=True)
    first = await jobs.run("k", work, timeout=5)
    assert first is not None and isinstance(first.error, ValueError)
    second = await jobs.run("k", work, timeout=5)
    assert second is not None and str(second.error) == "failure 2"
    assert work.runs == 2
    jobs.shutdown()


async def test_an_error_that_happened_between_polls_reaches_the_next_poll() -> None:
    jobs = manager()
    gate = threading.Event()
    work = Work(gate=gate, fail=True)
    assert await jobs.run("k", work, timeout=0.02) is None
    gate.set()
    await asyncio.sleep(0.1)
    outcome = await jobs.run("k", work, timeout=5)
    assert outcome is not None and str(outcome.error) == "failure 1"
    jobs.shutdown()


async def test_keep_false_is_dropped_once_delivered() -> None:
    jobs = manager()
    work = Work()
    outcome = await jobs.run("k", work, timeout=5, keep=False)
    assert outcome is not None
    assert "k" not in jobs
    jobs.shutdown()


async def test_unpolled_jobs_expire() -> None:
    clock = Clock()
    jobs = manager(clock=clock, expiry=600.0)
    work = Work()
    await jobs.run("old", work, timeout=5)
    clock.now += 599
    await jobs.run("new", work, timeout=5)
    assert "old" in jobs
    clock.now += 2  # "old" last asked 601 s ago
    await jobs.run("newer", work, timeout=5)
    assert "old" not in jobs and "new" in jobs
    outcome = await jobs.run("old", work, timeout=5)
    assert outcome is not None and outcome.value == "ok4"  # ran afresh
    jobs.shutdown()


async def test_polling_keeps_a_job_alive() -> None:
    clock = Clock()
    jobs = manager(clock=clock, expiry=600.0)
    work = Work()
    for _ in range(5):
        await jobs.run("k", work, timeout=5)
        clock.now += 500
    assert work.runs == 1
    jobs.shutdown()


async def test_results_are_evicted_least_recently_used_first() -> None:
    jobs = manager(max_bytes=10)

    def make(value: str) -> Work:
        return Work(value * 4)

    await jobs.run("a", make("a"), timeout=5)  # 5 bytes ("aaaa1")
    await jobs.run("b", make("b"), timeout=5)
    await jobs.run("a", make("a"), timeout=5)  # a is now the most recent
    await jobs.run("c", make("c"), timeout=5)
    assert "a" in jobs and "c" in jobs and "b" not in jobs
    assert jobs.cached_bytes <= 10
    jobs.shutdown()


async def test_a_full_job_table_refuses_new_keys() -> None:
    jobs = manager(max_jobs=2)
    gate = threading.Event()
    assert await jobs.run("a", Work(gate=gate), timeout=0.01) is None
    assert await jobs.run("b", Work(gate=gate), timeout=0.01) is None
    with pytest.raises(ServerBusy):
        await jobs.run("c", Work(), timeout=0.01)
    gate.set()
    await asyncio.sleep(0.1)
    outcome = await jobs.run("c", Work(), timeout=5)  # finished jobs can be evicted for room
    assert outcome is not None
    jobs.shutdown()
