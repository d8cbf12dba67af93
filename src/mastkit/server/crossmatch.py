"""Crossmatch services: ``Mast.Caom.Crossmatch`` and ``Mast.NAME.Crossmatch`` (NAME a catalogue).

The request uploads its positions as the top-level ``data``: a json-format table
(``{"fields": [{"name": "ra", "type": "float"}, ...], "data": [{"ra": 210.8, ...}, ...]}``,
mast-protocol.md 4.5); ``params`` name its position columns (``raColumn``, ``decColumn``,
default ``ra``/``dec``) and the ``radius`` (degrees, default 0.002).

The reply has one row per (input row, match) pair, ordered by input row, then separation:
the input's columns as uploaded, ``inputRow`` (0-based index of the input row), ``MatchID``
(the source's id: TIC ``ID``, ``HIP``, CAOM ``obsid``, or a user catalogue's row number),
``MatchRA``, ``MatchDEC``, ``dstArcSec`` (arcsec; for CAOM the distance to the footprint, 0
inside it), then the matched source's columns (its own position excepted). A source column
whose name an earlier column already has is prefixed ``Match_``. Input rows without a match
or without a usable position contribute no row.

How: every input position's HEALPix pixel at a coarse order (pixels at least four times the
search radius wide) and that pixel's neighbours cover the search disc; one DuckDB hash join of
those cells against the catalogue's stored pixel index (``_hpx`` shifted to the coarse order)
gives the candidates, and the exact great-circle distance, computed in the same statement,
keeps the matches. No Python loop over positions.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import DecodeError
from mastkit.protocol import Field, MashupRequest
from mastkit.server.catalog_services import lookup
from mastkit.server.catalogs import SEPARATION, Catalog
from mastkit.server.geometry import HPX_ORDER, numbers_distance
from mastkit.server.handlers import Context, RowLimitExceeded, ServiceFailure, cone_from
from mastkit.server.responses import TableResult
from mastkit.server.schema import OBSERVATIONS, TableSchema
from mastkit.tables import decode_rows, fields_for

__all__ = [
    "CROSSMATCH",
    "DEFAULT_RADIUS",
    "MAX_CAOM_ROWS",
    "MAX_COLUMNS",
    "MAX_RADIUS",
    "MAX_ROWS",
    "crossmatch",
    "match_points",
]

CROSSMATCH = re.compile(r"^mast\.([A-Za-z][A-Za-z0-9_]*)\.crossmatch$", re.IGNORECASE)
DEFAULT_RADIUS = 0.002
#: Largest search radius (deg).
MAX_RADIUS = 1.0
#: Most input rows per request (catalogues), and against CAOM footprints.
MAX_ROWS = 100_000
MAX_CAOM_ROWS = 10_000
#: Most columns an upload may have.
MAX_COLUMNS = 100
_ADDED = ("inputRow", "MatchID", "MatchRA", "MatchDEC", SEPARATION.name)
_ENCODER = msgspec.json.Encoder()


# --- the upload ---------------------------------------------------------------------------------


def _fail(service: str, text: str) -> ServiceFailure:
    return ServiceFailure(f"{service}: {text}")


def _upload(service: str, data: Any, limit: int) -> tuple[pa.Table, dict[str, str]]:
    """The uploaded json table as Arrow and its declared types, or a failure saying why not."""
    if data is None:
        raise _fail(
            service,
            "upload the positions as the request's 'data': a json table "
            '{"fields": [...], "data": [{...}, ...]}.',
        )
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise _fail(service, "'data' is not valid JSON.") from None
    if isinstance(data, list):
        data = {"data": data}
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise _fail(
            service,
            "'data' must be a json table: an object with a 'data' list of "
            "row objects (and 'fields').",
        )
    rows: list[Any] = data["data"]
    if len(rows) > limit:
        raise _fail(
            service,
            f"the upload has {len(rows):,} rows; at most {limit:,} are "
            "accepted per request: split it.",
        )
    if not all(isinstance(r, dict) for r in rows):
        raise _fail(service, "every row of 'data' must be an object.")
    declared = data.get("fields")
    if declared is None:
        names = list(dict.fromkeys(k for r in rows[:1000] for k in r))
        fields = [Field(str(n), "") for n in names]
    elif isinstance(declared, list) and all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in declared
    ):
        fields = [Field(f["name"], str(f.get("type") or "")) for f in declared]
    else:
        raise _fail(service, '\'fields\' must be a list of {"name": ..., "type": ...}.')
    names = [f.name for f in fields]
    if len(names) > MAX_COLUMNS:
        raise _fail(service, f"the upload has {len(names)} columns; at most {MAX_COLUMNS}.")
    if any(not n.strip() or len(n) > 128 for n in names):
        raise _fail(service, "upload column names must be 1 to 128 characters long.")
    if len({n.lower() for n in names}) != len(names):
        raise _fail(service, "upload column names must differ (case-insensitively).")
    typed = all(f.type for f in fields)
    try:
        table = decode_rows(fields if typed else [], _ENCODER.encode(rows))
    except DecodeError as exc:
        raise _fail(service, f"the upload cannot be read: {exc}") from None
    if not typed:  # some types undeclared: keep the named columns, typed by their values
        present = set(table.column_names)
        table = pa.table(
            {n: table.column(n) if n in present else pa.nulls(len(rows)) for n in names}
        )
    return table, {f.name: f.type for f in fields if f.type}


def _position(service: str, table: pa.Table, param: str, value: Any) -> str:
    name = value if value is not None else ("ra" if param == "raColumn" else "dec")
    if not isinstance(name, str):
        raise _fail(service, f"'{param}' must be a column name.")
    by_lower = {n.lower(): n for n in table.column_names}
    found: str | None = by_lower.get(name.strip().lower())
    if found is None:
        raise _fail(
            service,
            f"'{param}' {name!r} is not a column of the upload (it has "
            f"{', '.join(table.column_names) or 'none'}).",
        )
    return found


def _degrees(service: str, table: pa.Table, column: str) -> np.ndarray:
    values = table.column(column)
    try:
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            values = pc.cast(pc.utf8_trim_whitespace(values), pa.float64())
        return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _fail(
            service, f"column {column!r} of the upload is not numeric (decimal degrees)."
        ) from None


# --- matching -----------------------------------------------------------------------------------


def _order_for(radius: float) -> int:
    """The finest HEALPix order whose pixels are at least 4 radii wide (at most the stored)."""
    if radius <= 0:
        return HPX_ORDER
    # Mean pixel width at order k: sqrt(4 pi / (12 * 4**k)) rad; pixels vary about 2x in shape.
    width0 = math.degrees(math.sqrt(math.pi / 3))
    order = math.floor(math.log2(width0 / (4 * radius)))
    return max(0, min(HPX_ORDER, order))


def _cells(ra: np.ndarray, dec: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(input index, pixel) pairs: each position's pixel at ``order`` and its neighbours."""
    import astropy.units as u
    from astropy_healpix import lonlat_to_healpix, neighbours

    nside = 2**order
    own = np.asarray(
        lonlat_to_healpix(ra * u.deg, dec * u.deg, nside, order="nested"), dtype=np.int64
    )
    with warnings.catch_warnings():
        # Pixels at the corners of the 12 base pixels have 7 neighbours: the 8th comes back
        # as -1 (dropped below) after a harmless invalid-value warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        around = np.asarray(neighbours(own, nside, order="nested"), dtype=np.int64)  # (8, n)
    cells = np.sort(np.vstack([own[None, :], around]).T, axis=1)  # (n, 9)
    keep = cells >= 0
    keep[:, 1:] &= cells[:, 1:] != cells[:, :-1]  # a pixel may neighbour itself twice
    index = np.broadcast_to(np.arange(len(ra))[:, None], cells.shape)
    return index[keep], cells[keep]


_SEP_SQL = (
    'degrees(2 * asin(least(1.0, sqrt(pow(sin(radians(c."{dec}" - q.dec) / 2), 2) + '
    'cos(radians(q.dec)) * cos(radians(c."{dec}")) * '
    'pow(sin(radians(c."{ra}" - q.ra) / 2), 2))))) * 3600'
)


def match_points(
    archive: Any,
    schema: TableSchema,
    ra: np.ndarray,
    dec: np.ndarray,
    radius: float,
    columns: list[str],
    limit: int,
) -> pa.Table:
    """Matches of positions in a point catalogue: ``_i``, ``_sep`` (arcsec), ``_crow``, columns.

    Parameters
    ----------
    archive : Archive
    schema : TableSchema
        The catalogue (with ``ra``/``dec`` and a ``_hpx`` column at :data:`HPX_ORDER`).
    ra, dec : numpy.ndarray
        Input positions (degrees, finite).
    radius : float
        Degrees.
    columns : list of str
        Catalogue columns to return (validated names).
    limit : int
        Most pairs returned (the statement stops there).

    Returns
    -------
    pyarrow.Table
        Ordered by input index, separation and catalogue order.
    """
    assert schema.ra is not None and schema.dec is not None
    order = _order_for(radius)
    index, cells = _cells(ra, dec, order)
    upload = pa.table(
        {
            "i": pa.array(index, pa.int64()),
            "cell": pa.array(cells, pa.int64()),
            "ra": pa.array(ra[index]),
            "dec": pa.array(dec[index]),
        }
    )
    picked = ", ".join(f'c."{n}"' for n in columns)
    sep = _SEP_SQL.format(ra=schema.ra, dec=schema.dec)
    sql = (
        f"SELECT * FROM (SELECT q.i AS _i, {sep} AS _sep, c._row AS _crow"
        f"{', ' + picked if picked else ''} FROM _xm_upload q JOIN {schema.name} c "
        f"ON (c._hpx >> {2 * (HPX_ORDER - order)}) = q.cell) WHERE _sep <= ? "
        "ORDER BY _i, _sep, _crow LIMIT ?"
    )
    return archive.execute(sql, [radius * 3600.0 + 1e-9, limit], tables={"_xm_upload": upload})


def _match_caom(
    archive: Any, ra: np.ndarray, dec: np.ndarray, radius: float, columns: list[str], limit: int
) -> pa.Table:
    """Matches against observation footprints: distance to the footprint, 0 inside it."""
    reach = radius + archive.max_footprint_radius("observations")
    order = _order_for(reach)
    index, cells = _cells(ra, dec, order)
    upload = pa.table(
        {
            "i": pa.array(index, pa.int64()),
            "cell": pa.array(cells, pa.int64()),
            "ra": pa.array(ra[index]),
            "dec": pa.array(dec[index]),
        }
    )
    picked = ", ".join(f'c."{n}"' for n in columns)
    sep = _SEP_SQL.format(ra="s_ra", dec="s_dec")
    # Candidates: observations whose centre is within the radius plus their own footprint's.
    found = archive.execute(
        f"SELECT * FROM (SELECT q.i AS _i, {sep} / 3600 AS _centre, c._fp_radius AS _reach, "
        f"c._fp AS _fp, c._row AS _crow{', ' + picked if picked else ''} FROM _xm_upload q "
        f"JOIN observations c ON (c._hpx >> {2 * (HPX_ORDER - order)}) = q.cell) "
        "WHERE _centre <= ? + coalesce(_reach, 180) ORDER BY _i, _crow",
        [radius + 1e-9],
        tables={"_xm_upload": upload},
    )
    inputs = found.column("_i").to_numpy()
    centre = found.column("_centre").to_numpy()
    dist = np.empty(len(inputs))
    starts: list[int] = (
        np.flatnonzero(np.r_[True, inputs[1:] != inputs[:-1]]).tolist() if len(inputs) else []
    )
    stops = [*starts[1:], len(inputs)]
    footprints = found.column("_fp")
    for start, stop in zip(starts, stops, strict=True):
        i = int(inputs[start])
        dist[start:stop] = numbers_distance(
            footprints.slice(start, stop - start), centre[start:stop], float(ra[i]), float(dec[i])
        )
    keep = np.flatnonzero(dist <= radius + 1e-12)
    table = found.take(pa.array(keep)).drop_columns(["_centre", "_reach", "_fp"])
    table = table.append_column("_sep", pa.array(dist[keep] * 3600.0))
    table = table.sort_by([("_i", "ascending"), ("_sep", "ascending"), ("_crow", "ascending")])
    return table.slice(0, limit)


# --- the service --------------------------------------------------------------------------------


def _unique(name: str, taken: set[str]) -> str:
    while name.lower() in taken:
        name = f"Match_{name}"
    taken.add(name.lower())
    return name


def _assemble(
    upload: pa.Table,
    upload_fields: list[Field],
    matches: pa.Table,
    schema: TableSchema,
    id_column: str | None,
    id_type: str,
    columns: list[str],
) -> tuple[pa.Table, tuple[Field, ...]]:
    rows = matches.column("_i")
    out = upload.take(rows)
    fields = list(upload_fields)
    taken = {n.lower() for n in out.column_names}
    declared = {c.name: c.mast_type for c in schema.columns}
    ids = matches.column(id_column) if id_column else matches.column("_crow")
    added = [
        (rows, "int"),
        (ids, id_type),
        (matches.column("_ra"), "float"),
        (matches.column("_dec"), "float"),
        (matches.column("_sep"), "float"),
    ]
    for name, (values, kind) in zip(_ADDED, added, strict=True):
        unique = _unique(name, taken)
        out = out.append_column(unique, values)
        fields.append(Field(unique, kind))
    for name in columns:
        unique = _unique(name, taken)
        out = out.append_column(unique, matches.column(name))
        fields.append(Field(unique, declared[name]))
    return out, tuple(fields)


def crossmatch(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Caom.Crossmatch`` / ``Mast.NAME.Crossmatch``: the matches of uploaded positions."""
    service = request.service
    match = CROSSMATCH.match(service.strip())
    if match is None:
        raise ServiceFailure(f"Mashup: Unable to Find Service Adaptor for service: {service}")
    caom = match.group(1).lower() == "caom"
    catalog: Catalog | None = None if caom else lookup(context.archive, match.group(1), service)
    params = request.params
    radius = cone_from(service, 0, 0, params.get("radius"), DEFAULT_RADIUS).radius
    if radius > MAX_RADIUS:
        raise _fail(service, f"radius must be at most {MAX_RADIUS} degrees, not {radius}.")
    upload, declared = _upload(service, request.data, MAX_CAOM_ROWS if caom else MAX_ROWS)
    ra_col = _position(service, upload, "raColumn", params.get("raColumn"))
    dec_col = _position(service, upload, "decColumn", params.get("decColumn"))
    ra, dec = _degrees(service, upload, ra_col), _degrees(service, upload, dec_col)
    usable = np.isfinite(ra) & np.isfinite(dec)
    if ((dec[usable] < -90) | (dec[usable] > 90)).any():
        raise _fail(service, f"declinations in {dec_col!r} must be within [-90, 90] degrees.")
    schema = OBSERVATIONS if caom else catalog.schema  # type: ignore[union-attr]
    assert schema.ra is not None and schema.dec is not None
    id_column = "obsid" if caom else catalog.id_column  # type: ignore[union-attr]
    columns = [n for n in schema.names if n not in (schema.ra, schema.dec)]
    selected = [*columns, schema.ra, schema.dec]
    positions = np.flatnonzero(usable)
    limit = context.row_limit + 1
    if caom:
        found = _match_caom(
            context.archive, ra[positions] % 360.0, dec[positions], radius, selected, limit
        )
    else:
        found = match_points(
            context.archive, schema, ra[positions] % 360.0, dec[positions], radius, selected, limit
        )
    if found.num_rows > context.row_limit:
        raise RowLimitExceeded(found.num_rows, context.row_limit)
    # Back to the upload's row numbers, and the position columns under their match names.
    found = found.set_column(
        found.schema.get_field_index("_i"),
        "_i",
        pa.array(positions[found.column("_i").to_numpy()], pa.int64()),
    )
    found = found.append_column("_ra", found.column(schema.ra))
    found = found.append_column("_dec", found.column(schema.dec))
    id_type = next((c.mast_type for c in schema.columns if c.name == id_column), "int")
    upload_fields = list(fields_for(upload, declared))
    table, fields = _assemble(upload, upload_fields, found, schema, id_column, id_type, columns)
    return TableResult(table, fields)
