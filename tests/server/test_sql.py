"""Query compilation and execution: columns, filters (against a reference), cones, paging."""

from __future__ import annotations

import math
import re
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.server.geometry import (
    footprint_distance,
    hpx_index,
    hpx_ranges,
    numbers_distance,
    region_numbers_sql,
    shape_distance,
)
from mastkit.server.schema import OBSERVATIONS, Column, TableSchema
from mastkit.server.sql import (
    Cone,
    compile_columns,
    compile_filters,
    find_product,
    products_for,
    select,
)

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- columns


def test_compile_columns() -> None:
    assert compile_columns(OBSERVATIONS, "*").names == tuple(OBSERVATIONS.names)
    assert compile_columns(OBSERVATIONS, "c.*").names == tuple(OBSERVATIONS.names)
    assert compile_columns(OBSERVATIONS, " obsid, S_RA ,c.s_dec,obsid").names == (
        "obsid", "s_ra", "s_dec")
    assert compile_columns(OBSERVATIONS, "count_big( * )").count
    assert compile_columns(OBSERVATIONS, "obsid, distance", distance=True).names == (
        "obsid", "distance")


@pytest.mark.parametrize("columns", ["s_fov", "obsid, s_fov", "distance", "_hpx", "obsid; DROP"])
def test_compile_columns_rejects_unknown(columns: str) -> None:
    with pytest.raises(UnknownColumnError) as info:
        compile_columns(OBSERVATIONS, columns)
    assert re.fullmatch(r"Invalid column name '.+'\.", info.value.message)


def test_unknown_column_message_is_mast_s() -> None:
    with pytest.raises(UnknownColumnError) as info:
        compile_filters(OBSERVATIONS, [{"paramName": "s_fov", "values": ["1"]}])
    assert str(info.value) == "Invalid column name 's_fov'."
    assert info.value.server_message == "Invalid column name 's_fov'."


# ----------------------------------------------------------------------------- filters

TEST = TableSchema(
    name="t",
    order="i",
    columns=(
        Column("name", "string", "VARCHAR", "Name", "a name"),
        Column("tags", "string", "VARCHAR", "Tags", "a list", separator=";"),
        Column("level", "int", "INTEGER", "Level", "an int"),
        Column("value", "float", "DOUBLE", "Value", "a float"),
        Column("ident", "string", "BIGINT", "Id", "a long id declared string"),
        Column("flag", "boolean", "BOOLEAN", "Flag", "a flag"),
    ),
)
NAMES = ["HST", "hst", "GALEX", "Kepler", "O'Brien", "a_b", "axb", None]
TAGS = ["NUV", "FUV", "F606W", "uv", "HST"]
PATTERNS = ["%UV", "hs%", "%", "F6%", "%o%", "a_b", "%'%", "k%r"]


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    return draw(st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(NAMES),
        "tags": st.one_of(st.none(), st.lists(st.sampled_from(TAGS), min_size=1, max_size=3)
                          .map(";".join)),
        "level": st.one_of(st.none(), st.integers(0, 4)),
        "value": st.one_of(st.none(), st.sampled_from([-1.5, 0.0, 2.25, 10.0])),
        "ident": st.one_of(st.none(), st.integers(2_000_000_000, 2_000_000_005)),
        "flag": st.one_of(st.none(), st.booleans()),
    }), max_size=25))


def _scalar(column: str) -> st.SearchStrategy[Any]:
    base: dict[str, st.SearchStrategy[Any]] = {
        "name": st.sampled_from([n for n in NAMES if n] + ["HsT", "galex"]),
        "tags": st.sampled_from([*TAGS, "nuv"]),
        "level": st.integers(0, 4),
        "value": st.sampled_from([-1.5, 0.0, 2.25, 10.0]),
        "ident": st.integers(2_000_000_000, 2_000_000_005),
        "flag": st.booleans(),
    }
    return base[column].flatmap(lambda v: st.sampled_from([v, str(v)]))  # astroquery: strings


@st.composite
def filters(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        column = draw(st.sampled_from(TEST.names))
        spec: dict[str, Any] = {"paramName": draw(st.sampled_from([column, column.upper()]))}
        if column == "tags" and draw(st.booleans()):
            spec["separator"] = ";"
        values: list[Any] = draw(st.lists(_scalar(column), max_size=3))
        if column in ("level", "value", "ident") and draw(st.booleans()):
            lo, hi = sorted(draw(st.lists(_scalar(column).map(float), min_size=2, max_size=2)))
            values.append({"min": lo, "max": hi})
        spec["values"] = values
        if column in ("name", "tags", "level") and draw(st.booleans()):
            spec["freeText"] = draw(st.sampled_from(PATTERNS))
        out.append(spec)
    return out


def _like(text: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL) is not None


def _matches(row: dict[str, Any], spec: dict[str, Any]) -> bool:
    """The reference semantics of one MAST filter (see compile_filters)."""
    column = spec["paramName"].lower()
    value = row[column]
    values = spec["values"]
    free = spec.get("freeText")
    if not values and not free:
        return True
    if value is None:
        return False
    parts = value.split(";") if spec.get("separator") else [value]
    for item in values:
        if isinstance(item, dict):
            if float(item["min"]) <= value <= float(item["max"]):
                return True
        elif column in ("name", "tags"):
            if any(p.lower() == str(item).lower() for p in parts):
                return True
        elif column == "flag":
            if value == (str(item).lower() == "true"):
                return True
        elif value == float(item):
            return True
    return bool(free) and any(_like(str(p), free) for p in parts)


_CON = duckdb.connect()  # one connection for every example: connecting is the slow part


@settings(max_examples=100, deadline=None)
@given(data=rows(), specs=filters())
def test_compile_filters_matches_the_reference(data: list[dict[str, Any]],
                                               specs: list[dict[str, Any]]) -> None:
    sql, params = compile_filters(TEST, specs)
    assert "'" not in sql  # every value is a parameter
    table = pa.Table.from_pylist(
        [{"i": i, **r} for i, r in enumerate(data)],
        schema=pa.schema([("i", pa.int64()), ("name", pa.string()), ("tags", pa.string()),
                          ("level", pa.int32()), ("value", pa.float64()),
                          ("ident", pa.int64()), ("flag", pa.bool_())]))
    _CON.register("t", table)
    where = f"WHERE {sql}" if sql else ""
    found = {r[0] for r in _CON.sql(f"SELECT i FROM t {where}", params=params or None).fetchall()}
    _CON.unregister("t")
    expected = {i for i, r in enumerate(data) if all(_matches(r, s) for s in specs)}
    assert found == expected, (sql, params)


def test_compile_filters_examples() -> None:
    assert compile_filters(OBSERVATIONS, []) == ("", [])
    sql, params = compile_filters(OBSERVATIONS, [
        {"paramName": "calib_level", "values": ["3"]},
        {"paramName": "t_max", "values": [{"min": 52264.4586, "max": "54452.8914"}]},
        {"paramName": "proposal_pi", "values": [], "freeText": "Ost%"},
        {"paramName": "dataproduct_type", "values": []},
    ])
    assert params == [3, 52264.4586, 54452.8914, "Ost%"]
    assert sql.count(" AND ") == 3  # calib AND (range) AND freeText; the empty filter adds none
    _, params = compile_filters(OBSERVATIONS, [{"paramName": "obsid", "values": "2003585980"}])
    assert params == [2003585980]  # a bare value (mast_query passes values as given)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"paramName": "calib_level", "values": ["abc"]}, "calib_level"),
        ({"paramName": "calib_level", "values": ["3.5"]}, "calib_level"),
        ({"paramName": "s_ra", "values": [{"min": "x", "max": 1}]}, "s_ra"),
        ({"paramName": "mtFlag", "values": ["maybe"]}, "mtFlag"),
        ({"paramName": "obsid", "values": [True]}, "obsid"),
        ({"paramName": "s_ra", "values": [{}]}, "s_ra"),
        ({"values": ["x"]}, "paramName"),
        ("obs_collection", "paramName"),
    ],
)
def test_compile_filters_rejects_bad_values(spec: Any, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        compile_filters(OBSERVATIONS, [spec])


# ----------------------------------------------------------------------------- geometry


def _unit(ra: Any, dec: Any) -> np.ndarray:
    a, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)


def _radec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360, np.degrees(np.arcsin(v[..., 2]))


def _move(ra: float, dec: float, dist: float, bearing: float) -> tuple[float, float]:
    """Independent destination-point formula (rotation of the pole vector)."""
    p = _unit(ra, dec)
    north = np.array([-math.sin(math.radians(dec)) * math.cos(math.radians(ra)),
                      -math.sin(math.radians(dec)) * math.sin(math.radians(ra)),
                      math.cos(math.radians(dec))])
    east = np.cross(north, p) if abs(dec) < 90 else np.array([0.0, 1.0, 0.0])
    if abs(dec) >= 90:
        north = np.cross(p, east)
    t = math.radians(dist)
    direction = math.cos(bearing) * north + math.sin(bearing) * east
    r, d = _radec(math.cos(t) * p + math.sin(t) * direction)
    return float(r), float(d)


def _sep(ra0: float, dec0: float, ra: Any, dec: Any) -> np.ndarray:
    dot = np.clip(_unit(ra, dec) @ _unit(ra0, dec0), -1, 1)
    return np.degrees(np.arccos(dot))


centres = st.one_of(
    st.tuples(st.floats(0, 360, exclude_max=True), st.floats(-90, 90)),
    st.tuples(st.floats(359.5, 360, exclude_max=True) | st.floats(0, 0.5), st.floats(-60, 60)),
    st.tuples(st.floats(0, 360, exclude_max=True), st.floats(85, 90) | st.floats(-90, -85)),
)


def _arc_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Exact angle (deg) from p to the great-circle arc ab, by vectors (no projection)."""
    n = np.cross(a, b)
    n /= np.linalg.norm(n)
    q = p - np.dot(p, n) * n
    q /= np.linalg.norm(q)
    if np.dot(np.cross(a, q), n) >= 0 and np.dot(np.cross(q, b), n) >= 0:
        return math.degrees(math.asin(min(1.0, abs(float(np.dot(p, n))))))
    return float(min(math.degrees(math.acos(np.clip(np.dot(p, e), -1, 1))) for e in (a, b)))


@settings(max_examples=80, deadline=None)
@given(centre=centres, size=st.floats(0.001, 1.0), start=st.floats(0, 2 * math.pi),
       steps=st.lists(st.floats(0.2, 2.0), min_size=3, max_size=3),
       offset=st.floats(0, 2.0), direction=st.floats(0, 2 * math.pi))
def test_polygon_distance_against_vector_geometry(
    centre: tuple[float, float], size: float, start: float, steps: list[float], offset: float,
    direction: float,
) -> None:
    ra0, dec0 = centre
    bearings = np.cumsum([start, *steps])  # four distinct bearings, in order: a convex ring
    corners = [_move(ra0, dec0, size, b) for b in bearings]
    point = _move(ra0, dec0, offset * size * 1.5, direction)
    region = "POLYGON ICRS " + " ".join(f"{a!r} {d!r}" for a, d in corners)
    (found,) = footprint_distance([region], np.array([ra0]), np.array([dec0]), *point)
    v = _unit(*np.array(corners).T)
    p = _unit(*point)
    sides = [float(np.dot(np.cross(v[i], v[(i + 1) % 4]), p)) for i in range(4)]
    if all(x > 1e-12 for x in sides) or all(x < -1e-12 for x in sides):
        assert found == 0.0
    elif all(abs(x) > 1e-9 for x in sides):
        expected = min(_arc_distance(p, v[i], v[(i + 1) % 4]) for i in range(4))
        assert found == pytest.approx(expected, abs=1e-9)


def test_circle_and_point_distances() -> None:
    regions = ["CIRCLE ICRS 10 20 0.5", "CIRCLE 10 20 0.5", None, "", "BOX ICRS 1 2 3 4",
               "POLYGON J2000 0 0 1 0 1 1 0 1 0 0 POLYGON ICRS 5 5 6 5 6 6"]
    ra, dec = np.array([10.0, 10.0, 11.0, 11.0, 11.0, 11.0]), np.full(6, 20.0)
    d = footprint_distance(pa.array(regions), ra, dec, 10.0, 21.0)
    assert d[:2] == pytest.approx([0.5, 0.5])
    assert d[2:] == pytest.approx(_sep(10.0, 21.0, ra[2:], dec[2:]))  # points
    assert footprint_distance(["CIRCLE ICRS 10 20 1.5"], ra[:1], dec[:1], 10.0, 21.0)[0] == 0
    # Many rows take the Arrow path, a few the plain one: both agree.
    many = footprint_distance(pa.array(regions * 20), np.tile(ra, 20), np.tile(dec, 20),
                              10.0, 21.0)
    assert many == pytest.approx(np.tile(d, 20))


def test_numbers_give_the_distances_the_text_gives() -> None:
    regions = ["CIRCLE ICRS 10 20 0.5", "POLYGON ICRS 9 20.5 11 20.5 11 21.5 9 21.5", None,
               "POLYGON ICRS 9.5 20 10.5 20 10.5 21 9.5 21 9.5 20", "POLYGON ICRS 1 2 3"]
    numbers = pa.array([[10.0, 20.0, 0.5], [9.0, 20.5, 11.0, 20.5, 11.0, 21.5, 9.0, 21.5],
                        None, [9.5, 20.0, 10.5, 20.0, 10.5, 21.0, 9.5, 21.0, 9.5, 20.0],
                        [1.0, 2.0, 3.0, 4.0, 5.0]], pa.list_(pa.float64()))
    ra, dec = np.array([10.0, 10.0, 11.0, 10.0, 2.0]), np.array([20.0, 21.0, 20.0, 20.5, 3.0])
    centre = _sep(10.2, 21.2, ra, dec)
    from_text = shape_distance(regions, centre, 10.2, 21.2)
    assert numbers_distance(numbers, centre, 10.2, 21.2) == pytest.approx(from_text, abs=1e-12)
    assert from_text[1] == 0 and from_text[2] == centre[2] and from_text[4] == centre[4]
    # A slice of a list array keeps its own offsets.
    assert numbers_distance(numbers.slice(1, 3), centre[1:4], 10.2, 21.2) == pytest.approx(
        from_text[1:4], abs=1e-12)
    assert len(numbers_distance(numbers.slice(0, 0), centre[:0], 10.2, 21.2)) == 0


def test_region_numbers_sql_reads_the_generator_s_regions() -> None:
    con = duckdb.connect()
    sql_text = region_numbers_sql("'POLYGON ICRS 1.12345678 -2.5 3 4 5 6'")
    assert con.sql(f"SELECT {sql_text}").fetchall() == [([1.12345678, -2.5, 3.0, 4.0, 5.0, 6.0],)]


@settings(max_examples=60, deadline=None)
@given(centre=centres, radius=st.floats(1e-4, 30), samples=st.lists(
    st.tuples(st.floats(0, 1), st.floats(0, 2 * math.pi)), min_size=1, max_size=20))
# A 0.36" disc whose edge crosses into the next 3" pixel: astropy-healpix's search alone misses it.
@example(centre=(0.4559837761750669, 63.0), radius=1e-4, samples=[(1.0, 0.0)])
def test_hpx_ranges_cover_the_disc(centre: tuple[float, float], radius: float,
                                   samples: list[tuple[float, float]]) -> None:
    ranges = hpx_ranges(*centre, radius)
    points = np.array([_move(*centre, radius * f, b) for f, b in samples])
    for index in hpx_index(points[:, 0], points[:, 1]):
        assert any(lo <= index <= hi for lo, hi in ranges)
    assert len(ranges) <= 8


# ----------------------------------------------------------------------------- the archive


@pytest.fixture(scope="module")
def everything(archive: Any) -> dict[str, np.ndarray]:
    table = archive.execute("SELECT obsid, s_ra, s_dec, s_region FROM observations")
    return {"obsid": table.column("obsid").to_numpy(), "ra": table.column("s_ra").to_numpy(),
            "dec": table.column("s_dec").to_numpy(), "region": table.column("s_region")}


def _brute(everything: dict[str, Any], cone: Cone) -> dict[int, float]:
    d = footprint_distance(everything["region"], everything["ra"], everything["dec"],
                           cone.ra, cone.dec)
    keep = d <= cone.radius
    return dict(zip(everything["obsid"][keep].tolist(), (d[keep] * 3600).tolist(), strict=True))


@SLOW
@given(data=st.data())
def test_cone_matches_brute_force(archive: Any, everything: dict[str, Any],
                                  data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["row", "sky", "wrap", "pole"]))
    if kind == "row":  # near an observation, so that something is found
        i = data.draw(st.integers(0, len(everything["ra"]) - 1))
        ra, dec = _move(everything["ra"][i], everything["dec"][i], data.draw(st.floats(0, 0.5)),
                        data.draw(st.floats(0, 6.28)))
        radius = data.draw(st.floats(0, 0.8))
    else:
        ra, dec = data.draw({"sky": centres.branches[0], "wrap": centres.branches[1],
                             "pole": centres.branches[2]}[kind])
        radius = data.draw(st.floats(0, 25))
    cone = Cone(ra, dec, radius)
    result = select(archive, "observations", "obsid, distance", cone=cone)
    got = dict(zip(result.table.column("obsid").to_pylist(),
                   result.table.column("distance").to_pylist(), strict=True))
    expected = _brute(everything, cone)
    assert got.keys() == expected.keys()
    assert result.total == len(got)
    for obsid, distance in got.items():
        assert distance == pytest.approx(expected[obsid], abs=1e-6)


def test_cone_reads_numbers_or_text_alike(archive: Any, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    assert archive.has_column("observations", "_fp")
    cones = [Cone(202.47, 47.2, 0.5), Cone(83.82, -5.39, 2.0), Cone(10.0, 80.0, 25.0)]
    with_numbers = [select(archive, "observations", cone=c).table for c in cones]
    monkeypatch.setattr(archive, "has_column", lambda table, column: False)
    with_text = [select(archive, "observations", cone=c).table for c in cones]
    for a, b in zip(with_numbers, with_text, strict=True):
        assert a.drop_columns(["distance"]).equals(b.drop_columns(["distance"]))
        assert a.column("distance").to_numpy() == pytest.approx(
            b.column("distance").to_numpy(), abs=1e-9)


def test_cone_on_a_famous_target(archive: Any) -> None:
    from mastkit.server.resolver import resolve

    m101 = resolve(archive, "M101")[0]
    found = select(archive, "observations", cone=Cone(m101["ra"], m101["decl"], 0.2))
    assert found.total >= 5
    assert found.table.column_names == [*OBSERVATIONS.names, "distance"]
    inside = [d for d in found.table.column("distance").to_pylist() if d == 0]
    assert inside  # some footprints contain M101's centre
    count = select(archive, "observations", "COUNT_BIG(*)",
                   cone=Cone(m101["ra"], m101["decl"], 0.2))
    assert count.table.to_pylist() == [{"Column1": found.total}]


def _order_key(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["obs_collection"], r["obsid"]) for r in rows]


@pytest.mark.parametrize("cone", [None, Cone(202.47, 47.2, 25.0)])
@pytest.mark.parametrize(
    "specs", [[], [{"paramName": "obs_collection", "values": ["HST", "tess"]}]])
def test_pages_partition_the_result(archive: Any, cone: Cone | None,
                                    specs: list[dict[str, Any]]) -> None:
    full = select(archive, "observations", "obs_collection, obsid", specs, cone)
    rows = full.table.to_pylist()
    assert full.total == len(rows) > 0
    # The canonical order: obs_collection descending (byte-wise), then obsid.
    keys = _order_key(rows)
    assert keys == sorted(keys, key=lambda k: (tuple(-b for b in k[0].encode()), k[1]))
    pages, page = [], 1
    while True:
        part = select(archive, "observations", "obs_collection, obsid", specs, cone,
                      page=page, pagesize=97)
        assert part.total == full.total
        if part.table.num_rows == 0:
            break
        pages.extend(part.table.to_pylist())
        page += 1
    assert pages == rows
    counted = select(archive, "observations", "COUNT_BIG(*)", specs, cone)
    assert counted.table.column("Column1").to_pylist() == [len(rows)] and counted.total == 1


@pytest.mark.parametrize(
    "specs",
    [
        [],
        [{"paramName": "obs_collection", "values": ["HST", "tess"]}],
        [{"paramName": "intentType", "values": ["science"]},
         {"paramName": "t_exptime", "values": [{"min": 100, "max": 2000}]}],
        [{"paramName": "obs_collection", "values": ["no such mission"]}],
    ],
)
def test_a_window_holding_the_whole_result_is_in_canonical_order(
    archive: Any, specs: list[dict[str, Any]]
) -> None:
    """The whole-result path (read unordered, sorted by Arrow) and the windowed path give the
    rows the ORDER BY query gives, on both sides of the window's edge."""
    columns = "obs_collection, obsid, t_exptime"
    full = select(archive, "observations", columns, specs).table
    n = full.num_rows
    for limit in sorted({n, n + 1, 10 * n + 5, max(n - 1, 0)}):
        window = select(archive, "observations", columns, specs, limit=limit)
        assert window.table.equals(full.slice(0, limit)), limit
        assert window.total == n


def test_window_and_order_by(archive: Any) -> None:
    full = select(archive, "observations", "obsid, t_min", order_by=["t_min DESC"])
    values = full.table.column("t_min").to_pylist()
    assert values == sorted(values, reverse=True)
    window = select(archive, "observations", "obsid, t_min", order_by=["t_min DESC"],
                    limit=10, offset=5)
    assert window.table.to_pylist() == full.table.slice(5, 10).to_pylist()
    assert window.total == full.total
    assert select(archive, "observations", limit=0).table.column_names == OBSERVATIONS.names
    with pytest.raises(BadInputError, match="page parameter must be > 0"):
        select(archive, "observations", page=0, pagesize=10)
    with pytest.raises(BadInputError, match="pagesize parameter must be > 0"):
        select(archive, "observations", page=1, pagesize=0)
    with pytest.raises(UnknownColumnError):
        select(archive, "observations", order_by=["s_fov"])
    with pytest.raises(BadInputError):
        select(archive, "no_such_table")


def test_hostile_values_are_only_values(archive: Any) -> None:
    for value in ["HST'; DROP TABLE observations; --", "%' OR '1'='1", '") OR 1=1 --']:
        found = select(archive, "observations", "obsid",
                       [{"paramName": "obs_collection", "values": [value], "freeText": value}])
        assert found.total == 0
    with pytest.raises(UnknownColumnError):
        select(archive, "observations", "obsid",
               [{"paramName": "obsid) OR (1=1", "values": ["1"]}])
    assert archive.execute("SELECT count(*) FROM observations").column(0)[0].as_py() > 0


def test_long_value_lists(archive: Any) -> None:
    obsids = archive.execute("SELECT obsid FROM observations ORDER BY _row LIMIT 150"
                             ).column(0).to_pylist()
    wanted = [str(i) for i in obsids[::2]] + ["1", "2"] * 30
    found = select(archive, "observations", "obsid", [{"paramName": "obsid", "values": wanted}])
    assert found.table.column("obsid").to_pylist() == obsids[::2]


def test_filtered_results_are_right(archive: Any) -> None:
    found = select(archive, "observations", "obs_collection, filters, calib_level, t_exptime", [
        {"paramName": "obs_collection", "values": ["galex"]},
        {"paramName": "filters", "separator": ";", "values": ["nuv"]},
        {"paramName": "calib_level", "values": ["2"]},
        {"paramName": "t_exptime", "values": [{"min": 100, "max": 2000}]},
    ]).table.to_pylist()
    assert found
    for row in found:
        assert row["obs_collection"] == "GALEX" and "NUV" in row["filters"].split(";")
        assert row["calib_level"] == 2 and 100 <= row["t_exptime"] <= 2000


def test_cone_on_points(archive: Any) -> None:
    found = select(archive, "hipparcos", "HIP, Hpmag", cone=Cone(101.2885, -16.7131, 0.1),
                   order_by=["distance"])
    rows = found.table.to_pylist()
    assert rows[0]["HIP"] == 32349 and rows[0]["distance"] < 1.0  # Sirius, within an arcsec
    assert [r["distance"] for r in rows] == sorted(r["distance"] for r in rows)
    assert all(r["distance"] <= 360.0 for r in rows)
    with pytest.raises(BadInputError):
        select(archive, "products", cone=Cone(0, 0, 1))


def test_products_for(archive: Any) -> None:
    obsids = archive.execute(
        "SELECT obsid FROM observations ORDER BY _row LIMIT 5").column(0).to_pylist()
    table = products_for(archive, [*obsids, 42])
    assert table.column_names[0] == "obsID" and len(table.column_names) == 20
    assert set(table.column("obsID").to_pylist()) == set(obsids)
    assert table.column("obsID").to_pylist() == sorted(table.column("obsID").to_pylist())
    assert table.column("parent_obsid").to_pylist() == table.column("obsID").to_pylist()
    assert products_for(archive, []).num_rows == 0
    assert products_for(archive, obsids, "dataURI, size").column_names == ["dataURI", "size"]
    uri = table.column("dataURI")[0].as_py()
    row = find_product(archive, uri)
    assert row is not None and row["uri"] == uri and row["size"] == table.column("size")[0].as_py()
    assert find_product(archive, "mast:HST/product/nothing.fits") is None


def test_products_for_many_observations(archive: Any) -> None:
    obsids = archive.execute("SELECT obsid FROM observations USING SAMPLE 1500 ROWS"
                             ).column(0).to_pylist()
    table = products_for(archive, [*obsids, *obsids[:10], -1], "obsID, dataURI")
    expected = archive.execute(
        'SELECT obsID, "dataURI" FROM products WHERE obsID IN (SELECT unnest(?::BIGINT[])) '
        "ORDER BY _row", [obsids])
    assert table.equals(expected) and table.num_rows > len(obsids)


def test_find_product_of_a_file_two_observations_share(archive: Any) -> None:
    shared = archive.execute(
        'SELECT "dataURI", min(_row) AS first, count(*) AS n FROM products GROUP BY 1 '
        "HAVING count(*) > 1 ORDER BY 2 LIMIT 3").to_pylist()
    assert shared  # the generator makes some (JWST exposures listing the previous one's file)
    for row in shared:
        found = find_product(archive, row["dataURI"])
        expected = archive.execute("SELECT obs_id, size FROM products WHERE _row = ?",
                                   [row["first"]]).to_pylist()[0]
        assert found is not None and found["uri"] == row["dataURI"]
        assert (found["obs_id"], found["size"]) == (expected["obs_id"], expected["size"])


def test_product_uris_index_every_product(archive: Any) -> None:
    counts = archive.execute(
        "SELECT (SELECT count(*) FROM products) AS p, (SELECT count(*) FROM product_uris) AS u"
    ).to_pylist()[0]
    assert counts["p"] == counts["u"]
    missing = archive.execute(
        "SELECT count(*) AS n FROM products p ANTI JOIN product_uris k USING (_row)").to_pylist()
    assert missing == [{"n": 0}]


def test_open_and_fractional_ranges_on_integer_columns(archive: Any) -> None:
    # Clients send the largest double for an open end; on a BIGINT column that must still work.
    from mastkit.server.sql import select

    everything = select(archive, "observations", "COUNT_BIG(*)", [], count=True).table
    total = everything.column(0)[0].as_py()
    open_end = [{"paramName": "calib_level", "values": [{"min": 2, "max": 1.7976931348623157e308}]}]
    fractional = [{"paramName": "calib_level", "values": [{"min": 1.5, "max": 3.2}]}]
    at_least_2 = select(archive, "observations", "COUNT_BIG(*)", open_end, count=True).table
    two_or_three = select(archive, "observations", "COUNT_BIG(*)", fractional, count=True).table
    exact = [{"paramName": "calib_level", "values": ["2", "3", "4"]}]
    reference = select(archive, "observations", "COUNT_BIG(*)", exact, count=True).table
    assert at_least_2.column(0)[0].as_py() == reference.column(0)[0].as_py() <= total
    exact23 = [{"paramName": "calib_level", "values": ["2", "3"]}]
    ref23 = select(archive, "observations", "COUNT_BIG(*)", exact23, count=True).table
    assert two_or_three.column(0)[0].as_py() == ref23.column(0)[0].as_py()
