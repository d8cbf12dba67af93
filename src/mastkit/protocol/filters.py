"""Filters for MAST's ``*.Filtered*`` services.

A filter is one object of the ``params.filters`` list::

    {"paramName": "filters", "separator": ";", "values": ["NUV", "FUV"]}
    {"paramName": "t_max", "values": [{"min": 52264.4586, "max": 54452.8914}]}
    {"paramName": "proposal_pi", "values": [], "freeText": "Ost%"}

Within a filter the exact values and the free-text pattern are alternatives (OR); across filters
every one must hold (AND). Ranges are inclusive. :func:`criterion` turns the forms users write
(scalars, lists, ``(lo, hi)``, ``slice``, ``"lo..hi"``, ``">=x"``, ``"Ost*"``) into a
:class:`Filter`; invalid forms raise :class:`~mastkit.errors.BadInputError` before anything is
sent.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mastkit.errors import BadInputError

__all__ = [
    "COUNT",
    "Filter",
    "Range",
    "criterion",
    "filters_to_json",
    "position_string",
    "validate_position",
]

#: The ``columns`` value that asks a Filtered service for a row count only.
COUNT = "COUNT_BIG(*)"

# Open-ended ranges are sent as the largest finite double: JSON has no infinity, and an
# inclusive bound at the edge of the double range excludes nothing real.
_HUGE = sys.float_info.max

_OPERATOR = re.compile(r"^\s*(>=|<=|>|<|==|=)\s*(.+?)\s*$")
_RANGE = re.compile(r"^\s*([^.].*?)?\s*\.\.\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive numeric range ``[min, max]``."""

    min: float
    max: float

    def __post_init__(self) -> None:
        for bound in (self.min, self.max):
            if isinstance(bound, bool) or not isinstance(bound, int | float) or math.isnan(bound):
                raise BadInputError(f"Range bounds must be numbers, not {bound!r}.")
        if self.min > self.max:
            raise BadInputError(
                f"Reversed range: min {self.min!r} is greater than max {self.max!r}."
            )

    def to_json(self) -> dict[str, float]:
        """The wire form ``{"min": lo, "max": hi}`` with infinities clamped to finite doubles."""
        return {"min": _finite(self.min), "max": _finite(self.max)}


def _finite(value: float) -> float:
    if value == math.inf:
        return _HUGE
    if value == -math.inf:
        return -_HUGE
    return value


@dataclass(frozen=True, slots=True)
class Filter:
    """One MAST filter.

    Parameters
    ----------
    column : str
        The column name (``paramName``).
    values : tuple
        Exact-match alternatives, or a single :class:`Range`.
    free_text : str, optional
        A LIKE pattern with ``%`` wildcards.
    separator : str, optional
        Delimiter of multi-valued columns (``;`` for ``obs_collection``, ``filters``, ...).
    """

    column: str
    values: tuple[Any, ...] = ()
    free_text: str | None = None
    separator: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column.strip():
            raise BadInputError("A filter needs a column name.")
        if not self.values and not self.free_text:
            raise BadInputError(f"The filter on {self.column!r} has no values and no pattern.")
        ranges = [v for v in self.values if isinstance(v, Range)]
        if ranges and len(self.values) != 1:
            raise BadInputError(
                f"The filter on {self.column!r} mixes a range with other values; "
                "give one range per filter."
            )
        for value in self.values:
            if isinstance(value, float) and not math.isfinite(value):
                raise BadInputError(f"The filter on {self.column!r} has a non-finite value.")

    def to_json(self) -> dict[str, Any]:
        """The wire form, keys in astroquery's order: paramName, separator, values, freeText."""
        out: dict[str, Any] = {"paramName": self.column}
        if self.separator is not None:
            out["separator"] = self.separator
        out["values"] = [v.to_json() if isinstance(v, Range) else v for v in self.values]
        if self.free_text is not None:
            out["freeText"] = self.free_text
        return out


def _number(text: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInputError(f"{text!r} is not a number (filter on {column!r}).") from None
    if math.isnan(value):
        raise BadInputError(f"NaN is not a valid bound (filter on {column!r}).")
    return value


def _as_bound(value: Any, column: str) -> float:
    if value is None:
        raise BadInputError(f"Range bounds must be numbers, not None (filter on {column!r}).")
    if isinstance(value, bool):
        raise BadInputError(f"Range bounds must be numbers, not {value!r} (filter on {column!r}).")
    if isinstance(value, int | float):
        return float(value) if isinstance(value, float) else value
    if hasattr(value, "mjd"):  # astropy Time: CAOM times are MJD
        return float(value.mjd)
    if isinstance(value, str):
        return _number(value, column)
    raise BadInputError(f"Range bounds must be numbers, not {value!r} (filter on {column!r}).")


def _range_from_string(text: str, column: str) -> Range | None:
    """Parse ``"lo..hi"``, ``">=x"``, ``"<x"`` (open ends allowed) or return None."""
    if ".." in text:
        lo_text, _, hi_text = text.partition("..")
        lo = _number(lo_text, column) if lo_text.strip() else -math.inf
        hi = _number(hi_text, column) if hi_text.strip() else math.inf
        return Range(lo, hi)
    match = _OPERATOR.match(text)
    if not match:
        return None
    op, operand = match.groups()
    value = _number(operand, column)
    if op == ">=":
        return Range(value, math.inf)
    if op == ">":
        return Range(math.nextafter(value, math.inf), math.inf)
    if op == "<=":
        return Range(-math.inf, value)
    if op == "<":
        return Range(-math.inf, math.nextafter(value, -math.inf))
    return Range(value, value)  # "=" / "=="


_BAD_OPERATOR = re.compile(r"^\s*(=>|=<|<>|!=|~|>>|<<)")


def _wildcard(text: str) -> str | None:
    """The LIKE pattern of a user wildcard string (``*`` → ``%``), or None if it has none."""
    if "*" in text or "%" in text:
        return text.replace("*", "%")
    return None


def criterion(
    column: str,
    value: Any,
    *,
    continuous: bool = False,
    separator: str | None = None,
) -> Filter:
    """Build a :class:`Filter` from the value forms users write.

    Parameters
    ----------
    column : str
        Column name.
    value : object
        * a scalar or a list of scalars: exact values (OR); numbers are sent as strings, as
          astroquery does;
        * ``(lo, hi)``, ``[lo, hi]`` on a continuous column, ``slice(lo, hi)``, ``"lo..hi"``,
          ``Range(lo, hi)``, ``{"min": lo, "max": hi}``: an inclusive range (``None`` or an empty
          side of ``..`` means open);
        * ``">=x"``, ``">x"``, ``"<=x"``, ``"<x"``: open ranges;
        * a string with ``*`` or ``%``: a free-text pattern (``*`` becomes ``%``).
    continuous : bool
        Whether the column is numeric-continuous (float), where a 2-list means a range.
    separator : str, optional
        Separator of a multi-valued column.

    Raises
    ------
    BadInputError
        For empty values, reversed ranges, unknown operators, non-numeric bounds, more than one
        wildcard pattern.

    Examples
    --------
    >>> criterion("t_exptime", "100..500").to_json()
    {'paramName': 't_exptime', 'values': [{'min': 100.0, 'max': 500.0}]}
    >>> criterion("proposal_pi", "Ost*").to_json()
    {'paramName': 'proposal_pi', 'values': [], 'freeText': 'Ost%'}
    """
    if isinstance(value, Filter):
        return value
    if isinstance(value, Range):
        return Filter(column, (value,), separator=separator)
    if isinstance(value, slice):
        if value.step is not None:
            raise BadInputError(f"A slice range on {column!r} cannot have a step.")
        lo = -math.inf if value.start is None else _as_bound(value.start, column)
        hi = math.inf if value.stop is None else _as_bound(value.stop, column)
        return Filter(column, (Range(lo, hi),), separator=separator)
    if isinstance(value, Mapping):
        unknown = set(value) - {"min", "max"}
        if unknown:
            raise BadInputError(
                f"Unknown range operator(s) {sorted(unknown)} on {column!r}; use 'min' and 'max'."
            )
        lo = -math.inf if value.get("min") is None else _as_bound(value["min"], column)
        hi = math.inf if value.get("max") is None else _as_bound(value["max"], column)
        return Filter(column, (Range(lo, hi),), separator=separator)
    if isinstance(value, tuple) and len(value) == 2 and not any(isinstance(v, str) for v in value):
        lo = -math.inf if value[0] is None else _as_bound(value[0], column)
        hi = math.inf if value[1] is None else _as_bound(value[1], column)
        return Filter(column, (Range(lo, hi),), separator=separator)
    items: Sequence[Any]
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        items = [value]
    else:
        items = list(value)
    if not items:
        raise BadInputError(f"The filter on {column!r} has an empty list of values.")
    if (
        continuous
        and len(items) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in items)
    ):
        return Filter(
            column,
            (Range(_as_bound(items[0], column), _as_bound(items[1], column)),),
            separator=separator,
        )
    exact: list[Any] = []
    pattern: str | None = None
    for item in items:
        if isinstance(item, Range | slice | Mapping | tuple):
            # A range wrapped in a list: allowed alone, never beside other values.
            if len(items) != 1:
                raise BadInputError(f"Give one range per filter on {column!r}.")
            return criterion(column, item, continuous=continuous, separator=separator)
        if item is None:
            raise BadInputError(f"None is not a valid value for {column!r}.")
        if isinstance(item, float) and not math.isfinite(item):
            raise BadInputError(f"The filter on {column!r} has a non-finite value.")
        if isinstance(item, str):
            if _BAD_OPERATOR.match(item):
                raise BadInputError(
                    f"Unknown operator in {item!r} for {column!r}; "
                    "use >=, >, <=, <, a..b or a pattern."
                )
            as_range = (
                _range_from_string(item, column)
                if (continuous or _looks_numeric_range(item))
                else None
            )
            if as_range is not None:
                if len(items) != 1:
                    raise BadInputError(f"Give one range per filter on {column!r}.")
                return Filter(column, (as_range,), separator=separator)
            wild = _wildcard(item)
            if wild is not None:
                if pattern is not None:
                    raise BadInputError(
                        f"Only one wildcard pattern is allowed per filter on {column!r}."
                    )
                pattern = wild
                continue
            exact.append(item)
        elif isinstance(item, bool):
            exact.append("true" if item else "false")
        elif isinstance(item, int | float):
            exact.append(str(item))  # astroquery stringifies discrete values
        elif hasattr(item, "mjd"):
            exact.append(str(float(item.mjd)))
        else:
            raise BadInputError(f"Unsupported value {item!r} for {column!r}.")
    return Filter(column, tuple(exact), free_text=pattern, separator=separator)


def _looks_numeric_range(text: str) -> bool:
    """Whether a string on a discrete column is meant as a range (``"2..3"``, ``">=2"``)."""
    stripped = text.strip()
    if _OPERATOR.match(stripped) and not stripped.startswith(("=",)):
        return True
    if ".." in stripped:
        lo, _, hi = stripped.partition("..")
        return all(_is_number(part) for part in (lo, hi) if part.strip()) and bool(
            lo.strip() or hi.strip()
        )
    return False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def filters_to_json(filters: Iterable[Filter]) -> list[dict[str, Any]]:
    """The ``params.filters`` list for a sequence of filters."""
    return [f.to_json() for f in filters]


def validate_position(ra: float, dec: float, radius: float) -> tuple[float, float, float]:
    """Check a cone and normalise RA into [0, 360).

    Raises
    ------
    BadInputError
        For non-finite values, ``|dec| > 90``, or a radius that is negative or above 180 deg.
    """
    for name, value in (("ra", ra), ("dec", dec), ("radius", radius)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadInputError(f"{name} must be a number of degrees, not {value!r}.")
        if not math.isfinite(value):
            raise BadInputError(f"{name} must be finite, not {value!r}.")
    if not -90.0 <= dec <= 90.0:
        raise BadInputError(f"dec must be within [-90, 90] degrees, not {dec!r}.")
    if radius < 0:
        raise BadInputError(f"radius must not be negative, not {radius!r}.")
    if radius > 180:
        raise BadInputError(f"radius must be at most 180 degrees, not {radius!r}.")
    wrapped = float(ra) % 360.0
    if wrapped >= 360.0:  # a tiny negative RA wraps to exactly 360.0 in floating point
        wrapped = 0.0
    return wrapped + 0.0, float(dec), float(radius)


def position_string(ra: float, dec: float, radius: float) -> str:
    """The ``position`` parameter of ``Mast.Caom.Filtered.Position``: ``"ra, dec, radius"``.

    Uses Python's ``str`` of each float, as astroquery does.
    """
    ra, dec, radius = validate_position(ra, dec, radius)
    return ", ".join(str(x) for x in (ra, dec, radius))
