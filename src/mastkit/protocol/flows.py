"""Multi-step exchanges as sans-I/O generators.

A flow is a generator that yields *actions* and receives their results:

* :class:`Send` — send these exact bytes for this request; the driver sends back the decoded
  :class:`~mastkit.protocol.MashupResponse`;
* :class:`Sleep` — wait this many seconds; the driver sends back None;
* :class:`Parallel` — run these sub-flows, at most ``limit`` at once; the driver sends back the
  list of their results in order (or throws the first failure into the flow).

The flow's return value is its result. :class:`~mastkit.client.Client` and
:class:`~mastkit.client.AsyncClient` each have one small driver for these; tests drive flows by
hand with canned replies and no transport at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from mastkit.errors import DecodeError, QueryTimeout, ResultTooLargeError
from mastkit.protocol.codec import encode_form
from mastkit.protocol.envelopes import MashupRequest, MashupResponse, new_cachebreaker
from mastkit.protocol.status import error_for_reply

__all__ = [
    "Backoff",
    "Flow",
    "Parallel",
    "Send",
    "Sleep",
    "Splitter",
    "check_page",
    "fetch_all",
    "first_page",
    "paginate",
    "poll",
    "remaining_pages",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``body`` (the canonical encoding of ``request``) and return the decoded reply.

    ``deadline`` is the monotonic time by which the whole flow must finish; drivers cap socket
    timeouts to it.
    """

    request: MashupRequest
    body: bytes
    deadline: float


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` before the next action."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Parallel:
    """Run ``flows`` concurrently, at most ``limit`` at once; results come back in order."""

    flows: tuple[Generator[Any, Any, Any], ...]
    limit: int = 4


Action = Send | Sleep | Parallel
Flow = Generator[Action, Any, T]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between polls of an EXECUTING job: ``initial * factor**n``, capped at ``maximum``.

    The server already holds each poll for up to the request's ``timeout``, so the client's own
    waits can start short.
    """

    initial: float = 0.25
    factor: float = 2.0
    maximum: float = 10.0

    def delays(self) -> Generator[float, None, None]:
        """The infinite sequence of delays."""
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


def poll(
    request: MashupRequest,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    backoff: Backoff = Backoff(),
) -> Flow[MashupResponse]:
    """Send ``request`` until it is no longer EXECUTING, re-sending the exact same bytes.

    Between polls the flow waits per ``backoff``, but at most half the time left, so that the
    next poll still has time to be answered; with less than ``backoff.initial`` seconds to go it
    waits out the deadline and gives up.

    Raises
    ------
    ServiceError
        When the reply is an ERROR.
    QueryTimeout
        When ``deadline`` passes while the job is still EXECUTING; the message says so, with the
        number of polls and the time spent.
    """
    body = encode_form(request)  # encoded once: every poll replays these bytes exactly
    delays = backoff.delays()
    started = clock()
    polls = 0
    while True:
        try:
            response: MashupResponse = yield Send(request, body, deadline)
        except QueryTimeout as exc:
            # The driver ran out of time sending a poll (the socket timeout is capped to the
            # deadline): after a first EXECUTING reply, what the user needs to hear is that the
            # job was still running.
            if polls == 0 or clock() < deadline:
                raise
            raise _still_executing(request, polls, clock() - started) from exc
        polls += 1
        error = error_for_reply(response, request)
        if error is not None:
            raise error
        if not response.is_executing:
            return response
        remaining = deadline - clock()
        if remaining < backoff.initial:
            # Too little time for another poll to be answered. Give up at the deadline, not
            # before it: a timeout should mean what the caller asked for.
            if remaining > 0:
                yield Sleep(remaining)
            raise _still_executing(request, polls, clock() - started)
        # Half the time left at most, so the next poll has as long as the wait to be answered.
        yield Sleep(min(next(delays), remaining / 2))


def _still_executing(request: MashupRequest, polls: int, elapsed: float) -> QueryTimeout:
    return QueryTimeout(
        f"{request.service} was still EXECUTING on the server after {polls} "
        f"poll{'s' if polls != 1 else ''} over {elapsed:.1f} s, and the call's deadline left no "
        "time to ask again; raise the timeout or narrow the query.",
        service=request.service,
        request=request,
    )


def first_page(request: MashupRequest, pagesize: int) -> MashupRequest:
    """The page-1 request of an auto-paged query, with a cachebreaker shared by all its pages."""
    return request.replace(
        page=1,
        pagesize=request.pagesize or pagesize,
        cachebreaker=request.cachebreaker or new_cachebreaker(),
    )


def remaining_pages(request: MashupRequest, first: MashupResponse) -> list[MashupRequest]:
    """The requests for pages 2..N once page 1 has told how many there are."""
    paging = first.paging
    if paging is None or paging.pages_filtered <= 1:
        return []
    start = (request.page or 1) + 1
    return [request.with_page(page) for page in range(start, paging.pages_filtered + 1)]


def check_page(request: MashupRequest, first: MashupResponse, page: MashupResponse) -> None:
    """Check that a later page belongs to the same result as page 1.

    Raises
    ------
    DecodeError
        If the result changed between pages (different row count or columns), which would make
        the concatenation wrong.
    """
    if first.paging is None or page.paging is None:
        return
    if page.paging.rows_filtered != first.paging.rows_filtered:
        raise DecodeError(
            f"{request.service}: the result changed while paging (page 1 said "
            f"{first.paging.rows_filtered} rows, page {page.paging.page} says "
            f"{page.paging.rows_filtered}); run the query again.",
            service=request.service,
            request=request,
        )
    if (
        first.fields
        and page.fields
        and [f.name for f in page.fields] != [f.name for f in first.fields]
    ):
        raise DecodeError(
            f"{request.service}: page {page.paging.page} has different columns from page 1.",
            service=request.service,
            request=request,
        )


def paginate(
    request: MashupRequest,
    *,
    pagesize: int,
    deadline: float,
    concurrency: int = 4,
    clock: Callable[[], float] = time.monotonic,
    backoff: Backoff = Backoff(),
) -> Flow[list[MashupResponse]]:
    """Fetch every page of a result: page 1, then pages 2..N concurrently.

    All pages share one cachebreaker, so the server serves them from the same finished job.
    """
    request = first_page(request, pagesize)
    first = yield from poll(request, deadline=deadline, clock=clock, backoff=backoff)
    rest = remaining_pages(request, first)
    if not rest:
        return [first]
    flows = tuple(poll(r, deadline=deadline, clock=clock, backoff=backoff) for r in rest)
    pages: list[MashupResponse] = yield Parallel(flows, limit=max(1, concurrency))
    for page in pages:
        check_page(request, first, page)
    return [first, *pages]


class Splitter(Protocol):
    """Splits a request the server refused as too large into parts that each fit.

    Implementations (sky tiles for cones, value or range partitions for criteria) arrive with the
    scale work; :func:`fetch_all` calls them.
    """

    def split(self, request: MashupRequest) -> Sequence[MashupRequest]:
        """Parts whose union is exactly the request's result, without overlap."""
        ...


def fetch_all(
    request: MashupRequest,
    *,
    pagesize: int,
    deadline: float,
    concurrency: int = 4,
    splitter: Splitter | None = None,
    max_depth: int = 6,
    clock: Callable[[], float] = time.monotonic,
    backoff: Backoff = Backoff(),
) -> Flow[list[MashupResponse]]:
    """:func:`paginate`, splitting the request when the server refuses it as too large.

    Without a ``splitter`` a refusal propagates as :class:`ResultTooLargeError`.
    """
    try:
        return (
            yield from paginate(
                request,
                pagesize=pagesize,
                deadline=deadline,
                concurrency=concurrency,
                clock=clock,
                backoff=backoff,
            )
        )
    except ResultTooLargeError:
        if splitter is None or max_depth <= 0:
            raise
    parts = list(splitter.split(request))
    if len(parts) < 2:
        raise ResultTooLargeError(
            f"{request.service}: the result is larger than the server allows and could not be "
            "split further; narrow the query.",
            service=request.service,
            request=request,
        )
    flows = tuple(
        fetch_all(
            part,
            pagesize=pagesize,
            deadline=deadline,
            concurrency=concurrency,
            splitter=splitter,
            max_depth=max_depth - 1,
            clock=clock,
            backoff=backoff,
        )
        for part in parts
    )
    results: list[list[MashupResponse]] = yield Parallel(flows, limit=max(1, concurrency))
    return [page for pages in results for page in pages]
