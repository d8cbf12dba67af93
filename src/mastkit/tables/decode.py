"""MAST reply payloads → :class:`pyarrow.Table`.

The json format's ``data`` (a JSON array of row objects) is the hot path. It is decoded without
materialising Python objects: msgspec splits (and validates) the array, and Arrow's
multithreaded JSON reader parses the rows (:mod:`mastkit.tables._arrowjson`). The declared
numeric and boolean columns get an explicit Arrow type; the ``string`` ones are typed from their
values, so the Int64 ids MAST declares ``string`` but sends as numbers come back int64.

When Arrow refuses the data (a column mixing numbers and text, a number sent as a string,
nested values, a row that is not an object), the careful path decodes the rows with msgspec
and builds each column from the Python values (:mod:`mastkit.tables._values`). It gives the
same table the fast path would have, or a :class:`~mastkit.errors.DecodeError` naming the
column and row. Small replies (under 1 MiB of rows, most cone searches) take the careful path
directly: starting Arrow's reader costs more than it saves there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa

from mastkit.errors import DecodeError
from mastkit.protocol.envelopes import DataRows, Field, MashupResponse
from mastkit.tables._arrowjson import read_rows
from mastkit.tables._csv import decode_csv
from mastkit.tables._extjs import decode_extjs, extjs_column_properties
from mastkit.tables._values import apply_ignore_value, column_from_values
from mastkit.tables._votable import decode_votable
from mastkit.tables.schema import SELECTED_COLUMN, declared_schema, kind_of

__all__ = [
    "decode_csv",
    "decode_extjs",
    "decode_reply",
    "decode_rows",
    "decode_votable",
    "extjs_column_properties",
]

_SPLIT: Final = msgspec.json.Decoder(list[msgspec.Raw])
_ANY: Final = msgspec.json.Decoder()
# JSON allows newlines only as whitespace between tokens, so mapping them to spaces keeps the
# document's meaning and lets each row sit on one line (pretty-printed replies exist).
_FLATTEN: Final = bytes.maketrans(b"\r\n", b"  ")
# Below this many bytes of data, the careful path is the faster one (measured crossover:
# ~1000 CAOM rows, 1-2 MB).
_SMALL: Final = 1 << 20
_WHITESPACE: Final = frozenset(b" \t\r\n")
_OPEN: Final = ord("[")
_CLOSE: Final = ord("]")


def _excerpt(raw: bytes, limit: int = 80) -> str:
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("..." if len(raw) > limit else "")


def _unique(fields: Sequence[Field]) -> list[Field]:
    """Declared columns without ``_selected_`` and without repeats (the first one wins)."""
    seen: set[str] = set()
    out = []
    for f in fields:
        if f.name != SELECTED_COLUMN and f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out


def _check_utf8(data: bytes | memoryview) -> None:
    """JSON text is UTF-8, and Arrow's reader does not check it; Arrow's validator is fast."""
    offsets = np.array([0, memoryview(data).nbytes], dtype=np.int64)
    blob = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        blob.cast(pa.large_string())
    except pa.ArrowInvalid as exc:
        raise DecodeError("The reply's data is not valid UTF-8 text.") from exc


def _json_error(exc: msgspec.DecodeError, data: bytes) -> DecodeError:
    if isinstance(exc, msgspec.ValidationError):
        return DecodeError(
            f"The reply's data is not a JSON array of rows ({exc}): {_excerpt(data)}"
        )
    if "truncated" in str(exc).lower():
        return DecodeError(f"The reply's data was cut off after {len(data)} bytes: {exc}")
    return DecodeError(f"The reply's data is not valid JSON ({exc})")


def _split(data: bytes) -> list[msgspec.Raw]:
    try:
        return _SPLIT.decode(data)
    except msgspec.DecodeError as exc:
        raise _json_error(exc, data) from exc


def decode_rows(
    fields: Sequence[Field],
    data_raw: bytes,
    *,
    ignore_values: Mapping[str, Any] | None = None,
    threads: bool = True,
) -> pa.Table:
    """Decode the ``data`` of a json reply (an array of row objects) into an Arrow table.

    Parameters
    ----------
    fields : sequence of Field
        The reply's declared columns. They give the column order and types (see
        :mod:`mastkit.tables.schema`). When empty (some replies carry none) every key of the
        rows becomes a column, typed by its values.
    data_raw : bytes
        The still-encoded JSON of ``data`` (``MashupResponse.data_raw``).
    ignore_values : mapping, optional
        Column name → value that means null (a columns config's ``ignoreValue``, see
        :func:`~mastkit.tables.schema.ignore_values_from_config`).
    threads : bool
        Whether a large reply may be parsed on Arrow's thread pool (the default, fastest for
        one reply); False parses on the calling thread, which costs less CPU time in all when
        several replies are decoded side by side.

    Returns
    -------
    pyarrow.Table
        One column per declared field, in order, ``_selected_`` dropped; keys absent from
        ``fields`` are ignored. JSON nulls and missing keys are nulls.

    Raises
    ------
    DecodeError
        If ``data`` is not an array of objects, is truncated, or holds a value its declared type
        cannot take (the message names the column and row).

    Examples
    --------
    >>> t = decode_rows([Field("obsid", "string"), Field("s_ra", "float")],
    ...                 b'[{"obsid": 2003585980, "s_ra": 23.1}, {"obsid": null, "s_ra": 1}]')
    >>> t.schema.types, t.column("obsid").to_pylist()
    ([DataType(int64), DataType(double)], [2003585980, None])
    """
    declared = _unique(fields)
    data = data_raw.strip()
    if not data or data == b"null":
        table = declared_schema(declared).empty_table()
    elif len(data) < _SMALL:
        # Arrow's reader costs a few milliseconds to start; a small reply is decoded sooner
        # (3-5x for a typical cone search) through Python values.
        table = _careful(declared, data)
    else:
        if b"\n" in data or b"\r" in data:
            data = data.translate(_FLATTEN)
        rows = _split(data)
        if not rows:
            table = declared_schema(declared).empty_table()
        else:
            table = _arrow(declared, data, rows, threads)
    return _ignore(table, ignore_values)


def _arrow(
    declared: list[Field], data: bytes | memoryview, rows: list[msgspec.Raw], threads: bool
) -> pa.Table:
    """The rows (non-empty) of the array ``data`` through Arrow, or the careful path."""
    _check_utf8(data)
    table = read_rows(declared, data, rows, threads)
    return table if table is not None else _careful(declared, bytes(data))


def _address(buffer: bytes | bytearray | msgspec.Raw) -> int:
    return int(np.frombuffer(buffer, dtype=np.uint8).ctypes.data)


def _locate(body: bytes | bytearray, rows: list[msgspec.Raw]) -> tuple[int, int] | None:
    """Where the array holding ``rows`` (slices of ``body``) starts and ends in ``body``."""
    base = _address(body)
    first = _address(rows[0]) - base
    last = _address(rows[-1]) - base + len(rows[-1])
    # Slices of another buffer cannot lie inside this one: the check is exact.
    if not 0 < first <= last < len(body):
        return None
    start, end = first - 1, last
    while start > 0 and body[start] in _WHITESPACE:
        start -= 1
    while end < len(body) - 1 and body[end] in _WHITESPACE:
        end += 1
    if body[start] != _OPEN or body[end] != _CLOSE:
        return None
    return start, end + 1


def _decode_split(fields: list[Field], split: DataRows, threads: bool) -> pa.Table:
    """Decode rows the envelope decoder already split, in place in the reply's body."""
    body, rows = split.body, split.rows
    span = _locate(body, rows)
    if span is None:  # not slices of the body after all: decode a copy
        return decode_rows(fields, split.array(), threads=threads)
    start, end = span
    if end - start < _SMALL:
        return _careful(fields, bytes(body[start:end]))
    data = memoryview(body)[start:end]
    _check_utf8(data)
    table = read_rows(fields, data, rows, threads)
    if table is not None:
        return table
    # Arrow reads one row per line, so a row spread over lines (pretty-printed) fails there;
    # looking for line breaks only now spares the common case a pass over the data.
    if body.find(b"\n", start, end) >= 0 or body.find(b"\r", start, end) >= 0:
        return decode_rows(fields, bytes(body[start:end]), threads=threads)
    return _careful(fields, bytes(body[start:end]))


def _ignore(table: pa.Table, ignore_values: Mapping[str, Any] | None) -> pa.Table:
    if not ignore_values:
        return table
    for name, value in ignore_values.items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            column = apply_ignore_value(table.column(index), value)
            table = table.set_column(index, table.field(index), column)
    return table


def _careful(fields: list[Field], data: bytes) -> pa.Table:
    """Decode through Python values: exact, with precise errors, and slower."""
    try:
        rows = _ANY.decode(data)
    except msgspec.DecodeError as exc:
        raise _json_error(exc, data) from exc
    except UnicodeDecodeError as exc:
        raise DecodeError("The reply's data is not valid UTF-8 text.") from exc
    if not isinstance(rows, list):
        kind = type(rows).__name__.replace("dict", "object")
        raise DecodeError(
            f"The reply's data is not a JSON array of rows (it is {kind}): {_excerpt(data)}"
        )
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            shown = _excerpt(msgspec.json.encode(row))
            raise DecodeError(f"Row {index} of the reply's data is not a JSON object: {shown}")
    if fields:
        pairs = [(f.name, kind_of(f.type)) for f in fields]
    else:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        pairs = [(name, "auto") for name in seen if name != SELECTED_COLUMN]
    columns = [column_from_values(name, kind, [r.get(name) for r in rows]) for name, kind in pairs]
    return pa.table(columns, names=[name for name, _ in pairs])


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------


def decode_reply(
    response: MashupResponse,
    *,
    ignore_values: Mapping[str, Any] | None = None,
    threads: bool = True,
) -> pa.Table:
    """Decode the table of a reply, whatever its format (json, extjs, csv, votable).

    An empty result gives an empty table with the declared columns. ``threads``: see
    :func:`decode_rows`.

    Examples
    --------
    >>> from mastkit.protocol import decode_response
    >>> reply = decode_response(b'{"status": "COMPLETE", "msg": "", "data": [],'
    ...                         b' "fields": [{"name": "s_ra", "type": "float"}]}')
    >>> decode_reply(reply).schema
    s_ra: double
    """
    if response.format == "extjs":
        return decode_extjs(response.data_raw, ignore_values=ignore_values)
    if response.format == "csv" and response.body:
        return _ignore(decode_csv(response.body, response.fields or None), ignore_values)
    if response.format == "votable" and response.body:
        return _ignore(decode_votable(response.body), ignore_values)
    if response.data_rows is not None:
        table = _decode_split(_unique(response.fields), response.data_rows, threads)
        return _ignore(table, ignore_values)
    return decode_rows(
        response.fields, response.data_raw, ignore_values=ignore_values, threads=threads
    )
