"""Client and AsyncClient end to end against real (scripted) servers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from mastkit import AsyncClient, Client, Settings
from mastkit.errors import (
    BadInputError,
    DecodeError,
    HTTPStatusError,
    QueryTimeout,
    RateLimitError,
    ServiceError,
    TransportError,
)
from mastkit.protocol import MashupRequest, encode_error
from tests.support.fakemast import (
    EXECUTING,
    Fault,
    RawFaultServer,
    ScriptedMast,
    fixture_rows,
    http_reply,
)
from tests.support.live import serve

CAOM_OBSIDS = [row["obsid"] for row in fixture_rows("caom.json")[1]]
CONE = {"ra": 23.34086, "dec": 60.658, "radius": 0.2}


@pytest.fixture
def mast() -> ScriptedMast:
    return ScriptedMast()


@pytest.fixture
def live(mast: ScriptedMast) -> Iterator[str]:
    with serve(mast.app()) as url:
        yield url


def fast(**kw: object) -> Settings:
    """Settings with short retry waits, so fault tests stay quick."""
    return Settings(max_retries=3, **kw)  # type: ignore[arg-type]


# -- paging ---------------------------------------------------------------------------------


def test_sync_query_fetches_all_pages_over_a_socket(mast: ScriptedMast, live: str) -> None:
    with Client(live, pagesize=5, concurrency=3) as client:
        table = client.query("Mast.Caom.Cone", CONE)
    assert len(table) == 19
    assert table.arrow.column("obsid").to_pylist() == CAOM_OBSIDS  # page order kept
    assert sorted(r.page for r in mast.requests) == [1, 2, 3, 4]
    assert {r.pagesize for r in mast.requests} == {5}
    assert len({r.cachebreaker for r in mast.requests}) == 1  # one cachebreaker for all pages
    assert table.service == "Mast.Caom.Cone"


@pytest.mark.anyio
async def test_async_query_in_process(mast: ScriptedMast) -> None:
    transport = httpx.ASGITransport(app=mast.app())
    async with AsyncClient("http://mast.test", pagesize=4, transport=transport) as client:
        table = await client.query("Mast.Caom.Cone", CONE)
    assert table.arrow.column("obsid").to_pylist() == CAOM_OBSIDS
    assert sorted(r.page for r in mast.requests) == [1, 2, 3, 4, 5]


def test_single_page_when_page_is_given(mast: ScriptedMast, live: str) -> None:
    with Client(live) as client:
        table = client.query("Mast.Caom.Cone", CONE, page=2, pagesize=5)
    assert table.arrow.column("obsid").to_pylist() == CAOM_OBSIDS[5:10]
    assert [r.page for r in mast.requests] == [2]


def test_iter_pages_sync(mast: ScriptedMast, live: str) -> None:
    with Client(live, pagesize=6) as client:
        pages = list(client.iter_pages("Mast.Caom.Cone", CONE))
    assert [len(p) for p in pages] == [6, 6, 6, 1]
    assert sum((p.arrow.column("obsid").to_pylist() for p in pages), []) == CAOM_OBSIDS


@pytest.mark.anyio
async def test_iter_pages_async_keeps_order(mast: ScriptedMast) -> None:
    transport = httpx.ASGITransport(app=mast.app())
    async with AsyncClient(
        "http://mast.test", pagesize=2, concurrency=3, transport=transport
    ) as client:
        seen = [
            p.arrow.column("obsid").to_pylist()
            async for p in client.iter_pages("Mast.Caom.Cone", CONE)
        ]
    assert sum(seen, []) == CAOM_OBSIDS and len(seen) == 10


def test_result_that_changes_between_pages_is_refused(mast: ScriptedMast, live: str) -> None:
    mast.mutate = lambda req, rows: rows[:-1] if req.page and req.page > 1 else rows
    with (
        Client(live, pagesize=5) as client,
        pytest.raises(DecodeError, match="changed while paging"),
    ):
        client.query("Mast.Caom.Cone", CONE)


# -- long polling ---------------------------------------------------------------------------


def test_polling_replays_identical_bytes(mast: ScriptedMast, live: str) -> None:
    mast.script = [EXECUTING, EXECUTING, EXECUTING]
    with Client(live) as client:
        table = client.query("Mast.Caom.Cone", CONE)
    assert len(table) == 19
    assert len(mast.bodies) == 4 and len(set(mast.bodies)) == 1


def test_deadline_while_executing(mast: ScriptedMast, live: str) -> None:
    mast.script = [EXECUTING] * 1000
    started = time.monotonic()
    with Client(live, timeout=1.0) as client, pytest.raises(QueryTimeout):
        client.query("Mast.Caom.Cone", CONE)
    assert time.monotonic() - started < 10  # bounded by the deadline, not by the script


def test_invoke_non_table_service(mast: ScriptedMast, live: str) -> None:
    with Client(live) as client:
        reply = client.invoke("Mast.Name.Lookup", {"input": "M101", "format": "json"})
    names = [e["canonicalName"] for e in reply.extra["resolvedCoordinate"]]
    assert "MESSIER 101" in names or any("101" in n for n in names)
    assert mast.requests[0].cachebreaker  # every invoke carries one


# -- errors and retries ---------------------------------------------------------------------


def test_error_reply_is_not_retried(mast: ScriptedMast, live: str) -> None:
    with Client(live) as client, pytest.raises(ServiceError) as info:
        client.query("Mast.No.Such", {})
    assert "Unable to Find Service Adaptor" in info.value.server_message
    assert info.value.service == "Mast.No.Such"
    assert len(mast.bodies) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_statuses_are_retried(mast: ScriptedMast, live: str, status: int) -> None:
    mast.script = [Fault(status, b"busy"), Fault(status, b"busy")]
    with Client(live, settings=fast()) as client:
        assert len(client.query("Mast.Caom.Cone", CONE)) == 19
    assert len(mast.bodies) == 3


def test_retry_after_is_honoured(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(429, b"slow down", {"Retry-After": "0.3"})]
    with Client(live, settings=fast()) as client:
        started = time.monotonic()
        client.query("Mast.Caom.Cone", CONE)
        waited = time.monotonic() - started
    assert waited >= 0.29  # it waited what the server asked, not a random backoff


def test_retries_give_up_with_the_last_error(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(429, b"no", {"Retry-After": "0"})] * 3
    with (
        Client(live, settings=Settings(max_retries=2)) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.query("Mast.Caom.Cone", CONE)
    assert info.value.retry_after == 0 and info.value.status_code == 429
    assert len(mast.bodies) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_client_errors_are_not_retried(mast: ScriptedMast, live: str, status: int) -> None:
    mast.script = [Fault(status, b"<html>nope</html>")]
    with Client(live, settings=fast()) as client, pytest.raises(HTTPStatusError) as info:
        client.query("Mast.Caom.Cone", CONE)
    assert info.value.status_code == status and "nope" in info.value.body_excerpt
    assert len(mast.bodies) == 1


def test_html_instead_of_json(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(200, b"<!DOCTYPE html><title>Maintenance</title>")]
    with Client(live, max_retries=0) as client, pytest.raises(DecodeError, match="HTML") as info:
        client.query("Mast.Caom.Cone", CONE)
    assert info.value.service == "Mast.Caom.Cone"


def test_garbled_reply_then_recovery(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(200, b'{"status": "COMPLETE", "data": [{"a"')]
    with Client(live, settings=fast()) as client:
        assert len(client.query("Mast.Caom.Cone", CONE)) == 19


def test_wrong_shapes_are_decode_errors(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(200, b'{"status": "COMPLETE", "fields": 3}')]
    with Client(live, max_retries=0) as client, pytest.raises(DecodeError, match="fields"):
        client.query("Mast.Caom.Cone", CONE)


def test_connection_resets_are_retried() -> None:
    good = http_reply(json.dumps(json.loads(open_fixture("countsResp.json"))).encode())
    with RawFaultServer(["reset", "reset"], default=good) as server:
        with Client(server.url, settings=fast()) as client:
            table = client.query("Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": []})
        assert table.arrow.column("Column1").to_pylist() == [599]
        assert server.connections == 3


def test_connection_resets_exhaust_retries() -> None:
    with RawFaultServer(["reset"] * 10, default=b"") as server:
        with Client(server.url, settings=Settings(max_retries=1)) as client:
            with pytest.raises(TransportError) as info:
                client.query("Mast.Caom.Cone", CONE)
    assert not isinstance(info.value, QueryTimeout)
    assert "Mast.Caom.Cone" in str(info.value)


def test_stalled_reply_times_out_then_retries() -> None:
    good = http_reply(open_fixture("countsResp.json").encode())
    with RawFaultServer(["stall"], default=good) as server:
        with Client(server.url, settings=Settings(read_timeout=0.5, max_retries=2)) as client:
            table = client.query("Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": []})
    assert table.arrow.column("Column1").to_pylist() == [599]


def test_truncated_body_is_retried() -> None:
    body = open_fixture("countsResp.json").encode()
    with RawFaultServer([("truncate", body)], default=http_reply(body)) as server:
        with Client(server.url, settings=fast()) as client:
            table = client.query("Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": []})
        assert server.connections == 2
    assert len(table) == 1


@pytest.mark.anyio
async def test_async_retries_resets() -> None:
    good = http_reply(open_fixture("countsResp.json").encode())
    with RawFaultServer(["reset"], default=good) as server:
        async with AsyncClient(server.url, settings=fast()) as client:
            table = await client.query(
                "Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": []}
            )
    assert len(table) == 1


def open_fixture(name: str) -> str:
    from tests.support.fakemast import FIXTURES

    return (FIXTURES / name).read_text()


# -- columns config, auth, bad input --------------------------------------------------------


def test_columns_config_is_cached(mast: ScriptedMast, live: str) -> None:
    with Client(live) as client:
        config = client.columns_config("Mast.Caom.Cone")
        again = client.columns_config("Mast.Caom.Cone")
        unknown = client.columns_config("Nope")
    assert config["obs_collection"]["separator"] == ";" and again is config
    assert unknown == {}
    assert len(mast.headers) == 2


@pytest.mark.anyio
async def test_token_goes_only_to_its_own_host(mast: ScriptedMast) -> None:
    transport = httpx.ASGITransport(app=mast.app())
    async with AsyncClient("http://mast.test", token="s3cret", transport=transport) as client:
        await client.request("GET", "/echo")
        await client.request("GET", "http://elsewhere.test/echo")
        await client.request("GET", "https://mast.test/echo")  # other scheme, other origin
        assert "s3cret" not in repr(client) and "s3cret" not in repr(client.http.auth)
    own, other, other_scheme = mast.headers
    assert own["authorization"] == "token s3cret" and "mast_token=s3cret" in own["cookie"]
    assert "authorization" not in other and "cookie" not in other
    assert "authorization" not in other_scheme


def test_token_from_environment(
    monkeypatch: pytest.MonkeyPatch, mast: ScriptedMast, live: str
) -> None:
    monkeypatch.setenv("MAST_TOKEN", "envtoken")
    with Client(live) as client:
        client.query("Mast.Caom.Cone", CONE)
    assert all(h.get("authorization") == "token envtoken" for h in mast.headers)


def test_server_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTKIT_SERVER", "http://127.0.0.1:9/")
    with Client() as client:
        assert client.server == "http://127.0.0.1:9"
    with Client() as client_default:
        pass
    monkeypatch.delenv("MASTKIT_SERVER")
    with Client() as client_default:
        assert client_default.server == "https://mast.stsci.edu"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"server": "ftp://example.org"}, "http"),
        ({"server": "not a url"}, "http"),
        ({"timeout": 0}, "timeout"),
        ({"pagesize": 0}, "pagesize"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_bad_client_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        Client(**kwargs)


def test_bad_query_arguments(live: str) -> None:
    with Client(live) as client:
        with pytest.raises(BadInputError, match="params must be a mapping"):
            client.query("Mast.Caom.Cone", [1, 2])  # type: ignore[arg-type]
        with pytest.raises(BadInputError, match="page must be an integer"):
            client.query("Mast.Caom.Cone", CONE, page=0)
        with pytest.raises(BadInputError, match="Unknown format"):
            client.query("Mast.Caom.Cone", CONE, format="xml")
        with pytest.raises(BadInputError, match="Unknown request option"):
            client.query("Mast.Caom.Cone", CONE, bogus=1)
        with pytest.raises(BadInputError, match="cannot be sent as JSON"):
            client.query(
                "Mast.Caom.Filtered",
                {
                    "columns": "*",
                    "filters": [
                        {"paramName": "t_min", "values": [{"min": float("nan"), "max": 1}]}
                    ],
                },
            )
        with pytest.raises(BadInputError, match="inside the MashupRequest"):
            client.invoke(MashupRequest("Mast.Caom.Cone"), {"ra": 1})


def test_refused_connection_is_a_transport_error() -> None:
    from tests.support.live import free_port

    with Client(f"http://127.0.0.1:{free_port()}", max_retries=1) as client:
        with pytest.raises(TransportError):
            client.query("Mast.Caom.Cone", CONE)


def test_error_body_for_csv_format(mast: ScriptedMast, live: str) -> None:
    mast.script = [Fault(200, encode_error("Invalid column name 's_fov'"))]
    with Client(live) as client, pytest.raises(ServiceError, match="s_fov"):
        client.query("Mast.Caom.Filtered", {"columns": "s_fov", "filters": []}, format="csv")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ra": float("nan"), "dec": 0}, "ra must be finite"),
        ({"ra": 10, "dec": 95}, "dec must be within"),
        ({"ra": 10, "dec": 5, "radius": -1}, "radius must not be negative"),
        ({"ra": 10}, "needs both ra and dec"),
        ({"ra": "ten", "dec": 0}, "ra must be a number"),
        ({"position": "1, 2"}, "position must be"),
        ({"position": "1, 200, 3"}, "dec must be within"),
    ],
)
def test_bad_coordinates_fail_before_sending(
    params: dict, message: str, mast: ScriptedMast, live: str
) -> None:
    with Client(live) as client, pytest.raises(BadInputError, match=message):
        client.query("Mast.Caom.Cone", params)
    assert mast.bodies == []
