"""Query compilation and execution for the local archive: filters, columns, cones, paging.

Everything user-supplied reaches DuckDB as a bound parameter. Identifiers in the SQL come only
from the validated schema (:mod:`mastkit.server.schema`), never from the request text.

Cone searches use the ``_hpx`` column (HEALPix nested index at order :data:`HPX_ORDER` of each
row's centre; tables are stored sorted by it so DuckDB's zone maps skip most row groups):

1. the HEALPix pixels touching a disc of the search radius plus the table's largest footprint
   radius become a few ``_hpx BETWEEN ? AND ?`` ranges (nested indices of a coarse pixel are
   contiguous at the fine order);
2. a declination band (same widening) trims the ranges' far corners;
3. the exact distance from the search point to each candidate's footprint (0 inside it) is
   computed in numpy (:func:`footprint_distance`), as MAST's ``distance`` (arcsec).

Canonical order: each table's ``_row`` (observations: ``obs_collection DESC, obsid``), so pages
partition the result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mastkit.errors import BadInputError
from mastkit.server.schema import DISTANCE, PRODUCTS, Column, TableSchema, get_schema

if TYPE_CHECKING:
    from mastkit.server.archive import Archive

__all__ = [
    "HPX_ORDER",
    "Cone",
    "Projection",
    "QueryResult",
    "compile_columns",
    "compile_filters",
    "find_product",
    "footprint_distance",
    "hpx_index",
    "hpx_ranges",
    "products_for",
    "select",
]


@dataclass(frozen=True, slots=True)
class Cone:
    """A cone on the sky: centre (ICRS degrees) and radius (degrees)."""

    ra: float
    dec: float
    radius: float

    def __post_init__(self) -> None:
        values = (self.ra, self.dec, self.radius)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise BadInputError(f"Cone values must be finite numbers, got {values}")
        if not -90.0 <= self.dec <= 90.0:
            raise BadInputError(f"Declination must be within [-90, 90], got {self.dec}")
        if not 0.0 <= self.radius <= 180.0:
            raise BadInputError(f"Radius must be within [0, 180] degrees, got {self.radius}")
        object.__setattr__(self, "ra", float(self.ra) % 360.0)


@dataclass(frozen=True, slots=True)
class Projection:
    """Selected columns (canonical names) or a ``COUNT_BIG(*)`` count."""

    names: tuple[str, ...]
    count: bool = False


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One page of a result, and the row count of the whole result (MAST's ``rowsFiltered``).

    A count query gives a one-row table with column ``Column1`` and ``total`` 1, as MAST does.
    """

    table: pa.Table
    total: int


_COUNT = re.compile(r"^\s*count_big\s*\(\s*\*\s*\)\s*$", re.IGNORECASE)
_ALL = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*\.)?\*$")
_QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.(.+)$")


def compile_columns(schema: TableSchema, columns: str, *, distance: bool = False) -> Projection:
    """Validate a MAST ``columns`` parameter.

    Parameters
    ----------
    schema : TableSchema
    columns : str
        ``"*"``, ``"c.*"``, ``"COUNT_BIG(*)"`` or a comma-separated list (``"obsid, s_ra"``;
        case-insensitive, an alias prefix such as ``c.obsid`` is allowed).
    distance : bool
        Whether ``distance`` may be named (cone queries).

    Returns
    -------
    Projection
        Canonical names in request order without repeats; all columns for ``*``.

    Raises
    ------
    UnknownColumnError
        For a name the table does not have (message ``Invalid column name 'x'.``).
    """
    text = (columns or "*").strip()
    if _COUNT.match(text):
        return Projection((), count=True)
    names: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if _ALL.match(item):
            names.extend(schema.names)
            continue
        qualified = _QUALIFIED.match(item)
        name = qualified.group(1) if qualified else item
        if distance and name.lower() == DISTANCE.name:
            names.append(DISTANCE.name)
        else:
            names.append(schema.column(name).name)
    return Projection(tuple(dict.fromkeys(names)))


_MANY = 100
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _convert(col: Column, value: Any) -> Any:
    """``value`` as the column's storage type (astroquery sends ``"3"`` for 3)."""
    kind = col.duckdb_type
    try:
        if isinstance(value, Mapping | list | tuple | set) or value is None:
            raise ValueError
        if kind in ("BIGINT", "INTEGER"):
            if isinstance(value, bool):
                raise ValueError
            number = value if isinstance(value, int) else float(str(value).strip())
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            return int(number)
        if kind == "DOUBLE":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "BOOLEAN":
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        return str(value)
    except (ValueError, OverflowError):
        raise BadInputError(
            f"Error converting value {value!r} to {col.mast_type} for column '{col.name}'."
        ) from None


_INT64 = (-(2**63), 2**63 - 1)


def _bound(col: Column, value: Any, *, upper: bool) -> Any:
    """A range bound in the column's terms.

    On integer columns a bound is any number: ``[2.5, 1e308]`` means ``[3, 2**63-1]`` (clients
    send the largest double for an open end, which no BIGINT can hold).
    """
    if col.duckdb_type not in ("BIGINT", "INTEGER") or isinstance(value, bool):
        return _convert(col, value)
    try:
        number = float(str(value).strip())
        whole = math.floor(number) if upper else math.ceil(number)
    except (ValueError, OverflowError):
        raise BadInputError(
            f"Error converting value {value!r} to {col.mast_type} for column '{col.name}'."
        ) from None
    return max(_INT64[0], min(_INT64[1], whole))


def _filter_sql(schema: TableSchema, spec: Any) -> tuple[str, list[Any]]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("paramName"), str):
        raise BadInputError(f"A filter must be an object with a paramName, got {spec!r}")
    col = schema.column(spec["paramName"])
    ident = f'"{col.name}"'
    raw = spec.get("values", [])
    values = list(raw) if isinstance(raw, list | tuple) else [raw]
    free = spec.get("freeText")
    sep = spec.get("separator")
    split = isinstance(sep, str) and sep != "" and col.duckdb_type == "VARCHAR"
    text = col.duckdb_type == "VARCHAR"
    parts: list[str] = []
    params: list[Any] = []
    exact = [_convert(col, v) for v in values if not isinstance(v, Mapping)]
    if exact:
        if split:
            parts.append(f"list_has_any(string_split(lower({ident}), ?), ?::VARCHAR[])")
            params += [sep, [v.lower() for v in exact]]
        else:
            target = f"lower({ident})" if text else ident
            # A long list (thousands of obsids) is one list parameter, joined as a hash set.
            marks = "SELECT unnest(?)" if len(exact) > _MANY else ", ".join("?" * len(exact))
            parts.append(f"{target} IN ({marks})")
            keys = [v.lower() for v in exact] if text else exact
            params += [keys] if len(exact) > _MANY else keys
    for bounds in (v for v in values if isinstance(v, Mapping)):
        lo, hi = bounds.get("min"), bounds.get("max")
        if lo is None and hi is None:
            raise BadInputError(f"A range for '{col.name}' needs min and/or max: {bounds!r}")
        conds = []
        if lo is not None:
            conds.append(f"{ident} >= ?")
            params.append(_bound(col, lo, upper=False))
        if hi is not None:
            conds.append(f"{ident} <= ?")
            params.append(_bound(col, hi, upper=True))
        parts.append(f"({' AND '.join(conds)})")
    if free is not None and free != "":
        if not isinstance(free, str):
            raise BadInputError(f"freeText for '{col.name}' must be a string, got {free!r}")
        if split:
            parts.append(f"len(list_filter(string_split({ident}, ?), lambda x: x ILIKE ?)) > 0")
            params += [sep, free]
        else:
            parts.append(f"CAST({ident} AS VARCHAR) ILIKE ?")
            params.append(free)
    if not parts:
        return "", []
    return f"({' OR '.join(parts)})", params


def compile_filters(
    schema: TableSchema, filters: Sequence[Mapping[str, Any]] | None
) -> tuple[str, list[Any]]:
    """Compile MAST filter objects to a parameterised SQL condition.

    Parameters
    ----------
    schema : TableSchema
    filters : sequence of dict
        ``{"paramName": col, "values": [...], "separator": ";", "freeText": "Ost%"}``.
        ``values`` are exact matches (OR) converted to the column's type, or
        ``{"min": lo, "max": hi}`` inclusive ranges; ``freeText`` is a case-insensitive LIKE
        pattern; with a ``separator`` the stored value is a delimited list and a value matches
        if any element does. Values OR freeText within a filter, AND across filters; a filter
        with neither is no condition. String matching is case-insensitive.

    Returns
    -------
    sql : str
        A condition (empty when there is none), with ``?`` placeholders.
    params : list
        The values of the placeholders, in order.

    Raises
    ------
    UnknownColumnError
        For an unknown column (``Invalid column name 'x'.``).
    BadInputError
        For a malformed filter or a value that does not convert to the column's type.
    """
    if filters is None:
        return "", []
    if not isinstance(filters, Sequence) or isinstance(filters, str | bytes):
        raise BadInputError(f"filters must be a list of filter objects, got {filters!r}")
    sqls: list[str] = []
    params: list[Any] = []
    for spec in filters:
        sql, values = _filter_sql(schema, spec)
        if sql:
            sqls.append(sql)
            params += values
    return " AND ".join(sqls), params


_ORDER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(ASC|DESC)?\s*$", re.IGNORECASE)


def _parse_order(schema: TableSchema, item: str, distance: bool) -> tuple[str, str]:
    """``"col [ASC|DESC]"`` as (canonical name, direction)."""
    m = _ORDER.match(item)
    if not m:
        raise BadInputError(f"Cannot order by {item!r}")
    name, direction = m.group(1), (m.group(2) or "ASC").upper()
    if distance and name.lower() == DISTANCE.name:
        return DISTANCE.name, direction
    return schema.column(name).name, direction


def _order_term(schema: TableSchema, item: str) -> str:
    name, direction = _parse_order(schema, item, False)
    return f't."{name}" {direction}'


def _window(
    limit: int | None, offset: int, page: int | None, pagesize: int | None
) -> tuple[int | None, int]:
    if page is not None or pagesize is not None:
        if pagesize is None or pagesize <= 0:
            raise BadInputError("pagesize parameter must be > 0")
        if page is not None and page <= 0:
            raise BadInputError("page parameter must be > 0")
        return pagesize, ((page or 1) - 1) * pagesize
    if (limit is not None and limit < 0) or offset < 0:
        raise BadInputError("limit and offset must be >= 0")
    return limit, offset


def _count_table(n: int) -> pa.Table:
    return pa.table({"Column1": pa.array([n], pa.int64())})


def _where(*conds: str) -> str:
    kept = [c for c in conds if c]
    return f"WHERE {' AND '.join(kept)}" if kept else ""


def _limit_sql(limit: int | None, offset: int) -> tuple[str, list[Any]]:
    if limit is None:
        return ("OFFSET ?", [offset]) if offset else ("", [])
    return "LIMIT ? OFFSET ?", [limit, offset]


# --- Geometry: HEALPix ranges and distances to footprints -------------------------------------

HPX_ORDER = 16  # stored _hpx resolution: nside 65536, pixels of about 3 arcsec
_BASE_RES = 58.6  # degrees: the side of an order-0 HEALPix pixel
_GAP = 8  # coarse pixels: ranges closer than this are scanned as one (fewer OR terms)


def hpx_index(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """HEALPix nested indices at :data:`HPX_ORDER` of positions (the ``_hpx`` column).

    Parameters
    ----------
    ra, dec : numpy.ndarray
        Positions in degrees.

    Returns
    -------
    numpy.ndarray
        int64 indices.
    """
    import astropy.units as u
    from astropy_healpix import lonlat_to_healpix

    index = lonlat_to_healpix(np.asarray(ra, dtype=float) * u.deg,
                              np.asarray(dec, dtype=float) * u.deg, 2**HPX_ORDER, order="nested")
    return np.asarray(index, dtype=np.int64)


def hpx_ranges(ra: float, dec: float, radius: float, *, max_terms: int = 8
               ) -> list[tuple[int, int]]:
    """Inclusive ranges of :data:`HPX_ORDER` nested indices covering a disc (degrees).

    The disc is covered with pixels of a coarse order (about the radius in size); a coarse
    pixel's descendants are one contiguous range at the fine order. Ranges separated by fewer
    than a few coarse pixels are merged, and the order is coarsened until at most ``max_terms``
    ranges remain: a slightly larger scan is cheaper than many OR terms.

    Parameters
    ----------
    ra, dec, radius : float
        Disc centre and radius, degrees.
    max_terms : int
        Most ranges returned.

    Returns
    -------
    list of (int, int)
        Sorted, disjoint, inclusive ``(first, last)`` index ranges.
    """
    import astropy.units as u
    from astropy_healpix.core import healpix_cone_search

    if radius >= 90.0:
        return [(0, 12 * 4**HPX_ORDER - 1)]
    level = int(np.clip(math.floor(math.log2(_BASE_RES / max(radius, 1e-6))), 0, HPX_ORDER))
    pixels = np.unique(np.asarray(healpix_cone_search(
        ra * u.deg, dec * u.deg, radius * u.deg, nside=2**level, order="nested"), dtype=np.int64))
    while True:
        breaks = np.flatnonzero(np.diff(pixels) > _GAP)
        starts = np.concatenate([pixels[:1], pixels[breaks + 1]])
        ends = np.concatenate([pixels[breaks], pixels[-1:]])
        if len(starts) <= max_terms or level == 0:
            break
        level, pixels = level - 1, np.unique(pixels >> 2)
    shift = 2 * (HPX_ORDER - level)
    return [(int(a) << shift, ((int(b) + 1) << shift) - 1)
            for a, b in zip(starts, ends, strict=True)]


def _separation(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> np.ndarray:
    """Great-circle distance in degrees (Vincenty's formula: accurate at all separations)."""
    a1, d1, a2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    da = a2 - a1
    num = np.hypot(np.cos(d2) * np.sin(da),
                   np.cos(d1) * np.sin(d2) - np.sin(d1) * np.cos(d2) * np.cos(da))
    den = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(da)
    return np.asarray(np.degrees(np.arctan2(num, den)))


def _polygon_distance(vra: np.ndarray, vdec: np.ndarray, ra: float, dec: float) -> np.ndarray:
    """Distance (deg) from a point to polygons of k vertices each (arrays m x k); 0 inside.

    The vertices are projected gnomonically about the point: great circles become straight
    lines and the distance from the origin grows monotonically with the angle (r = tan angle),
    so the crossing-number test and the nearest point of each edge are exact in the plane.
    """
    a, d = math.radians(ra), math.radians(dec)
    axes = np.array([[math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)],
                     [-math.sin(a), math.cos(a), 0.0],
                     [-math.sin(d) * math.cos(a), -math.sin(d) * math.sin(a), math.cos(d)]])
    va, vd = np.radians(vra), np.radians(vdec)
    v = np.stack([np.cos(vd) * np.cos(va), np.cos(vd) * np.sin(va), np.sin(vd)], axis=-1)
    cosc, east, north = np.moveaxis(v @ axes.T, -1, 0)
    visible = (cosc > 1e-9).all(axis=1)
    safe = np.where(cosc > 1e-9, cosc, 1.0)
    x, y = east / safe, north / safe
    bx, by = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    crosses = (y > 0) != (by > 0)
    x_at = x - y * (bx - x) / np.where(crosses, by - y, 1.0)
    inside = (crosses & (x_at > 0)).sum(axis=1) % 2 == 1
    ex, ey = bx - x, by - y
    length2 = ex * ex + ey * ey
    t = np.clip(-(x * ex + y * ey) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    nearest = np.hypot(x + t * ex, y + t * ey).min(axis=1)
    dist = np.where(inside, 0.0, np.degrees(np.arctan(nearest)))
    if not visible.all():  # vertices 90 degrees away or more (enormous cones): nearest vertex
        dist[~visible] = _separation(ra, dec, vra[~visible], vdec[~visible]).min(axis=1)
    return np.asarray(dist)


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_DIGITS = pa.array(list("0123456789+-."))


def _parse_regions(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shapes, numbers per row, start of each row in the numbers, and all numbers.

    Rows are ``SHAPE [frame] n1 n2 ...``. The fast path assumes that; a row with other words
    (unions of shapes, for instance) keeps 0 numbers and is measured as a point.
    """
    import pyarrow.compute as pc

    tokens = pc.utf8_split_whitespace(arr.fill_null(""))
    offsets = tokens.offsets.to_numpy()
    values = tokens.values
    counts = np.diff(offsets)
    last = max(len(values) - 1, 0)
    firsts = values.take(pa.array(np.minimum(offsets[:-1], last)))
    shape = np.asarray(pc.utf8_upper(firsts).to_numpy(zero_copy_only=False), dtype=object)
    seconds = values.take(pa.array(np.minimum(offsets[:-1] + 1, last)))
    framed = ~pc.is_in(pc.utf8_slice_codeunits(seconds, 0, 1), _DIGITS).to_numpy(
        zero_copy_only=False)
    skip = np.where(counts > 0, 1 + framed, counts)
    position = np.arange(len(values)) - np.repeat(offsets[:-1], counts)
    mask = position >= np.repeat(skip, counts)
    picked = values.filter(pa.array(mask))
    per_row = np.maximum(counts - skip, 0)
    try:
        numbers = pc.cast(picked, pa.float64()).to_numpy()
    except pa.ArrowInvalid:  # some row holds more words: find them, drop their numbers
        ok = pc.match_substring_regex(picked, _NUMBER).to_numpy(zero_copy_only=False)
        row_of = np.repeat(np.arange(len(counts)), per_row)
        bad = np.unique(row_of[~ok])
        keep = ~np.isin(row_of, bad)
        numbers = pc.cast(picked.filter(pa.array(keep)), pa.float64()).to_numpy()
        per_row[bad] = 0
        shape[bad] = ""
    return shape, per_row, np.cumsum(per_row) - per_row, numbers


def _parse_regions_small(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray]:
    """:func:`_parse_regions` for a few rows, token by token."""
    shapes: list[str] = []
    counts: list[int] = []
    numbers: list[float] = []
    for text in arr.to_pylist():
        tokens = (text or "").split()
        values: list[float] = []
        if len(tokens) > 1:
            skip = 1 if tokens[1][0] in "0123456789+-." else 2
            try:
                values = [float(t) for t in tokens[skip:]]
            except ValueError:  # other words: measured as a point
                values = []
        shapes.append(tokens[0].upper() if tokens and values else "")
        counts.append(len(values))
        numbers.extend(values)
    per_row = np.array(counts, dtype=np.int64)
    return (np.array(shapes, dtype=object), per_row, np.cumsum(per_row) - per_row,
            np.array(numbers, dtype=float))


def footprint_distance(regions: Any, ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float
                       ) -> np.ndarray:
    """Distance (deg) from (ra0, dec0) to each footprint, 0 inside it (MAST's ``distance``).

    Parameters
    ----------
    regions : pyarrow string array or sequence of str or None
        STC-S ``POLYGON [frame] ra dec ...`` or ``CIRCLE [frame] ra dec r``; null, empty or
        other shapes mean a point at (ra, dec). Parsed with Arrow kernels, not per row.
    ra, dec : numpy.ndarray
        Row positions (degrees).
    ra0, dec0 : float
        The search position (degrees).

    Returns
    -------
    numpy.ndarray
    """
    out = _separation(ra0, dec0, ra, dec)
    arr = regions.combine_chunks() if isinstance(regions, pa.ChunkedArray) else (
        regions if isinstance(regions, pa.Array) else pa.array(list(regions), pa.string()))
    if len(arr) == 0:
        return out
    # Arrow kernels win on many rows; a plain loop on the few rows of a typical cone.
    parse = _parse_regions if len(arr) > 64 else _parse_regions_small
    shape, per_row, start, numbers = parse(arr)
    circle = (shape == "CIRCLE") & (per_row == 3)
    if circle.any():
        c = numbers[start[circle][:, None] + np.arange(3)]
        out[circle] = np.maximum(_separation(ra0, dec0, c[:, 0], c[:, 1]) - c[:, 2], 0.0)
    polygon = (shape == "POLYGON") & (per_row >= 6) & (per_row % 2 == 0)
    for k in np.unique(per_row[polygon]):
        rows = np.flatnonzero(polygon & (per_row == k))
        v = numbers[start[rows][:, None] + np.arange(k)]
        # A closed ring repeats its first vertex: a zero-length edge, harmless to both tests.
        out[rows] = _polygon_distance(v[:, 0::2], v[:, 1::2], ra0, dec0)
    return out


# --- Execution -----------------------------------------------------------------------------------


def _cone_sql(archive: Archive, schema: TableSchema, cone: Cone) -> tuple[str, list[Any]]:
    """HEALPix ranges and a declination band, both widened by the largest footprint.

    Both are plain comparisons on stored columns, which DuckDB pushes into the scan (a
    great-circle test in SQL costs more to plan than the rows it removes); the exact test is
    :func:`footprint_distance` on what comes back.
    """
    assert schema.ra is not None and schema.dec is not None
    reach = archive.max_footprint_radius(schema.name) if schema.footprint else 0.0
    wide = min(cone.radius + reach + 1e-9, 180.0)
    ranges = hpx_ranges(cone.ra, cone.dec, wide)
    hpx = "(" + " OR ".join("t._hpx BETWEEN ? AND ?" for _ in ranges) + ")"
    band = f't."{schema.dec}" BETWEEN ? AND ?'
    params = [v for pair in ranges for v in pair] + [cone.dec - wide, cone.dec + wide]
    return f"{hpx} AND {band}", params


def _in_cone(archive: Archive, schema: TableSchema, cone: Cone, cols: list[str], where: str,
             params: list[Any]) -> pa.Table:
    """Rows whose footprint reaches the cone: ``cols``, ``_row`` and ``distance`` (arcsec)."""
    assert schema.ra is not None and schema.dec is not None
    cone_where, cone_params = _cone_sql(archive, schema, cone)
    geometry = [c for c in (schema.ra, schema.dec, schema.footprint) if c and c not in cols]
    select_list = ", ".join(f't."{n}"' for n in [*cols, *geometry]) + ", t._row"
    found = archive.execute(f"SELECT {select_list} FROM {schema.name} t "
                            f"{_where(cone_where, where)}", [*cone_params, *params])
    regions = (found.column(schema.footprint) if schema.footprint
               else pa.nulls(found.num_rows, pa.string()))
    dist = footprint_distance(regions, found.column(schema.ra).to_numpy(),
                              found.column(schema.dec).to_numpy(), cone.ra, cone.dec)
    keep = dist <= cone.radius + 1e-12
    found = found.filter(pa.array(keep)).drop_columns(geometry)
    return found.append_column(DISTANCE.name, pa.array(dist[keep] * 3600.0))


def _sort(table: pa.Table, schema: TableSchema, order_by: Sequence[str] | None) -> pa.Table:
    keys = []
    for item in order_by or ():
        name, direction = _parse_order(schema, item, True)
        keys.append((name, "descending" if direction == "DESC" else "ascending"))
    return table.sort_by([*keys, ("_row", "ascending")])


def select(
    archive: Archive,
    table: str,
    columns: str = "*",
    filters: Sequence[Mapping[str, Any]] | None = None,
    cone: Cone | None = None,
    *,
    order_by: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    page: int | None = None,
    pagesize: int | None = None,
    count: bool = False,
) -> QueryResult:
    """Run a MAST-style query on an archive table.

    Parameters
    ----------
    archive : Archive
    table : str
        ``observations``, ``products`` or ``hipparcos``.
    columns : str
        MAST ``columns`` (see :func:`compile_columns`); ``COUNT_BIG(*)`` counts.
    filters : list of dict, optional
        MAST filters (see :func:`compile_filters`).
    cone : Cone, optional
        Keep rows whose footprint (or position) comes within the cone, and append
        ``distance``: arcsec from the cone centre to the footprint, 0 inside it.
    order_by : list of str, optional
        ``"column [ASC|DESC]"`` terms (``distance`` too in cones), applied before the canonical
        order, which always breaks ties.
    limit, offset : int, optional
        Window of the result; or ``page`` (1-based) with ``pagesize``.
    count : bool
        Count instead of fetching rows.

    Returns
    -------
    QueryResult
        The rows of the window (or the count), and the size of the whole result.
    """
    schema = get_schema(table)
    if cone is not None and schema.ra is None:
        raise BadInputError(f"Table {table!r} has no position for a cone search")
    projection = compile_columns(schema, columns, distance=cone is not None)
    where, params = compile_filters(schema, filters)
    limit, offset = _window(limit, offset, page, pagesize)
    counting = count or projection.count
    names = [n for n in projection.names if n != DISTANCE.name]
    for item in order_by or ():
        _parse_order(schema, item, cone is not None)  # validate before running anything
    if cone is not None:
        found = _in_cone(archive, schema, cone, [] if counting else names, where, params)
        if counting:
            return QueryResult(_count_table(found.num_rows), 1)
        found = _sort(found, schema, order_by)
        stop = None if limit is None else offset + limit
        wanted = [*names, DISTANCE.name]
        return QueryResult(found.slice(offset, None if stop is None else limit).select(wanted),
                           found.num_rows)
    if counting:
        return QueryResult(_count_table(_count(archive, table, where, params)), 1)
    cols = ", ".join(f't."{n}"' for n in names) or "NULL AS _none"
    if limit is not None and not order_by:
        return _page(archive, table, cols, names, where, params, limit, offset)
    order = ", ".join([*(_order_term(schema, o) for o in order_by or ()), "t._row"])
    window, window_params = _limit_sql(limit, offset)
    result = archive.execute(f"SELECT {cols} FROM {table} t {_where(where)} ORDER BY {order} "
                             f"{window}", [*params, *window_params])
    if limit is None or 0 < result.num_rows < limit:
        total = offset + result.num_rows
    else:
        total = _count(archive, table, where, params)
    return QueryResult(result.select(names), total)


def _count(archive: Archive, table: str, where: str, params: list[Any]) -> int:
    found = archive.execute(f"SELECT count(*) FROM {table} t {_where(where)}", params)
    return int(found.column(0)[0].as_py())


def _page(archive: Archive, table: str, cols: str, names: list[str], where: str,
          params: list[Any], limit: int, offset: int) -> QueryResult:
    """A window in canonical order, in two cheap steps instead of one expensive sort.

    The rows of a window are exactly the matching rows whose ``_row`` lies between the
    window's first and last ``_row``: find those two (a sort of one integer column), then
    fetch the window alone.
    """
    bounds = archive.execute(
        f"SELECT min(_row) AS lo, max(_row) AS hi, count(*) AS n FROM (SELECT t._row FROM "
        f"{table} t {_where(where)} ORDER BY t._row LIMIT ? OFFSET ?)", [*params, limit, offset])
    lo, hi, n = (bounds.column(i)[0].as_py() for i in range(3))
    total = offset + n if 0 < n < limit else _count(archive, table, where, params)
    if not n:
        empty = archive.execute(f"SELECT {cols} FROM {table} t WHERE false")
        return QueryResult(empty.select(names), total)
    rows = archive.execute(f"SELECT {cols} FROM {table} t {_where(where, 't._row BETWEEN ? AND ?')}"
                           f" ORDER BY t._row", [*params, lo, hi])
    return QueryResult(rows.select(names), total)


def products_for(archive: Archive, obsids: Sequence[int], columns: str = "*") -> pa.Table:
    """The products of observations ``obsids`` (``Mast.Caom.Products``), in canonical order.

    Parameters
    ----------
    archive : Archive
    obsids : sequence of int
    columns : str
        MAST ``columns`` of the products table.

    Returns
    -------
    pyarrow.Table
    """
    projection = compile_columns(PRODUCTS, columns)
    ids = sorted({int(i) for i in obsids})
    cols = ", ".join(f'"{n}"' for n in projection.names)
    if not ids:
        return archive.execute(f"SELECT {cols} FROM products WHERE false")
    # A literal IN list of placeholders is pushed into the scan (zone maps prune by obsID).
    marks = ", ".join("?" * len(ids))
    return archive.execute(
        f"SELECT {cols} FROM products WHERE obsID IN ({marks}) ORDER BY _row", ids
    )


def find_product(archive: Archive, uri: str) -> dict[str, Any] | None:
    """The file behind ``uri`` (a product ``dataURI``), or None.

    Returns
    -------
    dict or None
        ``uri``, ``filename``, ``size``, ``seed``, ``collection``, ``obs_id``, ``instrument``,
        ``target`` (what :class:`mastkit.server.files.ProductFile` needs).
    """
    found = archive.execute(
        'SELECT "dataURI" AS uri, "productFilename" AS filename, size, _seed AS seed, '
        "obs_collection AS collection, obs_id, _instrument AS instrument, _target AS target "
        'FROM products WHERE "dataURI" = ? LIMIT 1',
        [uri],
    )
    rows: list[dict[str, Any]] = found.to_pylist()
    return rows[0] if rows else None
