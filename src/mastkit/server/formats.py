"""The server's use of the :mod:`mastkit.tables` encoders, one function per reply format.

json and extjs replies carry the status envelope; csv and votable replies are the bare document
(MAST adds no status header to them, mast-protocol.md 3.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import pyarrow as pa
import pyarrow.types as pat

from mastkit.protocol import Paging, encode_envelope
from mastkit.tables import encode_csv, encode_extjs, encode_rows, encode_votable

if TYPE_CHECKING:
    from mastkit.server.responses import TableResult

__all__ = ["csv", "extjs", "json", "votable"]


#: Pages up to this many rows are encoded through Python objects (see :func:`_rows`).
SMALL_PAGE = 2000
_ENCODER = msgspec.json.Encoder()


def _plain(dtype: pa.DataType) -> bool:
    return bool(
        pat.is_integer(dtype)
        or pat.is_floating(dtype)
        or pat.is_string(dtype)
        or pat.is_large_string(dtype)
        or pat.is_boolean(dtype)
        or pat.is_null(dtype)
    )


def _rows(table: pa.Table) -> bytes:
    """``data`` of a json reply.

    :func:`mastkit.tables.encode_rows` runs Arrow kernels per column, which costs a few
    milliseconds per call however small the table; a typical cone page has tens of rows, and
    msgspec over ``to_pylist`` encodes those in a fraction of that, to the same JSON values
    (NaN and infinities become null in both). Larger pages, and any column of another type,
    go to ``encode_rows``.
    """
    if table.num_rows <= SMALL_PAGE and all(_plain(f.type) for f in table.schema):
        return _ENCODER.encode(table.to_pylist())
    return encode_rows(table)


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
