"""The extjs format: a .NET DataSet with positional rows, and its ExtendedProperties.

astroquery uses it only to list missions (the ``histObj`` facets of ``obs_collection``); the
``Mast.Catalogs.All.*`` services put their histograms in the table's ExtendedProperties. Replies
in this format are small, so they are decoded through Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
import pyarrow as pa

from mastkit.errors import DecodeError
from mastkit.protocol.envelopes import Field
from mastkit.tables._values import apply_ignore_value, column_from_values
from mastkit.tables.schema import SELECTED_COLUMN, declared_schema, kind_of

__all__ = ["decode_extjs", "extjs_column_properties"]

_ANY: Final = msgspec.json.Decoder()


def _excerpt(raw: bytes, limit: int = 80) -> str:
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("..." if len(raw) > limit else "")


def _ignore(table: pa.Table, ignore_values: Mapping[str, Any] | None) -> pa.Table:
    for name, value in (ignore_values or {}).items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(
                index, table.field(index), apply_ignore_value(table.column(index), value)
            )
    return table


def _extjs_table(data_raw: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The decoded dataset and its first table (``None`` when it has none)."""
    try:
        dataset = _ANY.decode(data_raw)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"The extjs reply's data is not valid JSON ({exc})") from exc
    if not isinstance(dataset, dict):
        raise DecodeError(f"The extjs reply's data is not a DataSet object: {_excerpt(data_raw)}")
    tables = dataset.get("Tables") or []
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise DecodeError("The extjs reply's 'Tables' is not a list of table objects.")
    return dataset, (tables[0] if tables else None)


def _extjs_fields(table: dict[str, Any]) -> list[Field]:
    raw_fields = table.get("Fields")
    if raw_fields is None:  # fall back on the column list, types unknown
        raw_fields = [
            {"name": c.get("dataIndex") or c.get("text"), "type": "auto"}
            for c in table.get("Columns") or []
            if isinstance(c, dict)
        ]
    if not isinstance(raw_fields, list):
        raise DecodeError("The extjs table's 'Fields' is not a list.")
    fields = []
    for item in raw_fields:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DecodeError(f"The extjs table holds a malformed field: {item!r:.80}")
        fields.append(Field(item["name"], str(item.get("type") or "auto")))
    return fields


def decode_extjs(data_raw: bytes, *, ignore_values: Mapping[str, Any] | None = None) -> pa.Table:
    """Decode the ``data`` of an extjs reply (a DataSet with positional rows).

    The first table of ``Tables`` is decoded: ``Fields`` give names and types, and each of the
    ``Rows`` is an array in field order (a short row is padded with nulls).

    Raises
    ------
    DecodeError
        If the DataSet, its fields or rows have the wrong shape, or a value its declared type.

    Examples
    --------
    >>> raw = b'{"Tables": [{"Fields": [{"name": "n", "type": "int"}], "Rows": [[1], [null]]}]}'
    >>> decode_extjs(raw).column("n").to_pylist()
    [1, None]
    """
    if not data_raw.strip() or data_raw.strip() == b"null":
        return pa.table({})
    _, table = _extjs_table(data_raw)
    if table is None:
        return pa.table({})
    fields = _extjs_fields(table)
    rows = table.get("Rows") or []
    if not isinstance(rows, list):
        raise DecodeError("The extjs table's 'Rows' is not a list.")
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise DecodeError(f"Row {index} of the extjs table is not an array: {row!r:.80}")
    if not rows:
        return _ignore(declared_schema(fields).empty_table(), ignore_values)
    width = len(fields)
    padded = [row if len(row) >= width else row + [None] * (width - len(row)) for row in rows]
    names, columns = [], []
    for position, f in enumerate(fields):
        if f.name == SELECTED_COLUMN or f.name in names:
            continue
        names.append(f.name)
        values = [row[position] for row in padded]
        columns.append(column_from_values(f.name, kind_of(f.type), values))
    return _ignore(pa.table(columns, names=names), ignore_values)


def extjs_column_properties(data_raw: bytes) -> dict[str, Any]:
    """The ExtendedProperties of an extjs reply: per column, per table and per DataSet.

    Returns
    -------
    dict
        ``{"columns": {name: properties}, "table": properties, "dataset": properties}``. Column
        properties hold the columns config (``cc.*``, ``vot.*``) and, on page 1, the facet
        histogram ``histObj``; table properties hold ``Paging`` and, for the
        ``Mast.Catalogs.All.*`` services, ``discreteHistogram``/``continuousHistogram``.

    Examples
    --------
    >>> raw = (b'{"Tables": [{"Columns": [{"text": "obs_collection", "ExtendedProperties":'
    ...        b' {"histObj": {"hist": [], "HST": {"count": 3, "key": "HST"}}}}]}]}')
    >>> props = extjs_column_properties(raw)
    >>> sorted(k for k in props["columns"]["obs_collection"]["histObj"] if k != "hist")
    ['HST']
    """
    dataset, table = _extjs_table(data_raw)
    columns: dict[str, Any] = {}
    for column in (table or {}).get("Columns") or []:
        if not isinstance(column, dict):
            continue
        name = column.get("text") or column.get("dataIndex")
        if isinstance(name, str):
            props = column.get("ExtendedProperties")
            columns[name] = props if isinstance(props, dict) else {}
    table_props = (table or {}).get("ExtendedProperties")
    dataset_props = dataset.get("ExtendedProperties")
    return {
        "columns": columns,
        "table": table_props if isinstance(table_props, dict) else {},
        "dataset": dataset_props if isinstance(dataset_props, dict) else {},
    }
