"""astroquery's generic ``Mast`` service access against the local server."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings(
    "ignore::astropy.utils.exceptions.AstropyDeprecationWarning"
)


def test_service_request_async_name_lookup(astroquery_mast: Any) -> None:
    responses = astroquery_mast.Mast.service_request_async(
        "Mast.Name.Lookup", {"input": "M51", "format": "json"}
    )
    assert len(responses) == 1
    reply = responses[0].json()
    assert reply["status"] == ""
    entry = reply["resolvedCoordinate"][0]
    assert entry["canonicalName"].replace(" ", "") in {"M51", "NGC5194"}
    assert abs(entry["ra"] - 202.47) < 0.1 and abs(entry["decl"] - 47.2) < 0.1


def test_service_request_async_pages(astroquery_mast: Any, archive: Any) -> None:
    params = {"columns": "*", "filters": [{"paramName": "obs_collection", "values": ["HST"]}]}
    responses = astroquery_mast.Mast.service_request_async(
        "Mast.Caom.Filtered", params, pagesize=200
    )
    total = (
        archive.execute("SELECT count(*) FROM observations WHERE obs_collection = 'HST'")
        .column(0)[0]
        .as_py()
    )
    assert len(responses) == -(-total // 200)  # astroquery fetched every page
    rows = [row for r in responses for row in r.json()["data"]]
    assert len(rows) == total and len({r["obsid"] for r in rows}) == total


def test_mast_query_and_remote_errors(astroquery_mast: Any, archive: Any) -> None:
    from astroquery.exceptions import RemoteServiceError

    table = astroquery_mast.Mast.mast_query(
        "Mast.Caom.Cone", ra=210.80225, dec=54.34894, radius=0.2
    )
    assert len(table) > 0 and "distance" in table.colnames
    with pytest.raises(RemoteServiceError, match="varchar to bigint"):
        astroquery_mast.Mast.mast_query("Mast.Caom.Products", obsid="mast:HST/product/x.fits")
    with pytest.raises(RemoteServiceError, match="Unable to Find Service Adaptor"):
        astroquery_mast.Mast.mast_query("Mast.No.Such.Service")
