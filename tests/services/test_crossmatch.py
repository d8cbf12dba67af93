"""Crossmatch: table input, position checks, chunking, and matches against the local archive.

Matches are checked against the archive's own tables (positions read by SQL, separations
computed here), for inputs of every supported table type.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any
from urllib.parse import unquote

import astropy.units as u
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from hypothesis import given, settings
from hypothesis import strategies as st

from mastkit.errors import BadInputError, DecodeError, ServiceError, UnknownColumnError
from mastkit.services._plan import ColumnsConfig, Gather, Session
from mastkit.services._table_input import as_arrow, find_coordinate_columns, positions
from mastkit.services.crossmatch import chunk_bounds, crossmatch_plan
from mastkit.tables import ResultTable

from .conftest import Requests
from .test_catalogs import CatApi, arcsec_between, cat_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def targets(db: Any) -> pa.Table:
    """40 TIC stars, each moved 2 arcsec north, plus two positions far from any star."""
    rows = db.execute("SELECT ID, ra, dec FROM tic WHERE abs(dec) < 80 ORDER BY hash(ID) LIMIT 40")
    ra = [*rows.column("ra").to_pylist(), 1.0, 2.0]
    dec = [*(d + 2 / 3600 for d in rows.column("dec").to_pylist()), -89.9, -89.95]
    names = [f"star{i}" for i in range(len(ra))]
    return pa.table({"name": names, "RAJ2000": ra, "DEJ2000": dec})


def expected_matches(
    db: Any, table: pa.Table, radius_arcsec: float
) -> dict[tuple[int, int], float]:
    """(input row, TIC ID) -> separation, by brute force over the TIC near each input."""
    out: dict[tuple[int, int], float] = {}
    for i, (ra, dec) in enumerate(
        zip(table.column("RAJ2000").to_pylist(), table.column("DEJ2000").to_pylist(), strict=True)
    ):
        near = db.execute("SELECT ID, ra, dec FROM tic WHERE abs(dec - ?) < 0.01", [dec])
        sep = arcsec_between(near.column("ra").to_numpy(), near.column("dec").to_numpy(), ra, dec)
        for tic_id, s in zip(near.column("ID").to_pylist(), sep.tolist(), strict=True):
            if s <= radius_arcsec:
                out[(i, tic_id)] = s
    return out


@pytest.fixture(scope="module")
def expected(db: Any, targets: pa.Table) -> dict[tuple[int, int], float]:
    return expected_matches(db, targets, 5.0)


def pairs(result: ResultTable) -> dict[tuple[int, int], float]:
    return {
        (r, i): s
        for r, i, s in zip(
            result["input_row"].to_pylist(),
            result["ID"].to_pylist(),
            result["separation"].to_pylist(),
            strict=True,
        )
    }


async def test_crossmatch_against_the_tic(
    cat: CatApi, expected: dict[tuple[int, int], float], targets: pa.Table, requests_seen: Requests
) -> None:
    result = await cat.call("crossmatch", targets, "TIC", "5 arcsec")
    got = pairs(result)
    assert got.keys() == expected.keys() and len({r for r, _ in got}) == 40
    for key, sep in expected.items():
        assert got[key] == pytest.approx(sep, abs=1e-3)
    assert result.columns[0] == "input_row" and result.columns[-1] == "separation"
    assert "inputRow" not in result.columns and "_ra" not in result.columns
    rows = result["input_row"].to_pylist()
    assert rows == sorted(rows) and result.units["separation"] == "arcsec"
    summary = result.metadata["crossmatch"]
    assert summary["matched_input_rows"] == 40 and summary["input_rows"] == 42
    assert (summary["ra_column"], summary["dec_column"]) == ("RAJ2000", "DEJ2000")
    # Only positions and row numbers leave the machine: never the input's other columns.
    body = unquote(next(b for b in requests_seen.bodies if b"Crossmatch" in b).decode())
    upload = json.loads(body.split("=", 1)[1])
    assert upload["service"] == "Mast.Tic.Crossmatch" and "star0" not in body
    assert upload["params"]["radius"] == pytest.approx(5 / 3600)
    assert len(upload["data"]["data"]) == 42


async def test_chunks_run_concurrently_and_agree(
    cat: CatApi, targets: pa.Table, requests_seen: Requests
) -> None:
    whole = await cat.call("crossmatch", targets, "tic", 5 / 3600)
    requests_seen.clear()
    chunked = await cat.call(
        "crossmatch", targets, "tic", 5 * u.arcsec, chunk_size=5, concurrency=3
    )
    assert requests_seen.count("Mast.Tic.Crossmatch") == math.ceil(42 / 5)
    assert chunked.metadata["crossmatch"]["chunks"] == 9
    assert chunked.arrow.equals(whole.arrow)


@pytest.mark.parametrize(
    "kind", ["astropy", "qtable", "pandas", "polars", "arrow", "result", "dict", "rows", "batch"]
)
async def test_every_table_type(
    cat: CatApi, targets: pa.Table, kind: str, expected: dict[tuple[int, int], float]
) -> None:
    if kind == "astropy":
        given_table: Any = Table(targets.to_pydict())
    elif kind == "qtable":  # a SkyCoord column: its positions are used
        given_table = QTable(
            {
                "name": targets.column("name").to_pylist(),
                "where": SkyCoord(
                    targets.column("RAJ2000").to_numpy() * u.deg,
                    targets.column("DEJ2000").to_numpy() * u.deg,
                ),
            }
        )
    elif kind == "pandas":
        given_table = targets.to_pandas()
    elif kind == "polars":
        given_table = pl.from_arrow(targets)
    elif kind == "arrow":
        given_table = targets
    elif kind == "result":
        given_table = ResultTable(targets)
    elif kind == "dict":
        given_table = targets.to_pydict()
    elif kind == "batch":
        given_table = targets.to_batches()[0]
    else:
        given_table = targets.to_pylist()
    result = await cat.call("crossmatch", given_table, "TIC", "5 arcsec")
    assert pairs(result).keys() == expected.keys()


async def test_keep_input_and_explicit_columns(cat: CatApi, targets: pa.Table) -> None:
    renamed = targets.rename_columns(["ra", "x", "y"])  # "ra" collides with nothing sent
    result = await cat.call(
        "crossmatch", renamed, "TIC", "5 arcsec", ra="X", dec="y", keep_input=True
    )
    assert result.columns[:4] == ["input_row", "ra", "x", "y"]
    first = result[0]
    assert first["ra"] == renamed.column("ra")[first["input_row"]].as_py()
    with pytest.raises(UnknownColumnError) as info:
        await cat.call("crossmatch", renamed, "TIC", ra="xx", dec="y")
    assert info.value.suggestions == ["x"]
    with pytest.raises(BadInputError, match="No RA/Dec columns"):
        await cat.call("crossmatch", renamed, "TIC")


async def test_hipparcos_matches_itself(cat: CatApi, db: Any) -> None:
    stars = db.execute("SELECT HIP, ra, dec FROM hipparcos ORDER BY HIP LIMIT 300")
    result = await cat.call("crossmatch", stars, "Hipparcos", "1 arcsec")
    nearest = result.to_pandas().groupby("input_row").first()
    assert len(nearest) == 300
    assert (nearest["HIP"].to_numpy() == stars.column("HIP").to_numpy()).all()
    assert (nearest["separation"] < 1e-3).all()


async def test_crossmatch_caom(cat: CatApi, db: Any) -> None:
    obs = db.execute("SELECT obsid, s_ra, s_dec FROM observations ORDER BY obsid LIMIT 5")
    result = await cat.call("crossmatch", obs, "caom", "1 arcsec")
    by_row: dict[int, set[int]] = {}
    for row, obsid in zip(
        result["input_row"].to_pylist(), result["obsid"].to_pylist(), strict=True
    ):
        by_row.setdefault(row, set()).add(obsid)
    for i, obsid in enumerate(obs.column("obsid").to_pylist()):
        assert obsid in by_row[i]  # an observation covers its own centre
    assert result.metadata["crossmatch"]["service"] == "Mast.Caom.Crossmatch"


async def test_bad_input_sends_nothing(cat: CatApi, requests_seen: Requests) -> None:
    good = {"ra": [10.0, 20.0], "dec": [1.0, 2.0]}
    cases: list[tuple[dict[str, Any], dict[str, Any], str]] = [
        ({"ra": [10.0, None], "dec": [1.0, 2.0]}, {}, "row 1"),
        ({"ra": [10.0, float("nan")], "dec": [1.0, 2.0]}, {}, "finite"),
        ({"ra": [10.0, 20.0], "dec": [1.0, 91.0]}, {}, r"outside \[-90, 90\]"),
        ({"ra": [400.0, 20.0], "dec": [1.0, 2.0]}, {}, "row 0"),
        ({"ra": ["10", "x"], "dec": [1.0, 2.0]}, {}, "not a number"),
        ({"ra": [], "dec": []}, {}, "no rows"),
        (good, {"radius": 0}, "above 0"),
        (good, {"radius": "5 parsecs"}, "unit"),
        (good, {"chunk_size": 0}, "chunk_size"),
        (good, {"concurrency": 0}, "concurrency"),
        (good, {"catalog": "Plato"}, "no crossmatch"),
        (good, {"catalog": "bad name"}, "catalogue name"),
    ]
    for table, options, message in cases:
        with pytest.raises(BadInputError, match=message):
            await cat.call("crossmatch", table, **{"catalog": "TIC", **options})
    with pytest.raises(BadInputError, match="Cannot crossmatch"):
        await cat.call("crossmatch", 42, "TIC")
    assert requests_seen.count("Crossmatch") == 0


async def test_unknown_catalogue_is_a_service_error(cat: CatApi) -> None:
    with pytest.raises(ServiceError, match="no crossmatch against 'Nowhere'"):
        await cat.call("crossmatch", {"ra": [1.0], "dec": [2.0]}, "Nowhere")


async def test_no_match_is_an_empty_table(cat: CatApi) -> None:
    from mastkit.errors import NoResultsWarning

    with pytest.warns(NoResultsWarning):
        result = await cat.call("crossmatch", {"ra": [1.0], "dec": [-89.99]}, "TIC", "1 arcsec")
    assert len(result) == 0 and result.columns[0] == "input_row"
    assert {"ID", "separation"} <= set(result.columns)


# ------------------------------------------------------------------------------ pure parts


def test_coordinate_columns_by_name() -> None:
    assert find_coordinate_columns(["RA", "DEC"]) == ("RA", "DEC")
    assert find_coordinate_columns(["id", "s_ra", "s_dec", "ra"]) == ("s_ra", "s_dec")
    assert find_coordinate_columns(["ra", "dec", "s_ra", "s_dec"]) == ("ra", "dec")
    assert find_coordinate_columns(["RA_ICRS", "DE_ICRS"]) == ("RA_ICRS", "DE_ICRS")
    assert find_coordinate_columns(["pos_ra", "pos_dec"]) == ("pos_ra", "pos_dec")
    with pytest.raises(BadInputError, match="both"):
        find_coordinate_columns(["a", "b"], ra="a")


def test_units_hours_and_radians() -> None:
    table = Table({"ra": [1.0, 23.0] * u.hourangle, "dec": [0.1, -0.2] * u.rad})
    where = positions(as_arrow(table))
    assert where.ra.tolist() == pytest.approx([15.0, 345.0])
    assert where.dec.tolist() == pytest.approx([math.degrees(0.1), math.degrees(-0.2)])


def test_pandas_with_a_masked_value() -> None:
    frame = pd.DataFrame({"ra": [1.0, None], "dec": [2.0, 3.0]})
    with pytest.raises(BadInputError, match="first is in row 1"):
        positions(as_arrow(frame))


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(-360, 360), st.floats(-90, 90)), min_size=1, max_size=50))
def test_valid_positions_are_kept_and_wrapped(values: list[tuple[float, float]]) -> None:
    table = pa.table({"ra": [v[0] for v in values], "dec": [v[1] for v in values]})
    where = positions(table)
    assert ((where.ra >= 0) & (where.ra < 360)).all()
    assert where.dec.tolist() == [v[1] for v in values]
    back = np.mod(where.ra - np.array([v[0] for v in values]), 360.0)
    assert np.all((back < 1e-9) | (back > 360 - 1e-9))


@settings(deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True).filter(
        lambda x: not (math.isfinite(x) and abs(x) <= 90)
    ),
    st.integers(0, 5),
)
def test_invalid_declinations_name_their_row(bad: float, row: int) -> None:
    dec = [0.0] * 6
    dec[row] = bad
    with pytest.raises(BadInputError, match=f"row {row}"):
        positions(pa.table({"ra": [1.0] * 6, "dec": dec}))


@settings(max_examples=200, deadline=None)  # the machine's load is not the code's
@given(st.integers(0, 10_000), st.integers(1, 3000))
def test_chunks_cover_the_rows_once(rows: int, size: int) -> None:
    bounds = chunk_bounds(rows, size)
    covered = [i for a, b in bounds for i in range(a, b)] if rows < 500 else None
    assert sum(b - a for a, b in bounds) == rows
    assert all(0 < b - a <= size for a, b in bounds)
    assert all(x[1] == y[0] for x, y in itertools.pairwise(bounds))
    if covered is not None:
        assert covered == list(range(rows))


def _drive(plan: Any, replies: list[ResultTable]) -> ResultTable:
    """Run a crossmatch plan by hand: an empty columns config, then the given replies."""
    op = plan.send(None)
    assert isinstance(op, ColumnsConfig)
    op = plan.send({})
    assert isinstance(op, Gather)
    try:
        plan.send(replies)
    except StopIteration as stop:
        result: ResultTable = stop.value
        return result
    raise AssertionError("the plan asked for more")


def test_replies_without_a_separation_get_one_computed() -> None:
    plan = crossmatch_plan(
        Session(), {"ra": [10.0, 20.0], "dec": [0.0, 0.0]}, "MyStars", "10 arcsec"
    )
    reply = ResultTable(
        pa.table(
            {"_i": [1, 0], "MatchRA": [20.0, 10.0], "MatchDEC": [1 / 3600, 0.0], "name": ["b", "a"]}
        )
    )
    result = _drive(plan, [reply])
    assert result["input_row"].to_pylist() == [0, 1] and result["name"].to_pylist() == ["a", "b"]
    assert result["separation"].to_pylist() == pytest.approx([0.0, 1.0], abs=1e-6)


def test_replies_that_lose_the_rows_are_decode_errors() -> None:
    source = {"ra": [10.0], "dec": [0.0]}
    no_rows = ResultTable(pa.table({"MatchRA": [10.0], "MatchDEC": [0.0]}))
    with pytest.raises(DecodeError, match="input row numbers"):
        _drive(crossmatch_plan(Session(), source, "MyStars"), [no_rows])
    wrong = ResultTable(pa.table({"_i": [7], "dstArcSec": [0.1]}))
    with pytest.raises(DecodeError, match="never sent"):
        _drive(crossmatch_plan(Session(), source, "MyStars"), [wrong])
    bare = ResultTable(pa.table({"_i": [0], "name": ["x"]}))
    with pytest.raises(DecodeError, match="separation"):
        _drive(crossmatch_plan(Session(), source, "MyStars"), [bare])


def test_big_endian_columns_as_fits_gives_them() -> None:
    table = Table({"ra": np.array([10.0, 20.0], dtype=">f8"), "dec": np.array([1, 2], dtype=">i4")})
    where = positions(as_arrow(table))
    assert where.ra.tolist() == [10.0, 20.0] and where.dec.tolist() == [1.0, 2.0]
    with pytest.raises(BadInputError, match=r"row 1 \('dec'\) is 95.0, outside"):
        positions(pa.table({"ra": [1.0, 2.0], "dec": np.array([0.0, 95.0])}))
