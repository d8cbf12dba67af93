"""Conversions between Arrow tables and astropy tables.

astropy is imported inside the functions, so importing :mod:`mastkit.tables` stays light.
Nulls become masked entries (a :class:`~astropy.table.MaskedColumn`) and back; a float NaN that
is not null stays an unmasked NaN. Units and descriptions travel both ways, and in Arrow they
live in each field's metadata under ``unit`` and ``description``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pragma: no cover
    from astropy.table import Table as AstropyTable

__all__ = ["field_info", "from_astropy", "to_astropy"]

_FILL: dict[str, Any] = {"i": 0, "u": 0, "f": 0.0, "b": False}


def field_info(table: pa.Table, key: str) -> dict[str, str]:
    """Per-column values of one field-metadata key (``unit`` or ``description``)."""
    out: dict[str, str] = {}
    raw = key.encode()
    for f in table.schema:
        if f.metadata and raw in f.metadata:
            out[f.name] = f.metadata[raw].decode("utf-8", "replace")
    return out


def _text(array: pa.Array) -> np.ndarray[Any, Any]:
    """A text column as fixed-width unicode, as astropy wants (object columns write nowhere).

    ASCII text (nearly all of MAST's) is padded and reinterpreted by Arrow and numpy kernels,
    several times faster than creating a Python string per value; other text goes that way.
    """
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype="U1")
    width = max(1, pc.max(pc.binary_length(array)).as_py() or 0)
    if pc.all(pc.string_is_ascii(array)).as_py():
        padded = pc.utf8_rpad(array, width=width, padding="\x00")  # numpy drops trailing NULs
        fixed = padded.cast(pa.binary()).cast(pa.binary(width))
        data = fixed.buffers()[1]
        raw = np.frombuffer(data, dtype=np.uint8, count=n * width, offset=fixed.offset * width)
        # ASCII bytes are their own code points: widening them to UCS-4 is the conversion.
        return raw.astype("<u4").view(f"<U{width}").reshape(n)
    values: np.ndarray[Any, Any] = array.to_numpy(zero_copy_only=False).astype(str)
    return values


def _numpy(
    column: pa.ChunkedArray | pa.Array, *, times_as_text: bool
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """A column as a numpy array and its null mask (``None`` when it has no nulls)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.cast(t.value_type)
        t = array.type
    if pa.types.is_null(t):
        return np.zeros(len(array), dtype="U1"), np.ones(len(array), dtype=bool)
    if pa.types.is_timestamp(t) and t.tz is not None:
        array = array.cast(pa.timestamp(t.unit))
        t = array.type
    if times_as_text and (pa.types.is_timestamp(t) or pa.types.is_date(t)):
        array = (
            pc.strftime(array, format="%Y-%m-%dT%H:%M:%S")
            if pa.types.is_timestamp(t)
            else array.cast(pa.string())
        )
        t = array.type
    mask = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        filled = array.fill_null("") if mask is not None else array
        return _text(filled), mask
    if mask is not None and (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    ):
        fill = False if pa.types.is_boolean(t) else 0
        array = array.fill_null(pa.scalar(fill, type=t))
    values = array.to_numpy(zero_copy_only=False)
    if not values.flags.writeable:
        # A view of Arrow's immutable buffers; an astropy table is the user's to modify.
        values = values.copy()
    if mask is not None and values.dtype.kind in "mM":
        values[mask] = np.datetime64("NaT")
    return values, mask


def to_astropy(
    table: pa.Table,
    *,
    units: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
    times_as_text: bool = False,
) -> AstropyTable:
    """An :class:`astropy.table.Table` from an Arrow table.

    Columns with nulls become :class:`~astropy.table.MaskedColumn`; units (parsed silently, so an
    unknown unit is kept as an unrecognised one rather than warned about) and descriptions come
    from ``units``/``descriptions`` or else from the Arrow field metadata.

    Parameters
    ----------
    times_as_text : bool
        Give timestamps as ISO-8601 strings rather than ``datetime64`` (for FITS and VOTable
        files, which have no datetime64 column type).

    Examples
    --------
    >>> t = to_astropy(pa.table({"obsid": [1, None]}), units={"obsid": ""})
    >>> t["obsid"].mask.tolist()
    [False, True]
    """
    from astropy import units as u
    from astropy.table import Column, MaskedColumn, Table

    units = {**field_info(table, "unit"), **(units or {})}
    descriptions = {**field_info(table, "description"), **(descriptions or {})}
    columns = []
    for name in table.column_names:
        values, mask = _numpy(table.column(name), times_as_text=times_as_text)
        unit = units.get(name)
        kwargs: dict[str, Any] = {
            "name": name,
            "unit": u.Unit(unit, parse_strict="silent") if unit else None,
            "description": descriptions.get(name),
        }
        if mask is not None:
            columns.append(MaskedColumn(values, mask=mask, copy=False, **kwargs))
        else:
            columns.append(Column(values, copy=False, **kwargs))
    result = Table(columns, copy=False)
    if meta:
        result.meta.update(meta)
    return result


def from_astropy(table: AstropyTable) -> pa.Table:
    """An Arrow table from an :class:`astropy.table.Table`: masked entries become nulls.

    Units and descriptions go to the field metadata. Multidimensional columns become Arrow
    list columns; byte strings are decoded as UTF-8.

    Examples
    --------
    >>> from astropy.table import MaskedColumn, Table
    >>> table = Table([MaskedColumn([1, 2], mask=[False, True], name="n")])
    >>> from_astropy(table).column("n").to_pylist()
    [1, None]
    """
    arrays, fields = [], []
    for column in table.itercols():
        data = np.asarray(column)
        if data.dtype.byteorder == (">" if np.little_endian else "<"):
            # FITS columns are big-endian; Arrow takes native byte order only.
            data = data.astype(data.dtype.newbyteorder("="))
        mask = np.ma.getmaskarray(column) if getattr(column, "mask", None) is not None else None
        if mask is not None and not mask.any():
            mask = None
        if data.dtype.kind == "S":
            data = np.char.decode(data, "utf-8", "replace")
        if data.dtype.kind == "O":
            values = [
                None if (mask is not None and mask[i]) else _plain(v) for i, v in enumerate(data)
            ]
            array = pa.array(values)
        elif data.ndim > 1:
            values = [
                None if (mask is not None and np.all(mask[i])) else row.tolist()
                for i, row in enumerate(data)
            ]
            array = pa.array(values)
        else:
            array = pa.array(data, mask=mask)
        metadata = {}
        if column.unit is not None and str(column.unit):
            metadata[b"unit"] = str(column.unit).encode()
        if getattr(column, "description", None):
            metadata[b"description"] = str(column.description).encode()
        arrays.append(array)
        fields.append(pa.field(column.name, array.type, metadata=metadata or None))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
