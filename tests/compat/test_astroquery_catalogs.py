"""astroquery's Catalogs queries (TIC and the generic form) against the local server.

Every answer is compared with the archive's own rows, selected by direct SQL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mastkit.server.geometry import separation
from mastkit.server.loaders.tic import ID_OFFSET

pytestmark = pytest.mark.filterwarnings(
    "ignore::astropy.utils.exceptions.AstropyDeprecationWarning"
)

SIRIUS = (101.2885, -16.7131)  # HIP 32349, as the local resolver knows it


@pytest.fixture
def catalogs(astroquery_mast: Any, mast_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """astroquery's ``Catalogs`` talking to the local server (as the conftest does for others)."""
    client = astroquery_mast.Catalogs
    portal = client._portal_api_connection
    monkeypatch.setattr(portal, "MAST_REQUEST_URL", mast_url + "/api/v0/invoke")
    monkeypatch.setattr(
        portal, "COLUMNS_CONFIG_URL", mast_url + "/portal/Mashup/Mashup.asmx/columnsconfig"
    )
    return client


def _coords(ra: float, dec: float) -> Any:
    from astropy.coordinates import SkyCoord

    return SkyCoord(ra, dec, unit="deg")


def _in_cone(
    archive: Any, table: str, ra: float, dec: float, radius: float, where: str = "true"
) -> list[int]:
    rows = archive.execute(f"SELECT HIP, ra, dec FROM {table} WHERE {where}").to_pydict()
    dist = separation(ra, dec, rows["ra"], rows["dec"])
    return sorted(h for h, d in zip(rows["HIP"], dist, strict=True) if d <= radius)


def test_query_region_tic(catalogs: Any, archive: Any) -> None:
    table = catalogs.query_region(_coords(*SIRIUS), radius="1.2 deg", catalog="TIC")
    expected = _in_cone(archive, "tic", *SIRIUS, 1.2)
    assert sorted(table["HIP"].tolist()) == expected and len(expected) > 3
    assert list(table["dstArcSec"]) == sorted(table["dstArcSec"])
    assert table["dstArcSec"].max() <= 1.2 * 3600
    # ID is a long declared string: astroquery keeps it as text, as with the real TIC.
    assert table["ID"].dtype.kind == "U"
    assert {int(i) - ID_OFFSET for i in table["ID"]} == set(expected)
    assert table.colnames[:3] == ["ID", "version", "HIP"]
    # Nulls arrive as NaN (astroquery masks float nulls only through ignoreValue).
    assert np.isnan(table["Jmag"]).all() and np.isfinite(table["Tmag"]).all()


def test_query_object_tic(catalogs: Any, archive: Any) -> None:
    table = catalogs.query_object("HIP 32349", radius=0.5, catalog="TIC")
    expected = _in_cone(archive, "tic", *SIRIUS, 0.5)
    assert sorted(table["HIP"].tolist()) == expected
    assert table["HIP"][0] == 32349  # nearest first


def test_query_criteria_tic_ranges_and_values(catalogs: Any, archive: Any) -> None:
    table = catalogs.query_criteria(catalog="Tic", Tmag=[-2, 2.5], objType="STAR")
    want = (
        archive.execute("SELECT HIP FROM tic WHERE Tmag BETWEEN -2 AND 2.5 ORDER BY ID")
        .column(0)
        .to_pylist()
    )
    assert table["HIP"].tolist() == want and len(want) > 10
    # Discrete values (HIP is an exact-match column) and a wildcard on text.
    table = catalogs.query_criteria(catalog="TIC", HIP=[32349, 91262, 24436], typeSrc="hi*")
    assert sorted(table["HIP"].tolist()) == [24436, 32349, 91262]
    table = catalogs.query_criteria(catalog="TIC", ID=str(ID_OFFSET + 32349))
    assert table["HIP"].tolist() == [32349]


def test_query_criteria_tic_with_position(catalogs: Any, archive: Any) -> None:
    table = catalogs.query_criteria(
        catalog="TIC", coordinates=_coords(*SIRIUS), radius=3, Vmag=[0, 6.5]
    )
    want = _in_cone(archive, "tic", *SIRIUS, 3, "Vmag BETWEEN 0 AND 6.5")
    assert sorted(table["HIP"].tolist()) == want and want
    by_name = catalogs.query_criteria(
        catalog="TIC", objectname="HIP 32349", radius=3, Vmag=[0, 6.5]
    )
    assert sorted(by_name["HIP"].tolist()) == want


def test_query_criteria_pages(catalogs: Any, archive: Any) -> None:
    table = catalogs.query_criteria(catalog="TIC", Tmag=[-2, 2.5], pagesize=50)
    count = (
        archive.execute("SELECT count(*) FROM tic WHERE Tmag BETWEEN -2 AND 2.5")
        .column(0)[0]
        .as_py()
    )
    assert len(table) == count > 100
    assert len(set(table["ID"])) == count


def test_query_criteria_unknown_column(catalogs: Any) -> None:
    from astroquery.exceptions import InvalidQueryError

    with pytest.raises(InvalidQueryError, match="Tmagg"):
        catalogs.query_criteria(catalog="TIC", Tmagg=[1, 2])


def test_generic_catalogue_region_and_object(catalogs: Any, archive: Any) -> None:
    table = catalogs.query_region(_coords(*SIRIUS), radius=1.5, catalog="Hipparcos")
    expected = _in_cone(archive, "hipparcos", *SIRIUS, 1.5)
    assert sorted(table["HIP"].tolist()) == expected and len(expected) > 1
    assert "Hpmag" in table.colnames and "dstArcSec" in table.colnames
    hip = archive.execute("SELECT Hpmag FROM hipparcos WHERE HIP = 32349").column(0)[0].as_py()
    assert table["Hpmag"][list(table["HIP"]).index(32349)] == pytest.approx(hip)
    by_name = catalogs.query_object("HIP 32349", radius=1.5, catalog="hipparcos")
    assert sorted(by_name["HIP"].tolist()) == expected


def test_generic_catalogue_unknown_is_a_remote_error(catalogs: Any) -> None:
    from astroquery.exceptions import RemoteServiceError

    with pytest.raises(RemoteServiceError, match="Unable to Find Service Adaptor"):
        catalogs.query_region(_coords(*SIRIUS), radius=0.1, catalog="Nowhere")


def test_tic_metadata_from_the_config(catalogs: Any) -> None:
    meta = catalogs._portal_api_connection._get_columnsconfig_metadata("Mast.Catalogs.Tess.Cone")
    rows = {r["Column Name"]: r for r in meta}
    assert rows["Tmag"]["Column Label"] == "TESS Mag."
    assert "Derived" in rows["Tmag"]["Description"]
    assert np.all([name in rows for name in ("ID", "HIP", "ra", "dec", "dstArcSec")])
