"""Concatenating the pages of one result.

Pages are decoded independently, so one page may type a column differently from another: a
column with no values on a page is utf8 (its declared default) while another page found int64
ids in it; one page saw only integers where another saw fractions. :func:`concat_pages` settles
each column on one type and concatenates without re-parsing anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

__all__ = ["common_type", "concat_pages"]


def _rank(t: pa.DataType) -> int:
    """Position of a type in the numeric promotion ladder bool < ints < floats."""
    if pa.types.is_boolean(t):
        return 0
    if pa.types.is_integer(t):
        return 1
    return 2


def common_type(types: Sequence[pa.DataType]) -> pa.DataType:
    """The type every one of ``types`` converts to without losing information.

    Null types are ignored; equal types stay; booleans, integers and floats promote to the
    widest kind present (int64, float64); timestamps to the finest unit; anything else mixed
    (numbers and text, say) becomes utf8, where every value keeps its text.

    Examples
    --------
    >>> common_type([pa.null(), pa.int64(), pa.float64()])
    DataType(double)
    >>> common_type([pa.int64(), pa.string()])
    DataType(string)
    """
    distinct = []
    for t in types:
        if not pa.types.is_null(t) and t not in distinct:
            distinct.append(t)
    if not distinct:
        return pa.null()
    if len(distinct) == 1:
        return distinct[0]
    if all(
        pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)
        for t in distinct
    ):
        return [pa.bool_(), pa.int64(), pa.float64()][max(_rank(t) for t in distinct)]
    if all(pa.types.is_timestamp(t) for t in distinct):
        units = ["s", "ms", "us", "ns"]
        finest = max(units.index(t.unit) for t in distinct)
        zones = {t.tz for t in distinct}
        return pa.timestamp(units[finest], zones.pop() if len(zones) == 1 else None)
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in distinct):
        return (
            pa.large_string() if any(pa.types.is_large_string(t) for t in distinct) else pa.string()
        )
    return pa.string()


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if column.null_count == len(column):
        return pa.chunked_array([pa.nulls(len(column), target)])
    # Numbers and booleans cast to text as Arrow writes them (true/false, shortest floats).
    return column.cast(target)


def _field_metadata(tables: Sequence[pa.Table], name: str) -> dict[bytes, bytes] | None:
    """The first field metadata (units, descriptions) any page has for a column."""
    for table in tables:
        index = table.schema.get_field_index(name)
        if index >= 0 and table.schema.field(index).metadata:
            return dict(table.schema.field(index).metadata)
    return None


def concat_pages(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate the pages of a result into one table, unifying column types.

    Columns are matched by name; the order is the first page's, then any column only later
    pages have. A column missing from a page is null there. A column that is all null on a
    page takes no part in choosing its type. The arrays are not copied when no cast is needed.

    Examples
    --------
    >>> p1 = pa.table({"obsid": [1, 2], "dataURL": pa.array([None, None], pa.string())})
    >>> p2 = pa.table({"obsid": pa.array([None], pa.string()), "dataURL": ["mast:x"]})
    >>> concat_pages([p1, p2]).schema.types
    [DataType(int64), DataType(string)]
    """
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first, check_metadata=True) for t in tables[1:]) and not any(
        pa.types.is_null(t) for t in first.types
    ):
        # The usual case, pages typed alike: nothing to settle (a null-typed column would
        # still take its declared type from the pages).
        return pa.concat_tables(tables)
    names: dict[str, None] = {}
    for table in tables:
        names.update(dict.fromkeys(table.column_names))
    targets: dict[str, pa.DataType] = {}
    for name in names:
        seen = []
        declared = []
        for table in tables:
            if name in table.column_names:
                column = table.column(name)
                declared.append(column.type)
                if column.null_count < len(column):
                    seen.append(column.type)
        target = common_type(seen)
        if pa.types.is_null(target):  # no values anywhere: agree on the declared types
            target = common_type(declared)
        targets[name] = target
    schema = pa.schema(
        [
            pa.field(name, target, metadata=_field_metadata(tables, name))
            for name, target in targets.items()
        ]
    )
    unified = []
    for table in tables:
        arrays = []
        for name, target in targets.items():
            if name in table.column_names:
                arrays.append(_cast(table.column(name), target))
            else:
                arrays.append(pa.chunked_array([pa.nulls(table.num_rows, target)]))
        unified.append(pa.Table.from_arrays(arrays, schema=schema))
    metadata = tables[0].schema.metadata
    result = pa.concat_tables(unified)
    return result.replace_schema_metadata(metadata) if metadata else result
