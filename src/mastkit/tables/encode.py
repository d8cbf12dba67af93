"""Arrow tables → MAST wire payloads (what the local server sends).

The JSON encoders build the text with Arrow compute kernels (see :mod:`mastkit.tables._rowtext`),
in row blocks encoded side by side, so a large table is encoded without a Python object per
value; small tables go through msgspec, which starts faster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import pyarrow as pa

from mastkit.protocol.envelopes import Field, Paging
from mastkit.tables._csv import encode_csv
from mastkit.tables._rowtext import row_parts, row_texts
from mastkit.tables._votable import encode_votable
from mastkit.tables.schema import mast_type_for

__all__ = [
    "encode_csv",
    "encode_extjs",
    "encode_row_parts",
    "encode_row_texts",
    "encode_rows",
    "encode_votable",
    "fields_for",
]

_ENCODE: Final = msgspec.json.Encoder().encode
_SMALL_ROWS: Final = 2000


def fields_for(table: pa.Table, declared: Mapping[str, str] | None = None) -> list[Field]:
    """The ``fields`` declaration of a table: each column's MAST type name.

    Parameters
    ----------
    table : pyarrow.Table
    declared : mapping, optional
        Column name → type name to use instead of the one derived from the Arrow type; MAST
        declares its BIGINT ids ``string`` (``{"obsid": "string"}``) and a faithful server does
        too.

    Examples
    --------
    >>> t = pa.table({"obsid": pa.array([1], pa.int64()), "s_ra": [1.5], "mtFlag": [True]})
    >>> [(f.name, f.type) for f in fields_for(t, {"obsid": "string"})]
    [('obsid', 'string'), ('s_ra', 'float'), ('mtFlag', 'boolean')]
    """
    overrides = declared or {}
    return [Field(f.name, overrides.get(f.name) or mast_type_for(f.type)) for f in table.schema]


def _plain(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_null(dtype)
    )


def _small(table: pa.Table) -> bool:
    """Whether msgspec over Python values is the faster encoder (and gives the same JSON).

    The Arrow kernels cost a few milliseconds per table however small; below ~2000 rows
    msgspec wins. It writes NaN and infinities as null and floats with a ``.0`` as the kernels
    do; other types (times, nested) always take the kernels, so their spelling never varies.
    """
    return table.num_rows <= _SMALL_ROWS and all(_plain(f.type) for f in table.schema)


def encode_rows(table: pa.Table) -> bytes:
    """Encode a table as the ``data`` of a json reply: a JSON array of row objects.

    Every row holds every column, in table order. Nulls, NaN and infinities are ``null``;
    integers (int64 ids included) are JSON numbers; timestamps are ISO-8601 strings.

    Examples
    --------
    >>> encode_rows(pa.table({"obsid": [2003585980, None], "s_ra": [23.1, float("nan")]}))
    b'[{"obsid":2003585980,"s_ra":23.1},{"obsid":null,"s_ra":null}]'
    """
    if table.num_rows == 0:
        return b"[]"
    if table.num_columns == 0:
        return b"[" + b",".join([b"{}"] * table.num_rows) + b"]"
    if _small(table):
        return _ENCODE(table.to_pylist())
    return b"".join(row_parts(table))


def encode_row_parts(table: pa.Table) -> list[bytes | pa.Buffer]:
    """:func:`encode_rows` in parts, to be spliced into a reply with a single copy.

    Large tables are some 1 kB a row; joining the parts once, together with the envelope
    around them, spares a copy of the whole text.
    """
    if table.num_rows == 0 or table.num_columns == 0 or _small(table):
        return [encode_rows(table)]
    return row_parts(table)


def encode_row_texts(table: pa.Table) -> list[pa.Array]:
    """Each row of ``table`` as the JSON object :func:`encode_rows` writes for it, and a comma.

    Arrays of at most 16,384 rows (utf8), in row order: a store of rendered rows, from which
    any selection of rows becomes the ``data`` of a json reply by concatenation.

    Examples
    --------
    >>> [a.to_pylist() for a in encode_row_texts(pa.table({"n": [1, None], "s": ["a", "b"]}))]
    [['{"n":1,"s":"a"},', '{"n":null,"s":"b"},']]
    """
    return row_texts(table)


def _positional_rows(table: pa.Table) -> bytes:
    """The ``Rows`` of an extjs table: one JSON array per row, in column order."""
    if table.num_rows == 0:
        return b"[]"
    if table.num_columns == 0:
        return b"[" + b",".join([b"[]"] * table.num_rows) + b"]"
    if _small(table):
        columns = [column.to_pylist() for column in table.columns]
        return _ENCODE([list(row) for row in zip(*columns, strict=True)])
    return b"".join(row_parts(table, objects=False))


def encode_extjs(
    table: pa.Table,
    fields: Sequence[Field] | None = None,
    *,
    column_properties: Mapping[str, Mapping[str, Any]] | None = None,
    table_properties: Mapping[str, Any] | None = None,
    paging: Paging | None = None,
) -> bytes:
    """Encode a table as the ``data`` of an extjs reply (a DataSet with positional rows).

    Parameters
    ----------
    table : pyarrow.Table
    fields : sequence of Field, optional
        The declaration to send (default :func:`fields_for`); its names must be the table's.
    column_properties : mapping, optional
        Column name → its ``ExtendedProperties`` (``cc.*``/``vot.*`` config, ``histObj``).
    table_properties : mapping, optional
        The table's ``ExtendedProperties`` (``discreteHistogram``, ...).
    paging : Paging, optional
        Written into the table's ``ExtendedProperties.Paging`` (all zeros when not given, as
        MAST's histogram-only replies have).

    Examples
    --------
    >>> encode_extjs(pa.table({"n": [1]}))[:40]
    b'{"name":"NewDataSet","Tables":[{"name":"'
    """
    declared = list(fields) if fields is not None else fields_for(table)
    properties = dict(table_properties or {})
    properties["Paging"] = (paging or Paging()).to_json()
    columns = [
        {
            "text": f.name,
            "dataIndex": f.name.replace(".", "_"),
            "ExtendedProperties": dict((column_properties or {}).get(f.name, {})),
        }
        for f in declared
    ]
    head = {
        "name": "Table",
        "ExtendedProperties": properties,
        "Columns": columns,
        "Fields": [{"name": f.name, "type": f.type} for f in declared],
    }
    head_json = _ENCODE(head)
    return b"".join(
        [
            b'{"name":"NewDataSet","Tables":[',
            head_json[:-1],
            b',"Rows":',
            _positional_rows(table.select([f.name for f in declared])),
            b'}],"ExtendedProperties":{}}',
        ]
    )
