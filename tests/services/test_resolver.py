"""Name resolution: exact catalogue matching, batches, per-name failures, the per-client cache."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit.client import AsyncClient, Client
from mastkit.errors import BadInputError, ResolverError
from mastkit.services import (
    AsyncResolver,
    Observations,
    Resolution,
    ResolveManyError,
    Resolver,
    resolutions_table,
)
from mastkit.services.resolver import catalogue_of, pick_entry

from .conftest import Api, Requests

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SANTA = json.loads((FIXTURES / "resolver.json").read_text())["resolvedCoordinate"]


def entries_for(name: str) -> list[dict[str, Any]]:
    return [e for e in SANTA if e["searchString"] == name.lower()]


# --------------------------------------------------------------------------- pure parts


def test_catalogue_ids_take_the_catalogue_entry_over_other_resolvers() -> None:
    # The real SANTA reply lists SIMBAD's "L 98-59" after the TIC entry; the TIC one is chosen
    # even when it comes last.
    entries = entries_for("TIC 307210830")
    assert pick_entry("TIC 307210830", entries)["resolver"] == "TIC"
    assert pick_entry("TIC 307210830", entries[::-1])["resolver"] == "TIC"


def test_catalogue_ids_never_take_a_different_object() -> None:
    simbad_only = [e for e in entries_for("TIC 307210830") if e["resolver"] != "TIC"]
    with pytest.raises(ResolverError, match=r"no TIC entry.*does not substitute"):
        pick_entry("TIC 307210830", simbad_only)
    neighbour = [{"resolver": "SIMBAD", "canonicalName": "HIP 120", "ra": 1.0, "decl": 2.0}]
    with pytest.raises(ResolverError, match="exactly"):
        pick_entry("HIP 12", neighbour)
    same = [{"resolver": "SIMBAD", "canonicalName": "HIP 0012", "ra": 1.0, "decl": 2.0}]
    assert pick_entry("hip 12", same)["canonicalName"] == "HIP 0012"  # the same identifier


def test_other_names_take_the_first_entry_of_their_own() -> None:
    mixed = entries_for("M101") + entries_for("M1")
    assert pick_entry("M101", mixed)["canonicalName"] == entries_for("M101")[0]["canonicalName"]
    with pytest.raises(ResolverError, match="knows no object"):
        pick_entry("M101", [])
    with pytest.raises(ResolverError):
        pick_entry("M101", [{"resolver": "X", "ra": None, "decl": 1.0}])  # no position


@pytest.mark.parametrize(
    ("name", "catalogue"),
    [("TIC 307210830", "TIC"), ("tic307210830", "TIC"), ("KIC 8462852", "KIC"),
     ("EPIC 201367065", "EPIC"), ("HIP 32349", "HIP"), ("Gaia DR3 4295806720", "Gaia"),
     ("TYC 4389-2068-1", "TYC"), ("2MASS J14031258+5420574", "2MASS"), ("M101", None),
     ("NGC 5457", None), ("Barnard's star", None)],
)
def test_catalogue_of(name: str, catalogue: str | None) -> None:
    assert catalogue_of(name) == catalogue


def test_resolution_value() -> None:
    r = Resolution("m101", "M 101", 210.80225, 54.34894, "OpenNGC", "G")
    assert r.ok and r.coords == (210.80225, 54.34894) and r.raise_for_error() is r
    assert r.to_skycoord().dec.deg == pytest.approx(54.34894)
    failed = Resolution("x", None, math.nan, math.nan, error="no such thing")
    assert not failed.ok and "unresolved" in repr(failed) and failed.as_dict()["ra"] is None
    with pytest.raises(ResolverError, match="no such thing"):
        failed.raise_for_error()
    table = resolutions_table([r, failed])
    assert table.columns == ["name", "canonical_name", "ra", "dec", "resolver", "object_type",
                             "error"]
    assert table["ra"].to_pylist() == [210.80225, None] and table.units["ra"] == "deg"


# --------------------------------------------------------------------------- against the server


async def test_resolve_m101(api: Api, db: Any) -> None:
    found = await api.call("resolve", "M101")
    row = db.execute("SELECT ra, dec FROM objects WHERE name = 'NGC5457'").to_pylist()[0]
    assert (found.ra, found.dec) == pytest.approx((row["ra"], row["dec"]))
    assert found.name == "M101" and found.canonical_name == "M 101"
    assert found.resolver == "OpenNGC" and found.object_type == "G"
    again = await api.call("resolve", "  messier   101 ")
    assert again.coords == found.coords and again.name == "  messier   101 "


async def test_catalogue_ids_resolve_exactly(api: Api, db: Any) -> None:
    hip = await api.call("resolve", "HIP 00032349")
    row = db.execute("SELECT ra, dec FROM hipparcos WHERE HIP = 32349").to_pylist()[0]
    assert hip.canonical_name == "HIP 32349"
    assert hip.coords == pytest.approx((row["ra"], row["dec"]))
    with pytest.raises(ResolverError, match="'HIP 999999999'"):
        await api.call("resolve", "HIP 999999999")


async def test_unknown_and_empty_names(api: Api) -> None:
    with pytest.raises(ResolverError, match="Could not resolve 'Planet Nine'"):
        await api.call("resolve", "Planet Nine")
    with pytest.raises(BadInputError, match="empty"):
        await api.call("resolve", "   ")


async def test_resolve_many_reports_failures_without_losing_the_others(
    api: Api, requests_seen: Requests
) -> None:
    names = ["M101", "no such object", "HIP 1", "M 101", "M101", "NGC 5194"]
    found = await api.call("resolve_many", names)
    assert [r.name for r in found] == names
    assert [r.ok for r in found] == [True, False, True, True, True, True]
    assert found[0] == found[4] and found[0].coords == found[3].coords
    assert "no such object" in (found[1].error or "") and math.isnan(found[1].ra)
    # The batch goes to the SANTA resolver (one request), not one Mast.Name.Lookup per name.
    assert requests_seen.count("Mast.Name.Lookup") == 0
    with pytest.raises(ResolveManyError) as caught:
        await api.call("resolve_many", names, errors="raise")
    assert list(caught.value.failures) == ["no such object"]
    assert [r.ok for r in caught.value.results] == [r.ok for r in found]
    assert isinstance(caught.value, ResolverError)
    with pytest.raises(BadInputError, match="list of names"):
        await api.call("resolve_many", "M101")
    with pytest.raises(BadInputError, match="errors must be"):
        await api.call("resolve_many", ["M101"], errors="ignore")


async def test_the_cache_is_per_client(client: Client, requests_seen: Requests) -> None:
    first = Resolver(client).resolve("M101")
    # Another facade on the same client shares the cache.
    assert Observations(client).resolve("m101").coords == first.coords
    assert requests_seen.count("Mast.Name.Lookup") == 1
    with Client(client.server) as other:
        Resolver(other).resolve("M101")  # another client: its own cache (not counted here)
    Resolver(client).resolve_many(["M101", "M101"])
    assert requests_seen.count("Mast.Name.Lookup") == 1


async def test_async_batches_are_concurrent_and_bounded(app: Any, db: Any) -> None:
    in_flight = 0
    peak = 0

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await app(scope, receive, send)
        finally:
            in_flight -= 1

    transport = httpx.ASGITransport(app=counting)
    async with AsyncClient("http://testserver", transport=transport, concurrency=3) as client:
        # SANTA answers 30 names a request: 150 names are 5 requests, 3 at most at once.
        names = db.execute("SELECT name FROM objects ORDER BY name LIMIT 150").column(0).to_pylist()
        found = await AsyncResolver(client).resolve_many(names)
    assert all(r.ok for r in found) and len(found) == 150
    assert 1 < peak <= 3
