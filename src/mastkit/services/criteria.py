"""Query criteria: from the keyword arguments users write to MAST filters, checked first.

Every criterion names a column and a value. The column is looked up (case-insensitively) in
the service's column metadata, its *columns config*, before anything is sent: an unknown column
raises :class:`~mastkit.errors.UnknownColumnError` with "did you mean" suggestions, and a value
of the wrong type (a word for a number column, a range on a text column) raises
:class:`~mastkit.errors.BadInputError`.

Value forms (see :func:`mastkit.protocol.filters.criterion` for the grammar):

==============================  ==========================================================
``"HST"``, ``3``                an exact value (text matches ignore case)
``["HST", "JWST"]``             any of these values
``"WFC3*"``, ``"*UV"``          a wildcard pattern (``*``)
``(lo, hi)``, ``slice(lo, hi)``  an inclusive range on a number or time column (``None``
``"lo..hi"``, ``">=x"``, ``"<x"``  or an empty side means open)
``"!HLA"``, ``Not("HLA")``      negation: rows matching are removed. In a list, negated items
                                exclude and the others include: ``["HST", "!HLA"]``
==============================  ==========================================================

Time columns (``t_min``, ``t_max``, ``t_obs_release``: MJD) also take ISO strings
(``"2020-01-01"``, ``"2020-01-01T12:00"``), :class:`datetime.datetime`, :class:`datetime.date`
and :class:`astropy.time.Time`, alone or as range bounds (``"2020-01-01..2021-01-01"``,
``(Time(...), Time(...))``, ``">=2022-07-12"``). A date without a time, alone, means that whole
day. Number columns that hold integers (``calib_level``, ``sequence_number``) turn a small
bounded range into its values, which is how MAST filters such columns.

MAST's filters cannot negate. A negated criterion is applied by the services after the query:
the rows that also match it are fetched (their ``obsid`` only) and removed, and counts
subtract the matching count, so negation is exact under the server's own matching rules.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol.envelopes import Field
from mastkit.protocol.filters import Filter, Range, criterion
from mastkit.tables import kind_of

__all__ = [
    "TIME_COLUMNS",
    "ColumnInfo",
    "Criteria",
    "Not",
    "column_infos",
    "compile_criteria",
    "fields_from_config",
    "split_negation",
    "to_mjd",
]

#: CAOM columns that hold times as MJD.
TIME_COLUMNS = frozenset({"t_min", "t_max", "t_obs_release"})

Kind = Literal["text", "int", "float", "bool", "time"]

# The largest integer range turned into a list of values; wider ones are sent as ranges.
_MAX_EXPANDED = 1000
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
_OPERATOR = re.compile(r"^\s*(>=|<=|>|<|==|=)\s*(.+?)\s*$")


class Not:
    """A negated criterion value: rows matching ``value`` are excluded.

    Parameters
    ----------
    value : object
        Any criterion value (exact, list, pattern, range).

    Examples
    --------
    >>> Not("HLA")
    Not('HLA')
    >>> Not(Not("HLA"))  # a double negation is the value itself
    'HLA'
    """

    __slots__ = ("value",)

    def __new__(cls, value: Any) -> Any:
        if isinstance(value, Not):  # a double negation is the value itself
            return value.value
        return super().__new__(cls)

    def __init__(self, value: Any) -> None:
        if isinstance(value, Not):  # pragma: no cover - handled by __new__
            return
        self.value = value

    def __repr__(self) -> str:
        return f"Not({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Not) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Not", repr(self.value)))


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """What the columns config says about one column.

    Attributes
    ----------
    name : str
        The column's spelling in the config.
    kind : {"text", "int", "float", "bool", "time"}
        ``float`` and ``time`` columns are continuous (filtered by ranges).
    separator : str or None
        Delimiter of multi-valued text columns (``;``).
    """

    name: str
    kind: Kind
    separator: str | None = None

    @property
    def continuous(self) -> bool:
        """Whether MAST filters this column by ranges."""
        return self.kind in ("float", "time")


def _visible(name: str, props: Any) -> bool:
    return (
        isinstance(props, Mapping)
        and props.get("remove") is not True
        and props.get("add") is not True
        and not name.startswith("_")
    )


def _datatype(props: Mapping[str, Any]) -> str:
    value = props.get("vot.datatype", props.get("type", props.get("cc.type", "")))
    return str(value or "")


def column_infos(config: Mapping[str, Mapping[str, Any]]) -> dict[str, ColumnInfo]:
    """Column metadata of a columns config, keyed by lower-case name.

    Entries marked ``remove`` (and portal-only ``add`` columns) are not columns.

    Examples
    --------
    >>> infos = column_infos({"t_min": {"vot.datatype": "double", "isMjd": True},
    ...                       "filters": {"vot.datatype": "char", "separator": ";"},
    ...                       "s_fov": {"remove": True}})
    >>> infos["t_min"].kind, infos["filters"].separator, "s_fov" in infos
    ('time', ';', False)
    """
    out: dict[str, ColumnInfo] = {}
    for name, props in config.items():
        if not _visible(name, props):
            continue
        kind: Kind
        base = kind_of(_datatype(props))
        if props.get("isMjd") or name in TIME_COLUMNS:
            kind = "time"
        elif props.get("treatNumeric") or base == "float":
            kind = "float"
        elif base == "int":
            kind = "int"
        elif base == "bool":
            kind = "bool"
        else:
            kind = "text"
        separator = props.get("separator")
        out[name.lower()] = ColumnInfo(
            name, kind, separator if isinstance(separator, str) and separator else None
        )
    return out


def fields_from_config(
    config: Mapping[str, Mapping[str, Any]], *, distance: bool = False
) -> list[Field]:
    """The declared fields of a result, from its columns config (for empty results).

    Columns come in the config's ``order``; ``distance`` only when ``distance`` (cone results).
    """
    entries = [
        (props.get("order", math.inf), i, name, props)
        for i, (name, props) in enumerate(config.items())
        if _visible(name, props) and (distance or name != "distance")
    ]
    entries.sort(key=lambda e: (e[0] if isinstance(e[0], int | float) else math.inf, e[1]))
    types = {"text": "string", "int": "int", "float": "float", "time": "float", "bool": "boolean"}
    infos = column_infos(config)
    return [Field(name, types[infos[name.lower()].kind]) for _, _, name, _ in entries]


@dataclass(frozen=True, slots=True)
class Criteria:
    """Compiled criteria: filters for the server, and negations applied afterwards.

    Attributes
    ----------
    filters : tuple of Filter
        All must hold (sent to MAST).
    negations : tuple of Filter
        Rows matching any of these are removed from the result.
    """

    filters: tuple[Filter, ...] = ()
    negations: tuple[Filter, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.filters or self.negations)


# ------------------------------------------------------------------------------ negation


def split_negation(value: Any) -> tuple[Any, list[Any]]:
    """Split a criterion value into its positive part and its negated parts.

    Returns
    -------
    positive : object or None
        What rows must match (None when nothing).
    negated : list
        Values whose matching rows are excluded.

    Examples
    --------
    >>> split_negation(["HST", "!HLA", Not("JWST")])
    (['HST'], ['HLA', 'JWST'])
    >>> split_negation("!HLA")
    (None, ['HLA'])
    """
    if isinstance(value, Not):
        return None, [value.value]
    if isinstance(value, str):
        if value.startswith("!"):
            return None, [value[1:]]
        return value, []
    if isinstance(value, list | set | frozenset) or (
        isinstance(value, tuple) and any(isinstance(v, Not) or _bang(v) for v in value)
    ):
        positive: list[Any] = []
        negated: list[Any] = []
        for item in value:
            if isinstance(item, Not):
                negated.append(item.value)
            elif _bang(item):
                negated.append(item[1:])
            else:
                positive.append(item)
        return (positive or None), negated
    return value, []


def _bang(item: Any) -> bool:
    return isinstance(item, str) and item.startswith("!")


# ------------------------------------------------------------------------------ times


_MJD_EPOCH = _dt.datetime(1858, 11, 17)


def _datetime_mjd(value: _dt.datetime) -> float:
    """MJD (UTC) of a datetime; naive ones are taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    return (value - _MJD_EPOCH) / _dt.timedelta(days=1)


def to_mjd(value: Any, column: str = "time") -> float:
    """A time as MJD: a number (already MJD), ISO string, datetime, date or astropy Time.

    ISO strings and datetimes without a zone are UTC. Any date works, past or future
    (release dates of proprietary data lie ahead).

    Raises
    ------
    BadInputError
        For anything else, or a string that is neither a number nor an ISO time.

    Examples
    --------
    >>> to_mjd("2020-01-01"), to_mjd(58849.5), to_mjd("58849"), to_mjd("2030-01-01T12:00Z")
    (58849.0, 58849.5, 58849.0, 62502.5)
    """
    if isinstance(value, bool) or value is None:
        raise BadInputError(f"{value!r} is not a time (criterion on {column!r}).")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise BadInputError(f"A time must be finite, not {value!r} (criterion on {column!r}).")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return _datetime_mjd(_dt.datetime.fromisoformat(text))
        except ValueError:
            return _astropy_mjd(text, column, value)
    if hasattr(value, "mjd"):  # astropy Time
        if getattr(value, "isscalar", True) is False:
            raise BadInputError(f"Give one time, not an array, as a bound on {column!r}.")
        return _astropy_mjd(value, column, value)
    if isinstance(value, _dt.datetime):
        return _datetime_mjd(value)
    if isinstance(value, _dt.date):
        return _datetime_mjd(_dt.datetime(value.year, value.month, value.day))
    if type(value).__name__ == "datetime64":
        return _datetime_mjd(value.astype("datetime64[us]").item())
    raise BadInputError(
        f"{value!r} is not a time (criterion on {column!r}); give MJD, an ISO string "
        "('2020-01-01T00:00'), a datetime or an astropy Time."
    )


def _astropy_mjd(value: Any, column: str, original: Any) -> float:
    import warnings

    from astropy.time import Time

    try:
        with warnings.catch_warnings():
            # "dubious year" (dates past the leap-second table) does not matter for a filter.
            warnings.simplefilter("ignore")
            time = value if isinstance(value, Time) else Time(value, scale="utc")
            return float(time.utc.mjd)
    except Exception:  # astropy raises ValueError, TypeError and others for unreadable input
        raise BadInputError(
            f"Could not read {original!r} as a time (criterion on {column!r}); give MJD, an "
            "ISO string ('2020-01-01' or '2020-01-01T12:00:00'), a datetime or an astropy Time."
        ) from None


def _time_value(column: str, value: Any) -> Any:
    """A time criterion with every bound converted to MJD (the shapes criterion() reads)."""
    def bound(v: Any) -> float | None:
        return None if v is None or (isinstance(v, str) and not v.strip()) else to_mjd(v, column)

    if isinstance(value, Range):
        return value
    if isinstance(value, slice):
        if value.step is not None:
            raise BadInputError(f"A slice range on {column!r} cannot have a step.")
        return slice(bound(value.start), bound(value.stop))
    if isinstance(value, Mapping):
        return {k: bound(v) for k, v in value.items()}
    if hasattr(value, "mjd") and getattr(value, "isscalar", True) is False:
        value = list(value)
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise BadInputError(
                f"A time criterion on {column!r} is one time or a (start, end) pair, "
                f"not {len(value)} values."
            )
        return (bound(value[0]), bound(value[1]))
    if isinstance(value, str):
        text = value.strip()
        if ".." in text:
            lo, _, hi = text.partition("..")
            return (bound(lo), bound(hi))
        match = _OPERATOR.match(text)
        if match and not _DATE_ONLY.match(text):
            op, operand = match.groups()
            return f"{op}{to_mjd(operand, column)!r}"
        if _DATE_ONLY.match(text):  # a date alone: that whole day
            start = to_mjd(text, column)
            return Range(start, math.nextafter(start + 1.0, -math.inf))
    return to_mjd(value, column)


# ------------------------------------------------------------------------------ compiling


def _lookup(infos: Mapping[str, ColumnInfo], name: str, service: str) -> ColumnInfo:
    info = infos.get(name.strip().lower())
    if info is not None:
        return info
    known = sorted({i.name for i in infos.values()})
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    suggestions = [lowered[c] for c in close]
    raise UnknownColumnError(name, suggestions, service=service, known=known)


def _expand_ints(column: str, r: Range) -> tuple[Any, ...]:
    lo, hi = r.min, r.max
    if math.isinf(lo) or math.isinf(hi) or hi - lo > _MAX_EXPANDED:
        return (r,)
    values = tuple(str(i) for i in range(math.ceil(lo), math.floor(hi) + 1))
    if not values:
        raise BadInputError(f"The range {lo!r}..{hi!r} holds no integer value of {column!r}.")
    return values


def _check_value(info: ColumnInfo, value: str) -> None:
    name = info.name
    if info.kind == "bool":
        if value.lower() not in ("true", "false", "1", "0"):
            raise BadInputError(f"{name!r} is a true/false column; {value!r} is not a boolean.")
        return
    if info.kind in ("int", "float", "time"):
        try:
            number = float(value)
        except ValueError:
            raise BadInputError(
                f"{name!r} is a number column; {value!r} is not a number."
            ) from None
        if not math.isfinite(number):
            raise BadInputError(f"{name!r} needs a finite number, not {value!r}.")
        if info.kind == "int" and not number.is_integer():
            raise BadInputError(f"{name!r} holds integers; {value!r} is not one.")


def _build(info: ColumnInfo, value: Any) -> Filter:
    """One filter on ``info``'s column from one (positive) value, type-checked."""
    name = info.name
    if value is None:
        raise BadInputError(f"None is not a valid value for {name!r}.")
    if info.kind == "time":
        value = _time_value(name, value)
    if info.kind != "bool" and isinstance(value, bool):
        raise BadInputError(f"{name!r} is not a true/false column; {value!r} is not valid.")
    built = criterion(name, value, continuous=info.continuous, separator=info.separator)
    ranges = [v for v in built.values if isinstance(v, Range)]
    exact = [v for v in built.values if not isinstance(v, Range)]
    if info.kind in ("text", "bool") and ranges:
        raise BadInputError(
            f"{name!r} is a {'text' if info.kind == 'text' else 'true/false'} column; a range "
            f"applies to number and time columns only."
        )
    if built.free_text is not None and info.kind in ("float", "time", "bool"):
        raise BadInputError(
            f"{name!r} is a {'true/false' if info.kind == 'bool' else 'number'} column; "
            "wildcard patterns apply to text and integer columns. Use a range instead."
        )
    for item in exact:
        _check_value(info, str(item))
    if info.kind == "bool":
        exact = ["true" if str(v).lower() in ("true", "1") else "false" for v in exact]
        return Filter(name, tuple(exact))
    if info.continuous and exact:
        if len(exact) > 1:
            raise BadInputError(
                f"{name!r} is a continuous column: give one value or a range (lo, hi), "
                f"not {len(exact)} values."
            )
        number = float(exact[0])
        return Filter(name, (Range(number, number),))
    if info.kind == "int" and ranges:
        return Filter(name, _expand_ints(name, ranges[0]), separator=info.separator)
    return built


def compile_criteria(
    criteria: Mapping[str, Any],
    config: Mapping[str, Mapping[str, Any]],
    *,
    service: str = "Mast.Caom.Filtered",
) -> Criteria:
    """Check criteria against the columns config and build MAST filters.

    Parameters
    ----------
    criteria : mapping
        Column name -> value (see the module documentation for the forms).
    config : mapping
        The columns config of the service (``Mast.Caom.Cone`` for CAOM observations).
    service : str
        Named in error messages.

    Returns
    -------
    Criteria

    Raises
    ------
    UnknownColumnError
        For a column the config does not list, with close matches as suggestions.
    BadInputError
        For a value of the wrong type for its column, an empty value, or a malformed range.

    Examples
    --------
    >>> config = {"calib_level": {"vot.datatype": "int"}, "obs_collection": {"vot.datatype":
    ...           "char", "separator": ";"}, "t_exptime": {"vot.datatype": "double"}}
    >>> c = compile_criteria({"obs_collection": ["HST", "!HLA"], "t_exptime": ">=100",
    ...                       "calib_level": "2..3"}, config)
    >>> [f.to_json() for f in c.filters]  # doctest: +NORMALIZE_WHITESPACE
    [{'paramName': 'obs_collection', 'separator': ';', 'values': ['HST']},
     {'paramName': 't_exptime', 'values': [{'min': 100.0, 'max': 1.7976931348623157e+308}]},
     {'paramName': 'calib_level', 'values': ['2', '3']}]
    >>> [f.to_json() for f in c.negations]
    [{'paramName': 'obs_collection', 'separator': ';', 'values': ['HLA']}]
    """
    if not isinstance(criteria, Mapping):
        raise BadInputError(f"Criteria must be column=value pairs, not {type(criteria).__name__}.")
    infos = column_infos(config)
    if not infos:
        raise BadInputError(
            f"The server sent no column metadata for {service}, so criteria cannot be checked."
        )
    filters: list[Filter] = []
    negations: list[Filter] = []
    for column, value in criteria.items():
        info = _lookup(infos, column, service)
        positive, negated = split_negation(value)
        if positive is None and not negated:
            raise BadInputError(f"The criterion on {column!r} has no values.")
        if positive is not None:
            filters.append(_build(info, positive))
        negations.extend(_negated_filters(info, negated))
    return Criteria(tuple(filters), tuple(negations))


def _plain(info: ColumnInfo, value: Any) -> bool:
    """Whether a negated value is one exact value (such values share one filter)."""
    if info.kind not in ("text", "int") or isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and not (
        "*" in value or "%" in value or ".." in value or _OPERATOR.match(value)
    )


def _negated_filters(info: ColumnInfo, values: list[Any]) -> list[Filter]:
    """Filters whose matching rows are excluded: exact values grouped in one, the rest alone."""
    plain = [v for v in values if _plain(info, v)]
    out = [_build(info, v) for v in values if not _plain(info, v)]
    if plain:
        out.insert(0, _build(info, plain))
    return out
