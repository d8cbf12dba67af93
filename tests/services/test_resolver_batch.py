"""Batched name resolution through SANTA: same answers as Mast.Name.Lookup, fewer requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mastkit._settings import Settings
from mastkit.client import AsyncClient, Client
from mastkit.errors import ResolverError
from mastkit.services import AsyncResolver, Resolver
from mastkit.services._names import SANTA_BATCH, read_reply, resolver_url

from .conftest import Requests

pytestmark = pytest.mark.anyio


def _entry(
    search: str, resolver: str, name: str, ra: float = 1.0, dec: float = 2.0
) -> dict[str, Any]:
    return {
        "searchString": search,
        "resolver": resolver,
        "canonicalName": name,
        "ra": ra,
        "decl": dec,
    }


def test_resolver_url_follows_the_server_unless_told() -> None:
    assert resolver_url(Settings(server="https://mast.stsci.edu")).startswith(
        "https://mastresolver.stsci.edu/"
    )
    assert resolver_url(Settings(server="http://127.0.0.1:9/")) == (
        "http://127.0.0.1:9/Santa-war/query"
    )
    assert resolver_url(Settings(resolver="http://h:1/x")) == "http://h:1/x/Santa-war/query"
    assert resolver_url(Settings(resolver="http://h:1/Santa-war/query/")) == (
        "http://h:1/Santa-war/query"
    )
    env = Settings.from_env({"MASTKIT_RESOLVER": "http://r:2"})
    assert env.resolver == "http://r:2"


def test_reply_entries_are_matched_per_name_and_catalogue_ids_exactly() -> None:
    reply = {
        "resolvedCoordinate": [
            _entry("tic 307210830", "SIMBAD", "L 98-59"),  # another object's entry first
            _entry("tic 307210830", "TIC", "TIC 307210830", 124.5, -68.3),
            _entry("hip 7", "SIMBAD", "V* XX Psc"),  # no Hipparcos entry: not substituted
            _entry("m101", "NED", "MESSIER 101", 210.8, 54.3),
        ],
        "status": "",
    }
    found = read_reply(["TIC 307210830", "HIP 7", "M101", "Nowhere"], reply)
    assert found["TIC 307210830"].resolver == "TIC"
    assert found["TIC 307210830"].coords == (124.5, -68.3)
    assert isinstance(found["HIP 7"], ResolverError)
    assert found["M101"].canonical_name == "MESSIER 101"
    assert isinstance(found["Nowhere"], ResolverError)  # none of the entries is its


def test_entries_that_do_not_say_whose_they_are_leave_names_to_the_lookup() -> None:
    reply = {"resolvedCoordinate": [_entry("m 101", "NED", "MESSIER 101")], "status": ""}
    assert read_reply(["M101", "M51"], reply) == {}  # unmatched entry: trust none of the absent
    assert read_reply(["M101"], {"status": "ERROR"}) == {}
    assert read_reply(["M101"], ["not", "a", "reply"]) == {}


async def test_batches_answer_like_single_lookups(
    aclient: AsyncClient, app: Any, db: Any, requests_seen: Requests
) -> None:
    names = (
        db.execute("SELECT name FROM objects ORDER BY hash(name) LIMIT 70").column(0).to_pylist()
    )
    names += ["HIP 32349", "hip 32349", "TIC 1", "no such object 7", names[0]]
    santa: list[httpx.URL] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/Santa-war/query"):
            santa.append(request.url)

    aclient.http.event_hooks["request"].append(record)
    batch = await AsyncResolver(aclient).resolve_many(names)
    assert requests_seen.count("Mast.Name.Lookup") == 0
    assert len(santa) == -(-(len(names) - 2) // SANTA_BATCH)  # distinct names, 30 a request
    assert all(url.params.get("resolveAll") == "true" for url in santa)
    async with AsyncClient("http://testserver", transport=httpx.ASGITransport(app=app)) as other:
        single = [await _one(AsyncResolver(other), n) for n in names]
    assert [
        (r.name, r.ok, r.coords if r.ok else None, r.resolver, r.canonical_name) for r in batch
    ] == single
    assert [r.ok for r in batch[-5:]] == [True, True, False, False, True]


async def _one(resolver: AsyncResolver, name: str) -> Any:
    try:
        r = await resolver.resolve(name)
    except ResolverError:
        return (name, False, None, None, None)
    return (r.name, True, r.coords, r.resolver, r.canonical_name)


def test_the_token_never_goes_to_a_resolver_on_another_host(server_url: str) -> None:
    assert "127.0.0.1" in server_url
    elsewhere = server_url.replace("127.0.0.1", "localhost")
    sent: list[httpx.Request] = []
    settings = Settings(server=server_url, resolver=elsewhere, token="s3cret-token")
    with Client(settings=settings, timeout=60) as client:
        client.http.event_hooks["request"].append(sent.append)
        found = Resolver(client).resolve_many(["M101", "M 31"])
        Resolver(client).resolve("NGC 5194")
    assert all(r.ok for r in found)
    santa = [r for r in sent if r.url.path.endswith("/Santa-war/query")]
    lookups = [r for r in sent if r.url.host == "127.0.0.1"]
    assert len(santa) == 1 and santa[0].url.host == "localhost"
    assert "authorization" not in santa[0].headers
    assert "s3cret-token" not in str(santa[0].headers.get("cookie", ""))
    assert lookups and all(r.headers.get("authorization") == "token s3cret-token" for r in lookups)


def test_a_caching_client_batches_once_and_then_answers_from_the_cache(
    server_url: str, tmp_path: Any
) -> None:
    """Caching no longer turns batches into one look-up per name (see test_names_cache.py)."""
    from mastkit.client import ResultCache

    sent: list[httpx.Request] = []
    with Client(server_url, cache=ResultCache(tmp_path / "q"), timeout=60) as client:
        client.http.event_hooks["request"].append(sent.append)
        found = Resolver(client).resolve_many(["M101", "M 31"])
    assert all(r.ok for r in found)
    assert len(sent) == 1 and sent[0].url.path.endswith("/Santa-war/query")
    with Client(server_url, cache=ResultCache(tmp_path / "q"), timeout=60) as again:
        again.http.event_hooks["request"].append(sent.append)
        assert Resolver(again).resolve_many(["M101", "M 31"]) == found
    assert len(sent) == 1
    with Client(server_url, cache=ResultCache(tmp_path / "q"), offline=True) as offline:
        again_offline = Resolver(offline).resolve_many(["M101", "M 31"])
    assert [r.coords for r in again_offline] == [r.coords for r in found]
