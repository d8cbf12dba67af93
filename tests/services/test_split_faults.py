"""Split queries through a misbehaving server: the merged table is exact, or an error is raised.

A local server with a low row limit refuses the whole query, so the client counts and fetches it
in parts (see test_split.py); here the same server also injects faults
(:mod:`mastkit.server.fault_injection`) into those counts and parts. Transient faults are
absorbed by the client's retries and the merged table equals the unlimited server's row for row;
a fault that persists raises, and never yields a partial table.

Two ways to refuse, as in test_split.py: over a loopback socket resetting the connection past
the limit (as MAST does), and in-process over ``httpx.ASGITransport`` answering ERROR.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from mastkit.client import AsyncClient, Client, RetryPolicy
from mastkit.errors import HTTPStatusError, MastError, ServiceError, TransportError
from mastkit.server.app import ServerSettings, create_app
from mastkit.server.fault_injection import FaultPlan
from mastkit.server.local import BackgroundServer
from mastkit.services import AsyncObservations, Observations

LIMIT = 120
#: The queries split: criteria alone (sky slices) and a cone (sky tiles).
QUERIES: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {
    "criteria": ("query_criteria", (), {"dataproduct_type": "image"}),
    "cone": ("query_region", ("83.65 22.0",), {"radius": 40}),
}
FAST = RetryPolicy(max_retries=4, base=0.01, cap=0.05)
#: Counts and parts are Mast.Caom.Filtered (criteria) or Mast.Caom.Filtered.Position (cone).
PARTS = "service=Mast.Caom.Filtered*"
TRANSIENT = {
    "503x2": f"{PARTS}:kind=503:every=3:times=2",
    "reset": f"{PARTS}:kind=reset:every=4:times=2",
    "429": f"{PARTS}:kind=429:retry_after=1:every=5:times=1",
    "truncate": f"{PARTS}:kind=truncate:every=3:times=2",
}


@pytest.fixture(scope="module")
def unlimited(server_url: str) -> dict[str, Any]:
    """Each query's table from a server without a row limit."""
    with Client(server_url, timeout=60, cache=False) as client:
        obs = Observations(client)
        tables = {name: getattr(obs, m)(*a, **kw) for name, (m, a, kw) in QUERIES.items()}
    for table in tables.values():
        assert len(table) > 2 * LIMIT  # every query needs several parts
    return tables


def _app(db: Any, *specs: str, reset: bool) -> Any:
    faults = FaultPlan.parse(specs, seed=1)
    return create_app(db, ServerSettings(row_limit=LIMIT, reset_over_limit=reset, faults=faults))


@contextmanager
def _loopback(app: Any) -> Iterator[str]:
    background = BackgroundServer(app)
    try:
        yield background.start()
    finally:
        background.stop()


def _split_sync(app: Any, query: str) -> Any:
    """The query through a sync client over a loopback socket."""
    method, args, kwargs = QUERIES[query]
    with _loopback(app) as url, Client(url, timeout=60, cache=False, retry=FAST) as client:
        return getattr(Observations(client), method)(*args, **kwargs)


def _split_async(app: Any, query: str) -> Any:
    """The query through an async client in-process to a server answering ERROR past the limit."""
    method, args, kwargs = QUERIES[query]

    async def run() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient(
            "http://limited", transport=transport, timeout=60, cache=False, retry=FAST
        ) as client:
            return await getattr(AsyncObservations(client), method)(*args, **kwargs)

    return asyncio.run(run())


def _exact(split: Any, whole: Any) -> None:
    assert split.metadata["split"]["parts"] > 1  # it really was split
    assert split.columns == whole.columns
    assert split.arrow.equals(whole.arrow)  # row for row, in the server's order


def _injected(app: Any) -> int:
    return int(app.state.server.faults.injected())


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_transient_faults_on_parts_are_absorbed_sync(
    db: Any, unlimited: dict[str, Any], fault: str, query: str
) -> None:
    app = _app(db, TRANSIENT[fault], reset=False)
    _exact(_split_sync(app, query), unlimited[query])
    times = int(TRANSIENT[fault].rsplit("times=", 1)[1])
    assert _injected(app) == times  # every planned fault happened, and was absorbed


@pytest.mark.parametrize("fault", ["reset", "503x2"])
def test_transient_faults_on_parts_of_a_server_resetting_past_its_limit(
    db: Any, unlimited: dict[str, Any], fault: str
) -> None:
    # Over its limit this server resets the connection, as MAST does, and the client retries
    # that before the split sees it: let those attempts of the whole query through, so the
    # faults land on counts and parts, where an injected reset looks like one more refusal.
    # (A 503 as the last of the whole query's attempts would end it: that is no refusal.)
    whole_attempts = f"{PARTS}:kind=slow:delay=0:times={1 + FAST.max_retries}"
    app = _app(db, whole_attempts, TRANSIENT[fault], reset=True)
    _exact(_split_sync(app, "criteria"), unlimited["criteria"])
    assert app.state.server.faults.counts()[1].injected == 2


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_transient_faults_on_parts_are_absorbed_async(
    db: Any, unlimited: dict[str, Any], fault: str, query: str
) -> None:
    # In-process, resets and truncations arrive as ConnectionResetError from the app: the client
    # must treat them as the network faults they stand for.
    app = _app(db, TRANSIENT[fault], reset=False)
    _exact(_split_async(app, query), unlimited[query])
    assert _injected(app) == 2


_clean_requests: dict[str, int] = {}


def _requests_of_a_clean_split(db: Any, query: str) -> int:
    """How many count and part requests a split takes without faults (the server counts)."""
    if query not in _clean_requests:
        app = _app(db, f"{PARTS}:kind=slow:delay=0", reset=False)
        _split_async(app, query)
        _clean_requests[query] = _injected(app)
    return _clean_requests[query]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("500", HTTPStatusError),
        ("503", HTTPStatusError),
        ("lost", ServiceError),
        ("reset", TransportError),
        ("truncate", TransportError),
    ],
)
@pytest.mark.parametrize("query", list(QUERIES))
def test_a_persistent_fault_midway_raises_never_a_partial_table(
    db: Any, query: str, kind: str, error: type[MastError]
) -> None:
    # The first half of the split's counts and parts get through; from then on the server fails
    # every one. The error is raised, no table comes back. (A reset may be the server refusing
    # a part as too large, as MAST does; the client then counts that part, which fails too.)
    through = _requests_of_a_clean_split(db, query) // 2
    assert through >= 2
    app = _app(
        db, f"{PARTS}:kind=slow:delay=0:times={through}", f"{PARTS}:kind={kind}", reset=False
    )
    with pytest.raises(error) as caught:
        _split_async(app, query)
    counts = app.state.server.faults.counts()
    assert counts[0].injected == through and counts[1].injected > 0
    assert caught.value.service is not None and caught.value.service.startswith("Mast.Caom.")


# ------------------------------------------------------------------------------ ambiguous failures

#: The request tried whole: the cone's own service, or (criteria) the first Filtered request
#: after the count that precedes it.
WHOLE = {"criteria": ("service=Mast.Caom.Filtered", 1), "cone": ("service=Mast.Caom.Cone", 0)}


@pytest.mark.parametrize("query", list(QUERIES))
def test_a_503_ending_the_refused_whole_query_still_splits(
    db: Any, unlimited: dict[str, Any], query: str
) -> None:
    # The server resets the whole query over its limit, the client retries, and its last
    # attempt meets a 503: that says nothing of the size. The query is counted, asked whole once
    # more (refused again, by a reset), then split: the 503 is no reason to fail.
    rule, before = WHOLE[query]
    attempts = 1 + FAST.max_retries
    app = _app(db, f"{rule}:kind=503:every={before + attempts}:times=1", reset=True)
    _exact(_split_sync(app, query), unlimited[query])
    assert _injected(app) == 1


def _cone_with_session(app: Any, row_limit: int | None = None) -> tuple[Any, int]:
    """The cone query in-process (ERROR past the limit), and the session's row limit after it
    (raised errors carry it as ``row_limit``)."""
    from mastkit.services._plan import session_for

    method, args, kwargs = QUERIES["cone"]

    async def run() -> tuple[Any, int]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient(
            "http://limited", transport=transport, timeout=60, cache=False, retry=FAST
        ) as client:
            session = session_for(client)
            if row_limit is not None:
                session.row_limit = row_limit
            try:
                table = await getattr(AsyncObservations(client), method)(*args, **kwargs)
            except MastError as exc:
                exc.row_limit = session.row_limit  # type: ignore[attr-defined]
                raise
            return table, session.row_limit

    return asyncio.run(run())


def test_a_503_on_a_whole_query_over_the_known_limit_splits_at_once(
    db: Any, unlimited: dict[str, Any]
) -> None:
    # The session already knows the limit; the whole query fails with 503s, and its count,
    # over the limit, settles it: split, without asking for the whole again.
    app = _app(db, "service=Mast.Caom.Cone:kind=503", reset=False)
    table, _ = _cone_with_session(app, row_limit=LIMIT)
    _exact(table, unlimited["cone"])
    assert _injected(app) == 1 + FAST.max_retries


def test_a_503_on_a_whole_query_within_the_believed_limit_asks_once_more(
    db: Any, unlimited: dict[str, Any]
) -> None:
    # Counted within the limit the session believes (500,000), the query is asked again; the
    # server then refuses it stating its limit, and the split follows.
    app = _app(db, f"service=Mast.Caom.Cone:kind=503:times={1 + FAST.max_retries}", reset=False)
    table, learned = _cone_with_session(app)
    _exact(table, unlimited["cone"])
    assert learned == LIMIT
    assert _injected(app) == 1 + FAST.max_retries


def test_a_persistent_503_on_a_query_that_fits_is_raised(db: Any) -> None:
    # Asked twice (each with the client's retries), failing both times, and not refused: the
    # 503 is the answer, never a split.
    app = _app(db, "service=Mast.Caom.Cone:kind=503", reset=False)
    with pytest.raises(HTTPStatusError) as caught:
        _cone_with_session(app)
    assert caught.value.status_code == 503
    assert caught.value.row_limit > LIMIT  # type: ignore[attr-defined]  # nothing learned
    assert _injected(app) == 2 * (1 + FAST.max_retries)


# ------------------------------------------------------------------------------ resets of parts that fit


def test_a_persistent_reset_of_a_part_within_the_stated_limit_is_a_transport_error(
    db: Any,
) -> None:
    # The server stated its limit when it refused the whole query; every part is within it, so
    # a part whose connection keeps being reset is a transport fault: raised as one, without
    # lowering the session's limit and splitting on towards nothing.
    app = _app(db, f"{PARTS}:kind=slow:delay=0", reset=False)
    clean, _ = _cone_with_session(app)
    requests = _injected(app)
    counts_before = requests - clean.metadata["split"]["parts"]  # the counts (before any part)
    app = _app(
        db,
        "service=Mast.Caom.Cone:kind=slow:delay=0",  # counts the whole query's one request
        f"{PARTS}:kind=slow:delay=0:times={counts_before}",
        f"{PARTS}:kind=reset",
        reset=False,
    )
    with pytest.raises(TransportError, match="which the server's limit allows") as caught:
        _cone_with_session(app)
    assert caught.value.row_limit == LIMIT  # type: ignore[attr-defined]
    counts = app.state.server.faults.counts()
    assert counts[0].injected == 1 and counts[1].injected == counts_before
    # Only the first parts in flight were tried (each with the client's retries); no part was
    # split again, which would have counted its pieces.
    concurrency = AsyncClient("http://x").settings.concurrency
    assert 0 < counts[2].injected <= concurrency * (1 + FAST.max_retries)
