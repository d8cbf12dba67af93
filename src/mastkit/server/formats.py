"""The server's use of the :mod:`mastkit.tables` encoders, one function per reply format.

The json rows of a page are encoded here (:func:`_rows`), faster than the general encoder for
the plain column types every archive table has.

json and extjs replies carry the status envelope; csv and votable replies are the bare document
(MAST adds no status header to them, mast-protocol.md 3.3).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow as pa
import pyarrow.types as pat

from mastkit.protocol import Paging, encode_envelope
from mastkit.tables import encode_csv, encode_extjs, encode_rows, encode_votable

if TYPE_CHECKING:
    from mastkit.server.responses import TableResult

__all__ = ["csv", "extjs", "json", "votable"]


#: Up to this many rows a page is encoded from ``to_pylist``; past it column by column.
_TINY = 100
#: Rows encoded at a time, which bounds the Python objects alive at once.
_CHUNK = 16384
_ENCODER = msgspec.json.Encoder()


def _plain(dtype: pa.DataType) -> bool:
    """A type msgspec writes as the general encoder does.

    Not float32: Python sees its values as doubles (0.1 as 0.10000000149011612), where the
    general encoder writes the shortest float32 spelling (0.1).
    """
    return bool(
        pat.is_integer(dtype)
        or pat.is_float64(dtype)
        or pat.is_string(dtype)
        or pat.is_large_string(dtype)
        or pat.is_boolean(dtype)
        or pat.is_null(dtype)
    )


@functools.lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]) -> type[msgspec.Struct]:
    """A msgspec struct whose fields encode as ``names``, in order (any strings).

    Its instances hold plain values, never cycles, so the garbage collector need not track
    them: a quarter off the encoding time of a big page.
    """
    fields = [f"f{i}" for i in range(len(names))]
    return msgspec.defstruct(
        "Row", fields, rename=dict(zip(fields, names, strict=True)), gc=False
    )


def _values(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects, numbers through numpy (much faster than Arrow's).

    Null floats become NaN, which msgspec writes as null, as it writes NaN and infinities.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    dtype = array.type
    if pat.is_floating(dtype):
        if array.null_count:
            array = array.fill_null(float("nan"))
        values: list[Any] = array.to_numpy(zero_copy_only=False).tolist()
        return values
    if pat.is_string(dtype) or pat.is_large_string(dtype) or (
        (pat.is_integer(dtype) or pat.is_boolean(dtype)) and array.null_count == 0
    ):
        values = array.to_numpy(zero_copy_only=False).tolist()
        return values
    values = array.to_pylist()
    return values


def _struct_rows(table: pa.Table) -> bytes:
    row = _row_type(tuple(table.column_names))
    columns = [_values(column) for column in table.columns]
    return _ENCODER.encode([row(*values) for values in zip(*columns, strict=True)])


def _rows(table: pa.Table) -> bytes:
    """``data`` of a json reply: a JSON array of row objects.

    :func:`mastkit.tables.encode_rows` runs Arrow kernels per column, which costs a few
    milliseconds however small the table, and about 8 us a row on a cone's 37 columns. msgspec
    encodes the same JSON values (NaN and infinities as null) from Python objects: from
    ``to_pylist`` for a few rows, and past that from per-column lists (numpy converts numbers
    many times faster than Arrow does) zipped into structs, which msgspec encodes faster than
    dicts. That is about half the time of either. Columns of other types (times, nested) keep
    ``encode_rows``, so their spelling never varies.
    """
    if not all(_plain(f.type) for f in table.schema):
        return encode_rows(table)
    if table.num_rows <= _TINY or table.num_columns == 0:
        return _ENCODER.encode(table.to_pylist())
    if table.num_rows <= _CHUNK:
        return _struct_rows(table)
    parts = [_struct_rows(table.slice(start, _CHUNK))[1:-1]
             for start in range(0, table.num_rows, _CHUNK)]
    return b"[" + b",".join(parts) + b"]"


def json(table: pa.Table, result: TableResult, paging: Paging) -> bytes:
    """A json reply: status envelope, ``data`` as row objects, ``fields``, ``paging``."""
    return encode_envelope(
        status="COMPLETE",
        msg="",
        fields=result.fields,
        data_raw=_rows(table.select([f.name for f in result.fields])),
        paging=paging,
    )


def extjs(table: pa.Table, result: TableResult, paging: Paging) -> bytes:
    """An extjs reply: the DataSet under ``data``; paging lives in the table's properties."""
    data = encode_extjs(
        table,
        result.fields,
        column_properties=result.column_properties,
        table_properties=result.table_properties,
        paging=paging,
    )
    # extjs replies carry no top-level fields/paging (fixture missions.extjs).
    return b'{"status":"COMPLETE","msg":"","data":' + data + b"}"


def csv(table: pa.Table, result: TableResult) -> bytes:
    """A csv reply: header line and rows, no envelope."""
    return encode_csv(table.select([f.name for f in result.fields]))


def votable(table: pa.Table, result: TableResult) -> bytes:
    """A VOTable reply, with column descriptions and units from the result's column properties."""
    units: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for f in result.fields:
        props = result.column_properties.get(f.name, {})
        if props.get("vot.unit"):
            units[f.name] = str(props["vot.unit"])
        if props.get("vot.description"):
            descriptions[f.name] = str(props["vot.description"])
    return encode_votable(
        table.select([f.name for f in result.fields]), units=units, descriptions=descriptions
    )
