"""The observation queries as plans (see :mod:`mastkit.services._plan`), written once.

Request shapes follow astroquery (mast-protocol.md 4.1, 7.4): ``Mast.Caom.Cone`` with
``ra``/``dec``/``radius`` for a plain cone; ``Mast.Caom.Filtered.Position`` with ``columns``,
``filters`` and ``position`` for a cone with criteria; ``Mast.Caom.Filtered`` with ``columns``
and ``filters`` for criteria alone; ``COUNT_BIG(*)`` as the columns of a count.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, DecodeError, MastError, ServiceError
from mastkit.protocol.filters import COUNT, Filter, filters_to_json, position_string
from mastkit.protocol.services import (
    CAOM_ALL,
    CAOM_CONE,
    CAOM_FILTERED,
    CAOM_FILTERED_POSITION,
    CAOM_PRODUCTS,
    MISSIONS_LIST,
)
from mastkit.services._plan import ColumnsConfig, Gather, Invoke, Operation, Plan, Query, Session
from mastkit.services._split import (
    Source,
    cone_axes,
    count_rows,
    count_value,
    criteria_axes,
    fetch_rows,
    learn_limit,
    refusal,
    split_rows,
)
from mastkit.services.coords import parse_coordinates, parse_radius
from mastkit.services.criteria import Criteria, compile_criteria, fields_from_config
from mastkit.services.resolver import Resolution, resolve_plan
from mastkit.tables import ResultTable, column_metadata, extjs_column_properties

__all__ = [
    "columns_plan",
    "columns_table",
    "count_criteria_plan",
    "count_object_plan",
    "count_region_plan",
    "criteria_plan",
    "finish",
    "missions_plan",
    "object_plan",
    "region_plan",
]

#: The columns config describing CAOM observations (astroquery uses it for every CAOM query).
OBSERVATIONS_CONFIG = CAOM_CONE
#: The columns config describing CAOM products.
PRODUCTS_CONFIG = CAOM_PRODUCTS
logger = logging.getLogger("mastkit.services")
# Inclusion-exclusion needs 2**k counts for k negations; above this, obsids are fetched.
_MAX_EXACT_NEGATIONS = 3


def _one(op: Operation) -> Plan[Any]:
    result = yield op
    return result


def finish(
    table: ResultTable,
    config: Mapping[str, Mapping[str, Any]],
    *,
    distance: bool,
    metadata: Mapping[str, Any] | None = None,
) -> ResultTable:
    """The result as users get it: columns guaranteed, column metadata attached.

    A reply without columns (MAST sends none for some empty results) becomes an empty table
    with the columns the config declares; units, descriptions and labels come from the config.
    """
    arrow = table.arrow
    if arrow.num_columns == 0:
        arrow = ResultTable.empty(fields_from_config(config, distance=distance)).arrow
    merged: dict[str, Any] = {}
    for key, values in column_metadata(config).items():
        merged[key] = {**values, **table.metadata.get(key, {})}
    merged.update({k: v for k, v in table.metadata.items() if k not in merged})
    merged.update(metadata or {})
    return ResultTable(
        arrow,
        service=table.service,
        params=table.params,
        paging=table.paging,
        pages=table.pages,
        truncated=table.truncated,
        metadata=merged,
    )


def _count_value(table: ResultTable, service: str) -> int:
    return count_value(table, service)


def _params(columns: str, filters: Sequence[Filter], position: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"columns": columns, "filters": filters_to_json(filters)}
    if position is not None:
        params["position"] = position
    return params


def _source(
    service: str, filters: Sequence[Filter], position: str | None, columns: str = "*"
) -> Source:
    """The query as :mod:`mastkit.services._split` cuts parts from it (sky tiles for a cone)."""
    if position is None:
        return Source(service, tuple(filters), None, columns, axes=criteria_axes())
    ra, dec, radius = (float(x) for x in position.split(","))
    return Source(service, tuple(filters), position, columns, axes=cone_axes(ra, dec, radius))


def _rows(
    session: Session, source: Source, *, first: Query | None = None, limit: int | None = None
) -> Plan[ResultTable]:
    """Every row (split when the server refuses the size), or the first ``limit`` rows.

    Queries without a position are counted first (they are the ones that grow large); the
    others are tried whole and split only when refused.
    """
    if limit is None:
        return (yield from fetch_rows(session, source, first=first,
                                      precount=source.position is None))
    whole = first or Query(source.service, source.params())
    try:
        page: ResultTable = yield Query(whole.service, whole.params, page=1, pagesize=limit)
    except MastError as exc:
        refused, stated = refusal(exc)
        if not refused:
            raise
        total = yield from count_rows(source)
        if total <= 1:
            raise
        learn_limit(session, total, stated)
        table = yield from split_rows(session, source, total, whole)
        return _first_rows(table, limit, total)
    total = page.paging.rows_filtered if page.paging is not None else len(page)
    return _first_rows(page, limit, max(total, len(page)))


def _first_rows(table: ResultTable, limit: int, matched: int) -> ResultTable:
    """The first ``limit`` rows, marked truncated when ``matched`` is more."""
    head = table.arrow.slice(0, limit) if len(table) > limit else table.arrow
    return ResultTable(
        head, service=table.service, params=table.params, paging=table.paging,
        pages=table.pages, truncated=matched > len(head),
        metadata={**table.metadata, "rows_matched": matched},
    )


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise BadInputError(f"limit must be a positive number of rows, not {limit!r}.")


def _select(
    session: Session,
    service: str,
    position: str | None,
    criteria: Criteria,
    config: Mapping[str, Mapping[str, Any]],
    *,
    limit: int | None = None,
) -> Plan[ResultTable]:
    """Rows matching the filters, minus those matching any negation (by obsid)."""
    main = _source(service, criteria.filters, position)
    if not criteria.negations:
        table = yield from _rows(session, main, limit=limit)
        return finish(table, config, distance=position is not None)
    logger.debug("%s: %d negated criteria, applied by removing the rows that match them",
                 service, len(criteria.negations))
    excluded = [_source(service, [*criteria.filters, negation], position, "obsid")
                for negation in criteria.negations]
    results: list[ResultTable] = yield Gather(
        tuple(_rows(session, s) for s in (main, *excluded)), limit=session.concurrency
    )
    table, removed = results[0], results[1:]
    before = len(table)
    table = _without(table, removed)
    extra = {"excluded_rows": before - len(table)}
    if limit is not None:
        table = _first_rows(table, limit, len(table))
    return finish(table, config, distance=position is not None, metadata=extra)


def _obsid_set(tables: Sequence[ResultTable]) -> pa.Array:
    chunks = [t.arrow.column("obsid").combine_chunks() for t in tables
              if len(t) and "obsid" in t.columns]
    if not chunks:
        return pa.array([], pa.int64())
    types = {c.type for c in chunks}
    if len(types) > 1:
        chunks = [c.cast(pa.string()) for c in chunks]
    return pc.unique(pa.concat_arrays(chunks))


def _without(table: ResultTable, excluded: Sequence[ResultTable]) -> ResultTable:
    drop = _obsid_set(excluded)
    if not len(table) or not len(drop):
        return table
    if "obsid" not in table.columns:  # pragma: no cover - CAOM results always have obsid
        raise DecodeError("The result has no obsid column, so negated criteria cannot apply.")
    column = table.arrow.column("obsid")
    if column.type != drop.type:
        column, drop = column.cast(pa.string()), drop.cast(pa.string())
    keep = pc.invert(pc.fill_null(pc.is_in(column, value_set=drop), False))
    kept: ResultTable = table[keep.to_numpy(zero_copy_only=False)]
    return kept


def _count(
    session: Session, service: str, position: str | None, criteria: Criteria
) -> Plan[int]:
    """The row count, negations included (by inclusion-exclusion, or obsids past a few)."""
    k = len(criteria.negations)
    if k == 0:
        table = yield Query(service, _params(COUNT, criteria.filters, position))
        return _count_value(table, service)
    if k <= _MAX_EXACT_NEGATIONS:
        subsets = [s for n in range(k + 1) for s in itertools.combinations(criteria.negations, n)]
        tables: list[ResultTable] = yield Gather(
            tuple(_one(Query(service, _params(COUNT, [*criteria.filters, *s], position)))
                  for s in subsets),
            limit=session.concurrency,
        )
        return sum((-1) ** len(s) * _count_value(t, service)
                   for s, t in zip(subsets, tables, strict=True))
    plans = [_one(Query(service, _params(COUNT, criteria.filters, position)))] + [
        _rows(session, _source(service, [*criteria.filters, negation], position, "obsid"))
        for negation in criteria.negations
    ]
    results: list[ResultTable] = yield Gather(tuple(plans), limit=session.concurrency)
    return _count_value(results[0], service) - len(_obsid_set(results[1:]))


def _position(coordinates: Any, radius: Any) -> tuple[float, float, float]:
    ra, dec = parse_coordinates(coordinates)
    return ra, dec, parse_radius(radius)


def region_plan(
    session: Session,
    coordinates: Any,
    radius: Any,
    criteria: Mapping[str, Any],
    *,
    resolution: Resolution | None = None,
    limit: int | None = None,
) -> Plan[ResultTable]:
    """Observations within ``radius`` of ``coordinates`` (Cone, or Filtered.Position).

    A cone the server refuses as too large is split into sky tiles (Filtered.Position parts);
    ``limit`` keeps the first rows only (the table says when it is truncated).
    """
    _check_limit(limit)
    ra, dec, r = _position(coordinates, radius)
    config = yield ColumnsConfig(OBSERVATIONS_CONFIG)
    extra = {"resolved": resolution.as_dict()} if resolution is not None else {}
    position = position_string(ra, dec, r)
    if not criteria:
        cone = Query(CAOM_CONE, {"ra": ra, "dec": dec, "radius": r})
        source = _source(CAOM_FILTERED_POSITION, (), position)
        table = yield from _rows(session, source, first=cone, limit=limit)
        return finish(table, config, distance=True, metadata=extra)
    compiled = compile_criteria(criteria, config, service=CAOM_FILTERED_POSITION)
    table = yield from _select(session, CAOM_FILTERED_POSITION, position, compiled, config,
                               limit=limit)
    return finish(table, config, distance=True, metadata=extra)


def count_region_plan(
    session: Session, coordinates: Any, radius: Any, criteria: Mapping[str, Any]
) -> Plan[int]:
    """The count of :func:`region_plan`'s rows."""
    ra, dec, r = _position(coordinates, radius)
    compiled = Criteria()
    if criteria:
        config = yield ColumnsConfig(OBSERVATIONS_CONFIG)
        compiled = compile_criteria(criteria, config, service=CAOM_FILTERED_POSITION)
    return (yield from _count(session, CAOM_FILTERED_POSITION, position_string(ra, dec, r),
                              compiled))


def object_plan(
    session: Session, name: str, radius: Any, criteria: Mapping[str, Any], *,
    limit: int | None = None,
) -> Plan[ResultTable]:
    """Resolve ``name``, then :func:`region_plan` around it."""
    parse_radius(radius)  # fail on a bad radius before resolving anything
    _check_limit(limit)
    resolution = yield from resolve_plan(session, name)
    return (yield from region_plan(session, resolution.coords, radius, criteria,
                                   resolution=resolution, limit=limit))


def count_object_plan(
    session: Session, name: str, radius: Any, criteria: Mapping[str, Any]
) -> Plan[int]:
    """Resolve ``name``, then :func:`count_region_plan` around it."""
    parse_radius(radius)
    resolution = yield from resolve_plan(session, name)
    return (yield from count_region_plan(session, resolution.coords, radius, criteria))


def _criteria_target(
    coordinates: Any, objectname: str | None
) -> None:
    if coordinates is not None and objectname is not None:
        raise BadInputError("Give coordinates or objectname, not both.")


def criteria_plan(
    session: Session,
    criteria: Mapping[str, Any],
    *,
    coordinates: Any = None,
    objectname: str | None = None,
    radius: Any = None,
    limit: int | None = None,
) -> Plan[ResultTable]:
    """Observations matching criteria (``Mast.Caom.Filtered``, or a position form).

    Counted first; a result over the server's limit is fetched in parts and merged.
    """
    _criteria_target(coordinates, objectname)
    _check_limit(limit)
    if objectname is not None:
        return (yield from object_plan(session, objectname, radius, criteria, limit=limit))
    if coordinates is not None:
        return (yield from region_plan(session, coordinates, radius, criteria, limit=limit))
    if radius is not None:
        raise BadInputError("radius needs coordinates or objectname.")
    config = yield ColumnsConfig(OBSERVATIONS_CONFIG)
    compiled = compile_criteria(criteria, config, service=CAOM_FILTERED)
    if not compiled.filters:
        raise BadInputError(
            "query_criteria needs at least one criterion that selects rows (negated criteria "
            "only exclude, and alone would fetch the whole archive); add one, or use "
            "query_region/query_object."
        )
    return (yield from _select(session, CAOM_FILTERED, None, compiled, config, limit=limit))


def count_criteria_plan(
    session: Session,
    criteria: Mapping[str, Any],
    *,
    coordinates: Any = None,
    objectname: str | None = None,
    radius: Any = None,
) -> Plan[int]:
    """The count of :func:`criteria_plan`'s rows (no criterion at all counts everything)."""
    _criteria_target(coordinates, objectname)
    if objectname is not None:
        return (yield from count_object_plan(session, objectname, radius, criteria))
    if coordinates is not None:
        return (yield from count_region_plan(session, coordinates, radius, criteria))
    if radius is not None:
        raise BadInputError("radius needs coordinates or objectname.")
    compiled = Criteria()
    if criteria:
        config = yield ColumnsConfig(OBSERVATIONS_CONFIG)
        compiled = compile_criteria(criteria, config, service=CAOM_FILTERED)
    return (yield from _count(session, CAOM_FILTERED, None, compiled))


_WHICH = {"observations": OBSERVATIONS_CONFIG, "products": PRODUCTS_CONFIG}


def columns_plan(which: str = "observations") -> Plan[ResultTable]:
    """The columns of CAOM observations or products, from the columns config."""
    config_id = _WHICH.get(str(which).lower())
    if config_id is None:
        raise BadInputError(f"columns() describes 'observations' or 'products', not {which!r}.")
    config = yield ColumnsConfig(config_id)
    return columns_table(config_id, config)


def columns_table(config_id: str, config: Mapping[str, Mapping[str, Any]]) -> ResultTable:
    """A columns config as a table: name, type, unit, description, example (one row each).

    Entries MAST marks removed, portal-only (``add``) and ``_``-prefixed ones are left out.
    """
    rows = []
    for name, props in config.items():
        if not isinstance(props, Mapping) or props.get("remove") is True:
            continue
        if props.get("add") is True or name.startswith("_"):
            continue
        rows.append(
            {
                "name": name,
                "type": _text(props.get("vot.datatype", props.get("type"))),
                "unit": _text(props.get("vot.unit", props.get("unit"))),
                "description": _text(props.get("vot.description", props.get("description"))),
                "example": _text(props.get("example")),
            }
        )
    schema = pa.schema([(n, pa.string()) for n in ("name", "type", "unit", "description",
                                                    "example")])
    return ResultTable(pa.Table.from_pylist(rows, schema=schema), service=config_id,
                       params={"colConfigId": config_id})


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def missions_plan() -> Plan[ResultTable]:
    """The CAOM missions (``obs_collection`` facets of ``Mast.Caom.All``, as astroquery)."""
    counts: dict[str, int | None] = {}
    service = CAOM_ALL
    try:
        reply = yield Invoke(CAOM_ALL, {}, format="extjs")
        props = extjs_column_properties(reply.data_raw)["columns"].get("obs_collection") or {}
        hist = props.get("histObj")
        if not isinstance(hist, Mapping):
            raise DecodeError(f"{CAOM_ALL} sent no obs_collection facets.", service=CAOM_ALL)
        for key, entry in hist.items():
            if key == "hist":
                continue
            count = entry.get("count") if isinstance(entry, Mapping) else None
            counts[str(key)] = int(count) if isinstance(count, int | float) else None
    except (ServiceError, DecodeError):
        service = MISSIONS_LIST
        table = yield Query(MISSIONS_LIST, {})
        if table.columns:
            column = "distinctValue" if "distinctValue" in table.columns else table.columns[0]
            counts = {str(v): None for v in table[column].to_pylist() if v not in (None, "")}
    names = sorted(counts)
    arrow = pa.table(
        {
            "mission": pa.array(names, pa.string()),
            "count": pa.array([counts[n] for n in names], pa.int64()),
        }
    )
    return ResultTable(arrow, service=service)
