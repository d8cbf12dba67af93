"""Tables users hand to a crossmatch: any table type in, Arrow and checked positions out.

:func:`as_arrow` accepts a :class:`~mastkit.tables.ResultTable`, a :class:`pyarrow.Table` or
RecordBatch, an astropy ``Table`` (or ``QTable``), a pandas or polars ``DataFrame``, anything
exporting the Arrow PyCapsule stream, a mapping of columns, or a list of row mappings.
:func:`positions` finds the RA and Dec columns (given, or by their usual names in any case:
``ra``/``dec``, ``s_ra``/``s_dec``, ``RAJ2000``/``DEJ2000``, ``ra_deg``/``dec_deg``...) and
returns them as float64 degrees, after checking every value: a null, a non-finite number, a
declination outside [-90, 90] or a right ascension outside [-360, 360] is a
:class:`~mastkit.errors.BadInputError` naming the row. Right ascensions are wrapped into
[0, 360). Columns in hours (an astropy unit ``h``/``hourangle``) or radians are converted.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, UnknownColumnError

__all__ = ["COORDINATE_NAMES", "Positions", "as_arrow", "find_coordinate_columns", "positions"]

#: RA/Dec column pairs recognised by name (ignoring case), in order of preference.
COORDINATE_NAMES: tuple[tuple[str, str], ...] = (
    ("ra", "dec"),
    ("s_ra", "s_dec"),
    ("raj2000", "dej2000"),
    ("raj2000", "decj2000"),
    ("_raj2000", "_dej2000"),
    ("ra_j2000", "dec_j2000"),
    ("ra_deg", "dec_deg"),
    ("radeg", "decdeg"),
    ("radeg", "dedeg"),
    ("ra_icrs", "dec_icrs"),
    ("ra_icrs", "de_icrs"),
    ("ramean", "decmean"),
    ("raepoch2000", "decepoch2000"),
    ("target_ra", "target_dec"),
    ("targ_ra", "targ_dec"),
    ("matchra", "matchdec"),
    ("alpha", "delta"),
)

_HOURS = {"h", "hour", "hourangle", "hr"}
_RADIANS = {"rad", "radian", "radians"}


def as_arrow(table: Any) -> pa.Table:
    """The table as a :class:`pyarrow.Table` (see the module documentation for the types).

    Raises
    ------
    BadInputError
        For anything that is not a table.

    Examples
    --------
    >>> as_arrow({"ra": [1.0], "dec": [2.0]}).num_rows
    1
    """
    from mastkit.tables import ResultTable

    if isinstance(table, ResultTable):
        return table.arrow
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    module = type(table).__module__.split(".")[0]
    if module == "astropy" and hasattr(table, "itercols"):
        return _from_astropy(table)
    if module == "pandas" and hasattr(table, "columns"):
        try:
            return pa.Table.from_pandas(table, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise BadInputError(f"Cannot read this DataFrame as a table: {exc}") from exc
    if module == "polars" and hasattr(table, "to_arrow"):
        arrow: pa.Table = table.to_arrow()
        return arrow
    if hasattr(table, "__arrow_c_stream__"):
        try:
            return pa.table(table)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise BadInputError(
                f"Cannot read the Arrow stream of {type(table).__name__}: {exc}"
            ) from exc
    if isinstance(table, Mapping):
        try:
            return pa.table({str(k): v for k, v in table.items()})
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise BadInputError(f"Cannot read these columns as a table: {exc}") from exc
    if (
        isinstance(table, Sequence)
        and not isinstance(table, str | bytes)
        and (not table or all(isinstance(row, Mapping) for row in table))
    ):
        try:
            return pa.Table.from_pylist(list(table))
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise BadInputError(f"Cannot read these rows as a table: {exc}") from exc
    raise BadInputError(
        f"Cannot crossmatch a {type(table).__name__}: give an astropy Table, a pandas or polars "
        "DataFrame, an Arrow table, a ResultTable, a dict of columns or a list of row dicts."
    )


def _from_astropy(table: Any) -> pa.Table:
    """An astropy table, with SkyCoord columns split into ``<name>_ra``/``<name>_dec``."""
    from mastkit.tables.convert import from_astropy

    plain = table.__class__(table, copy=False)
    sky = [
        name
        for name in plain.colnames
        if hasattr(plain[name], "icrs") and hasattr(plain[name], "frame")
    ]
    for name in sky:
        icrs = plain[name].icrs
        index = plain.colnames.index(name)
        plain.remove_column(name)
        plain.add_column(np.asarray(icrs.dec.deg, dtype=float), index=index, name=f"{name}_dec")
        plain.add_column(np.asarray(icrs.ra.deg, dtype=float), index=index, name=f"{name}_ra")
    for name in plain.colnames:
        column = plain[name]
        if hasattr(column, "unit") and hasattr(column, "value") and not hasattr(column, "mask"):
            # Quantity columns (QTable) become plain columns with a unit.
            from astropy.table import Column

            column = Column(column.value, name=name, unit=column.unit)
            plain.replace_column(name, column)
        dtype = getattr(column, "dtype", None)
        if dtype is not None and dtype.byteorder not in ("=", "|"):
            # FITS columns are big-endian; Arrow takes native byte order only.
            plain.replace_column(name, column.astype(dtype.newbyteorder("=")))
    return from_astropy(plain)


def _sky_pair(names: Sequence[str]) -> tuple[str, str] | None:
    """A ``<name>_ra``/``<name>_dec`` pair made from a SkyCoord column, if there is one."""
    for name in names:
        if name.endswith("_ra") and f"{name[:-3]}_dec" in names:
            return name, f"{name[:-3]}_dec"
    return None


def find_coordinate_columns(
    names: Sequence[str], ra: str | None = None, dec: str | None = None
) -> tuple[str, str]:
    """The RA and Dec column names of a table with columns ``names``.

    Parameters
    ----------
    names : sequence of str
        The table's columns.
    ra, dec : str, optional
        The columns to use (matched ignoring case); found by name when not given.

    Raises
    ------
    UnknownColumnError
        A given column the table does not have (with suggestions).
    BadInputError
        No recognisable pair, or only one of ``ra``/``dec`` given.

    Examples
    --------
    >>> find_coordinate_columns(["name", "RAJ2000", "DEJ2000"])
    ('RAJ2000', 'DEJ2000')
    >>> find_coordinate_columns(["x", "y"], ra="X", dec="y")
    ('x', 'y')
    """
    by_lower = {n.lower(): n for n in names}
    if (ra is None) != (dec is None):
        raise BadInputError("Give both ra and dec column names, or neither (to find them).")
    if ra is not None and dec is not None:
        return _column(by_lower, names, ra), _column(by_lower, names, dec)
    for ra_name, dec_name in COORDINATE_NAMES:
        if ra_name in by_lower and dec_name in by_lower:
            return by_lower[ra_name], by_lower[dec_name]
    sky = _sky_pair(list(names))
    if sky is not None:
        return sky
    shown = ", ".join(list(names)[:15]) + (", ..." if len(names) > 15 else "")
    raise BadInputError(
        f"No RA/Dec columns found among: {shown or 'no columns'}. Name them (ra=..., dec=...; "
        "--ra/--dec on the command line); recognised names include ra/dec, s_ra/s_dec, "
        "RAJ2000/DEJ2000 and ra_deg/dec_deg."
    )


def _column(by_lower: Mapping[str, str], names: Sequence[str], wanted: str) -> str:
    found = by_lower.get(str(wanted).lower())
    if found is None:
        close = difflib.get_close_matches(str(wanted), list(names), n=3, cutoff=0.6)
        raise UnknownColumnError(str(wanted), close, service="the input table", known=list(names))
    return found


@dataclass(frozen=True, slots=True)
class Positions:
    """The checked positions of a table.

    Attributes
    ----------
    ra, dec : numpy.ndarray
        float64 degrees, ``ra`` in [0, 360).
    ra_column, dec_column : str
        The columns they came from.
    """

    ra: np.ndarray[Any, np.dtype[np.float64]]
    dec: np.ndarray[Any, np.dtype[np.float64]]
    ra_column: str
    dec_column: str

    def __len__(self) -> int:
        return len(self.ra)


def _unit(field: pa.Field) -> str:
    meta = field.metadata or {}
    raw: bytes = meta.get(b"unit", b"")
    return raw.decode("utf-8", "replace").strip().lower()


def _degrees(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
    ):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column = pc.cast(pc.utf8_trim_whitespace(column), pa.float64())
            except pa.ArrowInvalid:
                raise BadInputError(
                    f"Column {name!r} holds text that is not a number of degrees; give decimal "
                    "degrees (convert sexagesimal positions first)."
                ) from None
        else:
            raise BadInputError(f"Column {name!r} is {column.type}, not numbers of degrees.")
    nulls = column.null_count
    if nulls:
        first = int(pc.index(pc.is_null(column), True).as_py())
        raise BadInputError(
            f"Column {name!r} has {nulls} empty value(s); the first is in row "
            f"{first}. Every row needs a position."
        )
    values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    unit = _unit(table.schema.field(name))
    if unit in _HOURS:
        values = values * 15.0
    elif unit in _RADIANS:
        values = np.degrees(values)
    return values


def _first(mask: np.ndarray[Any, Any]) -> int:
    return int(np.flatnonzero(mask)[0])


def positions(table: pa.Table, ra: str | None = None, dec: str | None = None) -> Positions:
    """The table's positions in degrees, checked (see the module documentation).

    Raises
    ------
    BadInputError, UnknownColumnError

    Examples
    --------
    >>> p = positions(pa.table({"RA": [-10.0, 359.5], "Dec": [5.0, -89.0]}))
    >>> p.ra.tolist(), p.dec.tolist(), p.ra_column
    ([350.0, 359.5], [5.0, -89.0], 'RA')
    """
    ra_name, dec_name = find_coordinate_columns(table.column_names, ra, dec)
    ra_values, dec_values = _degrees(table, ra_name), _degrees(table, dec_name)
    for name, values in ((ra_name, ra_values), (dec_name, dec_values)):
        bad = ~np.isfinite(values)
        if bad.any():
            row = _first(bad)
            raise BadInputError(
                f"Column {name!r} holds {float(values[row])!r} in row {row}; positions must "
                "be finite."
            )
    bad = np.abs(dec_values) > 90.0
    if bad.any():
        row = _first(bad)
        raise BadInputError(
            f"The declination in row {row} ({dec_name!r}) is "
            f"{float(dec_values[row])!r}, outside [-90, 90]."
        )
    bad = np.abs(ra_values) > 360.0
    if bad.any():
        row = _first(bad)
        raise BadInputError(
            f"The right ascension in row {row} ({ra_name!r}) is "
            f"{float(ra_values[row])!r}, outside [-360, 360]."
        )
    wrapped = np.mod(ra_values, 360.0)
    wrapped[wrapped >= 360.0] = 0.0  # mod of a tiny negative number rounds up to 360
    return Positions(wrapped, dec_values, ra_name, dec_name)
