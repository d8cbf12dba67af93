"""Catalogue services over the real app: the TIC-shaped table, cones, filters, counts, configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from mastkit.protocol import MashupRequest
from mastkit.server.catalogs import BUILTIN, SEPARATION, check_catalog_name
from mastkit.server.geometry import separation
from mastkit.server.handlers import Registry, ServiceFailure, default_registry
from mastkit.server.loaders.tic import ID_OFFSET, TIC

from .conftest import FORM, invoke, scalar

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
SIRIUS = (101.2885, -16.7131)


def _sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# ----------------------------------------------------------------------------- the table


def test_tic_has_mast_s_columns_and_types() -> None:
    real = _sample("tic.json")["fields"]
    assert [(f["name"], f["type"]) for f in real] == [(c.name, c.mast_type) for c in TIC]
    # Long ids are stored as numbers and declared string, as MAST does.
    ids = {c.name: c for c in TIC}
    assert (ids["ID"].mast_type, ids["ID"].duckdb_type) == ("string", "BIGINT")
    for col in TIC:
        assert col.description.startswith(("Hipparcos 2 (real)", "Derived", "Not available"))


def test_tic_rows_come_from_hipparcos(archive: Any) -> None:
    found = archive.execute(
        "SELECT count(*) AS n, count(*) FILTER (WHERE t.ID = h.HIP + ? AND t.ra = h.ra "
        "AND t.dec = h.dec AND t.pmRA = h.pmRA AND t.pmDEC = h.pmDE AND t.plx = h.Plx "
        "AND t.e_plx = h.e_Plx) AS same FROM tic t JOIN hipparcos h USING (HIP)",
        [ID_OFFSET],
    ).to_pylist()[0]
    assert found["n"] == found["same"] == scalar(archive, "SELECT count(*) FROM hipparcos")
    # Columns with no derivation are null throughout; derived ones are filled.
    nulls = archive.execute(
        "SELECT count(Jmag) AS j, count(TWOMASS) AS tm, count(lumclass) AS lc, "
        "count(Tmag) AS t, count(GAIAmag) AS g, count(d) AS d FROM tic"
    ).to_pylist()[0]
    assert nulls["j"] == nulls["tm"] == nulls["lc"] == 0
    assert nulls["t"] == nulls["g"] == 117_955 and 0 < nulls["d"] < 117_955


def test_tic_derived_values_are_plausible(archive: Any) -> None:
    rows = archive.execute(
        "SELECT t.Vmag, t.Bmag, t.Tmag, t.GAIAmag, t.d, t.plx, h.Hpmag, h.B_V, h.V_I, "
        "t.gallat, t.eclat FROM tic t JOIN hipparcos h USING (HIP)"
    ).to_pydict()
    v, hp = np.array(rows["Vmag"]), np.array(rows["Hpmag"])
    # The documented derivations (column descriptions and docs/catalogs-server.md).
    assert np.allclose(v - hp, 0.2 * np.array(rows["B_V"]))
    assert np.allclose(np.array(rows["Bmag"]) - v, rows["B_V"])
    assert np.allclose(v - np.array(rows["Tmag"]), 0.85 * np.array(rows["V_I"]))
    assert np.median(np.abs(np.array(rows["GAIAmag"]) - v)) < 0.3
    plx = np.array(rows["plx"], dtype=float)
    d = np.array([np.nan if x is None else x for x in rows["d"]], dtype=float)
    assert np.allclose(d[plx > 0], 1000 / plx[plx > 0]) and np.isnan(d[plx <= 0]).all()
    assert np.all(np.abs(rows["gallat"]) <= 90) and np.all(np.abs(rows["eclat"]) <= 90)


def test_galactic_rotation_matches_astropy(archive: Any) -> None:
    from astropy.coordinates import SkyCoord

    rows = archive.execute(
        "SELECT ra, dec, gallong, gallat FROM tic ORDER BY ID LIMIT 200"
    ).to_pydict()
    gal = SkyCoord(rows["ra"], rows["dec"], unit="deg", frame="icrs").galactic
    assert np.allclose(
        separation(gal.l.deg, gal.b.deg, rows["gallong"], rows["gallat"]), 0, atol=1e-5
    )


# ----------------------------------------------------------------------------- cones


async def _rows(client: httpx.AsyncClient, service: str, **params: Any) -> dict[str, Any]:
    reply = await invoke(client, MashupRequest(service, params))
    assert reply["status"] == "COMPLETE", reply
    return reply


@pytest.mark.parametrize(
    "service", ["Mast.Catalogs.Tic.Cone", "Mast.Catalogs.TIC.Cone", "mast.catalogs.hipparcos.cone"]
)
async def test_cone_matches_sql(client: httpx.AsyncClient, archive: Any, service: str) -> None:
    reply = await _rows(client, service, ra=SIRIUS[0], dec=SIRIUS[1], radius=1.5)
    table = "tic" if "tic" in service.lower() else "hipparcos"
    expected = archive.execute(f"SELECT HIP, ra, dec FROM {table}").to_pydict()
    dist = separation(*SIRIUS, expected["ra"], expected["dec"])
    want = sorted(h for h, d in zip(expected["HIP"], dist, strict=True) if d <= 1.5)
    got = reply["data"]
    assert sorted(r["HIP"] for r in got) == want and len(want) > 5
    seps = [r[SEPARATION.name] for r in got]
    assert seps == sorted(seps) and max(seps) <= 1.5 * 3600
    assert reply["fields"][-1] == {"name": "dstArcSec", "type": "float"}
    if table == "tic":
        assert {f["name"]: f["type"] for f in reply["fields"]}["ID"] == "string"
        assert all(r["ID"] == r["HIP"] + ID_OFFSET for r in got)


async def test_cone_radius_default_and_errors(client: httpx.AsyncClient) -> None:
    reply = await _rows(client, "Mast.Catalogs.Tic.Cone", ra=SIRIUS[0], dec=SIRIUS[1])
    assert all(r["dstArcSec"] <= 0.02 * 3600 for r in reply["data"])
    for params in ({"ra": "x", "dec": 1}, {"dec": 1}, {"ra": 1, "dec": 95}):
        bad = await invoke(client, MashupRequest("Mast.Catalogs.Tic.Cone", params))
        assert bad["status"] == "ERROR" and "Mast.Catalogs.Tic.Cone" in bad["msg"]


@pytest.mark.parametrize(
    "service",
    [
        "Mast.Catalogs.Gaia.Cone",
        "Mast.Catalogs.Filtered.Nope",
        "Mast.Catalogs.All.Nope",
        "Mast.Nope.Crossmatch",
        "Mast.Catalogs.Tic.Cone.Extra",
    ],
)
async def test_unknown_catalogue_is_an_unknown_service(
    client: httpx.AsyncClient, service: str
) -> None:
    reply = await invoke(client, MashupRequest(service, {"ra": 1, "dec": 1}))
    assert reply["status"] == "ERROR"
    assert reply["msg"] == f"Mashup: Unable to Find Service Adaptor for service: {service}"


# ----------------------------------------------------------------------------- filtered


async def test_filtered_values_and_ranges(client: httpx.AsyncClient, archive: Any) -> None:
    filters = [
        {"paramName": "Tmag", "values": [{"min": -2, "max": 3.5}]},
        {"paramName": "objType", "values": ["star"]},
        {"paramName": "HIP", "values": ["32349", "30438", "24436", "999999"]},
    ]
    reply = await _rows(client, "Mast.Catalogs.Filtered.Tic.Rows", columns="*", filters=filters)
    want = (
        archive.execute(
            "SELECT HIP FROM tic WHERE Tmag BETWEEN -2 AND 3.5 AND HIP IN "
            "(32349, 30438, 24436) ORDER BY ID"
        )
        .column(0)
        .to_pylist()
    )
    assert [r["HIP"] for r in reply["data"]] == want and want
    assert len(reply["fields"]) == len(TIC.names)


async def test_filtered_counts_and_rows_variants(client: httpx.AsyncClient, archive: Any) -> None:
    filters = [{"paramName": "Vmag", "values": [{"min": 0, "max": 4}]}]
    expected = scalar(archive, "SELECT count(*) FROM tic WHERE Vmag BETWEEN 0 AND 4")
    count = await _rows(
        client, "Mast.Catalogs.Filtered.Tic", columns="COUNT_BIG(*)", filters=filters
    )
    assert count["data"] == [{"Column1": expected}]
    assert count["fields"] == [{"name": "Column1", "type": "string"}]
    only = await _rows(client, "Mast.Catalogs.Filtered.Tic.Count", filters=filters)
    assert only["data"] == [{"Column1": expected}]
    rows = await _rows(client, "Mast.Catalogs.Filtered.Tic", columns="ID, Vmag", filters=filters)
    assert len(rows["data"]) == expected and set(rows["data"][0]) == {"ID", "Vmag"}
    refused = await invoke(
        client,
        MashupRequest(
            "Mast.Catalogs.Filtered.Tic.Rows", {"columns": "COUNT_BIG(*)", "filters": filters}
        ),
    )
    assert refused["status"] == "ERROR" and "COUNT_BIG" in refused["msg"]


async def test_filtered_position(client: httpx.AsyncClient, archive: Any) -> None:
    filters = [{"paramName": "Tmag", "values": [{"min": 4, "max": 9}]}]
    reply = await _rows(
        client,
        "Mast.Catalogs.Filtered.Tic.Position.Rows",
        columns="*",
        filters=filters,
        ra=SIRIUS[0],
        dec=SIRIUS[1],
        radius=2,
    )
    stars = archive.execute("SELECT HIP, ra, dec FROM tic WHERE Tmag BETWEEN 4 AND 9").to_pydict()
    dist = separation(*SIRIUS, stars["ra"], stars["dec"])
    want = sorted(h for h, d in zip(stars["HIP"], dist, strict=True) if d <= 2)
    assert sorted(r["HIP"] for r in reply["data"]) == want and want
    assert all(r["dstArcSec"] <= 7200 for r in reply["data"])
    # The position string works too (as CAOM's Filtered.Position takes it).
    same = await _rows(
        client,
        "Mast.Catalogs.Filtered.Tic.Position",
        columns="HIP",
        filters=filters,
        position=f"{SIRIUS[0]}, {SIRIUS[1]}, 2",
    )
    assert sorted(r["HIP"] for r in same["data"]) == want


async def test_filtered_bad_input(client: httpx.AsyncClient) -> None:
    cases = [
        ({"filters": [{"paramName": "nope", "values": ["1"]}]}, "Invalid column name 'nope'."),
        ({"filters": [{"paramName": "Tmag", "values": ["bright"]}]}, "Tmag"),
        ({"columns": "ID, _hpx", "filters": []}, "Invalid column name '_hpx'."),
        ({"filters": "Tmag"}, "filters"),
        ({"columns": ["ID"]}, "columns"),
    ]
    for params, words in cases:
        reply = await invoke(client, MashupRequest("Mast.Catalogs.Filtered.Tic", params))
        assert reply["status"] == "ERROR" and words in reply["msg"], (params, reply)


# ----------------------------------------------------------------------------- histograms, configs


async def test_all_tic_histograms(client: httpx.AsyncClient, archive: Any) -> None:
    reply = await invoke(client, MashupRequest("Mast.Catalogs.All.Tic", {}, format="extjs"))
    table = reply["data"]["Tables"][0]
    assert table["Rows"] == [] and len(table["Fields"]) == len(TIC.names)
    props = table["ExtendedProperties"]
    assert props["Paging"]["rows"] == 0
    discrete, continuous = props["discreteHistogram"], props["continuousHistogram"]
    assert discrete["objType"]["hist"] == [{"count": 117_955, "key": "STAR"}]
    assert discrete["objType"]["STAR"] == {"count": 117_955, "key": "STAR"}
    tmag = continuous["Tmag"]
    assert tmag["type"] == "numeric"
    assert tmag["min"] == scalar(archive, "SELECT min(Tmag) FROM tic")
    assert tmag["max"] == scalar(archive, "SELECT max(Tmag) FROM tic")
    assert sum(b["count"] for b in tmag["hist"]["hist"]) == 117_955
    # Ids and other integers stay exact-match columns; all-null columns get no histogram.
    assert "ID" not in continuous and "HIP" not in continuous and "Jmag" not in continuous
    # The column entries carry the config (cc./vot.), as extjs replies do.
    columns = {c["text"]: c["ExtendedProperties"] for c in table["Columns"]}
    assert columns["HIP"]["cc.intAsString"] is True


async def test_columns_configs(client: httpx.AsyncClient) -> None:
    async def config(name: str) -> dict[str, Any]:
        response = await client.post(
            "/portal/Mashup/Mashup.asmx/columnsconfig", content=f"colConfigId={name}", headers=FORM
        )
        assert response.status_code == 200
        found: dict[str, Any] = response.json()
        return found

    tess = await config("Mast.Catalogs.Tess.Cone")
    assert list(tess)[: len(TIC.names)] == TIC.names and list(tess)[-1] == "dstArcSec"
    real = _sample("ticcolumns.json")
    for name in ("ID", "HIP", "Tmag", "ra"):
        assert tess[name]["text"] == real[name].get("text", name)
    assert tess["HIP"]["intAsString"] is True and tess["Tmag"]["vot.datatype"] == "double"
    assert "Derived" in tess["Tmag"]["vot.description"]
    assert await config("Mast.Catalogs.TIC.Cone") == tess
    assert await config("Mast.Catalogs.Filtered.Tic.Position.Rows") == tess
    hip = await config("Mast.Catalogs.Hipparcos.Cone")
    assert "Hpmag" in hip and hip["dstArcSec"]["vot.unit"] == "arcsec"
    assert await config("Mast.Catalogs.Nope.Cone") == {}


# ----------------------------------------------------------------------------- names, registry


@pytest.mark.parametrize(
    "name",
    ["", "9lives", "a-b", "x" * 41, "Tic", "tess", "Position", "Caom", "with space", "x;drop"],
)
def test_bad_catalogue_names(name: str) -> None:
    from mastkit.errors import BadInputError

    with pytest.raises(BadInputError):
        check_catalog_name(name, {c.key: c for c in BUILTIN})


def test_registry_patterns_route_after_fixed_names() -> None:
    registry = default_registry()
    assert "Mast.Catalogs.Whatever.Cone" in registry
    assert "Mast.Catalogs.Filtered.Whatever.Position.Rows" in registry
    assert "Mast.Whatever.Crossmatch" in registry
    assert "Mast.Catalogs.Filtered.Whatever.Rows.Position" not in registry
    assert registry.resolve(" Mast.Caom.Cone ")[0] == "Mast.Caom.Cone"
    assert registry.resolve("Mast.Catalogs.X.Cone ")[0] == "Mast.Catalogs.X.Cone"
    with pytest.raises(ServiceFailure):
        Registry().resolve("Mast.Catalogs.X.Cone")
