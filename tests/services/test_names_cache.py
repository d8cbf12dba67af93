"""Batched name resolution and the on-disk result cache: one entry per name, either route.

Every test runs against the local server (loopback socket, or in-process for the async
client) with a real :class:`ResultCache` in a temporary directory; a *fresh* client on the same
directory is used for the "second time", so the per-client name cache cannot answer for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit._settings import Settings
from mastkit.client import AsyncClient, Client, ResultCache, RetryPolicy
from mastkit.client._caching import reply_key
from mastkit.errors import CacheMissError, ResolverError
from mastkit.protocol import MashupResponse
from mastkit.protocol.services import NAME_LOOKUP
from mastkit.services import AsyncResolver, Resolver
from mastkit.services._names import SANTA_BATCH
from mastkit.services.resolver import Resolution, ResolveManyError, lookup_params
from tests.support.fakemast import RawFaultServer, http_reply

pytestmark = pytest.mark.anyio

UNKNOWN = "no such object 7"


class Sent:
    """Every request a client sends, by kind."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def record(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def arecord(self, request: httpx.Request) -> None:
        self.record(request)

    @property
    def santa(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/Santa-war/query")]

    @property
    def santa_names(self) -> list[str]:
        return [n for r in self.santa for n in r.url.params.get_list("name")]

    @property
    def lookups(self) -> int:
        return sum(NAME_LOOKUP.encode() in r.content for r in self.requests)


@pytest.fixture(scope="module")
def names(db: Any) -> list[str]:
    """65 distinct object names of the archive (three SANTA batches)."""
    found: list[str] = (
        db.execute("SELECT DISTINCT name FROM objects ORDER BY hash(name) LIMIT 65")
        .column(0)
        .to_pylist()
    )
    assert len({n.lower() for n in found}) == 65
    return found


@pytest.fixture
def open_client(server_url: str, tmp_path: Path) -> Iterator[Any]:
    """Opens clients on one cache directory, each recording what it sends."""
    opened: list[Client] = []

    def make(
        *, offline: bool = False, retry: RetryPolicy | None = None, **settings: Any
    ) -> tuple[Client, Sent]:
        sent = Sent()
        client = Client(
            settings=Settings(server=server_url, offline=offline, **settings),
            cache=ResultCache(tmp_path / "q"),
            retry=retry,
            timeout=60,
        )
        client.http.event_hooks["request"].append(sent.record)
        opened.append(client)
        return client, sent

    yield make
    for client in opened:
        client.close()


def _view(results: list[Resolution]) -> list[Any]:
    return [(r.name, r.ok, r.canonical_name, r.resolver, r.object_type, r.error) for r in results]


def test_a_batch_is_sent_once_then_answered_from_the_cache(
    open_client: Any, names: list[str]
) -> None:
    batch = [*names, UNKNOWN, "TIC 1", names[0].upper()]
    first, sent = open_client()
    found = Resolver(first).resolve_many(batch)
    assert len(sent.santa) == -(-(len(names) + 2) // SANTA_BATCH)  # N/30, repeats sent once
    assert sent.lookups == 0
    assert [r.ok for r in found[-3:]] == [False, False, True]
    assert isinstance(found[-3].exception, ResolverError)
    again, sent_again = open_client()
    cached = Resolver(again).resolve_many(batch)
    assert sent_again.requests == []  # nothing at all: negatives are cached too
    assert _view(cached) == _view(found)
    assert [r.coords for r in cached if r.ok] == [r.coords for r in found if r.ok]


def test_only_the_names_missing_from_the_cache_go_to_santa(
    open_client: Any, names: list[str]
) -> None:
    warm, _ = open_client()
    cached = names[:40]
    Resolver(warm).resolve_many(cached)
    Resolver(warm).resolve(names[50])  # a single look-up fills the same cache
    client, sent = open_client()
    found = Resolver(client).resolve_many(names)
    missing = [n for n in names[40:] if n != names[50]]
    assert sorted(sent.santa_names) == sorted(missing)
    assert len(sent.santa) == -(-len(missing) // SANTA_BATCH) and sent.lookups == 0
    with Client(client.settings.server, cache=False, timeout=60) as uncached:
        reference = Resolver(uncached).resolve_many(names)
    assert _view(found) == _view(reference)


def test_single_look_ups_after_a_batch_read_its_entries(open_client: Any, names: list[str]) -> None:
    batch = [*names[:12], UNKNOWN]
    first, _ = open_client()
    found = Resolver(first).resolve_many(batch)
    single, sent = open_client()
    resolver = Resolver(single)
    for name, result in zip(batch, found, strict=True):
        if result.ok:
            assert resolver.resolve(name) == result  # every field, not just the position
        else:
            with pytest.raises(ResolverError) as caught:
                resolver.resolve(name)
            assert str(caught.value) == result.error
    assert sent.requests == []


def test_a_batch_after_single_look_ups_reads_their_entries(
    open_client: Any, names: list[str]
) -> None:
    first, _ = open_client()
    singles = [Resolver(first).resolve(n) for n in names[:5]]
    batch, sent = open_client()
    assert Resolver(batch).resolve_many(names[:5]) == singles
    assert sent.requests == []


def test_the_batch_entry_is_the_single_look_up_entry(open_client: Any, names: list[str]) -> None:
    """Same key (token included), same stored reply: the two routes cannot drift apart."""
    by_batch, _ = open_client(token="t0ken")
    Resolver(by_batch).resolve_many(names[:3])
    cache = by_batch.cache
    assert cache is not None
    stored = [
        cache.get(reply_key(by_batch.settings, NAME_LOOKUP, lookup_params(n))) for n in names[:3]
    ]
    assert all(isinstance(s, MashupResponse) for s in stored)
    assert len(cache.entries()) == 3
    assert {e.service for e in cache.entries()} == {NAME_LOOKUP}
    # A single look-up of a fourth name on a client with the same settings adds exactly the
    # entry reply_key names, with the same shape of reply.
    single, _ = open_client(token="t0ken")
    Resolver(single).resolve(names[3])
    direct = cache.get(reply_key(single.settings, NAME_LOOKUP, lookup_params(names[3])))
    assert isinstance(direct, MashupResponse) and len(cache.entries()) == 4
    assert direct.status == stored[0].status == "" and direct.fields == stored[0].fields
    assert sorted(direct.extra) == sorted(stored[0].extra) == ["resolvedCoordinate"]
    anonymous, _ = open_client()
    assert cache.get(reply_key(anonymous.settings, NAME_LOOKUP, lookup_params(names[0]))) is None


def test_offline_after_a_batch_answers_from_the_cache_and_names_the_misses(
    open_client: Any, names: list[str]
) -> None:
    online, _ = open_client()
    found = Resolver(online).resolve_many([*names[:10], UNKNOWN])
    offline, sent = open_client(offline=True)
    batch = [*names[:10], UNKNOWN, names[20], names[21]]
    results = Resolver(offline).resolve_many(batch)
    assert sent.requests == []
    assert _view(results[:11]) == _view(found)
    for result, name in zip(results[11:], names[20:22], strict=True):
        assert not result.ok and isinstance(result.exception, CacheMissError)
        assert repr(name) in (result.error or "") and "Offline mode" in (result.error or "")
    with pytest.raises(ResolveManyError) as caught:
        Resolver(offline).resolve_many(batch, errors="raise")
    assert set(caught.value.failures) == {UNKNOWN, names[20], names[21]}
    with pytest.raises(CacheMissError):
        Resolver(offline).resolve(names[20])  # the single route agrees


def test_expired_entries_are_fetched_again_online_and_used_offline(
    server_url: str, tmp_path: Path, names: list[str]
) -> None:
    now = [1_000_000.0]
    sent = Sent()

    def client(offline: bool = False) -> Client:
        cache = ResultCache(tmp_path / "q", ttl=60, clock=lambda: now[0])
        made = Client(
            settings=Settings(server=server_url, offline=offline), cache=cache, timeout=60
        )
        made.http.event_hooks["request"].append(sent.record)
        return made

    with client() as first:
        found = Resolver(first).resolve_many(names[:4])
    now[0] += 3600
    sent.requests.clear()
    with client(offline=True) as offline:
        assert Resolver(offline).resolve_many(names[:4]) == found  # stale is fine offline
    assert sent.requests == []
    with client() as online:
        assert Resolver(online).resolve_many(names[:4]) == found
    assert sorted(sent.santa_names) == sorted(names[:4])


@pytest.mark.parametrize(
    "reply",
    [http_reply(b"<html>busy</html>"), http_reply(b"oops", "500 Internal Server Error")],
    ids=["not-json", "http-500"],
)
def test_a_failed_santa_request_caches_no_answer(
    open_client: Any, names: list[str], reply: bytes
) -> None:
    with RawFaultServer([], reply) as santa:
        client, sent = open_client(resolver=santa.url, retry=RetryPolicy(max_retries=0))
        found = Resolver(client).resolve_many(names[:3])
        assert santa.connections == 1
    assert all(r.ok for r in found)
    assert sent.lookups == 3  # the single route answered, and cached its own replies
    again, sent_again = open_client()
    assert Resolver(again).resolve_many(names[:3]) == found
    assert sent_again.requests == []


async def test_the_async_resolver_uses_the_cache_the_same_way(
    app: Any, tmp_path: Path, names: list[str]
) -> None:
    batch = [*names[:35], UNKNOWN]
    results = []
    for _ in range(2):
        sent = Sent()
        async with AsyncClient(
            "http://testserver",
            transport=httpx.ASGITransport(app=app),
            cache=ResultCache(tmp_path / "q"),
            timeout=60,
        ) as client:
            client.http.event_hooks["request"].append(sent.arecord)
            results.append((await AsyncResolver(client).resolve_many(batch), sent))
    (first, sent_first), (second, sent_second) = results
    assert len(sent_first.santa) == 2 and sent_first.lookups == 0
    assert sent_second.requests == []
    assert _view(second) == _view(first) and not second[-1].ok
