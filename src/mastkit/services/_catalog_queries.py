"""The catalogue queries as plans (see :mod:`mastkit.services._plan`), written once.

Request shapes follow MAST and astroquery (mast-protocol.md 4.3): a plain cone is
``Mast.Catalogs.NAME.Cone`` with ``ra``/``dec``/``radius``; criteria use the Filtered family,
``Mast.Catalogs.Filtered.NAME[.Position][.Rows]`` with ``columns "*"``, ``filters`` and, for a
position, separate ``ra``/``dec``/``radius`` parameters (not CAOM's ``position`` string);
counts ask the non-``.Rows`` services for ``COUNT_BIG(*)``. Criteria are checked against the
catalogue's columns config before anything is sent. Negated criteria are applied as for
observations (:mod:`mastkit.services.criteria`): the matching rows are fetched and removed,
compared by the catalogue's unique id column (``ID`` for the TIC) or, without one, whole rows;
counts subtract by inclusion-exclusion.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, ServiceError
from mastkit.protocol.filters import COUNT, Filter, filters_to_json
from mastkit.services._catalog_specs import (
    KNOWN_CATALOGS,
    CatalogSpec,
    catalog_spec,
    with_types,
)
from mastkit.services._plan import ColumnsConfig, Gather, Plan, Query, Session
from mastkit.services._queries import _count_value, _one, columns_table, finish
from mastkit.services.coords import parse_coordinates, parse_radius
from mastkit.services.criteria import Criteria, compile_criteria
from mastkit.services.resolver import Resolution, resolve_plan
from mastkit.tables import ResultTable

__all__ = [
    "catalog_columns_plan",
    "catalog_config_plan",
    "catalogs_plan",
    "count_criteria_plan",
    "count_object_plan",
    "count_region_plan",
    "criteria_plan",
    "object_plan",
    "region_plan",
]

# Inclusion-exclusion needs 2**k counts for k negations; above this, rows are fetched.
_MAX_EXACT_NEGATIONS = 3
Cone = tuple[float, float, float]


def catalog_config_plan(spec: CatalogSpec) -> Plan[dict[str, dict[str, Any]]]:
    """The catalogue's columns config, with the column types mastkit knows filled in."""
    config = yield ColumnsConfig(spec.config_id)
    return with_types(config, spec)


def _cone(coordinates: Any, radius: Any) -> Cone:
    ra, dec = parse_coordinates(coordinates)
    return ra, dec, parse_radius(radius)


def _compile(
    spec: CatalogSpec, criteria: Mapping[str, Any], config: Mapping[str, Any], service: str
) -> Criteria:
    if not config:
        raise BadInputError(
            f"The server sent no column metadata for {spec.name} (columns config "
            f"{spec.config_id}), so criteria on it cannot be checked: is {spec.name!r} a "
            "catalogue this server has? (Catalogs.catalogs() lists them.)",
            service=service,
        )
    return compile_criteria(criteria, config, service=service)


def _params(
    spec: CatalogSpec, columns: str, filters: Sequence[Filter], cone: Cone | None
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if spec.takes_columns:
        params["columns"] = columns
    params["filters"] = filters_to_json(filters)
    if cone is not None:
        params.update({"ra": cone[0], "dec": cone[1], "radius": cone[2]})
    return params


def _finish(
    spec: CatalogSpec,
    table: ResultTable,
    config: Mapping[str, Mapping[str, Any]],
    *,
    separation: bool,
    metadata: Mapping[str, Any] | None = None,
) -> ResultTable:
    """:func:`~mastkit.services._queries.finish`, plus the cone's separation column."""
    done = finish(table, config, distance=False, metadata=metadata)
    if separation and len(done) == 0 and spec.separation not in done.columns:
        done = ResultTable(
            done.arrow.append_column(spec.separation, pa.array([], pa.float64())),
            service=done.service,
            params=done.params,
            paging=done.paging,
            pages=done.pages,
            truncated=done.truncated,
            metadata=done.metadata,
        )
    if separation and spec.separation in done.columns:
        units = done.metadata.setdefault("units", {})
        units.setdefault(spec.separation, "arcsec")
    done.metadata["catalog"] = spec.name
    return done


def _unknown_service(spec: CatalogSpec, error: ServiceError) -> ServiceError:
    """A clearer error when the server has no such catalogue (it says "no service adaptor")."""
    text = str(error.server_message or error)
    if "unable to find service" not in text.lower():
        return error
    return ServiceError(
        f"The server has no catalogue {spec.name!r} ({error.service or 'its service'} is "
        "unknown there); Catalogs.catalogs() lists the catalogues a server offers.",
        service=error.service,
        server_message=error.server_message,
    )


def _run(spec: CatalogSpec, query: Query) -> Plan[ResultTable]:
    try:
        table: ResultTable = yield query
    except ServiceError as error:
        raise _unknown_service(spec, error) from error
    return table


# ------------------------------------------------------------------------------ negation


def _row_keys(table: pa.Table, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    present = [c for c in columns if c in table.column_names]
    values = [table.column(c).to_pylist() for c in present]
    return list(zip(*values, strict=True)) if values else [() for _ in range(table.num_rows)]


def _without(table: ResultTable, excluded: Sequence[ResultTable], key: str | None) -> ResultTable:
    """``table`` minus the rows found in ``excluded`` (by ``key``, else by every column)."""
    parts = [t.arrow for t in excluded if len(t)]
    if not len(table) or not parts:
        return table
    arrow = table.arrow
    if key is not None and key in arrow.column_names and all(key in p.column_names for p in parts):
        column = arrow.column(key)
        drops = [p.column(key) for p in parts]
        if any(d.type != column.type for d in drops):
            column = column.cast(pa.string())
            drops = [d.cast(pa.string()) for d in drops]
        drop = pc.unique(pa.chunked_array([c for d in drops for c in d.chunks], column.type))
        keep = pc.invert(pc.fill_null(pc.is_in(column, value_set=drop), False))
    else:
        names = arrow.column_names
        gone = {row for part in parts for row in _row_keys(part, names)}
        keep = pa.array([row not in gone for row in _row_keys(arrow, names)], pa.bool_())
    kept: ResultTable = table[keep.to_numpy(zero_copy_only=False)]
    return kept


def _key(spec: CatalogSpec, config: Mapping[str, Any]) -> str | None:
    if spec.key_column is None:
        return None
    if config and spec.key_column not in config:
        return None
    return spec.key_column


def _select(
    session: Session,
    spec: CatalogSpec,
    service: str,
    cone: Cone | None,
    criteria: Criteria,
    config: Mapping[str, Any],
) -> Plan[ResultTable]:
    main = Query(service, _params(spec, "*", criteria.filters, cone))
    if not criteria.negations:
        return (yield from _run(spec, main))
    key = _key(spec, config)
    excluded = [
        Query(service, _params(spec, key or "*", [*criteria.filters, negation], cone))
        for negation in criteria.negations
    ]
    try:
        results: list[ResultTable] = yield Gather(
            tuple(_one(q) for q in (main, *excluded)), limit=session.concurrency
        )
    except ServiceError as error:
        raise _unknown_service(spec, error) from error
    table = results[0]
    kept = _without(table, results[1:], key)
    kept.metadata["excluded_rows"] = len(table) - len(kept)
    return kept


def _count(
    session: Session,
    spec: CatalogSpec,
    cone: Cone | None,
    criteria: Criteria,
    config: Mapping[str, Any],
) -> Plan[int]:
    service = spec.count_service(cone is not None)
    negations = criteria.negations
    if len(negations) > _MAX_EXACT_NEGATIONS:
        rows = yield from _select(
            session, spec, spec.row_service(cone is not None), cone, criteria, config
        )
        return len(rows)
    subsets = [s for n in range(len(negations) + 1) for s in itertools.combinations(negations, n)]
    try:
        tables: list[ResultTable] = yield Gather(
            tuple(
                _one(Query(service, _params(spec, COUNT, [*criteria.filters, *s], cone)))
                for s in subsets
            ),
            limit=session.concurrency,
        )
    except ServiceError as error:
        raise _unknown_service(spec, error) from error
    return sum(
        (-1) ** len(s) * _count_value(t, service) for s, t in zip(subsets, tables, strict=True)
    )


# ------------------------------------------------------------------------------ queries


def region_plan(
    session: Session,
    catalog: Any,
    coordinates: Any,
    radius: Any,
    criteria: Mapping[str, Any],
    *,
    resolution: Resolution | None = None,
) -> Plan[ResultTable]:
    """Catalogue rows within ``radius`` of ``coordinates`` (Cone, or Filtered.Position)."""
    spec = catalog_spec(catalog)
    cone = _cone(coordinates, radius)
    extra = {"resolved": resolution.as_dict()} if resolution is not None else {}
    if criteria:
        service = spec.row_service(position=True)
        config = yield from catalog_config_plan(spec)
        compiled = _compile(spec, criteria, config, service)
        table = yield from _select(session, spec, service, cone, compiled, config)
        return _finish(spec, table, config, separation=True, metadata=extra)
    if spec.cone is None:  # pragma: no cover - every known catalogue has a cone
        raise BadInputError(f"MAST has no cone search on {spec.name}.")
    config = yield from catalog_config_plan(spec)
    params = {"ra": cone[0], "dec": cone[1], "radius": cone[2], **spec.cone_params}
    table = yield from _run(spec, Query(spec.cone, params))
    return _finish(spec, table, config, separation=True, metadata=extra)


def count_region_plan(
    session: Session, catalog: Any, coordinates: Any, radius: Any, criteria: Mapping[str, Any]
) -> Plan[int]:
    """The count of :func:`region_plan`'s rows (``COUNT_BIG(*)`` on Filtered.Position)."""
    spec = catalog_spec(catalog)
    cone = _cone(coordinates, radius)
    service = spec.count_service(position=True)
    compiled = Criteria()
    config: dict[str, Any] = {}
    if criteria:
        config = yield from catalog_config_plan(spec)
        compiled = _compile(spec, criteria, config, service)
    return (yield from _count(session, spec, cone, compiled, config))


def object_plan(
    session: Session, catalog: Any, name: str, radius: Any, criteria: Mapping[str, Any]
) -> Plan[ResultTable]:
    """Resolve ``name``, then :func:`region_plan` around it."""
    catalog_spec(catalog)
    parse_radius(radius)  # fail on bad input before resolving anything
    resolution = yield from resolve_plan(session, name)
    return (
        yield from region_plan(
            session, catalog, resolution.coords, radius, criteria, resolution=resolution
        )
    )


def count_object_plan(
    session: Session, catalog: Any, name: str, radius: Any, criteria: Mapping[str, Any]
) -> Plan[int]:
    """Resolve ``name``, then :func:`count_region_plan` around it."""
    catalog_spec(catalog)
    parse_radius(radius)
    resolution = yield from resolve_plan(session, name)
    return (yield from count_region_plan(session, catalog, resolution.coords, radius, criteria))


def _target(coordinates: Any, objectname: str | None, radius: Any) -> None:
    if coordinates is not None and objectname is not None:
        raise BadInputError("Give coordinates or objectname, not both.")
    if coordinates is None and objectname is None and radius is not None:
        raise BadInputError("radius needs coordinates or objectname.")


def criteria_plan(
    session: Session,
    catalog: Any,
    criteria: Mapping[str, Any],
    *,
    coordinates: Any = None,
    objectname: str | None = None,
    radius: Any = None,
) -> Plan[ResultTable]:
    """Catalogue rows matching criteria (``Mast.Catalogs.Filtered.NAME[.Rows]``)."""
    spec = catalog_spec(catalog)
    _target(coordinates, objectname, radius)
    if not criteria:
        raise BadInputError(
            "query_criteria needs at least one criterion (a column=value); for everything "
            "around a position use query_region or query_object."
        )
    if objectname is not None:
        return (yield from object_plan(session, catalog, objectname, radius, criteria))
    if coordinates is not None:
        return (yield from region_plan(session, catalog, coordinates, radius, criteria))
    service = spec.row_service(position=False)
    config = yield from catalog_config_plan(spec)
    compiled = _compile(spec, criteria, config, service)
    if not compiled.filters:
        raise BadInputError(
            "query_criteria needs at least one criterion that selects rows (negated criteria "
            "only exclude, and alone would fetch the whole catalogue)."
        )
    table = yield from _select(session, spec, service, None, compiled, config)
    return _finish(spec, table, config, separation=False)


def count_criteria_plan(
    session: Session,
    catalog: Any,
    criteria: Mapping[str, Any],
    *,
    coordinates: Any = None,
    objectname: str | None = None,
    radius: Any = None,
) -> Plan[int]:
    """The count of :func:`criteria_plan`'s rows (no criterion at all counts the catalogue)."""
    spec = catalog_spec(catalog)
    _target(coordinates, objectname, radius)
    if objectname is not None:
        return (yield from count_object_plan(session, catalog, objectname, radius, criteria))
    if coordinates is not None:
        return (yield from count_region_plan(session, catalog, coordinates, radius, criteria))
    compiled = Criteria()
    config: dict[str, Any] = {}
    if criteria:
        config = yield from catalog_config_plan(spec)
        compiled = _compile(spec, criteria, config, spec.count_service(position=False))
    return (yield from _count(session, spec, None, compiled, config))


def catalog_columns_plan(catalog: Any) -> Plan[ResultTable]:
    """The columns of a catalogue: name, type, unit, description, example.

    The label MAST shows (``text``) stands in for a missing description.
    """
    spec = catalog_spec(catalog)
    config = yield from catalog_config_plan(spec)
    if not config:
        raise BadInputError(
            f"The server has no column metadata for {spec.name} (columns config "
            f"{spec.config_id}); Catalogs.catalogs() lists the catalogues it offers."
        )
    described: dict[str, dict[str, Any]] = {}
    for name, props in config.items():
        entry = dict(props)
        if not any(k in entry for k in ("vot.description", "description")) and entry.get("text"):
            entry["vot.description"] = entry["text"]
        described[name] = entry
    table = columns_table(spec.config_id, described)
    table.metadata["catalog"] = spec.name
    return table


def catalogs_plan(
    session: Session, extra: Sequence[str] = (), *, probe: bool = True
) -> Plan[ResultTable]:
    """The catalogues mastkit knows (and ``extra`` names), and whether the server has each.

    A catalogue is *available* when the server answers its columns config with columns: MAST
    has no service listing catalogues, so this is asked per catalogue (concurrently, and
    cached per client). Without ``probe``, nothing is sent and ``available`` is null.
    """
    specs: list[CatalogSpec] = list(KNOWN_CATALOGS)
    seen = {s.name.lower() for s in specs}
    for name in extra:
        spec = catalog_spec(name)
        if spec.name.lower() not in seen:
            specs.append(spec)
            seen.add(spec.name.lower())
    available: list[bool | None] = [None] * len(specs)
    columns: list[int | None] = [None] * len(specs)
    if probe:
        configs: list[dict[str, Any]] = yield Gather(
            tuple(_one(ColumnsConfig(s.probe_config)) for s in specs), limit=session.concurrency
        )
        for i, config in enumerate(configs):
            visible = [
                k
                for k, v in config.items()
                if isinstance(v, Mapping)
                and not v.get("remove")
                and not v.get("add")
                and not k.startswith("_")
            ]
            columns[i] = len(visible)
            available[i] = bool(visible)
    arrow = pa.table(
        {
            "name": pa.array([s.name for s in specs], pa.string()),
            "available": pa.array(available, pa.bool_()),
            "columns": pa.array(columns, pa.int64()),
            "criteria": pa.array([s.filtered is not None for s in specs], pa.bool_()),
            "crossmatch": pa.array([s.crossmatch is not None for s in specs], pa.bool_()),
            "description": pa.array([s.description for s in specs], pa.string()),
            "cone_service": pa.array([s.cone for s in specs], pa.string()),
            "columns_config": pa.array([s.config_id for s in specs], pa.string()),
        }
    )
    return ResultTable(arrow, service="columnsconfig")
