"""The client's queries through every injected fault of the local server, over loopback.

Each case runs a real server over the small archive with a fault plan
(:mod:`mastkit.server.fault_injection`) and checks the outcome: exactly the table a clean server
returns (retries absorb transient faults), or the right exception, and never a wrong or partial
table presented as complete. Retry backoffs are shortened so each case stays quick.

Splitting (oversized queries) through faults is covered by tests/services/test_split_faults.py;
retry policy edge cases (long Retry-After, in-process resets) by tests/client/test_retry.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mastkit import AsyncClient, Client, Settings
from mastkit.client import RetryPolicy
from mastkit.errors import (
    HTTPStatusError,
    MastError,
    QueryTimeout,
    RateLimitError,
    ServiceError,
    TransportError,
)
from mastkit.server.app import ServerSettings, create_app
from mastkit.server.fault_injection import FaultPlan
from mastkit.server.faults import LOST_JOB_MESSAGE
from mastkit.server.local import BackgroundServer
from mastkit.services import AsyncObservations, Observations

from ..server.conftest import small_archive

PAGESIZE = 40
FILTERED = "Mast.Caom.Filtered"
#: 123 IUE + 154 K2 observations of the small archive: 7 pages of 40.
PARAMS = {
    "columns": "*",
    "filters": [{"paramName": "obs_collection", "values": ["IUE", "K2"]}],
}
FAST = RetryPolicy(max_retries=4, base=0.01, cap=0.05)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mastkit.server.archive import Archive

    db = Archive.open(small_archive(tmp_path_factory))
    yield db
    db.close()


@contextmanager
def server(archive: Any, *specs: str, seed: int = 0, **settings: Any) -> Iterator[tuple[str, Any]]:
    """A loopback server injecting ``specs``; yields its URL and its fault counters."""
    app = create_app(archive, ServerSettings(faults=FaultPlan.parse(specs, seed=seed), **settings))
    background = BackgroundServer(app)
    try:
        yield background.start(), app.state.server
    finally:
        background.stop()


def sync_client(url: str, **kw: Any) -> Client:
    return Client(url, pagesize=PAGESIZE, concurrency=3, cache=False, retry=FAST, **kw)


def async_client(url: str, concurrency: int = 3) -> AsyncClient:
    return AsyncClient(url, pagesize=PAGESIZE, concurrency=concurrency, cache=False, retry=FAST)


@pytest.fixture(scope="module")
def reference(archive: Any) -> dict[str, Any]:
    """What a clean server answers, and what the archive says directly."""
    with server(archive) as (url, _), sync_client(url) as client:
        table = client.query(FILTERED, PARAMS)
        obs = Observations(client)
        region = obs.query_object("M1")
        products = obs.products(region["obsid"].to_pylist())
    total = (
        archive.execute("SELECT count(*) FROM observations WHERE obs_collection IN ('IUE', 'K2')")
        .column(0)[0]
        .as_py()
    )
    assert len(table) == total > 5 * PAGESIZE  # several pages, so pages 2..N are exercised
    assert len(region) > 0 and len(products) > len(region)
    return {"table": table.arrow, "region": region.arrow, "products": products.arrow}


def same(table: Any, expected: pa.Table) -> bool:
    return bool(table.arrow.equals(expected))


# ----------------------------------------------------------------------------- absorbed faults

TRANSIENT = [
    "service=Mast.Caom.Filtered:kind=503:times=2",
    "service=Mast.Caom.Filtered:kind=502:every=2:times=3",
    "service=Mast.Caom.Filtered:kind=504:every=3",
    "service=Mast.Caom.Filtered:kind=429:retry_after=0.05:every=2:times=3",
    "service=Mast.Caom.Filtered:kind=503:retry_after=0.05:every=3",
    "service=Mast.Caom.Filtered:kind=reset:every=3:times=3",
    "service=Mast.Caom.Filtered:kind=truncate:every=2:times=4",
    "service=Mast.Caom.Filtered:kind=truncate:fraction=0:every=4",
    "service=Mast.Caom.Filtered:kind=slow:delay=0.1:every=2",
    "service=Mast.Caom.Filtered:kind=executing:every=2:times=4",
    "service=Mast.Caom.Filtered:kind=drop:every=2",
    "kind=503:p=0.3",
]


@pytest.mark.parametrize("spec", TRANSIENT)
def test_transient_faults_are_absorbed(archive: Any, reference: dict[str, Any], spec: str) -> None:
    with server(archive, spec, seed=3) as (url, state), sync_client(url) as client:
        table = client.query(FILTERED, PARAMS)
    assert same(table, reference["table"])
    assert state.faults.injected() > 0  # the fault really happened


ASYNC_TRANSIENT = [TRANSIENT[0], TRANSIENT[3], TRANSIENT[5], TRANSIENT[6]]


@pytest.mark.parametrize("spec", ASYNC_TRANSIENT)
def test_transient_faults_async(archive: Any, reference: dict[str, Any], spec: str) -> None:
    async def run(url: str) -> Any:
        async with async_client(url) as c:
            return await c.query(FILTERED, PARAMS)

    with server(archive, spec, seed=5) as (url, state):
        table = asyncio.run(run(url))
    assert same(table, reference["table"]) and state.faults.injected() > 0


def test_dropped_jobs_start_over_on_the_server(archive: Any, reference: dict[str, Any]) -> None:
    # Every request forgets its job: page 1 and each later page run the query afresh, and the
    # pages still make exactly the clean table (the result is deterministic).
    with server(archive, "service=Mast.Caom.Filtered:kind=drop") as (url, state):
        with sync_client(url) as client:
            table = client.query(FILTERED, PARAMS)
    assert same(table, reference["table"])
    assert state.faults.injected() == -(-len(table) // PAGESIZE)  # one per page


# ----------------------------------------------------------------------------- reported faults


@pytest.mark.parametrize(
    ("spec", "error", "status"),
    [
        ("kind=500", HTTPStatusError, 500),
        ("kind=500:times=1", HTTPStatusError, 500),  # not retryable: one is enough
        ("kind=503", HTTPStatusError, 503),  # retryable, retries run out
        ("kind=502", HTTPStatusError, 502),
        ("kind=429:retry_after=0.01", RateLimitError, 429),
        ("kind=reset", TransportError, None),
        ("kind=truncate", TransportError, None),
    ],
)
def test_persistent_faults_raise(
    archive: Any, spec: str, error: type[MastError], status: int | None
) -> None:
    with server(archive, "service=Mast.Caom.Filtered:" + spec) as (url, state):
        with sync_client(url) as client, pytest.raises(error) as caught:
            client.query(FILTERED, PARAMS)
    if status is not None:
        assert getattr(caught.value, "status_code", None) == status
    assert caught.value.service == FILTERED
    retries = 0 if "times=1" in spec or status == 500 else FAST.max_retries
    assert state.faults.injected() == 1 + retries  # each attempt met the fault, then it gave up


@pytest.mark.parametrize("kind", ["500", "503", "reset", "truncate", "lost"])
def test_a_failing_later_page_never_yields_a_partial_table(archive: Any, kind: str) -> None:
    # Only the 4th request onwards fails: page 1 and some later pages arrive, the rest cannot.
    spec = f"service=Mast.Caom.Filtered:kind={kind}:every=1"
    with server(archive, "service=Mast.Caom.Filtered:kind=slow:delay=0:times=3", spec) as (
        url,
        state,
    ):
        with sync_client(url) as client, pytest.raises(MastError) as caught:
            client.query(FILTERED, PARAMS)
    assert state.faults.counts()[0].injected == 3  # three requests got through first
    expected = {
        "500": HTTPStatusError,
        "503": HTTPStatusError,
        "reset": TransportError,
        "truncate": TransportError,
        "lost": ServiceError,
    }[kind]
    assert isinstance(caught.value, expected)


def test_lost_job_is_a_service_error(archive: Any) -> None:
    with server(archive, "service=Mast.Caom.Filtered:kind=lost:times=1") as (url, _):
        with sync_client(url) as client:
            with pytest.raises(ServiceError, match="Invoke Thread exited") as caught:
                client.query(FILTERED, PARAMS)
            assert caught.value.server_message == LOST_JOB_MESSAGE
            # asked again, the server starts over and answers
            assert len(client.query(FILTERED, PARAMS)) > 5 * PAGESIZE


def test_executing_forever_times_out(archive: Any) -> None:
    with server(archive, "service=Mast.Caom.Filtered:kind=executing") as (url, state):
        with sync_client(url) as client, pytest.raises(QueryTimeout) as caught:
            client.query(FILTERED, PARAMS, timeout=0.6)
    assert state.faults.injected() >= 2  # it polled, with exact replay, until the deadline
    # The user hears that the job was still running, not that a request could not be sent.
    message = str(caught.value)
    assert "still EXECUTING" in message and "deadline" in message
    assert polls_in(message) in answered(state)
    assert caught.value.service == FILTERED


def test_executing_forever_times_out_async(archive: Any) -> None:
    async def run(url: str) -> None:
        async with async_client(url) as client:
            await client.invoke(FILTERED, PARAMS, timeout=0.5)

    with server(archive, "service=Mast.Caom.Filtered:kind=executing") as (url, state):
        with pytest.raises(QueryTimeout, match="still EXECUTING on the server after") as caught:
            asyncio.run(run(url))
    assert polls_in(str(caught.value)) in answered(state)


def polls_in(message: str) -> int:
    found = re.search(r"after (\d+) polls? over [\d.]+ s", message)
    assert found, message
    return int(found.group(1))


def answered(state: Any) -> set[int]:
    """The poll counts a timeout may report: every request the server saw, or all but a last
    one whose answer came too late (a loaded machine can delay it past the deadline)."""
    seen = state.faults.injected()
    return {seen, seen - 1} - {0}


def test_slow_replies_past_the_read_timeout_time_out(archive: Any) -> None:
    with server(archive, "service=Mast.Caom.Filtered:kind=slow:delay=1") as (url, _):
        client = sync_client(url, settings=Settings(read_timeout=0.2))
        with client, pytest.raises(QueryTimeout):
            client.query(FILTERED, PARAMS, timeout=0.8)


def test_rate_limit_waits_for_retry_after(archive: Any, reference: dict[str, Any]) -> None:
    # The retry is not sent before the server's Retry-After, whatever the backoff policy says.
    arrivals: list[float] = []
    with server(archive, "service=Mast.Caom.Filtered:kind=429:retry_after=0.3:times=1") as (
        url,
        state,
    ):
        original = state.faults.choose

        def recording(path: str, service: str | None) -> Any:
            arrivals.append(time.monotonic())
            return original(path, service)

        state.faults.choose = recording
        with sync_client(url) as client:
            table = client.query(FILTERED, PARAMS)
    assert same(table, reference["table"])
    assert arrivals[1] - arrivals[0] >= 0.3


def test_rate_limit_past_the_retries_reports_retry_after(archive: Any) -> None:
    with server(archive, "kind=429:retry_after=0.02") as (url, _):
        with sync_client(url) as client, pytest.raises(RateLimitError) as caught:
            client.query(FILTERED, PARAMS)
    assert caught.value.retry_after == pytest.approx(0.02)


# ----------------------------------------------------------------------------- paging, async


def test_iter_pages_recovers_from_faults_on_later_pages(
    archive: Any, reference: dict[str, Any]
) -> None:
    async def pages(url: str) -> list[Any]:
        async with async_client(url, concurrency=2) as c:
            return [page async for page in c.iter_pages(FILTERED, PARAMS)]

    specs = ("service=Mast.Caom.Filtered:kind=reset:every=3", "kind=truncate:every=4")
    with server(archive, *specs) as (url, state):
        got = asyncio.run(pages(url))
    assert pa.concat_tables([p.arrow for p in got]).equals(reference["table"])
    assert state.faults.injected() >= 2


# ----------------------------------------------------------------------------- services


NAME_FAULTS = [
    "service=Mast.Name.Lookup:kind=503:times=2",
    "service=Mast.Name.Lookup:kind=reset:times=1",
    "service=Mast.Name.Lookup:kind=executing:times=2",
    "service=Mast.Caom.Cone:kind=429:retry_after=0.02:times=1",
    "service=Mast.Caom.Cone:kind=drop:times=1",
    "service=Mast.Caom.Products:kind=truncate:every=2:times=2",
    "service=*:kind=reset:every=2",
]


@pytest.mark.parametrize("spec", NAME_FAULTS)
def test_name_resolution_query_and_products(
    archive: Any, reference: dict[str, Any], spec: str
) -> None:
    with server(archive, spec) as (url, state), sync_client(url) as client:
        obs = Observations(client)
        region = obs.query_object("M1")
        products = obs.products(region["obsid"].to_pylist())
    assert same(region, reference["region"])
    assert same(products, reference["products"])
    assert state.faults.injected() > 0


def test_async_services_through_faults(archive: Any, reference: dict[str, Any]) -> None:
    async def run(url: str) -> tuple[Any, Any]:
        client = async_client(url)
        async with client, AsyncObservations(client) as obs:
            region = await obs.query_object("M1")
            return region, await obs.products(region["obsid"].to_pylist())

    with server(archive, "kind=503:every=2", "kind=truncate:every=3") as (url, state):
        region, products = asyncio.run(run(url))
    assert same(region, reference["region"]) and same(products, reference["products"])
    assert state.faults.injected() > 0


def test_resolver_that_keeps_failing_is_an_error(archive: Any) -> None:
    with server(archive, "service=Mast.Name.Lookup:kind=500") as (url, _):
        with sync_client(url) as client, pytest.raises(HTTPStatusError):
            Observations(client).query_object("M1")


def test_columns_config_through_faults(archive: Any) -> None:
    with server(archive, "path=/portal/Mashup/Mashup.asmx/columnsconfig:kind=503:times=2") as (
        url,
        state,
    ):
        with sync_client(url) as client:
            config = client.columns_config("Mast.Caom.Cone")
    assert "obsid" in config and state.faults.injected() == 2


# ----------------------------------------------------------------------------- downloads


def test_downloads_through_faults(archive: Any, tmp_path: Path) -> None:
    from mastkit.download import DownloadOptions, download, plan_downloads

    rows = archive.execute(
        'SELECT "dataURI", "productFilename", size FROM products WHERE size < 300000 '
        'ORDER BY "dataURI" LIMIT 4'
    ).to_pylist()
    options = DownloadOptions(max_retries=4, backoff=0.01, backoff_cap=0.05, write_manifest=False)
    specs = (
        "path=/api/v0.1/Download/file:kind=truncate:every=2:times=3",
        "path=/api/v0.1/Download/file:kind=reset:every=3:times=2",
        "path=/api/v0.1/Download/file:kind=503:times=1",
    )
    with server(archive, *specs) as (url, state), Client(url, cache=False) as client:
        plan = plan_downloads(rows, tmp_path, server=client.server, template="flat")
        manifest = download(plan, client=client, options=options)
    assert set(manifest["status"].to_pylist()) == {"COMPLETE"}
    assert state.faults.injected() > 2
    for row in manifest:
        data = Path(row["path"]).read_bytes()
        assert len(data) == row["size"] and hashlib.sha256(data).hexdigest() == row["sha256"]


def test_download_that_keeps_failing_is_reported_not_written(archive: Any, tmp_path: Path) -> None:
    from mastkit.download import DownloadOptions, download, plan_downloads

    row = archive.execute(
        'SELECT "dataURI", "productFilename", size FROM products LIMIT 1'
    ).to_pylist()
    options = DownloadOptions(max_retries=2, backoff=0.01, backoff_cap=0.05, write_manifest=False)
    with server(archive, "path=/api/v0.1/Download/file:kind=truncate") as (url, _):
        with Client(url, cache=False) as client:
            plan = plan_downloads(row, tmp_path, server=client.server, template="flat")
            manifest = download(plan, client=client, options=options)
    assert manifest["status"].to_pylist() == ["ERROR"]
    assert not (tmp_path / row[0]["productFilename"]).exists()


# ----------------------------------------------------------------------------- concurrent uploads


def test_concurrent_crossmatches_differing_only_in_their_upload_get_their_own_answers(
    archive: Any,
) -> None:
    # Two uploads, each one star's position; same params and no cachebreaker, sent at once to
    # a server whose crossmatch job takes a while, so the second arrives while the first runs.
    # Keyed without the upload, the second would join the first's job and get its answer.
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    import httpx

    from mastkit.protocol import MashupRequest, decode_response
    from mastkit.protocol.codec import encode_form

    stars = archive.execute("SELECT HIP, ra, dec FROM hipparcos ORDER BY HIP LIMIT 2").to_pylist()
    service = "Mast.Hipparcos.Crossmatch"
    fields = [{"name": "ra", "type": "float"}, {"name": "dec", "type": "float"}]
    bodies = [
        encode_form(
            MashupRequest(
                service,
                {"radius": 0.001},
                data={"fields": fields, "data": [{"ra": star["ra"], "dec": star["dec"]}]},
            )
        )
        for star in stars
    ]
    assert b"cachebreaker" not in bodies[0].lower()
    gate = Barrier(len(bodies))

    def send(url: str, body: bytes) -> Any:
        with httpx.Client(base_url=url, timeout=30) as http:
            gate.wait()
            response = http.post(
                "/api/v0/invoke",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        response.raise_for_status()
        return decode_response(response.content, "json")

    with server(archive, slow_services={service: 0.5}) as (url, _):
        with ThreadPoolExecutor(len(bodies)) as pool:
            replies = list(pool.map(lambda body: send(url, body), bodies))
    for star, reply in zip(stars, replies, strict=True):
        assert reply.status == "COMPLETE"
        assert [row["MatchID"] for row in reply.data] == [star["HIP"]]
