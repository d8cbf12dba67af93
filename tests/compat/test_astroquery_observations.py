"""astroquery's Observations queries against the local server; counts checked by direct SQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mastkit.server import sql

pytestmark = pytest.mark.filterwarnings(
    "ignore::astropy.utils.exceptions.AstropyDeprecationWarning"
)


def _m101() -> Any:
    from astropy.coordinates import SkyCoord

    return SkyCoord(210.80225, 54.34894, unit="deg")


M101 = _m101()


def count(archive: Any, where: str, params: list[Any] | None = None) -> int:
    value: int = (
        archive.execute(f"SELECT count(*) FROM observations WHERE {where}", params or [])
        .column(0)[0]
        .as_py()
    )
    return value


def cone_obsids(archive: Any, ra: float, dec: float, radius: float) -> set[int]:
    """What the archive holds for a cone (its own query), the reference for the counts."""
    found = sql.select(archive, "observations", "obsid", cone=sql.Cone(ra, dec, radius)).table
    return set(found.column("obsid").to_pylist())


def centre_obsids(archive: Any, ra: float, dec: float, radius: float) -> set[int]:
    """Observations whose centre is within the cone: all of these must be found."""
    rows = archive.execute(
        "SELECT obsid FROM observations WHERE degrees(acos(least(1, "
        "sin(radians(s_dec))*sin(radians(?)) + "
        "cos(radians(s_dec))*cos(radians(?))*cos(radians(s_ra - ?))))) <= ?",
        [dec, dec, ra, radius],
    )
    return set(rows.column(0).to_pylist())


def test_query_region(astroquery_mast: Any, archive: Any) -> None:
    from astropy.coordinates import SkyCoord

    ra, dec = 210.80225, 54.34894  # M101, where the synthetic archive points many telescopes
    table = astroquery_mast.Observations.query_region(
        SkyCoord(ra, dec, unit="deg"), radius="0.5 deg"
    )
    expected = cone_obsids(archive, ra, dec, 0.5)
    assert len(table) == len(expected) > 0
    assert {int(o) for o in table["obsid"]} == expected
    assert centre_obsids(archive, ra, dec, 0.5) <= expected
    assert "distance" in table.colnames and float(np.max(table["distance"])) <= 0.5 * 3600
    assert table["obsid"].dtype.kind == "U"  # declared string, as MAST does
    assert "_selected_" not in table.colnames


def test_query_object_resolves_through_santa(astroquery_mast: Any, archive: Any) -> None:
    table = astroquery_mast.Observations.query_object("M 101", radius=0.3)
    coord = astroquery_mast.utils.resolve_object("M 101")
    assert abs(coord.ra.deg - 210.80225) < 1e-3
    assert len(table) == len(cone_obsids(archive, coord.ra.deg, coord.dec.deg, 0.3)) > 0


def test_query_criteria(astroquery_mast: Any, archive: Any) -> None:
    table = astroquery_mast.Observations.query_criteria(
        obs_collection=["HST", "JWST"],
        dataproduct_type="image",
        calib_level=[2, 3],
        t_exptime=[100, 5000],
    )
    expected = count(
        archive,
        "obs_collection IN ('HST', 'JWST') AND dataproduct_type = 'image' "
        "AND calib_level IN (2, 3) AND t_exptime BETWEEN 100 AND 5000",
    )
    assert len(table) == expected > 0
    assert set(table["obs_collection"]) <= {"HST", "JWST"}


def test_query_criteria_with_wildcards_and_position(astroquery_mast: Any, archive: Any) -> None:
    table = astroquery_mast.Observations.query_criteria(proposal_pi="G*", obs_collection="HST")
    assert len(table) == count(archive, "proposal_pi LIKE 'G%' AND obs_collection = 'HST'") > 0
    near = astroquery_mast.Observations.query_criteria(
        coordinates=M101, radius=0.5, dataproduct_type="image"
    )
    found = sql.select(
        archive,
        "observations",
        "obsid",
        [{"paramName": "dataproduct_type", "values": ["image"]}],
        cone=sql.Cone(210.80225, 54.34894, 0.5),
    ).table
    assert len(near) == found.num_rows > 0


def test_query_criteria_count(astroquery_mast: Any, archive: Any) -> None:
    n = astroquery_mast.Observations.query_criteria_count(
        obs_collection="TESS", dataproduct_type="timeseries"
    )
    assert n == count(archive, "obs_collection = 'TESS' AND dataproduct_type = 'timeseries'") > 0
    region = astroquery_mast.Observations.query_region_count(M101, radius=0.5)
    assert region == len(cone_obsids(archive, 210.80225, 54.34894, 0.5))


def test_list_missions(astroquery_mast: Any, archive: Any) -> None:
    missions = astroquery_mast.Observations.list_missions()
    held = (
        archive.execute("SELECT DISTINCT obs_collection FROM observations ORDER BY 1")
        .column(0)
        .to_pylist()
    )
    assert missions == held


def test_get_metadata(astroquery_mast: Any) -> None:
    observations = astroquery_mast.Observations.get_metadata("observations")
    names = list(observations["Column Name"])
    assert names[:3] == ["intentType", "obs_collection", "provenance_name"] and "distance" in names
    assert len(names) == 37
    products = astroquery_mast.Observations.get_metadata("products")
    assert "dataURI" in list(products["Column Name"]) and len(products) == 20
