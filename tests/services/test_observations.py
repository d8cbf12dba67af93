"""Finding observations against the local archive, sync over a socket and async in-process.

Results are checked against the archive itself (SQL on the DuckDB file), not only against
other mastkit calls.
"""

from __future__ import annotations

import math
from typing import Any

import astropy.units as u
import pyarrow as pa
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

from mastkit.errors import BadInputError, NoResultsWarning, UnknownColumnError
from mastkit.protocol.envelopes import Field
from mastkit.services import Not
from mastkit.services._plan import ColumnsConfig, Query, Session
from mastkit.services._queries import region_plan
from mastkit.tables import ResultTable

from .conftest import Api, Requests

pytestmark = pytest.mark.anyio

RADIUS = 6 / 60  # degrees (6 arcmin)


def obsids(table: ResultTable) -> set[int]:
    return set(table["obsid"].to_pylist())


def separation(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    a, b = SkyCoord(ra1 * u.deg, dec1 * u.deg), SkyCoord(ra2 * u.deg, dec2 * u.deg)
    return float(a.separation(b).deg)


async def test_query_object_finds_what_lies_within_the_radius(api: Api, db: Any) -> None:
    found = await api.call("query_object", "M101", radius="6 arcmin")
    resolved = found.metadata["resolved"]
    assert resolved["canonical_name"] == "M 101" and len(found) > 5
    assert max(found["distance"].to_pylist()) <= RADIUS * 3600 + 1e-6  # footprint within radius
    # Independent check: every observation centred within the radius is found (its footprint
    # holds its centre, so it is at most that far away).
    rows = db.execute("SELECT obsid, s_ra, s_dec FROM observations WHERE abs(s_dec - ?) < ?",
                      [resolved["dec"], RADIUS + 0.01]).to_pylist()
    near = {r["obsid"] for r in rows
            if separation(r["s_ra"], r["s_dec"], resolved["ra"], resolved["dec"]) <= RADIUS}
    assert near and near <= obsids(found)
    assert found.units["s_ra"] == "deg" and found.units["distance"] == "arcsec"


async def test_coordinate_forms_give_the_same_cone(api: Api, requests_seen: Requests) -> None:
    m101 = await api.call("resolve", "M101")
    reference = obsids(await api.call("query_region", m101.coords, radius=RADIUS))
    requests_seen.clear()
    forms = [
        SkyCoord(m101.ra * u.deg, m101.dec * u.deg),
        f"{m101.ra} {m101.dec}",
        SkyCoord(m101.ra * u.deg, m101.dec * u.deg).to_string("hmsdms", precision=4),
    ]
    for form in forms:
        assert obsids(await api.call("query_region", form, radius=RADIUS * u.deg)) == reference
    assert requests_seen.count("Mast.Caom.Cone") == len(forms)  # no criteria: the plain cone
    assert requests_seen.count("Mast.Caom.Filtered") == 0


async def test_counts_equal_the_queries(api: Api, db: Any) -> None:
    assert await api.call("query_object_count", "M101", radius=RADIUS) == len(
        await api.call("query_object", "M101", radius=RADIUS))
    assert await api.call("query_region_count", "210.8 54.35", radius=1,
                          dataproduct_type="image") == len(
        await api.call("query_region", "210.8 54.35", radius=1, dataproduct_type="image"))
    hst = await api.call("query_criteria", obs_collection="HST", calib_level=[2, 3])
    count = await api.call("query_criteria_count", obs_collection="HST", calib_level=[2, 3])
    assert count == len(hst)
    total = db.execute("SELECT count(*) AS n FROM observations").to_pylist()[0]["n"]
    assert await api.call("query_criteria_count") == total


async def test_criteria_really_filter(api: Api, db: Any) -> None:
    found = await api.call(
        "query_criteria",
        obs_collection="hst",  # text matches ignore case
        dataproduct_type="image",
        instrument_name="WFC3*",
        t_exptime=(100, 2000),
        t_min=("2012-01-01", "2024-01-01"),
    )
    start, end = Time("2012-01-01").mjd, Time("2024-01-01").mjd
    assert len(found) > 0
    for row in found:
        assert row["obs_collection"] == "HST" and row["dataproduct_type"] == "image"
        assert row["instrument_name"].startswith("WFC3") and 100 <= row["t_exptime"] <= 2000
        assert start <= row["t_min"] <= end
    expected = db.execute(
        "SELECT count(*) AS n FROM observations WHERE obs_collection = 'HST' AND "
        "dataproduct_type = 'image' AND instrument_name LIKE 'WFC3%' AND "
        "t_exptime BETWEEN 100 AND 2000 AND t_min BETWEEN ? AND ?", [start, end]
    ).to_pylist()[0]["n"]
    assert len(found) == expected
    # The same dates as MJD numbers, as astropy Times, or as an ISO range string.
    for form in [(start, end), (Time("2012-01-01"), Time("2024-01-01")), "2012-01-01..2024-01-01"]:
        again = await api.call("query_criteria", obs_collection="HST", dataproduct_type="image",
                               instrument_name="WFC3*", t_exptime=(100, 2000), t_min=form)
        assert obsids(again) == obsids(found)


async def test_negation_removes_exactly_the_negated_rows(api: Api) -> None:
    everything = await api.call("query_object", "M101", radius=RADIUS)
    collections = {r["obsid"]: r["obs_collection"] for r in everything}
    assert "HST" in collections.values() and set(collections.values()) != {"HST"}
    expected = {o for o, c in collections.items() if c != "HST"}
    for value in ("!HST", Not("hst"), ["!HST"]):
        without = await api.call("query_object", "M101", radius=RADIUS, obs_collection=value)
        assert obsids(without) == expected, value
        assert without.metadata["excluded_rows"] == len(everything) - len(expected)
        assert await api.call("query_object_count", "M101", radius=RADIUS,
                              obs_collection=value) == len(expected)
    # Positive and negated values together: HST or PS1, but not ACS/WFC.
    mixed = await api.call("query_object", "M101", radius=RADIUS, obs_collection=["HST", "PS1"],
                           instrument_name="!ACS/WFC")
    assert len(mixed)
    assert all(r["obs_collection"] in ("HST", "PS1") and r["instrument_name"] != "ACS/WFC"
               for r in mixed)


def excluded_by_first(row: dict[str, Any]) -> bool:
    return row["obs_collection"] in ("HLA", "PS1") or row["dataproduct_type"] == "spectrum"


def excluded_by_second(row: dict[str, Any]) -> bool:
    return bool(row["obs_collection"] == "HLA" or row["instrument_name"].startswith("COS")
            or row["dataproduct_type"] == "spectrum" or row["calib_level"] == 2
            or 0 <= row["t_exptime"] <= 50)


@pytest.mark.parametrize(
    ("negations", "excluded"),
    [
        # two negated filters: counted exactly by inclusion-exclusion
        ({"obs_collection": ["!HLA", "!PS1"], "dataproduct_type": "!spectrum"}, excluded_by_first),
        # five: counted through the union of the excluded obsids
        ({"obs_collection": "!HLA", "instrument_name": "!COS*", "dataproduct_type": "!spectrum",
          "calib_level": "!2", "t_exptime": Not((0, 50))}, excluded_by_second),
    ],
)
async def test_counts_with_several_negations(api: Api, negations: dict[str, Any],
                                             excluded: Any) -> None:
    found = await api.call("query_criteria", s_dec=(40, 60), **negations)
    count = await api.call("query_criteria_count", s_dec=(40, 60), **negations)
    assert count == len(found) > 0
    everything = await api.call("query_criteria", s_dec=(40, 60))
    assert obsids(found) == {r["obsid"] for r in everything if not excluded(r)}


async def test_unknown_columns_fail_before_any_query(api: Api, requests_seen: Requests) -> None:
    with pytest.raises(UnknownColumnError) as caught:
        await api.call("query_criteria", instrumnt_name="ACS/WFC")
    assert caught.value.suggestions[0] == "instrument_name"
    with pytest.raises(BadInputError, match="number column"):
        await api.call("query_object", "M101", calib_level="high")
    assert requests_seen.count("Mast.Caom.Filtered") == 0


async def test_empty_results_warn_and_keep_their_columns(api: Api) -> None:
    full = await api.call("query_criteria", obs_collection="HST", calib_level=3)
    with pytest.warns(NoResultsWarning, match="query_criteria matched nothing"):
        empty = await api.call("query_criteria", obs_collection="NO SUCH MISSION")
    assert len(empty) == 0 and empty.columns == full.columns
    with pytest.warns(NoResultsWarning, match="query_region"):
        nothing = await api.call("query_region", (12.0, -89.5), radius="10 arcsec")
    assert nothing.columns[-1] == "distance" and "obsid" in nothing.columns
    assert nothing.schema.field("s_ra").type == pa.float64()


async def test_query_criteria_needs_a_selecting_criterion(api: Api) -> None:
    with pytest.raises(BadInputError, match="at least one criterion"):
        await api.call("query_criteria")
    with pytest.raises(BadInputError, match="at least one criterion"):
        await api.call("query_criteria", obs_collection="!HST")
    with pytest.raises(BadInputError, match="not both"):
        await api.call("query_criteria", coordinates="1 2", objectname="M101", calib_level=3)
    with pytest.raises(BadInputError, match="radius needs"):
        await api.call("query_criteria", radius=1, calib_level=3)
    with pytest.raises(BadInputError, match="negative"):
        await api.call("query_object", "M101", radius="-1 arcmin")


async def test_query_criteria_with_a_position(api: Api) -> None:
    by_name = await api.call("query_criteria", objectname="M101", radius=RADIUS,
                             obs_collection="HST")
    assert obsids(by_name) == obsids(
        await api.call("query_object", "M101", radius=RADIUS, obs_collection="HST"))
    m101 = await api.call("resolve", "M101")
    by_position = await api.call("query_criteria", coordinates=m101.coords, radius=RADIUS,
                                 obs_collection="HST")
    assert obsids(by_position) == obsids(by_name)
    assert await api.call("query_criteria_count", objectname="M101", radius=RADIUS,
                          obs_collection="HST") == len(by_name)


async def test_columns(api: Api) -> None:
    from mastkit.server.schema import OBSERVATIONS, PRODUCTS

    columns = await api.call("columns")
    assert columns.columns == ["name", "type", "unit", "description", "example"]
    rows = {r["name"]: r for r in columns}
    assert list(rows)[: len(OBSERVATIONS.names)] == OBSERVATIONS.names
    assert rows["s_ra"]["unit"] == "deg" and rows["s_ra"]["type"] == "double"
    assert rows["t_min"]["description"] == "Observation start datetime"
    products = {r["name"]: r for r in await api.call("columns", "products")}
    assert set(products) == set(PRODUCTS.names) and products["size"]["unit"] == "byte"
    with pytest.raises(BadInputError, match="observations' or 'products"):
        await api.call("columns", "catalogs")


async def test_missions(api: Api, db: Any) -> None:
    missions = await api.call("missions")
    expected = db.execute("SELECT obs_collection AS m, count(*) AS n FROM observations "
                          "GROUP BY 1 ORDER BY 1").to_pylist()
    assert missions.columns == ["mission", "count"]
    assert missions.to_pylist() == [{"mission": r["m"], "count": r["n"]} for r in expected]


def test_plans_fill_in_columns_mast_leaves_out() -> None:
    # MAST may answer an empty result with no fields at all; the plan (driven by hand here,
    # no server) still returns the columns the config declares.
    from mastkit.server.schema import columns_config

    plan = region_plan(Session(), "10 20", "1 arcmin", {})
    assert plan.send(None) == ColumnsConfig("Mast.Caom.Cone")
    op = plan.send(columns_config("Mast.Caom.Cone"))
    assert isinstance(op, Query) and op.service == "Mast.Caom.Cone"
    assert op.params == {"ra": 10.0, "dec": 20.0, "radius": 1 / 60}
    with pytest.raises(StopIteration) as done:
        plan.send(ResultTable(pa.table({}), service="Mast.Caom.Cone"))
    table = done.value.value
    assert len(table) == 0 and table.columns[0] == "intentType" and table.columns[-1] == "distance"
    assert ResultTable.empty([Field("s_ra", "float")]).schema == pa.schema([("s_ra", pa.float64())])
    assert not math.isnan(0.0)


async def test_facades_make_their_own_client_from_the_environment(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mastkit.services import AsyncObservations, Observations

    monkeypatch.setenv("MASTKIT_SERVER", server_url)
    with Observations() as obs:
        assert obs.client.server == server_url
        expected = obs.query_object_count("M101")
    async with AsyncObservations() as aobs:  # over the loopback socket too
        assert await aobs.query_object_count("M101") == expected
        assert len(await aobs.query_object("M101")) == expected
