"""Service dispatch: from a decoded MashupRequest to a result, MAST's way.

A handler is a plain function ``(request, context) -> Result`` run on a worker thread. It raises
:class:`ServiceFailure` with MAST's own words for a request it cannot answer (the app sends them
as an ERROR reply with HTTP 200), and the dispatcher raises :class:`RowLimitExceeded` for a result
larger than the server allows (the app resets the connection, as production does).

Service names are matched case-insensitively (MAST's own examples spell ``Mast.JWST...``).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol import Field, MashupRequest
from mastkit.server import schema, sql
from mastkit.server.responses import DocumentResult, Result, TableResult
from mastkit.server.row_texts import RowSelection, RowTexts
from mastkit.tables import fields_for

__all__ = [
    "Context",
    "Handler",
    "Registry",
    "RowLimitExceeded",
    "ServiceFailure",
    "cone_from",
    "config_properties",
    "execute",
    "position_from",
]

log = logging.getLogger(__name__)


class ServiceFailure(Exception):
    """A request the service cannot answer; ``msg`` is what MAST would say."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class RowLimitExceeded(Exception):
    """A result has more rows than the server's limit."""

    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"the result has more than {limit} rows ({rows} counted)")
        self.rows = rows
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use besides its request.

    Attributes
    ----------
    archive : object
        The DuckDB archive (:class:`mastkit.server.archive.Archive`).
    row_limit : int
        Largest result allowed; handlers may fetch ``row_limit + 1`` rows to detect an excess
        without materialising the whole result.
    delay : float
        Seconds to wait before working (a test setting that makes jobs slow on purpose).
    closing : threading.Event
        Set when the server shuts down; delays end early.
    """

    archive: Any
    row_limit: int
    delay: float = 0.0
    closing: threading.Event = field(default_factory=threading.Event)


Handler = Callable[[MashupRequest, Context], Result]


class Registry:
    """Service name -> handler, matched case-insensitively.

    Besides fixed names, a registry holds name patterns (:meth:`register_pattern`) for
    families of services whose names carry an argument, such as ``Mast.Catalogs.NAME.Cone``:
    a name no fixed entry has is matched against them in order. The handler then reads the
    argument from ``request.service`` and validates it (an unknown catalogue answers as an
    unknown service does).
    """

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], Handler]] = []
        for name, handler in (handlers or {}).items():
            self.register(name, handler)

    def register(self, name: str, handler: Handler) -> None:
        """Add (or replace) the handler of service ``name``."""
        self._handlers[name.lower()] = (name, handler)

    def register_pattern(self, pattern: re.Pattern[str], handler: Handler) -> None:
        """Route every service name ``pattern`` matches in full (and no fixed entry has)."""
        self._patterns.append((pattern, handler))

    def _match(self, service: str) -> tuple[str, Handler] | None:
        name = service.strip()
        found = self._handlers.get(name.lower())
        if found is not None:
            return found
        for pattern, handler in self._patterns:
            if pattern.fullmatch(name):
                return name, handler
        return None

    def resolve(self, service: str) -> tuple[str, Handler]:
        """The canonical name and handler of ``service``.

        Raises
        ------
        ServiceFailure
            With MAST's message for an unknown service.
        """
        found = self._match(service)
        if found is None:
            raise ServiceFailure(f"Mashup: Unable to Find Service Adaptor for service: {service}")
        return found

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._handlers.values())

    def __contains__(self, service: object) -> bool:
        return isinstance(service, str) and self._match(service) is not None


def execute(handler: Handler, request: MashupRequest, context: Context) -> Result:
    """Run ``handler`` (on a worker thread), enforcing the delay and the row limit."""
    if context.delay > 0:
        context.closing.wait(context.delay)
    result = handler(request, context)
    if isinstance(result, TableResult) and result.num_rows > context.row_limit:
        raise RowLimitExceeded(result.num_rows, context.row_limit)
    return result


# ------------------------------------------------------------------------------------------
# Names and column metadata
# ------------------------------------------------------------------------------------------


def _resolve(archive: Any, name: str) -> list[dict[str, Any]]:
    from mastkit.server import resolver

    entries: list[dict[str, Any]] = resolver.resolve(archive, name)
    for entry in entries:
        # astroquery matches entries on searchString == name.lower(), the name as it was sent.
        entry["searchString"] = name.lower()
    return entries


def santa(
    archive: Any, names: list[str], *, resolve_all: bool = False, resolver: str | None = None
) -> dict[str, Any]:
    """The SANTA ``/Santa-war/query`` reply for ``names``.

    Without ``resolve_all`` each name gets its first entry only (SANTA answers from the first
    resolver that knows the name); ``resolver`` keeps only that resolver's entries. Unknown
    names contribute nothing: the reply is then an empty list, not an error.
    """
    from mastkit.server.resolver import resolve_many

    found: list[dict[str, Any]] = []
    # One archive query for all the names (astroquery and mastkit send up to 30 a request).
    for name, entries in zip(names, resolve_many(archive, names), strict=True):
        for entry in entries:
            # As in _resolve: astroquery matches entries on searchString == name.lower().
            entry["searchString"] = name.lower()
        if resolver:
            entries = [e for e in entries if str(e.get("resolver", "")).lower() == resolver.lower()]
        found.extend(entries if resolve_all else entries[:1])
    return {"resolvedCoordinate": found, "status": ""}


def name_lookup(request: MashupRequest, context: Context) -> DocumentResult:
    """``Mast.Name.Lookup``: ``params.input`` -> ``{"resolvedCoordinate": [...], "status": ""}``."""
    text = request.params.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ServiceFailure("Mast.Name.Lookup: the 'input' parameter (an object name) is missing.")
    return DocumentResult({"resolvedCoordinate": _resolve(context.archive, text), "status": ""})


def columns_config(archive: Any, config_id: str) -> dict[str, Any]:
    """The columnsconfig payload of ``config_id``; ``{}`` for an id without one.

    CAOM configs come from :mod:`mastkit.server.schema`; catalogue configs
    (``Mast.Catalogs.Tess.Cone``, ``Mast.Catalogs.NAME.Cone``, ...) from the archive's
    catalogues (:func:`mastkit.server.catalog_services.catalog_config`).
    """
    from mastkit.server.catalog_services import catalog_config

    try:
        return schema.columns_config(config_id)
    except BadInputError:
        pass
    return catalog_config(archive, config_id) or {}


# ------------------------------------------------------------------------------------------
# CAOM observations and products
# ------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_OBSID = re.compile(r"^\s*[-+]?\d+\s*$")
#: A comma-separated list of obsids, parts blank or ``_OBSID``: the whole list in one match.
_OBSID_LIST = re.compile(r"\s*(?:[-+]?\d+\s*)?(?:,\s*(?:[-+]?\d+\s*)?)*")
#: Columns whose values facet ``Mast.Caom.All`` (``histObj``); astroquery reads obs_collection.
_FACETS = ("obs_collection", "dataproduct_type", "intentType")


def _number(service: str, name: str, value: Any, default: float | None = None) -> float:
    if value is None or value == "":
        if default is not None:
            return default
        raise ServiceFailure(f"{service}: the '{name}' parameter is required.")
    if isinstance(value, bool) or not (
        isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value))
    ):
        raise ServiceFailure(f"{service}: Error converting '{name}' value {value!r} to float.")
    number = float(value)
    if not math.isfinite(number):
        raise ServiceFailure(f"{service}: '{name}' must be a finite number, not {value!r}.")
    return number


def cone_from(service: str, ra: Any, dec: Any, radius: Any, default: float = 0.2) -> sql.Cone:
    """A cone from request values (numbers or numeric strings), or a MAST-style failure.

    ``radius`` defaults to ``default`` degrees.
    """
    try:
        return sql.Cone(
            _number(service, "ra", ra),
            _number(service, "dec", dec),
            _number(service, "radius", radius, default),
        )
    except BadInputError as exc:
        raise ServiceFailure(f"{service}: {exc}") from None


def position_from(service: str, params: Mapping[str, Any], default: float = 0.2) -> sql.Cone:
    """The cone of a ``position`` parameter (``"ra, dec[, radius]"``, degrees)."""
    text = params.get("position")
    if not isinstance(text, str) or not text.strip():
        raise ServiceFailure(
            f"{service}: the 'position' parameter (\"ra, dec, radius\") is required."
        )
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if len(parts) not in (2, 3):
        raise ServiceFailure(
            f'{service}: position must be "ra, dec, radius" in degrees, not {text!r}.'
        )
    return cone_from(service, parts[0], parts[1], parts[2] if len(parts) == 3 else None, default)


def _caom_fields(table: pa.Table) -> tuple[Field, ...]:
    """Declared fields: the schema's MAST types; distance and counts as MAST declares them."""
    declared = {
        c.name: c.mast_type for c in (*schema.OBSERVATIONS.columns, *schema.PRODUCTS.columns)
    }
    declared[schema.DISTANCE.name] = schema.DISTANCE.mast_type
    declared["Column1"] = "string"  # COUNT_BIG(*): a number declared string
    return tuple(fields_for(table, declared))


def _select(
    request: MashupRequest,
    context: Context,
    *,
    cone: sql.Cone | None,
    columns: Any = "*",
    filters: Any = None,
) -> TableResult:
    service = request.service
    if not isinstance(columns, str):
        raise ServiceFailure(
            f'{service}: \'columns\' must be a string such as "*" or "obsid, s_ra".'
        )
    if filters is not None and not isinstance(filters, list):
        raise ServiceFailure(f"{service}: 'filters' must be a list of filter objects.")
    texts = context.archive.row_texts("observations") if cone is None else None
    try:
        whole = texts is not None and (
            sql.compile_columns(schema.OBSERVATIONS, columns).names == texts.names
        )
        # One row past the limit is enough to know the limit is exceeded.
        if whole:
            found = sql.select_positions(
                context.archive, "observations", filters, limit=context.row_limit + 1
            )
        else:
            found = sql.select(
                context.archive, "observations", columns, filters, cone,
                limit=context.row_limit + 1,
            )
    except UnknownColumnError as exc:
        raise ServiceFailure(exc.message) from None
    except BadInputError as exc:
        raise ServiceFailure(exc.message) from None
    if found.total > context.row_limit:
        raise RowLimitExceeded(found.total, context.row_limit)
    if whole:
        archive = context.archive
        return _as_rows(
            found, texts, lambda names, at: sql.rows_at(archive, "observations", names, at)
        )
    return TableResult(found.table, _caom_fields(found.table))


def _as_rows(
    found: sql.QueryResult,
    texts: RowTexts | None,
    read: Callable[[tuple[str, ...], np.ndarray], pa.Table],
) -> TableResult:
    """A result of whole archive rows kept as their positions: json pages come from ``texts``,
    other formats read their page's columns with ``read(names, positions)``."""
    assert texts is not None and found.rows is not None
    names = texts.names
    return TableResult(
        None,
        _caom_fields(found.table),
        rows=RowSelection(texts, found.rows),
        load=lambda positions: read(names, positions),
    )


def caom_cone(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Caom.Cone``: ``ra``, ``dec``, ``radius`` (deg, default 0.2); adds ``distance``."""
    params = request.params
    cone = cone_from(request.service, params.get("ra"), params.get("dec"), params.get("radius"))
    return _select(request, context, cone=cone)


def caom_filtered(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Caom.Filtered``: ``columns`` and ``filters`` (``COUNT_BIG(*)`` counts)."""
    params = request.params
    return _select(
        request,
        context,
        cone=None,
        columns=params.get("columns", "*"),
        filters=params.get("filters"),
    )


def caom_filtered_position(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Caom.Filtered.Position``: as Filtered, within ``position`` = "ra, dec, radius"."""
    params = request.params
    return _select(
        request,
        context,
        cone=position_from(request.service, params),
        columns=params.get("columns", "*"),
        filters=params.get("filters"),
    )


def _obsids(value: Any) -> list[int]:
    if isinstance(value, bool):
        raise ServiceFailure("Error converting data type varchar to bigint.")
    if isinstance(value, int):
        return [value]
    if isinstance(value, float) and value.is_integer():
        return [int(value)]
    if isinstance(value, list):
        items: list[Any] = value
    elif isinstance(value, str):
        if _OBSID_LIST.fullmatch(value):  # the usual form: checked in one pass, not per id
            ids = [int(part) for part in value.split(",") if part.strip()]
            if all(-(2**63) <= number < 2**63 for number in ids):
                return ids
        items = [part for part in value.split(",") if part.strip()]
    else:
        raise ServiceFailure("Error converting data type varchar to bigint.")
    ids = []
    for item in items:
        text = str(item)
        if isinstance(item, bool) or not _OBSID.match(text):
            raise ServiceFailure("Error converting data type varchar to bigint.")
        number = int(text)
        if not -(2**63) <= number < 2**63:
            raise ServiceFailure(
                "Arithmetic overflow error converting expression to data type bigint."
            )
        ids.append(number)
    return ids


def caom_products(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Caom.Products``: the products of ``obsid`` (an int or comma-separated ids)."""
    if "obsid" not in request.params:
        raise ServiceFailure("Mast.Caom.Products: the 'obsid' parameter is required.")
    ids = _obsids(request.params["obsid"])
    columns = request.params.get("columns", "*")
    if not isinstance(columns, str):
        raise ServiceFailure("Mast.Caom.Products: 'columns' must be a string.")
    archive = context.archive
    texts = archive.row_texts("products")
    try:
        whole = texts is not None and (
            sql.compile_columns(schema.PRODUCTS, columns).names == texts.names
        )
        found = sql.select_products(archive, ids, columns, positions_only=whole)
    except UnknownColumnError as exc:
        raise ServiceFailure(exc.message) from None
    if found.total > context.row_limit:
        raise RowLimitExceeded(found.total, context.row_limit)
    if whole and found.rows is not None:  # else answered by SQL: the table is all there is
        return _as_rows(found, texts, lambda names, at: sql.products_at(archive, names, at))
    return TableResult(found.table, _caom_fields(found.table))


def config_properties(config: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Columns-config entries as extjs column properties (``vot.*`` kept, others ``cc.``)."""
    return {
        name: {(k if k.startswith("vot.") else f"cc.{k}"): v for k, v in entry.items()}
        for name, entry in config.items()
    }


def _histogram(archive: Any, column: str) -> dict[str, Any]:
    counts = archive.execute(
        f'SELECT "{column}" AS key, count(*) AS count FROM observations '
        f'WHERE "{column}" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1'
    ).to_pylist()
    hist: dict[str, Any] = {"hist": [{"count": r["count"], "key": r["key"]} for r in counts]}
    for r in counts:
        hist[str(r["key"])] = {"count": r["count"], "key": r["key"]}
    return hist


def caom_all(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Caom.All``: no rows, every column, with ``histObj`` facets (``list_missions``)."""
    empty = sql.select(context.archive, "observations", "*", limit=0).table
    properties = config_properties(schema.columns_config("Mast.Caom.Filtered"))
    for column in _FACETS:
        properties.setdefault(column, {})["histObj"] = _histogram(context.archive, column)
    return TableResult(empty, _caom_fields(empty), column_properties=properties)


def missions_list(request: MashupRequest, context: Context) -> TableResult:
    """``Mast.Missions.List``: one row per CAOM collection, in ``distinctValue``."""
    table = context.archive.execute(
        'SELECT DISTINCT obs_collection AS "distinctValue" FROM observations '
        "WHERE obs_collection IS NOT NULL ORDER BY 1"
    )
    return TableResult(table, (Field("distinctValue", "string"),))


def default_registry() -> Registry:
    """Every service the local server answers.

    Catalogue services (:mod:`mastkit.server.catalog_services`) and crossmatches
    (:mod:`mastkit.server.crossmatch`) are name patterns, so catalogues users add are served
    under their own names.
    """
    from mastkit.server import catalog_services, crossmatch

    registry = Registry(
        {
            "Mast.Name.Lookup": name_lookup,
            "Mast.Caom.Cone": caom_cone,
            "Mast.Caom.Filtered": caom_filtered,
            "Mast.Caom.Filtered.Position": caom_filtered_position,
            "Mast.Caom.Products": caom_products,
            "Mast.Caom.All": caom_all,
            "Mast.Missions.List": missions_list,
        }
    )
    registry.register_pattern(catalog_services.CONE, catalog_services.catalog_cone)
    registry.register_pattern(catalog_services.FILTERED, catalog_services.catalog_filtered)
    registry.register_pattern(catalog_services.ALL, catalog_services.catalog_all)
    registry.register_pattern(crossmatch.CROSSMATCH, crossmatch.crossmatch)
    return registry
