"""Python values → Arrow columns, following the MAST type rules of :mod:`mastkit.tables.schema`.

This is the careful path: the extjs decoder and the fallback of the json decoder use it when
Arrow's own JSON reader refuses the data (a column mixing numbers and text, a number written as
a string, nested values...). It looks at every value, so it is exact and gives precise errors,
and it is slower than the vectorised path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import DecodeError
from mastkit.tables.schema import TIMESTAMP, Kind

__all__ = ["apply_ignore_value", "column_from_values", "finish_date", "normalise_inferred"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})
_ENCODE = msgspec.json.Encoder().encode
# Declared kind → Arrow type, and the Python types Arrow converts to it without loss (Arrow
# would also truncate 1.5 into an int64 column, so floats are not allowed there).
_PLAIN: Final[dict[str, tuple[pa.DataType, set[type]]]] = {
    "float": (pa.float64(), {int, float}),
    "int": (pa.int64(), {int}),
    "bool": (pa.bool_(), {bool}),
}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(name: str, kind: str, row: int, value: Any) -> DecodeError:
    return DecodeError(
        f"Column {name!r} is declared {kind} but row {row} holds {_show(value)}, "
        f"which is not a {kind} value."
    )


def _as_json_text(value: Any) -> str | None:
    """A value of a text column: strings as they are, anything else as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return _ENCODE(value).decode()


def _text(values: Sequence[Any]) -> pa.Array:
    return pa.array([_as_json_text(v) for v in values], type=pa.string())


def _number_from_text(name: str, kind: str, row: int, text: str) -> int | float | None:
    stripped = text.strip()
    if not stripped:
        return None  # an empty string in a numeric column is how some writers spell null
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        raise _bad(name, kind, row, text) from None


def _numbers(name: str, kind: str, values: Sequence[Any]) -> list[int | float | None]:
    """Validate a numeric column, converting numeric strings and booleans; keep the rest."""
    out: list[int | float | None] = []
    for row, v in enumerate(values):
        if v is None or (type(v) is int) or (type(v) is float):
            out.append(v)
        elif isinstance(v, bool):
            out.append(int(v))
        elif isinstance(v, str):
            out.append(_number_from_text(name, kind, row, v))
        else:
            raise _bad(name, kind, row, v)
    return out


def _ints(name: str, values: Sequence[Any]) -> pa.Array:
    numbers = _numbers(name, "int", values)
    if all(
        v is None
        or (type(v) is int and _INT64_MIN <= v <= _INT64_MAX)
        or (type(v) is float and v.is_integer() and abs(v) < 2**63)
        for v in numbers
    ):
        return pa.array([None if v is None else int(v) for v in numbers], type=pa.int64())
    # A fraction or an out-of-range integer in an ``int`` column: keep the information as
    # float64 rather than failing the whole query (MAST has never been seen to do this).
    return pa.array([None if v is None else float(v) for v in numbers], type=pa.float64())


def _floats(name: str, values: Sequence[Any]) -> pa.Array:
    numbers = _numbers(name, "float", values)
    try:
        return pa.array([None if v is None else float(v) for v in numbers], type=pa.float64())
    except OverflowError:  # an integer beyond float range
        for row, v in enumerate(numbers):
            try:
                float(v or 0)
            except OverflowError:
                raise _bad(name, "float", row, v) from None
        raise  # pragma: no cover - the loop above always finds it


def _bools(name: str, values: Sequence[Any]) -> pa.Array:
    out: list[bool | None] = []
    for row, v in enumerate(values):
        if v is None or isinstance(v, bool):
            out.append(v)
        elif type(v) is int and v in (0, 1):
            out.append(bool(v))
        elif isinstance(v, str):
            text = v.strip().lower()
            if text in _TRUE:
                out.append(True)
            elif text in _FALSE:
                out.append(False)
            elif not text:
                out.append(None)
            else:
                raise _bad(name, "boolean", row, v)
        else:
            raise _bad(name, "boolean", row, v)
    return pa.array(out, type=pa.bool_())


def _inferred(values: Sequence[Any]) -> pa.Array:
    """A ``string``/``auto`` column: the JSON value types decide (see ``schema``)."""
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(values), pa.string())
    if kinds == {int}:
        if all(v is None or _INT64_MIN <= v <= _INT64_MAX for v in values):
            return pa.array(values, type=pa.int64())
        return _text(values)  # ids beyond int64 stay exact as text
    if kinds <= {int, float}:
        if all(v is None or type(v) is float or abs(v) < 2**53 for v in values):
            return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
        return _text(values)
    if kinds == {bool}:
        return pa.array(values, type=pa.bool_())
    if kinds == {str}:
        return pa.array(values, type=pa.string())
    return _text(values)


# Python's datetime spans years 1 to 9999: a timestamp outside could be neither shown nor
# converted, so such "dates" are left as the numbers they were.
_MIN_US: Final = -62135596800 * 10**6
_MAX_US: Final = 253402300799999999


def _in_range(stamps: pa.Array | pa.ChunkedArray) -> bool:
    extremes = pc.min_max(stamps.cast(pa.int64()))
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    return low is None or (low >= _MIN_US and high <= _MAX_US)


def finish_date(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Turn a decoded ``date`` column into ``timestamp[us]`` where its values allow.

    Numbers are epoch milliseconds (the legacy server's encoding); strings are parsed as
    ISO 8601 (with or without an offset, normalised to UTC). A column whose values do not all
    convert (text that is not a time, numbers out of range) is left as it is, so nothing is lost.
    """
    t = column.type
    if pa.types.is_null(t):
        return pa.nulls(len(column), TIMESTAMP)
    try:
        if pa.types.is_timestamp(t):
            if t.tz is not None:
                column = column.cast(pa.timestamp(t.unit, "UTC")).cast(pa.timestamp(t.unit))
            converted = column.cast(TIMESTAMP)
        elif pa.types.is_integer(t):
            converted = pc.multiply_checked(column.cast(pa.int64()), 1000).cast(TIMESTAMP)
        elif pa.types.is_floating(t):
            micros = pc.round(pc.multiply(column.cast(pa.float64()), 1000.0))
            converted = micros.cast(pa.int64()).cast(TIMESTAMP)  # NaN and overflow raise
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            try:
                converted = column.cast(TIMESTAMP)
            except pa.ArrowInvalid:  # offsets present: parse as UTC, then drop the zone
                converted = column.cast(pa.timestamp("us", "UTC")).cast(TIMESTAMP)
        else:
            return column
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column
    return converted if _in_range(converted) else column


def column_from_values(name: str, kind: Kind, values: Sequence[Any]) -> pa.Array:
    """Build one column from Python values (JSON nulls are ``None``).

    Raises
    ------
    DecodeError
        Naming the column and row, when a value cannot have the declared type (``"abc"`` in a
        ``float`` column, an object in an ``int`` column).
    """
    if kind in _PLAIN:
        # The usual case, every value already of the declared JSON type, at C speed; the
        # value-by-value conversions below handle the rest (and name what is wrong).
        arrow_type, allowed = _PLAIN[kind]
        types = {type(v) for v in values}
        types.discard(type(None))
        if types <= allowed:
            try:
                return pa.array(values, type=arrow_type)
            except (OverflowError, pa.ArrowInvalid):  # integers beyond int64
                pass
    if kind == "float":
        return _floats(name, values)
    if kind == "int":
        return _ints(name, values)
    if kind == "bool":
        return _bools(name, values)
    if kind == "date":
        array = _inferred(values)
        if array.type == pa.bool_():
            row = next(i for i, v in enumerate(values) if v is not None)
            raise _bad(name, "date", row, values[row])
        result = finish_date(array)
        assert isinstance(result, pa.Array)
        return result
    return _inferred(values)


def normalise_inferred(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Check a ``string``/``auto`` column typed by Arrow's inference.

    Returns the column to keep (all-null columns become utf8), or ``None`` when the careful
    path must decide instead: nested values, or a float column that may hold integers too large
    for int64 that Arrow silently turned into doubles.
    """
    t = column.type
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    if t in (pa.string(), pa.int64(), pa.bool_()):
        return column
    if t == pa.float64():
        biggest = pc.max(pc.abs(column)).as_py() if len(column) else None
        if biggest is not None and not math.isnan(biggest) and biggest >= 2.0**53:
            return None
        return column
    return None


def _comparable(value: Any, t: pa.DataType) -> Any:
    """The ignoreValue as a value of the column's type, or ``None`` when it cannot be one.

    Configs spell numeric ignoreValues as numbers or as text (``"NaN"``, ``"-999"``); booleans
    and numbers never match text columns and text never matches booleans.
    """
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t)
    if isinstance(value, bool):
        return value if pa.types.is_boolean(t) else None
    if isinstance(value, str) and numeric:
        try:
            value = float(value) if pa.types.is_floating(t) else int(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float):
        if not numeric:
            return None
        if pa.types.is_integer(t) and isinstance(value, float):
            return int(value) if value.is_integer() else None
        return value
    if isinstance(value, str) and pa.types.is_string(t):
        return value
    return None


def apply_ignore_value(column: pa.ChunkedArray, value: Any) -> pa.ChunkedArray:
    """Null out the entries equal to a columns-config ``ignoreValue``.

    A value that cannot be compared with the column's type (``""`` for a float column) matches
    nothing, as in astroquery. A NaN ignoreValue (the TIC config's ``"NaN"``) nulls NaNs.
    """
    t = column.type
    target = _comparable(value, t)
    if target is None:
        return column
    if isinstance(target, float) and math.isnan(target):
        mask = pc.is_nan(column)
    else:
        try:
            mask = pc.equal(column, pa.scalar(target, type=t))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return column
    if not pc.any(mask).as_py():
        return column
    result = pc.if_else(mask, pa.scalar(None, type=t), column)
    return result if isinstance(result, pa.ChunkedArray) else pa.chunked_array([result])
