"""The server's use of the :mod:`mastkit.tables` encoders, one function per reply format.

The json rows of a page are encoded here (:func:`_row_parts`): small pages by msgspec, which
starts faster, large ones by the Arrow kernels of :mod:`mastkit.tables.encode`, and spliced into
the envelope in one copy.

json and extjs replies carry the status envelope; csv and votable replies are the bare document
(MAST adds no status header to them, mast-protocol.md 3.3).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow as pa
import pyarrow.types as pat

from mastkit.protocol import Paging, encode_envelope
from mastkit.tables import encode_csv, encode_extjs, encode_votable
from mastkit.tables.encode import encode_row_parts

if TYPE_CHECKING:
    from mastkit.server.responses import TableResult

__all__ = ["csv", "extjs", "json", "json_spliced", "votable"]


#: Up to this many rows a page is encoded from ``to_pylist``; past it column by column.
_TINY = 100
#: Up to this many rows of plain types a page is encoded by msgspec; past it by Arrow kernels.
_STRUCTS = 2000
#: Where the rows go in the envelope.
_SLOT = b"[]"
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
    return msgspec.defstruct("Row", fields, rename=dict(zip(fields, names, strict=True)), gc=False)


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
    if (
        pat.is_string(dtype)
        or pat.is_large_string(dtype)
        or ((pat.is_integer(dtype) or pat.is_boolean(dtype)) and array.null_count == 0)
    ):
        values = array.to_numpy(zero_copy_only=False).tolist()
        return values
    values = array.to_pylist()
    return values


def _struct_rows(table: pa.Table) -> bytes:
    row = _row_type(tuple(table.column_names))
    columns = [_values(column) for column in table.columns]
    return _ENCODER.encode([row(*values) for values in zip(*columns, strict=True)])


def _row_parts(table: pa.Table) -> list[bytes | pa.Buffer]:
    """``data`` of a json reply (a JSON array of row objects), in parts to join once.

    Two encoders give the same JSON values (NaN and infinities as null):

    * up to :data:`_STRUCTS` rows of plain types, msgspec from Python objects: from
      ``to_pylist`` for a few rows, past that from per-column lists (numpy converts numbers
      many times faster than Arrow does) zipped into structs, which msgspec encodes faster
      than dicts; Arrow kernels cost a few milliseconds per table however small;
    * past that, and for other types (times, nested) whatever the size, the Arrow kernels of
      :func:`mastkit.tables.encode.encode_row_parts`: about four times faster on a
      50,000-row page, and free of the GIL, so the pages a client fetches side by side are
      encoded side by side.
    """
    plain = all(_plain(f.type) for f in table.schema)
    if plain and (table.num_rows <= _TINY or table.num_columns == 0):
        return [_ENCODER.encode(table.to_pylist())]
    if plain and table.num_rows <= _STRUCTS:
        return [_struct_rows(table)]
    return encode_row_parts(table)


def _rows(table: pa.Table) -> bytes:
    """``data`` of a json reply, as one bytes object (see :func:`_row_parts`)."""
    parts = _row_parts(table)
    return parts[0] if len(parts) == 1 and isinstance(parts[0], bytes) else b"".join(parts)


def json(table: pa.Table, result: TableResult, paging: Paging) -> bytes:
    """A json reply: status envelope, ``data`` as row objects, ``fields``, ``paging``.

    The rows are spliced into the envelope in the one copy that makes the body: a 50,000-row
    page is some 50 MB, and every extra copy of it costs tens of milliseconds.
    """
    return json_spliced(_row_parts(table.select([f.name for f in result.fields])), result, paging)


def json_spliced(
    rows: Sequence[bytes | pa.Buffer | memoryview], result: TableResult, paging: Paging
) -> bytes:
    """A json reply whose ``data`` is ``rows`` (parts of a JSON array, joined here)."""
    envelope = encode_envelope(
        status="COMPLETE", msg="", fields=result.fields, data_raw=_SLOT, paging=paging
    )
    # The slot is the first ',"data":[]': a JSON string cannot hold an unescaped quote, so
    # nothing before it (status, msg) can contain that text.
    at = envelope.index(b',"data":' + _SLOT) + len(b',"data":')
    return b"".join([envelope[:at], *rows, envelope[at + len(_SLOT) :]])


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
