"""JSON rows from Arrow columns in one element-wise join: the server's hot path.

:func:`mastkit.tables._jsontext.json_values` turns each column into complete JSON texts (quoted,
escaped, ``null`` filled in) and the rows are then joined from those: every value is copied
twice or three times. Here each column contributes *pieces* to a single
``binary_join_element_wise`` call instead, so its bytes are copied once, into the row:

* constant text (keys, commas, and the quotes around a string column without nulls) is merged
  into one scalar between consecutive columns;
* a string column is its raw values (escaped only if some value needs it), between quotes;
* numbers are Arrow's text of them; a float that prints as an integer gets a ``.0`` piece;
* a null (or a NaN or infinity) joins as an empty value next to a ``null`` piece: the join
  replaces null arguments by ``""`` rather than nulling the row.

The kernels release the GIL, so a large table is split into row blocks encoded on a small
thread pool, and concurrent requests encode side by side.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeAlias

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from mastkit.tables._jsontext import json_values

__all__ = ["row_parts", "row_texts"]

_ENCODE: Final = msgspec.json.Encoder().encode
#: Rows per block; blocks are encoded in parallel and their text concatenated.
_BLOCK: Final = 16384
#: Integral floats below this print as plain digits in Arrow (``1e9`` -> ``1000000000``).
_DIGITS_BELOW: Final = 1e9
_JOIN: Final = pc.JoinOptions(null_handling="replace", null_replacement="")
_CONTROL: Final = {
    chr(c): {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, f"\\u{c:04x}")
    for c in range(32)
}
_POOL: ThreadPoolExecutor | None = None

Piece: TypeAlias = "pa.Array | str"


def _kind(dtype: pa.DataType) -> str | None:
    if pat.is_string(dtype) or pat.is_large_string(dtype):
        return "string"
    if pat.is_float64(dtype):
        return "float"
    if pat.is_integer(dtype) or pat.is_boolean(dtype):
        return "exact"
    if pat.is_null(dtype):
        return "null"
    return None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="mastkit-json"
        )
    return _POOL


def _marker(mask: np.ndarray, text: str) -> pa.Array:
    """``text`` where ``mask`` holds, ``""`` elsewhere (a short utf8 array)."""
    return pc.if_else(pa.array(mask), text, "")


def _escaped(column: pa.Array) -> pa.Array:
    """Escape what JSON requires in string values (most columns need nothing)."""
    if len(column) == 0:
        return column
    _, offsets, data = column.buffers()
    if offsets is None or data is None:
        return column
    width = np.int64 if pat.is_large_string(column.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[column.offset : column.offset + len(column) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)[int(bounds[0]) : int(bounds[-1])]
    if raw.size == 0:
        return column
    text = raw.tobytes()
    if b"\\" in text:
        column = pc.replace_substring(column, "\\", "\\\\")
    if b'"' in text:
        column = pc.replace_substring(column, '"', '\\"')
    if int(raw.min()) < 0x20:
        for char, escape in _CONTROL.items():
            if char.encode() in text:
                column = pc.replace_substring(column, char, escape)
    return column


def _float_pieces(column: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Arrow's shortest round-trip text of the finite values and the ``.0``/``null`` suffixes."""
    values = column.to_numpy(zero_copy_only=False)  # nulls read as NaN
    finite = np.isfinite(values)
    if not finite.all():
        column = pc.if_else(pa.array(finite), column, pa.scalar(None, column.type))
    text = column.cast(pa.string())
    with np.errstate(invalid="ignore"):
        integral = finite & (np.trunc(values) == values)
    if (integral & (np.abs(values) >= _DIGITS_BELOW)).any():
        # Large integral values may print with an exponent (1e+20 needs no .0): ask the text.
        has_point = pc.match_substring(text, ".")
        has_exp = pc.match_substring(text, "e")
        looks_int = pc.invert(pc.or_(has_point, has_exp)).fill_null(False)
        integral = looks_int.to_numpy(zero_copy_only=False)
    if finite.all() and not integral.any():
        return text, None
    suffix = np.full(len(values), "", dtype=object)
    suffix[integral] = ".0"
    suffix[~finite] = "null"
    return text, pa.array(suffix, pa.string())


def _column_pieces(column: pa.Array, kind: str | None) -> tuple[list[Piece], str]:
    """The pieces of one column's values, and the constant text that must follow them."""
    if kind == "null":
        return ["null"], ""
    if kind is None:
        return [json_values(column)], ""
    if kind == "string":
        # One block's text fits 32-bit offsets, and the join wants all pieces alike.
        escaped = _escaped(column.cast(pa.string()))
        if column.null_count == 0:
            return ['"', escaped], '"'
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        opening = pc.if_else(pa.array(valid), '"', "null")
        closing = _marker(valid, '"')
        return [opening, escaped, closing], ""
    if kind == "float":
        text, suffix = _float_pieces(column)
        return ([text] if suffix is None else [text, suffix]), ""
    text = column.cast(pa.string())  # integers exactly; booleans as true/false
    if column.null_count == 0:
        return [text], ""
    return [text, _marker(column.is_null().to_numpy(zero_copy_only=False), "null")], ""


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Consecutive constant pieces as one."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + piece
        elif not (isinstance(piece, str) and piece == ""):
            merged.append(piece)
    return merged


def _joined(table: pa.Table, keys: Sequence[str] | None, kinds: Sequence[str | None]) -> pa.Array:
    """Each row's text followed by a comma, as a string array (one element per row).

    Row objects ``{"key":value,...}`` with ``keys`` (JSON-encoded names), else positional rows
    ``[value,...]``.
    """
    n = table.num_rows
    opening, closing = ("{", "}") if keys is not None else ("[", "]")
    pieces: list[Piece] = []
    tail = ""
    for index, kind in enumerate(kinds):
        column = table.column(index).combine_chunks()
        lead = opening if index == 0 else ","
        pieces.append(tail + lead + (keys[index] + ":" if keys is not None else ""))
        values, tail = _column_pieces(column, kind)
        pieces.extend(values)
    pieces.append(tail + closing + ",")
    pieces = _merge(pieces)
    if not any(isinstance(p, pa.Array) for p in pieces):
        text = "".join(p for p in pieces if isinstance(p, str))
        return pa.array([text] * n, pa.string())
    return pc.binary_join_element_wise(*pieces, "", options=_JOIN)


def _block(table: pa.Table, keys: Sequence[str] | None, kinds: Sequence[str | None]) -> pa.Buffer:
    """Rows of a block, each followed by a comma, as one buffer (see :func:`_joined`)."""
    n = table.num_rows
    joined = _joined(table, keys, kinds)
    _, offsets, data = joined.buffers()
    assert offsets is not None and data is not None
    bounds = np.frombuffer(offsets, dtype=np.int32)
    start, end = int(bounds[joined.offset]), int(bounds[joined.offset + n])
    return data.slice(start, end - start)


def row_parts(table: pa.Table, *, objects: bool = True) -> list[bytes | pa.Buffer]:
    """A table as a JSON array of rows, in parts to be joined (by the caller, in one copy).

    Row objects (``objects``, the ``data`` of a json reply) or positional arrays (the ``Rows``
    of an extjs table). Nulls, NaN and infinities are ``null``; floats shortest round-trip,
    with a ``.0`` when integral; integers exact; strings escaped as JSON requires (UTF-8 kept
    as is); other types as :func:`mastkit.tables._jsontext.json_values` writes them.
    """
    n = table.num_rows
    if n == 0:
        return [b"[]"]
    if table.num_columns == 0:
        return [b"[" + b",".join([b"{}" if objects else b"[]"] * n) + b"]"]
    keys = [_ENCODE(name).decode() for name in table.column_names] if objects else None
    kinds = [_kind(f.type) for f in table.schema]
    starts = range(0, n, _BLOCK)
    if len(starts) == 1:
        blocks = [_block(table, keys, kinds)]
    else:
        blocks = list(_pool().map(lambda s: _block(table.slice(s, _BLOCK), keys, kinds), starts))
    last = blocks[-1]
    blocks[-1] = last.slice(0, last.size - 1)  # the last row's comma
    return [b"[", *blocks, b"]"]


def row_texts(table: pa.Table) -> list[pa.Array]:
    """Each row of ``table`` as its own JSON object text followed by a comma.

    The same text :func:`row_parts` writes for the row, kept apart: arrays of at most
    :data:`_BLOCK` rows (utf8, 32-bit offsets), in row order, so that any selection of rows can
    later be sent as a JSON array by concatenating their texts (see
    :mod:`mastkit.server.row_texts`).
    """
    if table.num_rows == 0:
        return []
    if table.num_columns == 0:
        return [pa.array(["{},"] * table.num_rows, pa.string())]
    keys = [_ENCODE(name).decode() for name in table.column_names]
    kinds = [_kind(f.type) for f in table.schema]
    return [_joined(table.slice(s, _BLOCK), keys, kinds) for s in range(0, table.num_rows, _BLOCK)]
