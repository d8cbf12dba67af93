"""Crossmatch: every row of a user's table against a catalogue (or CAOM), on the server.

MAST's crossmatch services (``Mast.Tic.Crossmatch``, ``Mast.Caom.Crossmatch``,
``Mast.NAME.Crossmatch``; mast-protocol.md 4.5) take the positions as an uploaded json table
(the request's top-level ``data``) with ``raColumn``, ``decColumn`` and ``radius`` (degrees) as
parameters. :func:`crossmatch_plan` uploads only what the match needs: each row's position and
its row number in the input (``input_row``), so whatever the input holds, nothing else leaves
the machine. Large inputs are cut into chunks of ``chunk_size`` rows, sent concurrently (at
most the client's ``concurrency`` at once), and the answers put back together in input order.

The result has one row per (input row, match) pair: ``input_row`` first, then the catalogue's
columns, then ``separation`` (arcsec). Input rows without a match within the radius are absent;
``keep_input=True`` adds the input's own columns after ``input_row``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, DecodeError, ServiceError
from mastkit.protocol.envelopes import Field
from mastkit.services._catalog_specs import CatalogSpec, crossmatch_service, with_types
from mastkit.services._plan import ColumnsConfig, Gather, Plan, Query, Session
from mastkit.services._table_input import Positions, as_arrow, positions
from mastkit.services.coords import parse_radius
from mastkit.services.criteria import fields_from_config
from mastkit.tables import ResultTable, column_metadata

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CROSSMATCH_RADIUS",
    "INPUT_ROW",
    "SEPARATION",
    "chunk_bounds",
    "crossmatch_plan",
    "upload_table",
]

logger = logging.getLogger("mastkit.services")

#: MAST's default crossmatch radius, in degrees (7.2 arcsec).
DEFAULT_CROSSMATCH_RADIUS = 0.002
#: Input rows per crossmatch request.
DEFAULT_CHUNK_SIZE = 5000
#: The column holding each match's row number in the input table (0-based).
INPUT_ROW = "input_row"
#: The column holding each match's separation from its input position, in arcsec.
SEPARATION = "separation"
# The uploaded columns: short (every row repeats them, and the request is percent-encoded)
# and "_"-prefixed, as catalogue columns never are, so the echo cannot collide with them.
_UP_ROW, _UP_RA, _UP_DEC = "_i", "_ra", "_de"
# Decimals kept of uploaded positions: 1e-10 deg is 0.4 micro-arcsec, far below any radius.
_DECIMALS = 10
_SEPARATIONS = ("dstArcSec", "distance", "separation", "Distance", "ang_sep", "dist", "sep")
_MAX_CHUNK = 100_000


def chunk_bounds(rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` bounds of consecutive chunks covering ``rows`` rows.

    Examples
    --------
    >>> chunk_bounds(7, 3)
    [(0, 3), (3, 6), (6, 7)]
    >>> chunk_bounds(0, 3)
    []
    """
    return [(start, min(start + chunk_size, rows)) for start in range(0, rows, chunk_size)]


def upload_table(
    where: Positions, start: int, stop: int, *, decimals: int | None = _DECIMALS
) -> dict[str, Any]:
    """The ``data`` of one crossmatch request: rows ``start:stop`` as a MAST json table.

    Positions are rounded to ``decimals`` (None: sent exactly, as a cone query sends them).

    Examples
    --------
    >>> import numpy as np
    >>> p = Positions(np.array([10.0, 20.0]), np.array([-5.0, 5.0]), "ra", "dec")
    >>> upload_table(p, 1, 2)["data"]
    [{'_i': 1, '_ra': 20.0, '_de': 5.0}]
    """
    ras, decs = where.ra[start:stop], where.dec[start:stop]
    if decimals is not None:
        ras, decs = np.round(ras, decimals), np.round(decs, decimals)
    return {
        "fields": [
            {"name": _UP_ROW, "type": "int"},
            {"name": _UP_RA, "type": "float"},
            {"name": _UP_DEC, "type": "float"},
        ],
        "data": [
            {_UP_ROW: start + i, _UP_RA: ra, _UP_DEC: dec}
            for i, (ra, dec) in enumerate(zip(ras.tolist(), decs.tolist(), strict=True))
        ],
    }


def _chunk(service: str, params: Mapping[str, Any], data: Any) -> Plan[ResultTable]:
    table: ResultTable = yield Query(service, params, data=data)
    return table


def _column(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    by_lower = {n.lower(): n for n in names}
    for name in wanted:
        if name in names:
            return name
        if name.lower() in by_lower:
            return by_lower[name.lower()]
    return None


def _angular_arcsec(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> Any:
    """Great-circle separation in arcsec (haversine, stable at small angles)."""
    r1, d1, r2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))) * 3600.0


def _separation(arrow: pa.Table, spec: CatalogSpec, rows: Any, where: Positions) -> pa.Array:
    """The server's separation column, or one computed from the match positions."""
    name = _column(arrow.column_names, (spec.separation, *_SEPARATIONS))
    if name is not None:
        return arrow.column(name).cast(pa.float64()).combine_chunks()
    from mastkit.services._table_input import find_coordinate_columns

    candidates = [n for n in arrow.column_names if n not in (_UP_RA, _UP_DEC, _UP_ROW)]
    try:
        ra_name, dec_name = find_coordinate_columns(candidates)
    except BadInputError:
        raise DecodeError(
            f"The crossmatch reply has neither a separation column nor match positions "
            f"(columns: {', '.join(arrow.column_names)}).",
            service=spec.crossmatch,
        ) from None
    ra = arrow.column(ra_name).cast(pa.float64()).to_numpy()
    dec = arrow.column(dec_name).cast(pa.float64()).to_numpy()
    return pa.array(_angular_arcsec(where.ra[rows], where.dec[rows], ra, dec), pa.float64())


def _assemble(
    parts: Sequence[ResultTable],
    spec: CatalogSpec,
    service: str,
    where: Positions,
    config: Mapping[str, Mapping[str, Any]],
) -> pa.Table:
    useful = [p for p in parts if p.arrow.num_columns]
    if not useful:  # no reply declared its columns: the catalogue's, from its config
        declared = [
            f for f in fields_from_config(config) if f.name not in (spec.separation, *_SEPARATIONS)
        ]
        fields = [Field(INPUT_ROW, "long"), *declared, Field(SEPARATION, "float")]
        return ResultTable.empty(fields).arrow
    arrow = ResultTable.concat([p for p in useful if len(p)] or useful[:1]).arrow
    index_name = _column(arrow.column_names, (_UP_ROW,))
    if index_name is None:
        raise DecodeError(
            f"{service} did not send back the input row numbers ({_UP_ROW!r}), so matches "
            f"cannot be tied to input rows (columns: {', '.join(arrow.column_names)}).",
            service=service,
        )
    rows = arrow.column(index_name).cast(pa.int64()).combine_chunks()
    if rows.null_count or (
        len(rows) and (pc.min(rows).as_py() < 0 or pc.max(rows).as_py() >= len(where))
    ):
        raise DecodeError(
            f"{service} sent back input row numbers that were never sent.", service=service
        )
    row_numbers = rows.to_numpy()
    separation = _separation(arrow, spec, row_numbers, where)
    drop = {index_name, _UP_RA, _UP_DEC}
    sep_name = _column(arrow.column_names, (spec.separation, *_SEPARATIONS))
    if sep_name is not None:
        drop.add(sep_name)
    # Echoed upload columns, and the server's own row numbers (they count within a chunk).
    drop.update(
        n for n in arrow.column_names if n.lower() in (_UP_ROW, _UP_RA, _UP_DEC, "inputrow")
    )
    kept = [n for n in arrow.column_names if n not in drop]
    out = pa.table({INPUT_ROW: rows, **{n: arrow.column(n) for n in kept}, SEPARATION: separation})
    order = pc.sort_indices(out, sort_keys=[(INPUT_ROW, "ascending"), (SEPARATION, "ascending")])
    return out.take(order)


def _with_input(result: pa.Table, source: pa.Table) -> pa.Table:
    """``result`` with the input's columns (taken by ``input_row``) after ``input_row``."""
    taken = source.take(result.column(INPUT_ROW))
    names = set(result.column_names)
    columns: dict[str, Any] = {INPUT_ROW: result.column(INPUT_ROW)}
    for name in taken.column_names:
        label = name if name not in names else f"input_{name}"
        while label in names or label in columns:
            label = f"input_{label}"
        columns[label] = taken.column(name)
    for name in result.column_names[1:]:
        columns[name] = result.column(name)
    return pa.table(columns)


def crossmatch_plan(
    session: Session,
    table: Any,
    catalog: Any = "TIC",
    radius: Any = None,
    *,
    ra: str | None = None,
    dec: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int | None = None,
    keep_input: bool = False,
) -> Plan[ResultTable]:
    """Match every row of ``table`` against ``catalog`` within ``radius`` (see the module).

    Raises
    ------
    BadInputError, UnknownColumnError
        For an unreadable table, missing or invalid positions, a bad radius or chunk size, or
        a catalogue without a crossmatch service (before anything is sent).
    """
    spec, service = crossmatch_service(catalog)
    r = parse_radius(DEFAULT_CROSSMATCH_RADIUS if radius is None else radius)
    if r <= 0:
        raise BadInputError(f"A crossmatch radius must be above 0, not {radius!r}.")
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or not (1 <= chunk_size <= _MAX_CHUNK)
    ):
        raise BadInputError(
            f"chunk_size must be an integer in [1, {_MAX_CHUNK}], not {chunk_size!r}."
        )
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise BadInputError(f"concurrency must be an integer >= 1, not {concurrency!r}.")
    source = as_arrow(table)
    if source.num_rows == 0:
        raise BadInputError("The table has no rows to crossmatch.")
    where = positions(source, ra, dec)
    config: dict[str, dict[str, Any]] = with_types((yield ColumnsConfig(spec.config_id)), spec)
    params = {"raColumn": _UP_RA, "decColumn": _UP_DEC, "radius": r}
    bounds = chunk_bounds(len(where), chunk_size)
    logger.debug("%s: %d rows in %d chunk(s), radius %.6g deg", service, len(where), len(bounds), r)
    plans = tuple(_chunk(service, params, upload_table(where, a, b)) for a, b in bounds)
    try:
        parts: list[ResultTable] = yield Gather(plans, limit=concurrency or session.concurrency)
    except ServiceError as error:
        if "unable to find service" in str(error.server_message or error).lower():
            raise ServiceError(
                f"The server offers no crossmatch against {spec.name!r} ({service} is unknown "
                "there).",
                service=service,
                server_message=error.server_message,
            ) from error
        raise
    arrow = _assemble(parts, spec, service, where, config)
    if keep_input:
        arrow = _with_input(arrow, source)
    metadata: dict[str, Any] = dict(column_metadata(config)) if config else {}
    metadata.setdefault("units", {})[SEPARATION] = "arcsec"
    metadata.setdefault("descriptions", {})[SEPARATION] = (
        "Angular distance from the input position, arcsec"
    )
    metadata.setdefault("descriptions", {})[INPUT_ROW] = "Row number in the input table (0-based)"
    metadata["catalog"] = spec.name
    metadata["crossmatch"] = {
        "catalog": spec.name,
        "service": service,
        "radius_deg": r,
        "radius_arcsec": round(r * 3600, 9),
        "ra_column": where.ra_column,
        "dec_column": where.dec_column,
        "input_rows": len(where),
        "matched_input_rows": int(pc.count_distinct(arrow.column(INPUT_ROW)).as_py()),
        "chunks": len(bounds),
    }
    return ResultTable(
        arrow, service=service, params=params, pages=sum(p.pages for p in parts), metadata=metadata
    )
