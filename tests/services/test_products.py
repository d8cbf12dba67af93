"""Product lists: batching, duplicates, input forms, in-memory filters and the size summary."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mastkit.errors import BadInputError, NoResultsWarning, UnknownColumnError
from mastkit.services import Not, Observations, ProductSummary, filter_products, summarize
from mastkit.services.product_filters import MRP
from mastkit.services.products import obsids_from, unique_products
from mastkit.tables import ResultTable

from .conftest import Api, Requests

pytestmark = pytest.mark.anyio


def rows(table: ResultTable) -> list[tuple[Any, ...]]:
    """The rows as sortable tuples (None sorts first)."""
    return sorted(tuple((v is not None, v) for v in r.values()) for r in table)


@pytest.fixture(scope="module")
def jwst_obsids(db: Any) -> list[int]:
    ids: list[int] = db.execute("SELECT obsid FROM observations WHERE obs_collection = 'JWST' "
                                "ORDER BY obsid DESC").column(0).to_pylist()
    assert len(ids) > 250
    return ids


async def test_products_of_observations(api: Api, db: Any) -> None:
    observations = await api.call("query_object", "M101", radius="6 arcmin", obs_collection="HST")
    products = await api.call("products", observations)
    ids = sorted(observations["obsid"].to_pylist())
    assert set(products["obsID"].to_pylist()) <= set(ids)
    expected = db.execute(f"SELECT count(*) AS n FROM products WHERE obsID IN "
                          f"({','.join(map(str, ids))})").to_pylist()[0]["n"]
    assert len(products) == expected > 0
    assert products.units["size"] == "byte" and products.metadata["batches"] == 1


async def test_batches_give_the_same_rows_as_one_request(
    api: Api, jwst_obsids: list[int], requests_seen: Requests
) -> None:
    whole = await api.call("products", jwst_obsids)
    requests_seen.clear()
    batched = await api.call("products", jwst_obsids, batch_size=50)
    assert requests_seen.count("Mast.Caom.Products") == -(-len(jwst_obsids) // 50)
    assert batched.metadata["batches"] == -(-len(jwst_obsids) // 50)
    assert batched.columns == whole.columns and rows(batched) == rows(whole)
    with pytest.raises(BadInputError, match="batch_size"):
        await api.call("products", jwst_obsids, batch_size=0)


async def test_duplicates_removed_on_request(api: Api, jwst_obsids: list[int], db: Any) -> None:
    listed = await api.call("products", jwst_obsids, batch_size=100)
    uris = listed["dataURI"].to_pylist()
    repeated = {u for u, n in Counter(uris).items() if n > 1}
    assert repeated, "the test archive has JWST files shared by observations"
    unique = await api.call("products", jwst_obsids, batch_size=100, unique=True)
    kept = unique["dataURI"].to_pylist()
    assert len(kept) == len(set(kept)) == len(set(uris))
    assert unique.metadata["duplicates_removed"] == len(uris) - len(set(uris))
    # The first row of each file is the one kept.
    first: dict[str, dict[str, Any]] = {}
    for row in listed:
        first.setdefault(row["dataURI"], row)
    assert all(first[r["dataURI"]] == r for r in unique)


async def test_input_forms(api: Api, obs: Observations) -> None:
    observations = obs.query_object("M101", radius="6 arcmin")
    ids = observations["obsid"].to_pylist()
    reference = rows(await api.call("products", observations))
    forms: list[Any] = [
        observations.to_astropy(),
        observations.to_pandas(),
        observations.arrow,
        ids,
        [str(i) for i in ids] + ["", None],
        np.array(ids),
        tuple(ids) + tuple(ids),
    ]
    for form in forms:
        assert rows(await api.call("products", form)) == reference, type(form)
    one = ids[0]
    single = rows(await api.call("products", one))
    assert single == rows(await api.call("products", str(one)))
    assert single == rows(await api.call("products", observations.to_astropy()[0]))
    assert single == rows(await api.call("products", {"obsid": one}))


async def test_bad_inputs(api: Api) -> None:
    with pytest.raises(BadInputError, match="not by obs_id"):
        await api.call("products", ["u9o40504m"])
    products = await api.call("products", 2000000041)
    with pytest.raises(BadInputError, match="looks like a product list"):
        await api.call("products", products)
    with pytest.raises(BadInputError, match="not an obsid"):
        await api.call("products", [-5])
    with pytest.raises(BadInputError, match="Cannot list products"):
        await api.call("products", object())
    with pytest.warns(NoResultsWarning, match="products"):
        empty = await api.call("products", [])
    assert len(empty) == 0 and empty.columns == products.columns


def test_obsids_from_keeps_order_and_drops_repeats_and_nulls() -> None:
    assert obsids_from([3, "2", 3.0, None, "", 1]) == [3, 2, 1]
    assert obsids_from(ResultTable(pa.table({"obsid": [5, None, 5, 4]}))) == [5, 4]
    with pytest.raises(BadInputError, match="not an obsid"):
        obsids_from([1.5])
    with pytest.raises(BadInputError, match="no 'obsid' column"):
        obsids_from(ResultTable(pa.table({"id": [1]})))


@pytest.fixture(scope="module")
def catalogue(db: Any) -> ResultTable:
    """A real product list (of the JWST and HST observations), from the archive directly."""
    table = db.execute("SELECT * EXCLUDE (_seed, _instrument, _target, _row) FROM products "
                       "WHERE obs_collection IN ('JWST', 'HST') ORDER BY _row")
    return ResultTable(table, service="Mast.Caom.Products")


def check(result: ResultTable, source: ResultTable, keep: Any) -> None:
    expected = [r for r in source if keep(r)]
    assert result.to_pylist() == expected and 0 < len(expected) < len(source)


def test_filter_products_each_filter(catalogue: ResultTable) -> None:
    check(filter_products(catalogue, product_type="science"), catalogue,
          lambda r: r["productType"] == "SCIENCE")
    check(filter_products(catalogue, product_type=["PREVIEW", "INFO"]), catalogue,
          lambda r: r["productType"] in ("PREVIEW", "INFO"))
    check(filter_products(catalogue, subgroup="DRZ"), catalogue,
          lambda r: r["productSubGroupDescription"] == "DRZ")
    check(filter_products(catalogue, subgroup="*RA*"), catalogue,
          lambda r: "RA" in (r["productSubGroupDescription"] or ""))
    check(filter_products(catalogue, extension=["JPG", ".png"]), catalogue,
          lambda r: r["productFilename"].lower().endswith((".jpg", ".png")))
    check(filter_products(catalogue, calib_level=">=3"), catalogue, lambda r: r["calib_level"] >= 3)
    check(filter_products(catalogue, calib_level=[1, 2]), catalogue,
          lambda r: r["calib_level"] in (1, 2))
    check(filter_products(catalogue, mrp_only=True), catalogue,
          lambda r: r["productGroupDescription"] == MRP)
    check(filter_products(catalogue, filename="*_CAL.fits"), catalogue,
          lambda r: r["productFilename"].lower().endswith("_cal.fits"))
    pattern = re.compile(r"_(flt|flc)\.fits$")
    check(filter_products(catalogue, filename=pattern), catalogue,
          lambda r: pattern.search(r["productFilename"]) is not None)
    check(filter_products(catalogue, size=(1_000_000, None)), catalogue,
          lambda r: r["size"] >= 1_000_000)
    check(filter_products(catalogue, obs_collection="jwst", productType="AUXILIARY"), catalogue,
          lambda r: r["obs_collection"] == "JWST" and r["productType"] == "AUXILIARY")


def test_filter_products_negation_and_combinations(catalogue: ResultTable) -> None:
    check(filter_products(catalogue, product_type="!PREVIEW"), catalogue,
          lambda r: r["productType"] != "PREVIEW")
    check(filter_products(catalogue, product_type=Not(["PREVIEW", "AUXILIARY"])), catalogue,
          lambda r: r["productType"] not in ("PREVIEW", "AUXILIARY"))
    check(filter_products(catalogue, extension=["fits", "!_raw.fits", "!_uncal.fits"]), catalogue,
          lambda r: r["productFilename"].endswith("fits")
          and not r["productFilename"].endswith(("_raw.fits", "_uncal.fits")))
    check(filter_products(catalogue, filename=["*.fits", Not(re.compile("nircam"))]), catalogue,
          lambda r: r["productFilename"].endswith(".fits") and "nircam" not in r["productFilename"])
    check(filter_products(catalogue, product_type="SCIENCE", mrp_only=True, calib_level="!3"),
          catalogue, lambda r: r["productType"] == "SCIENCE" and r["productGroupDescription"] == MRP
          and r["calib_level"] != 3)
    assert filter_products(catalogue).to_pylist() == catalogue.to_pylist()
    none = filter_products(catalogue, product_type="NOTHING")
    assert len(none) == 0 and none.columns == catalogue.columns


def test_filter_products_refuses_bad_filters(catalogue: ResultTable) -> None:
    with pytest.raises(UnknownColumnError, match="Did you mean 'productType'"):
        filter_products(catalogue, productTyp="SCIENCE")
    with pytest.raises(BadInputError, match="text column"):
        filter_products(catalogue, product_type=(1, 2))
    with pytest.raises(BadInputError, match="number column"):
        filter_products(catalogue, calib_level="high")
    with pytest.raises(BadInputError, match="glob strings or compiled"):
        filter_products(catalogue, filename=42)
    with pytest.raises(BadInputError, match="ResultTable of products"):
        filter_products([1, 2])  # type: ignore[arg-type]


def test_summary_numbers_are_the_sums(catalogue: ResultTable) -> None:
    summary = summarize(catalogue)
    first: dict[str, dict[str, Any]] = {}
    for row in catalogue:
        first.setdefault(row["dataURI"], row)
    assert summary.rows == len(catalogue) and summary.files == len(first)
    assert summary.duplicates == len(catalogue) - len(first) > 0
    assert summary.total_bytes == sum(r["size"] for r in first.values())
    by_type: dict[str, list[int]] = {}
    for row in first.values():
        entry = by_type.setdefault(row["productType"], [0, 0])
        entry[0] += 1
        entry[1] += row["size"]
    assert {k: list(v) for k, v in summary.by_type.items()} == by_type
    totals = list(summary.by_type.values())
    assert totals == sorted(totals, key=lambda t: -t.bytes)
    text = repr(summary)
    assert text.startswith(f"ProductSummary: {summary.files:,} files, ")
    assert f"{summary.duplicates} duplicate rows not counted" in text and "SCIENCE" in text
    assert summary.as_dict()["total_bytes"] == summary.total_bytes
    assert unique_products(catalogue)["dataURI"].to_pylist() == list(first)


def test_summary_edge_cases() -> None:
    empty = summarize(ResultTable(pa.table({"dataURI": pa.array([], pa.string()),
                                            "size": pa.array([], pa.int64())})))
    assert (empty.files, empty.total_bytes, empty.duplicates) == (0, 0, 0)
    assert repr(empty) == "ProductSummary: 0 files, 0 B"
    partial = summarize(pa.table({"dataURI": ["a", None, None], "size": [5, None, 7],
                                  "productType": ["SCIENCE", None, "SCIENCE"]}))
    assert isinstance(partial, ProductSummary)
    assert (partial.files, partial.total_bytes, partial.unknown_sizes) == (3, 12, 1)
    assert "1 of unknown size" in repr(partial) and "(none)" in partial.by_type
