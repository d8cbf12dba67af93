"""Flows driven by hand with canned replies: no transport at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mastkit.errors import DecodeError, QueryTimeout, ResultTooLargeError, ServiceError
from mastkit.protocol import MashupRequest, MashupResponse, Paging
from mastkit.protocol.flows import (
    Backoff,
    Parallel,
    Send,
    Sleep,
    fetch_all,
    paginate,
    poll,
)

REQ = MashupRequest("Mast.Caom.Cone", {"ra": 1.0, "dec": 2.0, "radius": 0.2}, cachebreaker="cb")


def executing() -> MashupResponse:
    return MashupResponse(status="EXECUTING")


def complete(page: int = 1, pages: int = 1, rows: int = 10, data: bytes = b"[]") -> MashupResponse:
    return MashupResponse(
        status="COMPLETE",
        paging=Paging(page, 3, pages, 3, rows, rows),
        data_raw=data,
    )


class Driver:
    """A test driver: answers Send actions from a function and records everything."""

    def __init__(self, answer: Callable[[Send], Any], clock: list[float] | None = None) -> None:
        self.answer = answer
        self.sent: list[Send] = []
        self.slept: list[float] = []
        self.clock = clock

    def run(self, flow: Any) -> Any:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = flow.throw(error) if error else flow.send(result)
            except StopIteration as stop:
                return stop.value
            result, error = None, None
            try:
                if isinstance(action, Send):
                    self.sent.append(action)
                    result = self.answer(action)
                elif isinstance(action, Sleep):
                    self.slept.append(action.seconds)
                    if self.clock is not None:
                        self.clock[0] += action.seconds
                elif isinstance(action, Parallel):
                    result = [self.run(f) for f in action.flows]
            except Exception as exc:  # thrown back into the flow, as the real drivers do
                error = exc


def test_poll_replays_exact_bytes_until_complete() -> None:
    replies = [executing(), executing(), executing(), complete()]
    driver = Driver(lambda _: replies.pop(0))
    result = driver.run(poll(REQ, deadline=1e12))
    assert result.status == "COMPLETE"
    assert len(driver.sent) == 4
    assert len({s.body for s in driver.sent}) == 1  # the same bytes every time
    assert b"cacheBreaker%22%3A%20%22cb" in driver.sent[0].body
    assert driver.slept == [0.25, 0.5, 1.0]  # backoff between polls


def test_backoff_is_capped() -> None:
    delays = Backoff(initial=1, factor=3, maximum=5).delays()
    assert [next(delays) for _ in range(5)] == [1, 3, 5, 5, 5]


def test_poll_deadline_raises_timeout() -> None:
    clock = [0.0]
    driver = Driver(lambda _: executing(), clock)
    with pytest.raises(QueryTimeout, match="still EXECUTING"):
        driver.run(poll(REQ, deadline=5.0, clock=lambda: clock[0]))
    assert clock[0] == pytest.approx(5.0)  # the last sleep is trimmed to the deadline
    assert all(s <= 5.0 for s in driver.slept)


def test_poll_error_reply_raises_with_server_message() -> None:
    driver = Driver(lambda _: MashupResponse(status="ERROR", msg="Invalid column name 's_fov'"))
    with pytest.raises(ServiceError) as info:
        driver.run(poll(REQ, deadline=1e12))
    assert info.value.server_message == "Invalid column name 's_fov'"
    assert info.value.service == "Mast.Caom.Cone"
    assert "s_fov" in str(info.value)


def test_poll_error_without_message() -> None:
    driver = Driver(lambda _: MashupResponse(status="ERROR"))
    with pytest.raises(ServiceError, match="There was an error with your request"):
        driver.run(poll(REQ, deadline=1e12))


def test_non_table_status_stops_polling() -> None:
    driver = Driver(lambda _: MashupResponse(status="", extra={"resolvedCoordinate": []}))
    assert driver.run(poll(REQ, deadline=1e12)).status == ""
    assert len(driver.sent) == 1


def test_paginate_fetches_every_page_with_one_cachebreaker() -> None:
    def answer(send: Send) -> MashupResponse:
        page = send.request.page
        assert page is not None
        return complete(page=page, pages=4, rows=10)

    driver = Driver(answer)
    pages = driver.run(paginate(MashupRequest("S", {"x": 1}), pagesize=3, deadline=1e12))
    assert [p.paging.page for p in pages] == [1, 2, 3, 4]
    requests = [s.request for s in driver.sent]
    assert [r.page for r in requests] == [1, 2, 3, 4]
    assert len({r.cachebreaker for r in requests}) == 1 and requests[0].cachebreaker
    assert all(r.pagesize == 3 for r in requests)


def test_paginate_polls_each_page() -> None:
    state: dict[int, int] = {}

    def answer(send: Send) -> MashupResponse:
        page = send.request.page or 1
        state[page] = state.get(page, 0) + 1
        if state[page] < 2:
            return executing()
        return complete(page=page, pages=2, rows=4)

    driver = Driver(answer)
    pages = driver.run(paginate(REQ, pagesize=3, deadline=1e12))
    assert len(pages) == 2 and state == {1: 2, 2: 2}


def test_paginate_detects_a_result_that_changed() -> None:
    def answer(send: Send) -> MashupResponse:
        page = send.request.page or 1
        return complete(page=page, pages=2, rows=4 if page == 1 else 7)

    with pytest.raises(DecodeError, match="changed while paging"):
        Driver(answer).run(paginate(REQ, pagesize=3, deadline=1e12))


def test_single_page_and_empty_results() -> None:
    driver = Driver(lambda _: MashupResponse(status="COMPLETE", paging=Paging()))
    assert len(driver.run(paginate(REQ, pagesize=10, deadline=1e12))) == 1
    assert len(driver.sent) == 1


class HalfSplitter:
    """Splits a cone-like request on its 'part' parameter."""

    def split(self, request: MashupRequest) -> list[MashupRequest]:
        lo, hi = request.params["range"]
        if hi - lo < 2:
            return [request]
        mid = (lo + hi) // 2
        return [
            request.replace(params={"range": (lo, mid)}),
            request.replace(params={"range": (mid, hi)}),
        ]


def test_fetch_all_splits_refused_queries_recursively() -> None:
    def answer(send: Send) -> MashupResponse:
        lo, hi = send.request.params["range"]
        if hi - lo > 25:
            raise ResultTooLargeError("too large")
        return complete(rows=hi - lo, data=f"[{lo},{hi}]".encode())

    driver = Driver(answer)
    req = MashupRequest("S", {"range": (0, 100)})
    pages = driver.run(fetch_all(req, pagesize=10, deadline=1e12, splitter=HalfSplitter()))
    spans = [tuple(p.data) for p in pages]
    assert spans == [(0, 25), (25, 50), (50, 75), (75, 100)]


def test_fetch_all_without_splitter_or_unsplittable() -> None:
    def answer(send: Send) -> MashupResponse:
        raise ResultTooLargeError("too large")

    with pytest.raises(ResultTooLargeError):
        Driver(answer).run(
            fetch_all(REQ.replace(params={"range": (0, 1)}), pagesize=10, deadline=1e12)
        )
    with pytest.raises(ResultTooLargeError, match="could not be split further"):
        Driver(answer).run(
            fetch_all(
                REQ.replace(params={"range": (0, 1)}),
                pagesize=10,
                deadline=1e12,
                splitter=HalfSplitter(),
            )
        )
