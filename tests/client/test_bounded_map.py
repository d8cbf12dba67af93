"""The clients' bounded map (their Parallel, and the services' Gather): order, bound, errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mastkit.client._async import bounded_map as bounded_map_async
from mastkit.client._sync import bounded_map
from mastkit.errors import ServiceError

pytestmark = pytest.mark.anyio


class Gauge:
    """Counts calls in flight and remembers the most at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


@pytest.mark.parametrize("limit", [2, 3])
def test_sync_runs_limit_at_once_in_order(limit: int) -> None:
    # Every call waits at a barrier of `limit` parties: it only passes when exactly `limit`
    # calls run together, so a smaller fan-out would break the barrier (and fail the test).
    barrier, gauge = threading.Barrier(limit, timeout=30), Gauge()

    def square(x: int) -> int:
        gauge.enter()
        try:
            barrier.wait()
            return x * x
        finally:
            gauge.leave()

    items = list(range(limit * 4))
    assert bounded_map(square, items, limit) == [x * x for x in items]
    assert gauge.peak == limit


@pytest.mark.parametrize("limit", [0, 1, 5])
def test_sync_edges(limit: int) -> None:
    assert bounded_map(str, [], limit) == []
    assert bounded_map(str, [7], limit) == ["7"]
    caller = threading.get_ident()
    seen: list[int] = []
    if limit <= 1:  # no pool at all: everything on the caller's thread
        bounded_map(lambda _: seen.append(threading.get_ident()), [1, 2, 3], limit)
        assert seen == [caller] * 3


def test_sync_raises_the_first_failure_itself() -> None:
    def check(x: int) -> int:
        if x in (3, 5):
            raise ServiceError(f"bad {x}")
        return x

    with pytest.raises(ServiceError, match="bad 3"):
        bounded_map(check, list(range(8)), 4)


async def test_async_runs_limit_at_once_in_order() -> None:
    limit, gauge = 3, Gauge()
    barrier = asyncio.Barrier(limit)

    async def square(x: int) -> int:
        gauge.enter()
        try:
            await asyncio.wait_for(barrier.wait(), 30)
            return x * x
        finally:
            gauge.leave()

    items = list(range(limit * 4))
    assert await bounded_map_async(square, items, limit) == [x * x for x in items]
    assert gauge.peak == limit


async def test_async_edges_and_errors() -> None:
    async def echo(x: int) -> int:
        return x

    assert await bounded_map_async(echo, [], 4) == []
    assert await bounded_map_async(echo, [9], 4) == [9]

    async def check(x: int) -> int:
        await asyncio.sleep(0)
        if x == 2:
            raise ServiceError("bad 2")
        return x

    # The failure itself, not an exception group, so callers can catch MastError.
    with pytest.raises(ServiceError, match="bad 2"):
        await bounded_map_async(check, list(range(6)), 3)
