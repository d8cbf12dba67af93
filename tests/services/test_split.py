"""Oversized queries: split against a local server with a low row limit, compared with the same
archive served without one.

Two refusing servers: in-process answering ERROR ("more than N rows"), and over a loopback
socket resetting the connection as production MAST does. The answer to compare with comes from
an unlimited server on the same archive.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit.client import AsyncClient, Client
from mastkit.errors import ResultTooLargeError, TruncatedResultWarning
from mastkit.services import AsyncObservations, Observations
from mastkit.services._plan import session_for

from .conftest import Requests

pytestmark = pytest.mark.anyio

LIMIT = 120
#: A cone of the small archive with a few hundred rows (and a crossing of RA 0 below).
BIG_CONE = ("83.65 22.0", 40)
WRAP_CONE = ("359.0 10.0", 35)
POLE_CONE = ("20.0 75.0", 45)


def _app(db: Any, limit: int, reset: bool = False) -> Any:
    from mastkit.server.app import ServerSettings, create_app

    return create_app(db, ServerSettings(row_limit=limit, reset_over_limit=reset))


@pytest.fixture(scope="module")
def refusing_app(db: Any) -> Any:
    return _app(db, LIMIT)


@pytest.fixture(scope="module")
def resetting_url(db: Any) -> Iterator[str]:
    """A server over loopback that resets the connection past LIMIT rows, as MAST does."""
    from mastkit.server.local import BackgroundServer

    server = BackgroundServer(_app(db, LIMIT, reset=True))
    yield server.start()
    server.stop()


@pytest.fixture
async def unlimited(app: Any) -> AsyncIterator[AsyncObservations]:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://unlimited", transport=transport, timeout=60) as c:
        yield AsyncObservations(c)


class Both:
    """The splitting facade under test (sync over a resetting socket, or async in-process)."""

    def __init__(self, facade: Observations | AsyncObservations) -> None:
        self.facade = facade

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.facade, method)(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    @property
    def session(self) -> Any:
        return session_for(self.facade.client)


@pytest.fixture(params=["sync-reset", "async-error"])
async def limited(
    request: pytest.FixtureRequest, refusing_app: Any, requests_seen: Requests
) -> AsyncIterator[Both]:
    if request.param == "sync-reset":
        url = request.getfixturevalue("resetting_url")
        # One retry: a reset is retried by the client before the plan sees it.
        with Client(url, timeout=60, max_retries=1) as client:
            client.http.event_hooks["request"].append(requests_seen.record)
            yield Both(Observations(client))
    else:
        transport = httpx.ASGITransport(app=refusing_app)
        async with AsyncClient("http://limited", transport=transport, timeout=60) as client:
            client.http.event_hooks["request"].append(requests_seen.arecord)
            yield Both(AsyncObservations(client))


def _same(split: Any, whole: Any) -> None:
    assert split.columns == whole.columns
    assert split.arrow.schema == whole.arrow.schema
    assert split.arrow.equals(whole.arrow)  # row for row, in the server's order
    ids = split["obsid"].to_pylist()
    assert len(set(ids)) == len(ids)


async def test_criteria_over_the_limit_equal_the_unlimited_result(
    limited: Both, unlimited: AsyncObservations
) -> None:
    whole = await unlimited.query_criteria(dataproduct_type="image")
    assert len(whole) > 4 * LIMIT
    split = await limited.call("query_criteria", dataproduct_type="image")
    _same(split, whole)
    assert split.metadata["split"]["parts"] >= math.ceil(len(whole) / LIMIT)
    assert split.metadata["split"]["row_limit"] <= LIMIT
    assert split.units == whole.units


@pytest.mark.parametrize("cone", [BIG_CONE, WRAP_CONE, POLE_CONE], ids=["plain", "ra0", "pole"])
async def test_cones_split_into_sky_tiles(
    limited: Both, unlimited: AsyncObservations, cone: tuple[str, float], requests_seen: Requests
) -> None:
    whole = await unlimited.query_region(cone[0], radius=cone[1])
    assert len(whole) > LIMIT
    requests_seen.clear()
    split = await limited.call("query_region", cone[0], radius=cone[1])
    _same(split, whole)
    assert split.service == "Mast.Caom.Cone" and "distance" in split.columns
    # Tried whole once, then counted and fetched as Filtered.Position parts with tile filters.
    assert requests_seen.count("Mast.Caom.Filtered.Position") > split.metadata["split"]["parts"]
    assert requests_seen.count("s_dec") > 0


async def test_cone_with_criteria_and_negation(limited: Both, unlimited: AsyncObservations) -> None:
    criteria = {"dataproduct_type": ["image", "timeseries"], "obs_collection": "!TESS"}
    whole = await unlimited.query_region(BIG_CONE[0], radius=60, **criteria)
    assert len(whole) > LIMIT
    split = await limited.call("query_region", BIG_CONE[0], radius=60, **criteria)
    _same(split, whole)
    assert "TESS" not in split["obs_collection"].to_pylist()


async def test_parts_the_server_still_refuses_are_split_again(
    limited: Both, unlimited: AsyncObservations
) -> None:
    # The client believes the server allows 2x more than it does: the first parts are refused,
    # the session learns a lower limit and splits them again.
    limited.session.row_limit = 2 * LIMIT
    whole = await unlimited.query_criteria(dataproduct_type="image")
    split = await limited.call("query_criteria", dataproduct_type="image")
    _same(split, whole)
    learned = limited.session.row_limit
    assert learned <= LIMIT
    # The next query starts from the learned limit: nothing is refused any more.
    again = await limited.call("query_criteria", dataproduct_type="image")
    _same(again, whole)
    assert limited.session.row_limit == learned


async def test_limit_truncates_with_a_warning_only_when_more_match(
    refusing_app: Any, unlimited: AsyncObservations
) -> None:
    transport = httpx.ASGITransport(app=refusing_app)
    async with AsyncClient("http://limited", transport=transport, timeout=60) as client:
        await _limited_queries(Both(AsyncObservations(client)), unlimited)


async def _limited_queries(limited: Both, unlimited: AsyncObservations) -> None:
    whole = await unlimited.query_criteria(dataproduct_type="image")
    with pytest.warns(TruncatedResultWarning, match=f"first 200 of {len(whole)}"):
        head = await limited.call("query_criteria", dataproduct_type="image", limit=200)
    assert head.truncated and len(head) == 200
    assert head.arrow.equals(whole.arrow.slice(0, 200))
    small = await unlimited.query_criteria(obs_collection="IUE")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        everything = await limited.call("query_criteria", obs_collection="IUE", limit=len(small))
    assert not everything.truncated and everything.arrow.equals(small.arrow)
    with pytest.warns(TruncatedResultWarning):
        near = await limited.call("query_region", BIG_CONE[0], radius=BIG_CONE[1], limit=7)
    assert len(near) == 7 and near.truncated


async def test_a_single_observation_over_the_limit_raises(
    db: Any, unlimited: AsyncObservations
) -> None:
    found = await unlimited.query_criteria(obs_collection="JWST")
    products = await unlimited.products(found["obsid"].to_pylist()[:1])
    transport = httpx.ASGITransport(app=_app(db, len(products) - 1))
    async with AsyncClient("http://tiny", transport=transport, timeout=60) as client:
        obs = AsyncObservations(client)
        with pytest.raises(ResultTooLargeError, match="alone is more than"):
            await obs.products(found["obsid"].to_pylist()[:3])
        with pytest.raises(ValueError, match="row_limit"):
            AsyncObservations(client, row_limit=0)


async def test_products_of_refused_batches_are_halved(
    limited: Both, unlimited: AsyncObservations, requests_seen: Requests
) -> None:
    found = await unlimited.query_criteria(obs_collection="HST")
    ids = found["obsid"].to_pylist()[:200]
    whole = await unlimited.products(ids)
    assert len(whole) > 2 * LIMIT
    split = await limited.call("products", ids)
    assert split.arrow.equals(whole.arrow)
    assert split.metadata["batches"] >= math.ceil(len(whole) / LIMIT)
    learned = limited.session.product_batch
    assert learned is not None and learned < len(ids)
    requests_seen.clear()
    again = await limited.call("products", ids)
    assert again.arrow.equals(whole.arrow)
    # Later lists start at the learned batch size.
    sizes = [
        len(str(r.params["obsid"]).split(","))
        for r in _decoded(requests_seen)
        if r.service == "Mast.Caom.Products"
    ]
    assert max(sizes) == learned


def _decoded(seen: Requests) -> list[Any]:
    from mastkit.protocol.codec import decode_request

    return [decode_request(body) for body in seen.bodies if body.startswith(b"request=")]


# ------------------------------------------------------------------------------ hypothesis


_apps: dict[int, Any] = {}


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.integers(min_value=25, max_value=400),
    ra=st.floats(min_value=0, max_value=359.99),
    dec=st.floats(min_value=-89, max_value=89),
    radius=st.floats(min_value=5, max_value=70),
)
def test_any_cone_under_any_limit_equals_the_unlimited_result(
    db: Any, app: Any, limit: int, ra: float, dec: float, radius: float
) -> None:
    refusing = _apps.setdefault(limit, _app(db, limit))

    async def both() -> tuple[Any, Any]:
        low = httpx.ASGITransport(app=refusing)
        high = httpx.ASGITransport(app=app)
        async with (
            AsyncClient("http://low", transport=low) as c1,
            AsyncClient("http://high", transport=high) as c2,
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # empty cones warn
                split = await AsyncObservations(c1).query_region((ra, dec), radius=radius)
                whole = await AsyncObservations(c2).query_region((ra, dec), radius=radius)
            return split, whole

    split, whole = asyncio.run(both())
    assert split.arrow.equals(whole.arrow)
    if len(whole) > limit:
        assert split.metadata["split"]["row_limit"] <= limit


def test_merge_is_exact_when_parts_overlap() -> None:
    from mastkit.services._split import CAOM_ORDER, merge_parts
    from mastkit.tables import ResultTable

    def part(ids: list[int], coll: list[str]) -> ResultTable:
        return ResultTable(pa.table({"obsid": ids, "obs_collection": coll}))

    merged = merge_parts(
        [part([3, 1], ["HST", "JWST"]), part([], []), part([1, 2], ["JWST", "HST"])],
        CAOM_ORDER,
        3,
        "S",
    )
    assert merged.column("obsid").to_pylist() == [1, 2, 3]  # JWST first, then HST by obsid
    with pytest.raises(Exception, match="hold 3 rows but the query counts 4"):
        merge_parts([part([1, 2, 3], ["A", "A", "A"])], CAOM_ORDER, 4, "S")


_MERGE_SCHEMA = pa.schema(
    [("obsid", pa.int64()), ("obs_collection", pa.string()), ("s_region", pa.string())]
)


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.lists(st.integers(0, 40), max_size=12), min_size=1, max_size=5))
def test_merge_equals_a_plain_dedupe_and_sort(parts: list[list[int]]) -> None:
    # Parts as a server returns them (each in its order), overlapping anywhere; a row's
    # collection is a function of its obsid, as in the archive.
    from mastkit.services._split import CAOM_ORDER, merge_parts
    from mastkit.tables import ResultTable

    def row(obsid: int) -> dict[str, Any]:
        collection = ["HST", "JWST", "TESS", "IUE"][obsid % 4]
        return {"obsid": obsid, "obs_collection": collection, "s_region": f"CIRCLE {obsid}"}

    def in_order(ids: set[int]) -> list[dict[str, Any]]:
        rows = sorted((row(o) for o in ids), key=lambda r: r["obsid"])
        return sorted(rows, key=lambda r: r["obs_collection"], reverse=True)  # stable

    tables = [
        ResultTable(pa.Table.from_pylist(in_order(set(part)), schema=_MERGE_SCHEMA))
        for part in parts
    ]
    distinct = {o for part in parts for o in part}
    merged = merge_parts(tables, CAOM_ORDER, len(distinct), "S")
    assert merged.to_pylist() == in_order(distinct)
    assert merged.schema == _MERGE_SCHEMA
