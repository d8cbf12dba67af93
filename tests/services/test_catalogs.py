"""Catalogue queries against the local archive, sync over a socket and async in-process.

Results are checked against the archive itself (its ``tic`` and ``hipparcos`` tables, read by
SQL, with separations computed here), not only against other mastkit calls.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from mastkit.client import AsyncClient, Client
from mastkit.errors import BadInputError, NoResultsWarning, ServiceError, UnknownColumnError
from mastkit.services import AsyncCatalogs, Catalogs
from mastkit.services._catalog_specs import catalog_spec, crossmatch_service, with_types
from mastkit.services.criteria import compile_criteria
from mastkit.tables import ResultTable

from .conftest import Requests

pytestmark = pytest.mark.anyio

M101 = (210.80227, 54.34895)


class CatApi:
    """:class:`Catalogs` or :class:`AsyncCatalogs`, called the same way."""

    def __init__(self, facade: Catalogs | AsyncCatalogs, flavour: str) -> None:
        self.facade = facade
        self.flavour = flavour

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.facade, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def __repr__(self) -> str:
        return f"CatApi({self.flavour})"


@pytest.fixture(params=["sync", "async"], name="cat")
def cat_fixture(request: pytest.FixtureRequest) -> CatApi:
    """The catalogue API over a socket (sync) and in-process (async)."""
    if request.param == "sync":
        client: Client = request.getfixturevalue("client")
        return CatApi(Catalogs(client), "sync")
    aclient: AsyncClient = request.getfixturevalue("aclient")
    return CatApi(AsyncCatalogs(aclient), "async")


def arcsec_between(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> Any:
    r1, d1, r2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    cos = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return np.degrees(np.arccos(np.clip(cos, -1, 1))) * 3600


def tic_within(
    db: Any, ra: float, dec: float, radius: float, where: str = "TRUE"
) -> dict[int, float]:
    """TIC ids within ``radius`` deg of (ra, dec) and their separations, by SQL + numpy."""
    rows = db.execute(
        f"SELECT ID, ra, dec FROM tic WHERE abs(dec - ?) <= ? AND {where}", [dec, radius + 1e-6]
    )
    ids = np.asarray(rows.column("ID").to_pylist())
    sep = arcsec_between(rows.column("ra").to_numpy(), rows.column("dec").to_numpy(), ra, dec)
    inside = sep <= radius * 3600
    return dict(zip(ids[inside].tolist(), sep[inside].tolist(), strict=True))


async def test_region_matches_the_archive(cat: CatApi, db: Any, requests_seen: Requests) -> None:
    found = await cat.call("query_region", "TIC", M101, radius="40 arcmin")
    expected = tic_within(db, *M101, 40 / 60)
    assert len(expected) >= 3
    assert (
        dict(zip(found["ID"].to_pylist(), found["dstArcSec"].to_pylist(), strict=True)).keys()
        == expected.keys()
    )
    for tic_id, sep in zip(found["ID"].to_pylist(), found["dstArcSec"].to_pylist(), strict=True):
        assert sep == pytest.approx(expected[tic_id], abs=1e-3)
    assert found["dstArcSec"].to_pylist() == sorted(found["dstArcSec"].to_pylist())
    assert found.units["dstArcSec"] == "arcsec" and found.metadata["catalog"] == "TIC"
    assert requests_seen.count("Mast.Catalogs.Tic.Cone") == 1
    assert requests_seen.count("Mast.Catalogs.Tess.Cone") == 1  # the TIC's columns config


async def test_names_ignore_case(cat: CatApi) -> None:
    ids = [
        sorted((await cat.call("query_region", name, M101, radius=0.5))["ID"].to_pylist())
        for name in ("TIC", "tic", "Tic", " tess ")
    ]
    assert ids[0] and all(i == ids[0] for i in ids)


async def test_region_with_criteria(cat: CatApi, db: Any, requests_seen: Requests) -> None:
    found = await cat.call("query_region", "tic", M101, radius=1.0, Tmag="<9", objType="STAR")
    expected = tic_within(db, *M101, 1.0, "Tmag < 9 AND objType = 'STAR'")
    assert set(found["ID"].to_pylist()) == set(expected) and expected
    assert requests_seen.count("Mast.Catalogs.Filtered.Tic.Position.Rows") == 1
    assert max(found["Tmag"].to_pylist()) < 9
    count = await cat.call("query_region_count", "TIC", M101, 1.0, Tmag="<9", objType="STAR")
    assert count == len(expected)
    assert await cat.call("query_region_count", "TIC", M101, 1.0) == len(tic_within(db, *M101, 1.0))


async def test_criteria_and_negation(cat: CatApi, db: Any) -> None:
    found = await cat.call("query_criteria", "TIC", Tmag=(5, 5.5), lumclass="!DWARF")
    expected = (
        db.execute(
            "SELECT ID FROM tic WHERE Tmag BETWEEN 5 AND 5.5 AND "
            "(lumclass IS NULL OR lumclass <> 'DWARF')"
        )
        .column("ID")
        .to_pylist()
    )
    assert sorted(found["ID"].to_pylist()) == sorted(expected) and expected
    assert (
        found.metadata["excluded_rows"]
        == db.execute(
            "SELECT count(*) FROM tic WHERE Tmag BETWEEN 5 AND 5.5 AND lumclass = 'DWARF'"
        )
        .column(0)[0]
        .as_py()
    )
    assert await cat.call("query_criteria_count", "TIC", Tmag=(5, 5.5), lumclass="!DWARF") == len(
        expected
    )
    # Four negations: past inclusion-exclusion, the rows are fetched and counted.
    many = {"HIP": ["!1", "!2", "!3", "!4"], "Tmag": "<3"}
    rows = await cat.call("query_criteria", "TIC", **many)
    assert await cat.call("query_criteria_count", "TIC", **many) == len(rows)
    assert not set(rows["HIP"].to_pylist()) & {1, 2, 3, 4}


async def test_object_and_hipparcos(cat: CatApi, db: Any) -> None:
    found = await cat.call("query_object", "Hipparcos", "M45", radius="1 deg")
    resolved = found.metadata["resolved"]
    rows = db.execute(
        "SELECT HIP, ra, dec FROM hipparcos WHERE abs(dec - ?) < 1.01", [resolved["dec"]]
    )
    sep = arcsec_between(
        rows.column("ra").to_numpy(), rows.column("dec").to_numpy(), resolved["ra"], resolved["dec"]
    )
    expected = set(np.asarray(rows.column("HIP").to_pylist())[sep <= 3600].tolist())
    assert set(found["HIP"].to_pylist()) == expected and len(expected) > 10
    assert await cat.call("query_object_count", "hipparcos", "M45", "1 deg") == len(expected)
    counted = await cat.call(
        "query_criteria_count", "Hipparcos", objectname="M45", radius="1 deg", Hpmag="<6"
    )
    bright = await cat.call(
        "query_criteria", "Hipparcos", objectname="M45", radius="1 deg", Hpmag="<6"
    )
    assert counted == len(bright) and 0 < counted < len(expected)


async def test_whole_catalogue_count(cat: CatApi, db: Any) -> None:
    total = db.execute("SELECT count(*) FROM hipparcos").column(0)[0].as_py()
    assert await cat.call("query_criteria_count", "Hipparcos") == total


async def test_unknown_column_fails_before_sending(cat: CatApi, requests_seen: Requests) -> None:
    with pytest.raises(UnknownColumnError) as info:
        await cat.call("query_criteria", "TIC", Tmagg="<5")
    assert "Tmag" in info.value.suggestions
    with pytest.raises(BadInputError, match="number"):
        await cat.call("query_criteria", "TIC", Tmag="bright")
    assert requests_seen.count("Filtered") == 0


async def test_bad_catalogues(cat: CatApi, requests_seen: Requests) -> None:
    with pytest.raises(ServiceError, match="no catalogue 'NoSuchCat'"):
        await cat.call("query_region", "NoSuchCat", M101, radius=0.1)
    with pytest.raises(BadInputError, match="no column metadata"):
        await cat.call("query_criteria", "NoSuchCat", x=1)
    requests_seen.clear()
    for bad in ("Mast.Caom", "", "1abc", "ti c", None):
        with pytest.raises(BadInputError):
            await cat.call("query_region", bad, M101)
    with pytest.raises(BadInputError, match="Observations"):
        await cat.call("query_region", "caom", M101)
    with pytest.raises(BadInputError, match="no criteria queries on GaiaDR3"):
        await cat.call("query_region", "gaia", M101, 0.1, phot_g_mean_mag="<5")
    with pytest.raises(BadInputError, match="at least one criterion"):
        await cat.call("query_criteria", "TIC")
    with pytest.raises(BadInputError, match="radius"):
        await cat.call("query_region", "TIC", M101, radius="-1 deg")
    assert requests_seen.bodies == []


async def test_empty_result_keeps_columns(cat: CatApi) -> None:
    with pytest.warns(NoResultsWarning):
        found = await cat.call("query_region", "TIC", (0.5, -89.99), radius="1 arcsec")
    assert len(found) == 0 and {"ID", "Tmag", "dstArcSec"} <= set(found.columns)


async def test_columns(cat: CatApi, client: Client) -> None:
    columns = await cat.call("columns", "TIC")
    config = client.columns_config("Mast.Catalogs.Tess.Cone")
    names = columns["name"].to_pylist()
    assert set(names) <= set(config) and "Tmag" in names and len(names) > 80
    types = dict(zip(columns["name"].to_pylist(), columns["type"].to_pylist(), strict=True))
    assert types["Tmag"] in ("double", "float") and types["objType"] == "char"
    hip = await cat.call("columns", "hipparcos")
    assert {"HIP", "Hpmag"} <= set(hip["name"].to_pylist())
    with pytest.raises(BadInputError, match="no column metadata"):
        await cat.call("columns", "GaiaDR3")


async def test_catalogs_listing(cat: CatApi, requests_seen: Requests) -> None:
    listed = await cat.call("catalogs", ["MyStars", "tic"])
    rows = {r["name"]: r for r in listed.to_pylist()}
    assert rows["TIC"]["available"] and rows["Hipparcos"]["available"]
    assert not rows["GaiaDR3"]["available"] and not rows["MyStars"]["available"]
    assert not rows["CTL"]["available"]  # the local archive has no CTL
    assert list(rows).count("TIC") == 1 and rows["TIC"]["columns"] > 80
    requests_seen.clear()
    offline = await cat.call("catalogs", probe=False)
    assert offline["available"].null_count == len(offline) and requests_seen.bodies == []


# ------------------------------------------------------------------------------ pure parts


def test_specs_map_names_to_mast_services() -> None:
    tic = catalog_spec("TIC")
    assert (tic.cone, tic.config_id, tic.crossmatch) == (
        "Mast.Catalogs.Tic.Cone",
        "Mast.Catalogs.Tess.Cone",
        "Mast.Tic.Crossmatch",
    )
    assert tic.row_service(False) == "Mast.Catalogs.Filtered.Tic.Rows"
    assert tic.count_service(True) == "Mast.Catalogs.Filtered.Tic.Position"
    dd = catalog_spec("diskdetective")
    assert dd.count_service(True) == "Mast.Catalogs.Filtered.DiskDetective.Position.Count"
    assert catalog_spec("gaia").cone == "Mast.Catalogs.GaiaDR3.Cone"
    assert catalog_spec("HSC").cone_params == {"nr": 50000, "ni": 1, "magtype": 1}
    mine = catalog_spec("MyStars")
    assert (mine.cone, mine.row_service(True), mine.crossmatch) == (
        "Mast.Catalogs.MyStars.Cone",
        "Mast.Catalogs.Filtered.MyStars.Position.Rows",
        "Mast.MyStars.Crossmatch",
    )
    assert crossmatch_service("CAOM")[1] == "Mast.Caom.Crossmatch"
    with pytest.raises(BadInputError, match="no crossmatch"):
        crossmatch_service("Plato")


def test_real_tic_config_gets_types() -> None:
    """MAST's own TIC columns config has no types; criteria on it are still typed."""
    import json
    from pathlib import Path

    real = json.loads((Path(__file__).parents[1] / "fixtures" / "ticcolumns.json").read_text())
    with pytest.raises(BadInputError, match="text column"):
        compile_criteria({"Tmag": "10..12"}, real)  # untyped: every column looks like text
    typed = with_types(real, catalog_spec("TIC"))
    compiled = compile_criteria({"Tmag": "10..12", "objType": "STAR", "HIP": "1..3"}, typed)
    assert [f.to_json() for f in compiled.filters] == [
        {"paramName": "Tmag", "values": [{"min": 10.0, "max": 12.0}]},
        {"paramName": "objType", "values": ["STAR"]},
        {"paramName": "HIP", "values": ["1", "2", "3"]},
    ]
    assert "vot.datatype" not in real["Tmag"]  # the config given is left as it was


def test_result_is_a_result_table_in_both_flavours(client: Client) -> None:
    table = Catalogs(client).query_region("TIC", M101, radius=0.5)
    assert isinstance(table, ResultTable) and table.service == "Mast.Catalogs.Tic.Cone"


@pytest.mark.parametrize(
    "name",
    [
        "mastkit.services._catalog_specs",
        "mastkit.services._table_input",
        "mastkit.services.crossmatch",
        "mastkit.cli.observations",
    ],
)
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
