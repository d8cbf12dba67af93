"""Catalogue services: cones, filtered queries, counts, histograms and columns configs.

Service names (case-insensitive; NAME is one of the archive's catalogues, see
:mod:`mastkit.server.catalogs`):

========================================================  ======================================
``Mast.Catalogs.NAME.Cone``                                ``ra``, ``dec``, ``radius`` (deg,
                                                           default 0.02): every column and
                                                           ``dstArcSec``, nearest first
``Mast.Catalogs.Filtered.NAME``                            ``columns``, ``filters``;
                                                           ``COUNT_BIG(*)`` counts
``Mast.Catalogs.Filtered.NAME.Position``                   the same within ``ra``, ``dec``,
                                                           ``radius`` (or ``position``), with
                                                           ``dstArcSec``
``Mast.Catalogs.Filtered.NAME[.Position].Rows``            rows only (no ``COUNT_BIG(*)``)
``Mast.Catalogs.Filtered.NAME[.Position].Count``           the count alone (``Column1``)
``Mast.Catalogs.All.NAME``                                 no rows; the table's discrete and
                                                           continuous histograms (extjs)
========================================================  ======================================

The TIC answers as ``Tic`` (``Mast.Catalogs.Tic.Cone``, ``Mast.Catalogs.Filtered.Tic.Rows``,
...), and its columns config is ``Mast.Catalogs.Tess.Cone``, as at MAST.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol import Field, MashupRequest
from mastkit.server import sql
from mastkit.server.catalogs import SEPARATION, Catalog, find_catalog
from mastkit.server.handlers import (
    Context,
    RowLimitExceeded,
    ServiceFailure,
    cone_from,
    config_properties,
    position_from,
)
from mastkit.server.responses import TableResult
from mastkit.tables import fields_for

__all__ = [
    "ALL",
    "CONE",
    "FILTERED",
    "catalog_all",
    "catalog_cone",
    "catalog_config",
    "catalog_filtered",
    "lookup",
]

_NAME = r"([A-Za-z][A-Za-z0-9_]*)"
CONE = re.compile(rf"^mast\.catalogs\.{_NAME}\.cone$", re.IGNORECASE)
FILTERED = re.compile(
    rf"^mast\.catalogs\.filtered\.{_NAME}(\.position)?(\.rows|\.count)?$", re.IGNORECASE
)
ALL = re.compile(rf"^mast\.catalogs\.all\.{_NAME}$", re.IGNORECASE)
#: MAST's TIC columns config id names the mission, not the catalogue.
_ALIASES = {"tess": "tic"}
#: Radius of a catalogue cone without one (deg), as MAST's catalogue services document.
DEFAULT_RADIUS = 0.02
_BINS = 100
_DISCRETE_MAX = 50  # distinct values: a text column with more gets no discrete histogram
_SAMPLE = 2_000_000  # rows binned at most (larger user catalogues are sampled)


def lookup(archive: Any, name: str, service: str) -> Catalog:
    """The catalogue ``name`` of ``archive``, or MAST's unknown-service failure."""
    catalogs = archive.catalogs() if archive is not None else {}
    found = find_catalog(catalogs, _ALIASES.get(name.lower(), name))
    if found is None:
        raise ServiceFailure(f"Mashup: Unable to Find Service Adaptor for service: {service}")
    return found


def _fields(table: pa.Table, catalog: Catalog) -> tuple[Field, ...]:
    declared = {c.name: c.mast_type for c in catalog.schema.columns}
    declared[SEPARATION.name] = SEPARATION.mast_type
    declared["Column1"] = "string"  # COUNT_BIG(*): a number declared string, as MAST does
    return tuple(fields_for(table, declared))


def _run(
    request: MashupRequest,
    context: Context,
    catalog: Catalog,
    *,
    cone: sql.Cone | None,
    columns: Any = "*",
    filters: Any = None,
    nearest_first: bool = False,
    count: bool = False,
) -> TableResult:
    service = request.service
    if not isinstance(columns, str):
        raise ServiceFailure(f'{service}: \'columns\' must be a string such as "*" or "ID, ra".')
    if filters is not None and not isinstance(filters, list):
        raise ServiceFailure(f"{service}: 'filters' must be a list of filter objects.")
    try:
        found = sql.select(
            context.archive,
            catalog.schema,
            columns,
            filters,
            cone,
            order_by=[f"{SEPARATION.name} ASC"] if nearest_first and cone is not None else None,
            limit=context.row_limit + 1,
            count=count,
            sep_column=SEPARATION.name,
        )
    except (UnknownColumnError, BadInputError) as exc:
        raise ServiceFailure(exc.message) from None
    if found.total > context.row_limit:
        raise RowLimitExceeded(found.total, context.row_limit)
    return TableResult(found.table, _fields(found.table, catalog))


def catalog_cone(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Catalogs.NAME.Cone``: ``ra``, ``dec``, ``radius``; rows nearest first."""
    match = CONE.match(request.service.strip())
    if match is None:
        raise ServiceFailure(
            f"Mashup: Unable to Find Service Adaptor for service: {request.service}"
        )
    catalog = lookup(context.archive, match.group(1), request.service)
    params = request.params
    cone = cone_from(
        request.service, params.get("ra"), params.get("dec"), params.get("radius"), DEFAULT_RADIUS
    )
    return _run(
        request, context, catalog, cone=cone, columns=params.get("columns", "*"), nearest_first=True
    )


def catalog_filtered(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Catalogs.Filtered.NAME[.Position][.Rows|.Count]``: ``columns`` and ``filters``."""
    match = FILTERED.match(request.service.strip())
    if match is None:
        raise ServiceFailure(
            f"Mashup: Unable to Find Service Adaptor for service: {request.service}"
        )
    catalog = lookup(context.archive, match.group(1), request.service)
    params = request.params
    variant = (match.group(3) or "").lower()
    columns = params.get("columns", "*")
    if variant == ".rows" and isinstance(columns, str) and sql.is_count(columns):
        raise ServiceFailure(
            f"{request.service}: COUNT_BIG(*) is not available on .Rows "
            "services; count with the service without .Rows."
        )
    cone = None
    if match.group(2):
        if params.get("ra") is None and params.get("position") is not None:
            cone = position_from(request.service, params, DEFAULT_RADIUS)
        else:
            cone = cone_from(
                request.service,
                params.get("ra"),
                params.get("dec"),
                params.get("radius"),
                DEFAULT_RADIUS,
            )
    return _run(
        request,
        context,
        catalog,
        cone=cone,
        columns=columns,
        filters=params.get("filters"),
        count=variant == ".count",
    )


# --- histograms ---------------------------------------------------------------------------------


def _discrete(archive: Any, table: str, columns: list[str]) -> dict[str, Any]:
    """Value counts of text columns with few distinct values, from one scan of the table."""
    if not columns:
        return {}
    total = int(archive.execute(f"SELECT count(*) FROM {table}").column(0)[0].as_py())
    sample = f" USING SAMPLE {_SAMPLE} ROWS" if total > _SAMPLE else ""
    names = ", ".join(f'"{c}"' for c in columns)
    found = archive.execute(f"SELECT {names} FROM {table}{sample}")
    scale = total / found.num_rows if found.num_rows else 1.0
    out: dict[str, Any] = {}
    for c in columns:
        counts = pc.value_counts(found.column(c).fill_null("")).to_pylist()
        if len(counts) > _DISCRETE_MAX or all(r["values"] == "" for r in counts):
            continue
        rows = sorted(
            ({"count": round(r["counts"] * scale), "key": r["values"]} for r in counts),
            key=lambda r: (-r["count"], r["key"]),
        )
        hist: dict[str, Any] = {"hist": rows}
        for r in rows:
            hist[str(r["key"])] = dict(r)
        out[c] = hist
    return out


def _continuous(archive: Any, table: str, columns: list[str]) -> dict[str, Any]:
    """Range and equal-width histogram of numeric columns, from one scan of the table.

    The binning is numpy's, on the fetched columns: one scan costs less than a grouped query
    per column (the TIC's columns are computed as they are read). A table of more than
    :data:`_SAMPLE` rows is binned from a sample of that size, its counts scaled to the
    table's; the ranges are always exact.
    """
    if not columns:
        return {}
    total = int(archive.execute(f"SELECT count(*) FROM {table}").column(0)[0].as_py())
    sample = f" USING SAMPLE {_SAMPLE} ROWS" if total > _SAMPLE else ""
    names = ", ".join(f'"{c}"' for c in columns)
    found = archive.execute(f"SELECT {names} FROM {table}{sample}")
    scale = total / found.num_rows if found.num_rows else 1.0
    bounds = None
    if sample:
        bounds = archive.execute(
            "SELECT "
            + ", ".join(
                f'min("{c}") FILTER (WHERE isfinite("{c}")), '
                f'max("{c}") FILTER (WHERE isfinite("{c}"))'
                for c in columns
            )
            + f" FROM {table}"
        ).to_pylist()[0]
    out: dict[str, Any] = {}
    for i, c in enumerate(columns):
        values = np.asarray(found.column(c).to_numpy(zero_copy_only=False), dtype=float)
        values = values[np.isfinite(values)]
        if bounds is not None:
            lo, hi = list(bounds.values())[2 * i : 2 * i + 2]
        elif len(values):
            lo, hi = float(values.min()), float(values.max())
        else:
            lo = hi = None
        if lo is None or hi is None or not len(values):
            continue
        width = (hi - lo) / _BINS or 1.0
        counts, _ = np.histogram(values, bins=_BINS, range=(lo, lo + width * _BINS))
        out[c] = {
            "hist": {
                "hist": [
                    {"key": lo + k * width, "count": round(int(n) * scale)}
                    for k, n in enumerate(counts)
                ]
            },
            "min": lo,
            "max": hi,
            "type": "numeric",
        }
    return out


def _histograms(archive: Any, catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any]]:
    table = catalog.schema.name
    # Ranges for measured values; ids and other integers stay exact-match columns, so a
    # filter such as ID=... is a value, not a range astroquery would need two numbers for.
    floats = [c.name for c in catalog.schema.columns if c.duckdb_type == "DOUBLE"]
    texts = [c.name for c in catalog.schema.columns if c.duckdb_type == "VARCHAR"]
    return _discrete(archive, table, texts), _continuous(archive, table, floats)


@functools.lru_cache(maxsize=16)
def _cached_histograms(
    archive: Any, key: str, built_at: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    return _histograms(archive, archive.catalogs()[key])


def catalog_all(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Catalogs.All.NAME``: no rows; every column, and the table-level histograms."""
    match = ALL.match(request.service.strip())
    if match is None:
        raise ServiceFailure(
            f"Mashup: Unable to Find Service Adaptor for service: {request.service}"
        )
    catalog = lookup(context.archive, match.group(1), request.service)
    archive = context.archive
    if catalog.user:  # a user catalogue may be replaced under the same name: never cached
        discrete, continuous = _histograms(archive, catalog)
    else:
        discrete, continuous = _cached_histograms(
            archive, catalog.key, str(getattr(archive, "meta", {}).get("built_at", ""))
        )
    empty = sql.select(archive, catalog.schema, "*", limit=0).table
    return TableResult(
        empty,
        _fields(empty, catalog),
        column_properties=config_properties(catalog.config()),
        table_properties={"discreteHistogram": discrete, "continuousHistogram": continuous},
    )


# --- columns configs ----------------------------------------------------------------------------


def catalog_config(archive: Any, config_id: str) -> dict[str, Any] | None:
    """The columns config ``config_id`` names if it is a catalogue's, else None.

    ``Mast.Catalogs.Tess.Cone`` (the TIC), ``Mast.Catalogs.NAME.Cone`` and
    ``Mast.Catalogs.Filtered.NAME[...]``.
    """
    text = config_id.strip()
    match = CONE.match(text) or FILTERED.match(text)
    if match is None or archive is None:
        return None
    catalogs: Mapping[str, Catalog] = archive.catalogs()
    found = find_catalog(catalogs, _ALIASES.get(match.group(1).lower(), match.group(1)))
    return found.config() if found is not None else None
