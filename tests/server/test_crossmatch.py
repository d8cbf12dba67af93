"""Crossmatch services: results against brute force, the reply's shape, hostile uploads."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mastkit.protocol import MashupRequest
from mastkit.server import crossmatch as xm
from mastkit.server.geometry import footprint_distance, separation
from mastkit.server.handlers import Context, ServiceFailure
from mastkit.server.schema import HIPPARCOS

from .conftest import FORM, invoke

pytestmark = pytest.mark.anyio

SLOW = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _table(ra: list[float], dec: list[float], **extra: list[Any]) -> dict[str, Any]:
    fields = [{"name": "ra", "type": "float"}, {"name": "dec", "type": "float"}]
    fields += [
        {"name": k, "type": "string" if isinstance(v[0], str) else "int"} for k, v in extra.items()
    ]
    rows = [
        {"ra": r, "dec": d, **{k: v[i] for k, v in extra.items()}}
        for i, (r, d) in enumerate(zip(ra, dec, strict=True))
    ]
    return {"fields": fields, "data": rows}


def _run(archive: Any, service: str, data: Any, row_limit: int = 500_000, **params: Any) -> Any:
    context = Context(archive=archive, row_limit=row_limit)
    return xm.crossmatch(MashupRequest(service, params, data=data), context)


@pytest.fixture(scope="module")
def stars(archive: Any) -> dict[str, np.ndarray]:
    found = archive.execute("SELECT HIP, ra, dec FROM hipparcos").to_pydict()
    return {k: np.asarray(v) for k, v in found.items()}


def _brute(
    stars: dict[str, np.ndarray], ra: np.ndarray, dec: np.ndarray, radius: float
) -> list[tuple[int, int]]:
    pairs = []
    for i, (r, d) in enumerate(zip(ra, dec, strict=True)):
        dist = separation(r, d, stars["ra"], stars["dec"])
        # The service's radius is inclusive within 1e-9 arcsec (a star exactly at the radius
        # matches whichever way the last bit of the separation rounds).
        pairs += [(i, int(h)) for h in stars["HIP"][dist <= radius + 1e-9 / 3600]]
    return sorted(pairs)


positions = st.tuples(
    st.floats(0, 359.999),
    st.floats(-89.99, 89.99),
    st.floats(-0.01, 0.01),
    st.floats(-0.01, 0.01),
    st.booleans(),
)


@SLOW
@given(
    st.lists(positions, min_size=1, max_size=20), st.floats(0.0005, 0.3), st.integers(0, 117_954)
)
# A star exactly at the radius (found by hypothesis): the service matches it.
@example(points=[(0.0, 0.0, 0.0, 0.0078125, True)], radius=0.0078125, seed=0)
def test_matches_equal_brute_force(
    archive: Any, stars: dict[str, np.ndarray], points: list[Any], radius: float, seed: int
) -> None:
    # Half the positions sit next to real stars (near the poles and RA 0 too), half anywhere.
    ra, dec = [], []
    for k, (r, d, dr, dd, near) in enumerate(points):
        if near:
            j = (seed + 7919 * k) % len(stars["ra"])
            r, d = float(stars["ra"][j]) + dr, float(np.clip(stars["dec"][j] + dd, -90, 90))
        ra.append(r % 360)
        dec.append(d)
    result = _run(archive, "Mast.Hipparcos.Crossmatch", _table(ra, dec), radius=radius)
    got = sorted(
        zip(
            result.table.column("inputRow").to_pylist(),
            result.table.column("MatchID").to_pylist(),
            strict=True,
        )
    )
    assert got == _brute(stars, np.array(ra), np.array(dec), radius)
    if result.table.num_rows:
        sep = (
            separation(
                result.table.column("ra").to_numpy(),
                result.table.column("dec").to_numpy(),
                result.table.column("MatchRA").to_numpy(),
                result.table.column("MatchDEC").to_numpy(),
            )
            * 3600
        )
        assert np.allclose(sep, result.table.column("dstArcSec").to_numpy(), atol=1e-6)


@pytest.mark.parametrize("radius", [1 / 3600, 0.004, 0.2, 1.0])
def test_order_choice_covers_the_disc(radius: float) -> None:
    import astropy.units as u
    from astropy_healpix import nside_to_pixel_resolution

    order = xm._order_for(radius)
    assert nside_to_pixel_resolution(2**order).to_value(u.deg) >= 2 * radius


def test_reply_shape_and_order(archive: Any, stars: dict[str, np.ndarray]) -> None:
    # Two inputs at Sirius, one near the pole, one with a null position (never matched).
    ra = [101.2885, 0.0, 101.2885, None]
    dec = [-16.7131, -89.99, -16.7131, 5.0]
    data = {
        "fields": [
            {"name": "ra", "type": "float"},
            {"name": "dec", "type": "float"},
            {"name": "name", "type": "string"},
            {"name": "HIP", "type": "int"},
        ],
        "data": [
            {"ra": r, "dec": d, "name": f"t{i}", "HIP": -i}
            for i, (r, d) in enumerate(zip(ra, dec, strict=True))
        ],
    }
    result = _run(archive, "Mast.Tic.Crossmatch", data, radius=0.5, raColumn="RA", decColumn="Dec")
    table = result.table
    names = table.column_names
    assert names[:9] == [
        "ra",
        "dec",
        "name",
        "HIP",
        "inputRow",
        "MatchID",
        "MatchRA",
        "MatchDEC",
        "dstArcSec",
    ]
    # The TIC's HIP collides with the upload's: prefixed; its ra/dec are MatchRA/MatchDEC.
    assert "Match_HIP" in names and "Match_ra" not in names and "ID" in names
    near = _brute(stars, np.array([101.2885, 0.0, 101.2885]), np.array(dec[:3]), 0.5)
    assert set(table.column("inputRow").to_pylist()) == {i for i, _ in near} >= {0, 2}
    assert table.num_rows == len(near)
    rows = table.to_pylist()
    assert [r["inputRow"] for r in rows] == sorted(r["inputRow"] for r in rows)
    first = [r["dstArcSec"] for r in rows if r["inputRow"] == 0]
    assert first == sorted(first) and first[0] < 1
    assert all(r["name"] == f"t{r['inputRow']}" for r in rows)
    assert all(r["MatchID"] == r["ID"] for r in rows)
    declared = {f.name: f.type for f in result.fields}
    assert declared["MatchID"] == "string" and declared["name"] == "string"
    assert declared["dstArcSec"] == "float" and declared["inputRow"] == "int"


def test_caom_crossmatch_matches_caom_cones(archive: Any) -> None:
    obs = archive.execute("SELECT s_ra, s_dec FROM observations ORDER BY _row LIMIT 40").to_pydict()
    rng = np.random.default_rng(5)
    ra = (np.array(obs["s_ra"]) + rng.normal(0, 0.05, 40)) % 360
    dec = np.clip(np.array(obs["s_dec"]) + rng.normal(0, 0.05, 40), -90, 90)
    result = _run(archive, "Mast.Caom.Crossmatch", _table(ra.tolist(), dec.tolist()), radius=0.01)
    got = sorted(
        zip(
            result.table.column("inputRow").to_pylist(),
            result.table.column("MatchID").to_pylist(),
            strict=True,
        )
    )
    every = archive.execute("SELECT obsid, s_ra, s_dec, s_region FROM observations").to_pydict()
    want = []
    for i, (r, d) in enumerate(zip(ra, dec, strict=True)):
        dist = footprint_distance(
            every["s_region"], np.array(every["s_ra"]), np.array(every["s_dec"]), float(r), float(d)
        )
        want += [(i, o) for o, x in zip(every["obsid"], dist, strict=True) if x <= 0.01]
    assert got == sorted(want) and len(want) > 10
    assert "obs_collection" in result.table.column_names
    assert min(result.table.column("dstArcSec").to_pylist()) == 0.0  # inside a footprint


# ----------------------------------------------------------------------------- over HTTP


async def test_crossmatch_over_http(client: httpx.AsyncClient, archive: Any) -> None:
    request = {
        "service": "Mast.Hipparcos.Crossmatch",
        "format": "json",
        "pagesize": 2,
        "page": 1,
        "params": {"raColumn": "ra", "decColumn": "dec", "radius": 0.3},
        "data": _table([101.2885, 279.2347], [-16.7131, 38.7837]),
    }
    reply = await invoke(client, request)
    assert reply["status"] == "COMPLETE" and reply["paging"]["rows"] == 2
    total = reply["paging"]["rowsFiltered"]
    assert total >= 2
    second = await invoke(client, {**request, "page": 2})
    assert second["status"] == "COMPLETE"
    assert second["data"] != reply["data"] or total <= 2
    # A second upload with the same params (and no cachebreaker) gets its own answer.
    other = await invoke(client, {**request, "data": _table([279.2347], [38.7837])})
    assert {r["inputRow"] for r in other["data"]} == {0}
    assert all(abs(r["MatchDEC"] - 38.78) < 0.5 for r in other["data"])


async def _error(client: httpx.AsyncClient, data: Any, **params: Any) -> str:
    request = {"service": "Mast.Hipparcos.Crossmatch", "params": params, "format": "json"}
    if data is not None:
        request["data"] = data
    reply = await invoke(client, request)
    assert reply["status"] == "ERROR", reply
    assert reply["msg"].startswith("Mast.Hipparcos.Crossmatch: ")
    message: str = reply["msg"]
    return message


async def test_hostile_uploads(client: httpx.AsyncClient) -> None:
    ok = _table([1.0], [2.0])
    assert "data" in await _error(client, None)
    assert "JSON" in await _error(client, "{not json")
    assert "json table" in await _error(client, {"rows": []})
    assert "json table" in await _error(client, 42)
    assert "object" in await _error(client, {"data": [1, 2]})
    assert "fields" in await _error(client, {"fields": "ra", "data": []})
    assert "'raColumn'" in await _error(client, ok, raColumn="RA_X")
    assert "'decColumn'" in await _error(client, ok, decColumn=["dec"])
    assert "not numeric" in await _error(
        client,
        _table(["ten"], [1.0])
        | {"fields": [{"name": "ra", "type": "string"}, {"name": "dec", "type": "float"}]},
    )
    assert "[-90, 90]" in await _error(client, _table([1.0], [91.0]))
    assert "at most 1.0" in await _error(client, ok, radius=5)
    assert "radius" in await _error(client, ok, radius="wide")
    assert "differ" in await _error(
        client,
        {"fields": [{"name": "ra", "type": "float"}, {"name": "RA", "type": "float"}], "data": []},
    )
    wide = {
        "fields": [{"name": f"c{i}", "type": "int"} for i in range(xm.MAX_COLUMNS + 1)],
        "data": [],
    }
    assert "columns" in await _error(client, wide)
    typed_wrong = {
        "fields": [{"name": "ra", "type": "float"}, {"name": "dec", "type": "float"}],
        "data": [{"ra": "x", "dec": 1}],
    }
    assert "cannot be read" in await _error(client, typed_wrong)


async def test_upload_row_bound(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xm, "MAX_ROWS", 10)
    message = await _error(client, _table([1.0] * 11, [2.0] * 11))
    assert "11 rows" in message and "at most 10" in message and "split" in message
    reply = await invoke(
        client,
        {
            "service": "Mast.Hipparcos.Crossmatch",
            "format": "json",
            "params": {},
            "data": _table([1.0] * 10, [2.0] * 10),
        },
    )
    assert reply["status"] == "COMPLETE"


async def test_oversized_body_is_refused(archive: Any) -> None:
    from mastkit.server.app import ServerSettings, create_app

    from .conftest import client_for

    app = create_app(archive, ServerSettings(max_body_bytes=20_000))
    request = {
        "service": "Mast.Hipparcos.Crossmatch",
        "params": {},
        "data": _table([1.0] * 1000, [2.0] * 1000),
    }
    body = "request=" + quote(json.dumps(request))
    assert len(body) > 20_000
    async with client_for(app) as client:
        response = await client.post("/api/v0/invoke", content=body, headers=FORM)
    assert response.status_code == 413


def test_undeclared_fields_and_bare_rows(archive: Any) -> None:
    rows = [{"RA": 101.2885, "DEC": -16.7131, "id": 1}, {"RA": 279.2347, "DEC": 38.7837}]
    for data in ({"data": rows}, rows, json.dumps({"data": rows})):
        result = _run(archive, "Mast.Hipparcos.Crossmatch", data, radius=0.01)
        assert result.table.column_names[:3] == ["RA", "DEC", "id"]
        assert sorted(result.table.column("MatchID").to_pylist()) == [32349, 91262]


def test_row_limit_applies_to_matches(archive: Any) -> None:
    from mastkit.server.handlers import RowLimitExceeded

    with pytest.raises(RowLimitExceeded):
        _run(
            archive, "Mast.Hipparcos.Crossmatch", _table([101.0], [-16.0]), radius=1.0, row_limit=5
        )


def test_unknown_catalogue(archive: Any) -> None:
    with pytest.raises(ServiceFailure, match="Unable to Find Service Adaptor"):
        _run(archive, "Mast.Gaia.Crossmatch", _table([1.0], [1.0]))


def test_match_points_is_a_plain_function(archive: Any) -> None:
    found = xm.match_points(
        archive, HIPPARCOS, np.array([101.2885]), np.array([-16.7131]), 0.01, ["HIP"], 10
    )
    assert found.column("HIP").to_pylist() == [32349]
    assert found.column_names[:3] == ["_i", "_sep", "_crow"]
