"""Arrow columns → JSON text, vectorised.

Each column is turned into a utf8 array holding every value's JSON text (``null`` for nulls and
non-finite floats), with Arrow compute kernels; rows are then assembled with element-wise joins.
Nothing passes through Python objects except for exotic types (lists, structs, binary), which
msgspec encodes value by value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["concat_strings", "join_rows", "json_values"]

_ENCODE: Final = msgspec.json.Encoder().encode
# JSON escapes for the control characters; \\ and \" are handled first, separately.
_CONTROL: Final = {
    chr(c): {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, f"\\u{c:04x}")
    for c in range(32)
}


def _value_bytes(column: pa.Array) -> bytes:
    """The bytes of a utf8 column's values (the region of its data buffer they occupy)."""
    _, offsets_buffer, data_buffer = column.buffers()
    if offsets_buffer is None or data_buffer is None or len(column) == 0:
        return b""
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)
    start, end = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    data: bytes = data_buffer.slice(start, end - start).to_pybytes()
    return data


def _json_strings(column: pa.Array) -> pa.Array:
    """Quote and escape a utf8 column as JSON string literals (nulls stay null).

    One look at the raw bytes says which escapes are needed at all; most columns need none,
    and each replacement kernel is a full pass over the text.
    """
    data = _value_bytes(column)
    if b"\\" in data:
        column = pc.replace_substring(column, "\\", "\\\\")
    if b'"' in data:
        column = pc.replace_substring(column, '"', '\\"')
    if data and int(np.frombuffer(data, dtype=np.uint8).min()) < 0x20:
        for char, escape in _CONTROL.items():
            if char.encode() in data:
                column = pc.replace_substring(column, char, escape)
    return pc.binary_join_element_wise('"', column, '"', "")


def float_text(column: pa.Array) -> pa.Array:
    """Floats in their shortest round-trip form, always looking like floats.

    Arrow writes ``2.0`` as ``2`` and ``-0.0`` as ``-0``; a reader would take those for
    integers (and lose the sign of zero), so a ``.0`` is added where there is no ``.`` or
    exponent.
    """
    text = column.cast(pa.string())
    integral = pc.invert(pc.or_(pc.match_substring(text, "."), pc.match_substring(text, "e")))
    integral = pc.and_(integral, pc.is_finite(column))
    return pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)


def _python(column: pa.Array) -> pa.Array:
    """The slow but general way: each value through msgspec (lists, structs, binary...)."""
    texts = [None if v is None else _ENCODE(v).decode() for v in column.to_pylist()]
    return pa.array(texts, type=pa.string())


def json_values(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Every value of a column as JSON text, nulls and NaN/±inf as ``null``.

    Integers are written exactly, floats in their shortest round-trip form, booleans as
    ``true``/``false``, timestamps and dates as ISO-8601 strings.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    t = column.type
    if pa.types.is_dictionary(t):
        return json_values(column.cast(t.value_type))
    if pa.types.is_null(t):
        text = pa.nulls(len(column), pa.string())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        text = _json_strings(column.cast(pa.string()))
    elif pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t):
        text = column.cast(pa.string())
    elif pa.types.is_floating(t):
        finite = pc.is_finite(column)
        text = pc.if_else(finite, float_text(column), pa.scalar(None, pa.string()))
    elif pa.types.is_timestamp(t):
        if t.tz is not None:
            text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S%z")
        else:
            text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        text = pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_date(t) or pa.types.is_time(t):
        text = pc.binary_join_element_wise('"', column.cast(pa.string()), '"', "")
    else:
        text = _python(column)
    return text.fill_null("null")


def join_rows(pieces: Sequence[pa.Array | str], count: int) -> pa.Array:
    """Join ``pieces`` (columns of text and constant strings) element-wise into ``count`` rows."""
    if not any(isinstance(p, pa.Array) for p in pieces):
        return pa.array(["".join(p for p in pieces if isinstance(p, str))] * count, pa.string())
    # binary_join_element_wise takes the separator last; arguments may be scalars.
    return pc.binary_join_element_wise(*pieces, "")


def concat_strings(array: pa.Array) -> pa.Buffer | bytes:
    """All values of a utf8 array, concatenated, as a zero-copy view of its data buffer."""
    if len(array) == 0:
        return b""
    if array.null_count:
        array = array.fill_null("")
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.string())
    offsets_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets_buffer, data_buffer = array.buffers()
    assert offsets_buffer is not None and data_buffer is not None
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)
    start = int(offsets[array.offset])
    end = int(offsets[array.offset + len(array)])
    return data_buffer.slice(start, end - start)
