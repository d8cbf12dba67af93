"""MAST filters as SQL: values, ranges, free text and separators (mast-protocol.md 4.2).

:func:`compile_filters` turns a request's ``filters`` into a parameterised condition: every
value reaches DuckDB as a bound parameter, converted to its column's type first, and column
names come only from the validated schema (:mod:`mastkit.server.schema`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mastkit.errors import BadInputError
from mastkit.server.schema import Column, TableSchema

__all__ = ["compile_filters"]


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
