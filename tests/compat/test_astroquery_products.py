"""astroquery's product list, filtering and downloads against the local server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings(
    "ignore::astropy.utils.exceptions.AstropyDeprecationWarning"
)


def small_fits_obsids(archive: Any, n: int = 2) -> list[int]:
    """Observations all of whose products are small, with at least one FITS file."""
    rows = archive.execute(
        "SELECT obsID FROM products GROUP BY obsID "
        "HAVING max(size) < 4000000 AND bool_or(productFilename LIKE '%.fits') "
        "ORDER BY obsID LIMIT ?",
        [n],
    )
    return [int(v) for v in rows.column(0).to_pylist()]


def test_get_product_list_and_filter(astroquery_mast: Any, archive: Any) -> None:
    ids = small_fits_obsids(archive, 2)
    observations = astroquery_mast.Observations.query_criteria(obsid=[str(i) for i in ids])
    assert sorted(int(o) for o in observations["obsid"]) == ids
    products = astroquery_mast.Observations.get_product_list(observations)
    held = archive.execute(
        f"SELECT count(*) FROM products WHERE obsID IN ({','.join('?' * len(ids))})", ids
    )
    assert len(products) == held.column(0)[0].as_py() > 0
    assert set(products.colnames) >= {"obsID", "dataURI", "productFilename", "size", "productType"}
    science = astroquery_mast.Observations.filter_products(
        products, productType="SCIENCE", extension="fits"
    )
    assert 0 < len(science) < len(products)
    assert all(str(name).endswith("fits") for name in science["productFilename"])
    assert set(science["productType"]) == {"SCIENCE"}
    mrp = astroquery_mast.Observations.filter_products(products, mrp_only=True)
    assert set(mrp["productGroupDescription"]) <= {"Minimum Recommended Products"}


def test_get_product_list_by_obsid_string(astroquery_mast: Any, archive: Any) -> None:
    ids = small_fits_obsids(archive, 3)
    products = astroquery_mast.Observations.get_product_list(",".join(map(str, ids)))
    held = archive.execute(
        f"SELECT count(*) FROM products WHERE obsID IN ({','.join('?' * len(ids))})", ids
    )
    assert len(products) == held.column(0)[0].as_py()


def test_download_products_arrive_complete(
    astroquery_mast: Any, archive: Any, tmp_path: Path
) -> None:
    from astropy.io import fits

    ids = small_fits_obsids(archive, 1)
    products = astroquery_mast.Observations.get_product_list(str(ids[0]))
    manifest = astroquery_mast.Observations.download_products(
        products, download_dir=str(tmp_path), cache=False, verbose=False
    )
    assert len(manifest) == len(set(products["dataURI"])) > 0
    assert set(manifest["Status"]) == {"COMPLETE"}
    sizes = {str(row["productFilename"]): int(row["size"]) for row in products}
    fits_seen = 0
    for path in manifest["Local Path"]:
        path = str(path)
        assert os.path.getsize(path) == sizes[os.path.basename(path)]
        assert f"mastDownload{os.sep}" in path
        if path.endswith(".fits"):
            with fits.open(path) as hdul:
                assert hdul[0].header["ORIGIN"] == "mastkit synthetic"
            fits_seen += 1
    assert fits_seen > 0


def test_download_products_curl_script(astroquery_mast: Any, archive: Any, tmp_path: Path) -> None:
    ids = small_fits_obsids(archive, 1)
    products = astroquery_mast.Observations.get_product_list(str(ids[0]))
    manifest = astroquery_mast.Observations.download_products(
        products, download_dir=str(tmp_path), curl_flag=True, verbose=False
    )
    assert set(manifest["Status"]) == {"COMPLETE"}
    script = Path(str(manifest["Local Path"][0])).read_text()
    assert script.startswith("#!/bin/sh") and script.count("curl ") == len(set(products["dataURI"]))
