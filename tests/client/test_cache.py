"""The on-disk result cache, used by Client and AsyncClient against the real local server.

The server is the project's own app with one counting service (``Test.Rows``, from the server
tests): every execution is counted server-side and stamps its rows with its run number, so a
result served from the cache is recognisable (same run number, no new execution), and HTTP
requests are counted client-side with an httpx event hook.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit import AsyncClient, Client, Settings
from mastkit.client import ResultCache
from mastkit.errors import BadInputError, CacheMissError
from tests.server.conftest import Counter, fake_app
from tests.support.live import serve

ROWS = {"rows": 20}


class Clock:
    """A settable POSIX clock for TTL tests (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Sent:
    """Counts the HTTP requests a client sends (an httpx event hook)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, request: httpx.Request) -> None:
        self.n += 1

    async def hook(self, request: httpx.Request) -> None:
        self.n += 1


class NoNetwork(httpx.BaseTransport):
    """A transport that fails the test if anything reaches it."""

    def __init__(self) -> None:
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise AssertionError(f"offline client used the network: {request.url}")


class AsyncNoNetwork(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise AssertionError(f"offline client used the network: {request.url}")


@pytest.fixture(scope="module")
def counter() -> Counter:
    return Counter()


@pytest.fixture(scope="module")
def app(counter: Counter) -> Any:
    return fake_app(counter)


@pytest.fixture(scope="module")
def url(app: Any) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.fixture
def cache(tmp_path: Path) -> ResultCache:
    return ResultCache(tmp_path / "queries", ttl=3600)


def client(
    url: str, cache: ResultCache | bool | None, sent: Sent | None = None, **kw: Any
) -> Client:
    c = Client(url, cache=cache, pagesize=7, **kw)
    if sent is not None:
        c.http.event_hooks["request"].append(sent)
    return c


def same_result(a: Any, b: Any) -> None:
    assert a.arrow.equals(b.arrow)
    assert a.arrow.schema.equals(b.arrow.schema, check_metadata=True)
    assert (a.service, a.params, a.paging, a.pages, a.truncated, a.metadata) == (
        b.service,
        b.params,
        b.paging,
        b.pages,
        b.truncated,
        b.metadata,
    )


# -- hits -------------------------------------------------------------------------------------


def test_second_identical_query_sends_no_request(
    url: str, counter: Counter, cache: ResultCache
) -> None:
    sent = Sent()
    with client(url, cache, sent) as c:
        runs = counter.runs
        first = c.query("Test.Rows", ROWS)
        assert sent.n == 3 and first.pages == 3  # 20 rows in pages of 7
        second = c.query("Test.Rows", ROWS)
    assert sent.n == 3 and counter.runs == runs + 1
    same_result(first, second)
    assert second["run"].to_pylist() == [runs + 1] * 20
    assert cache.stats.hits == 1 and cache.stats.stores == 1


def test_a_new_client_reads_what_another_wrote(
    url: str, counter: Counter, cache: ResultCache
) -> None:
    with client(url, cache) as c:
        first = c.query("Test.Rows", ROWS)
    sent = Sent()
    with client(url, ResultCache(cache.directory), sent) as c:
        second = c.query("Test.Rows", ROWS)
    assert sent.n == 0
    same_result(first, second)


def test_equivalent_requests_share_the_entry(url: str, cache: ResultCache) -> None:
    sent = Sent()
    with client(url, cache, sent) as c:
        c.query("Test.Rows", {"rows": 12, "note": "x"})
        before = sent.n
        # Other parameter order, other page size, explicit cachebreaker and poll hold time.
        c.query(
            "Test.Rows",
            {"note": "x", "rows": 12},
            pagesize=5,
            server_timeout=3,
            cachebreaker="mine",
        )
        assert sent.n == before
        c.query("Test.Rows", {"rows": 12, "note": "y"})  # a different question
        assert sent.n > before
    assert cache.info().entries == 2


def test_one_page_is_cached_apart_from_the_whole(url: str, cache: ResultCache) -> None:
    sent = Sent()
    with client(url, cache, sent) as c:
        page2 = c.query("Test.Rows", ROWS, page=2)
        again = c.query("Test.Rows", ROWS, page=2)
        assert sent.n == 1
        same_result(page2, again)
        assert page2["obsid"].to_pylist() == list(range(7, 14))
        whole = c.query("Test.Rows", ROWS)
        assert len(whole) == 20 and sent.n == 4


def test_invoke_replies_are_cached(url: str, cache: ResultCache) -> None:
    sent = Sent()
    with client(url, cache, sent) as c:
        first = c.invoke("Test.Rows", {"rows": 3})
        second = c.invoke("Test.Rows", {"rows": 3})
    assert sent.n == 1
    assert second == first and second.data == first.data


def test_errors_are_not_cached(url: str, cache: ResultCache) -> None:
    from mastkit.errors import ServiceError

    with client(url, cache) as c:
        for _ in range(2):
            with pytest.raises(ServiceError):
                c.query("Test.Rows", {"rows": -1})
    assert cache.info().entries == 0 and cache.stats.misses == 2


@pytest.mark.anyio
async def test_async_client_in_process(app: Any, counter: Counter, cache: ResultCache) -> None:
    sent = Sent()
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://testserver", cache=cache, pagesize=7, transport=transport) as c:
        c.http.event_hooks["request"].append(sent.hook)
        first = await c.query("Test.Rows", ROWS)
        reply = await c.invoke("Test.Rows", {"rows": 2})
        n = sent.n
        second = await c.query("Test.Rows", ROWS)
        reply2 = await c.invoke("Test.Rows", {"rows": 2})
        page = await c.query("Test.Rows", ROWS, page=3)
        page2 = await c.query("Test.Rows", ROWS, page=3)
    assert n == 4 and sent.n == 5
    same_result(first, second)
    same_result(page, page2)
    assert reply == reply2


# -- TTL, size bound ---------------------------------------------------------------------------


def test_ttl_expiry(url: str, counter: Counter, tmp_path: Path) -> None:
    clock = Clock()
    cache = ResultCache(tmp_path, ttl=60, clock=clock)
    sent = Sent()
    with client(url, cache, sent) as c:
        first = c.query("Test.Rows", ROWS)
        clock.now += 59
        assert c.query("Test.Rows", ROWS)["run"].to_pylist() == first["run"].to_pylist()
        assert sent.n == 3
        clock.now += 2  # 61 s after the write: expired
        assert cache.entries()[0].expired
        fresh = c.query("Test.Rows", ROWS)
    assert sent.n == 6
    assert fresh["run"][0].as_py() > first["run"][0].as_py()
    [entry] = cache.entries()
    assert entry.created == clock.now and not entry.expired


def test_size_bound_evicts_least_recently_used(url: str, tmp_path: Path) -> None:
    clock = Clock()
    probe = ResultCache(tmp_path / "probe", clock=clock)
    with client(url, probe) as c:
        c.query("Test.Rows", {"rows": 20, "tag": "a"})
    size = probe.info().size
    cache = ResultCache(tmp_path / "bounded", max_bytes=int(size * 2.5), clock=clock)
    sent = Sent()
    with client(url, cache, sent) as c:
        for tag in "abc":
            clock.now += 1
            c.query("Test.Rows", {"rows": 20, "tag": tag})
        # Three do not fit: the oldest (a) went.
        assert {e.params["tag"] for e in cache.entries()} == {"b", "c"}
        clock.now += 1
        c.query("Test.Rows", {"rows": 20, "tag": "b"})  # a hit: b is now the most recent
        n = sent.n
        assert n == 9
        clock.now += 1
        c.query("Test.Rows", {"rows": 20, "tag": "d"})
    assert {e.params["tag"] for e in cache.entries()} == {"b", "d"}  # c was least recent
    assert cache.info().size <= cache.max_bytes
    assert cache.stats.evicted == 2


def test_an_answer_bigger_than_the_bound_is_not_cached(url: str, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=500)
    with client(url, cache) as c:
        assert len(c.query("Test.Rows", {"rows": 200})) == 200
    assert cache.info().entries == 0 and cache.stats.stores == 0


# -- bypass -----------------------------------------------------------------------------------


def test_per_call_bypass_and_refresh(url: str, counter: Counter, cache: ResultCache) -> None:
    sent = Sent()
    with client(url, cache, sent) as c:
        first = c.query("Test.Rows", ROWS)
        bypassed = c.query("Test.Rows", ROWS, cache=False)  # fetched, not stored
        assert sent.n == 6 and bypassed["run"][0].as_py() == first["run"][0].as_py() + 1
        assert c.query("Test.Rows", ROWS)["run"][0].as_py() == first["run"][0].as_py()
        refreshed = c.query("Test.Rows", ROWS, refresh=True)  # fetched, and stored
        assert sent.n == 9
        assert c.query("Test.Rows", ROWS)["run"][0].as_py() == refreshed["run"][0].as_py()
        c.query("Test.Rows", ROWS, clearcache=True)  # asking MAST to recompute is a refresh
        assert sent.n == 12
        c.query("Test.Rows", {"rows": 5}, cache=False)
    assert sent.n == 13
    assert [e.params for e in cache.entries()] == [ROWS]


def test_cache_false_on_the_client(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("MASTKIT_CACHE", "1")
    sent = Sent()
    with client(url, False, sent) as c:
        assert c.cache is None
        c.query("Test.Rows", ROWS)
        c.query("Test.Rows", ROWS)
    assert sent.n == 6
    assert not (tmp_path / "queries").exists()


def test_an_unwritable_cache_never_fails_a_query(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with client(url, ResultCache(blocker / "queries")) as c, caplog.at_level(logging.WARNING):
        assert len(c.query("Test.Rows", ROWS)) == 20
    assert "could not write the cache entry" in caplog.text


# -- defaults and settings ---------------------------------------------------------------------


def test_default_is_on_for_the_real_mast_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MASTKIT_CACHE_DIR", str(tmp_path))
    for name in ("MASTKIT_CACHE", "MASTKIT_NO_CACHE", "MASTKIT_OFFLINE", "MASTKIT_CACHE_TTL"):
        monkeypatch.delenv(name, raising=False)
    with Client() as real, Client("http://127.0.0.1:9") as local:
        assert real.cache is not None and local.cache is None
        assert real.cache.directory == tmp_path / "queries"
        assert real.cache.ttl == 86_400 and not real.offline
    monkeypatch.setenv("MASTKIT_CACHE", "1")
    monkeypatch.setenv("MASTKIT_CACHE_TTL", "2h")
    monkeypatch.setenv("MASTKIT_CACHE_SIZE", "5M")
    with Client("http://127.0.0.1:9") as local:
        assert local.cache is not None
        assert (local.cache.ttl, local.cache.max_bytes) == (7200, 5_000_000)
    monkeypatch.setenv("MASTKIT_NO_CACHE", "1")  # wins over MASTKIT_CACHE
    with Client() as real:
        assert real.cache is None
    monkeypatch.delenv("MASTKIT_NO_CACHE")
    monkeypatch.setenv("MASTKIT_OFFLINE", "yes")
    with Client("http://127.0.0.1:9") as offline:
        assert offline.offline and offline.cache is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MASTKIT_CACHE", "maybe"),
        ("MASTKIT_CACHE_TTL", "-5"),
        ("MASTKIT_CACHE_TTL", "soon"),
        ("MASTKIT_CACHE_SIZE", "lots"),
        ("MASTKIT_OFFLINE", "2"),
    ],
)
def test_bad_cache_settings(name: str, value: str) -> None:
    with pytest.raises(BadInputError, match=name):
        Settings.from_env({name: value})


def test_bad_cache_arguments(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cache must be"):
        Client("http://127.0.0.1:9", cache="yes")  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="Offline mode"):
        Client("http://127.0.0.1:9", cache=False, offline=True)
    with pytest.raises(BadInputError, match="TTL"):
        ResultCache(tmp_path, ttl=0)
    with pytest.raises(BadInputError, match="max_bytes"):
        ResultCache(tmp_path, max_bytes=0)
    with (
        Client("http://127.0.0.1:9", cache=ResultCache(tmp_path)) as c,
        pytest.raises(BadInputError, match="True or False"),
    ):
        c.query("Test.Rows", ROWS, refresh="yes")  # type: ignore[arg-type]


# -- offline ----------------------------------------------------------------------------------


def test_offline_hit_and_miss_without_the_network(url: str, cache: ResultCache) -> None:
    with client(url, cache) as c:
        online = c.query("Test.Rows", ROWS)
        reply = c.invoke("Test.Rows", {"rows": 2})
    wire = NoNetwork()
    with Client(url, cache=ResultCache(cache.directory), offline=True, transport=wire) as c:
        same_result(c.query("Test.Rows", ROWS, pagesize=3), online)
        assert c.invoke("Test.Rows", {"rows": 2}) == reply
        pages = list(c.iter_pages("Test.Rows", ROWS))
        assert len(pages) == 1 and pages[0].arrow.equals(online.arrow)
        with pytest.raises(CacheMissError) as info:
            c.query("Test.Rows", {"rows": 21})
        message = str(info.value)
        assert "Offline mode" in message and "Test.Rows" in message and '"rows":21' in message
        assert url in message and str(cache.directory) in message
        assert info.value.service == "Test.Rows"
        assert info.value.request is not None and info.value.request.params == {"rows": 21}
        with pytest.raises(CacheMissError, match=r"Test\.Rows"):
            list(c.iter_pages("Test.Rows", {"rows": 21}))
        with pytest.raises(CacheMissError, match="GET"):
            c.request("GET", "/api/v0.1/path_lookup")
        with pytest.raises(CacheMissError, match="network"):
            c.http.get("/anything")  # even the raw httpx client cannot send
        with pytest.raises(BadInputError, match="refresh"):
            c.query("Test.Rows", ROWS, refresh=True)
        with pytest.raises(BadInputError, match="cache=False"):
            c.query("Test.Rows", ROWS, cache=False)
    assert wire.calls == 0


def test_offline_serves_expired_entries(url: str, tmp_path: Path) -> None:
    clock = Clock()
    with client(url, ResultCache(tmp_path, ttl=10, clock=clock)) as c:
        online = c.query("Test.Rows", ROWS)
    clock.now += 3600
    stale = ResultCache(tmp_path, ttl=10, clock=clock)
    assert stale.info().expired == 1
    with Client(url, cache=stale, offline=True, transport=NoNetwork()) as c:
        same_result(c.query("Test.Rows", ROWS), online)


@pytest.mark.anyio
async def test_async_offline(app: Any, cache: ResultCache) -> None:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://testserver", cache=cache, transport=transport) as c:
        online = await c.query("Test.Rows", ROWS)
    wire = AsyncNoNetwork()
    async with AsyncClient("http://testserver", cache=cache, offline=True, transport=wire) as c:
        same_result(await c.query("Test.Rows", ROWS), online)
        pages = [p async for p in c.iter_pages("Test.Rows", ROWS)]
        assert len(pages) == 1 and pages[0].arrow.equals(online.arrow)
        with pytest.raises(CacheMissError, match='"rows":1}'):
            await c.query("Test.Rows", {"rows": 1})
        with pytest.raises(CacheMissError, match="not a cached query"):
            await c.request("GET", "/x")
        with pytest.raises(CacheMissError):
            await c.columns_config("Mast.Caom.Cone")
    assert wire.calls == 0
