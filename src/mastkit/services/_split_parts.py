"""The parts of a split query: the axes it is cut along, a part's ranges, and its requests.

See :mod:`mastkit.services._split` for how a query too large for the server is split; this
module holds what a part *is*: an inclusive range on each of a few axes (columns every CAOM row
has), turned into the range filters of its requests, and the ``COUNT_BIG(*)`` that counts it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mastkit.errors import DecodeError
from mastkit.protocol.filters import COUNT, Filter, Range, filters_to_json
from mastkit.services._plan import Plan, Query
from mastkit.tables import ResultTable

__all__ = [
    "CAOM_ORDER",
    "Axis",
    "Part",
    "Source",
    "cone_axes",
    "count_rows",
    "count_value",
    "criteria_axes",
    "obsid_axis",
]

#: The order of CAOM observation results (the server's: mast-protocol.md, server schema).
CAOM_ORDER: tuple[tuple[str, str], ...] = (("obs_collection", "descending"), ("obsid", "ascending"))
_TILES = 4  # tiles per side of a cone's box, on the first split of each sky axis
_OBSID_MAX = 2**53  # obsids are far below; larger bounds would not survive a double


@dataclass(frozen=True, slots=True)
class Axis:
    """A column to split on: its full range, and the cut points of its first split.

    ``focus`` holds where parts *start* on the first split of this axis (the tile edges over a
    cone, the decades of obsids); later splits cut a range into equal widths.
    """

    column: str
    lo: float
    hi: float
    integer: bool = False
    focus: tuple[float, ...] = ()

    def cut(self, lo: float, hi: float, pieces: int, *, first: bool) -> list[tuple[float, float]]:
        """Split the inclusive range ``[lo, hi]`` into contiguous inclusive ranges.

        Each range ends one representable value before the next starts, so every value of
        ``[lo, hi]`` is in exactly one range. One range back means ``[lo, hi]`` cannot be cut.

        Examples
        --------
        >>> Axis("obsid", 0, 100, integer=True).cut(0, 100, 4, first=False)
        [(0, 24), (25, 49), (50, 74), (75, 100)]
        """
        if first and self.focus:
            candidates: Sequence[float] = self.focus
        else:
            step = (hi - lo) / pieces
            candidates = [lo + step * i for i in range(1, pieces)]
        points: list[float]
        if self.integer:
            lo, hi = int(lo), int(hi)
            points = sorted({math.floor(p) for p in candidates if lo < math.floor(p) <= hi})
        else:
            points = sorted({float(p) for p in candidates if lo < p <= hi})
        starts = [lo, *points]
        ranges: list[tuple[float, float]] = []
        for i, start in enumerate(starts):
            if i + 1 < len(starts):
                nxt = starts[i + 1]
                end = nxt - 1 if self.integer else math.nextafter(nxt, -math.inf)
            else:
                end = hi
            ranges.append((start, end))
        return ranges


def obsid_axis() -> Axis:
    """``obsid``, every CAOM row's: the last axis of every split (first cut by decades)."""
    return Axis("obsid", 0, _OBSID_MAX, integer=True, focus=tuple(10**k for k in range(1, 16)))


def _tile_edges(lo: float, hi: float) -> list[float]:
    """Where tiles of ``[lo, hi]`` start, the last one starting just above ``hi``."""
    edges = [lo + (hi - lo) * i / _TILES for i in range(_TILES)]
    return [*edges, math.nextafter(hi, math.inf)]


def cone_axes(ra: float, dec: float, radius: float) -> tuple[Axis, ...]:
    """Sky tiles over a cone: ``s_dec`` bands, ``s_ra`` ranges, then ``obsid``."""
    d_lo, d_hi = max(-90.0, dec - radius), min(90.0, dec + radius)
    dec_axis = Axis("s_dec", -90.0, 90.0, focus=tuple(_tile_edges(d_lo, d_hi)))
    cos_dec = math.cos(math.radians(min(89.999, abs(dec) + radius)))
    half = radius / cos_dec if cos_dec > 0 else 180.0
    if half >= 180.0 or abs(dec) + radius >= 90.0:
        ra_focus: tuple[float, ...] = ()  # around a pole: equal slices of the whole circle
    else:
        edges = _tile_edges(ra - half, ra + half)
        ra_focus = tuple(sorted({e % 360.0 for e in edges}))
    return dec_axis, Axis("s_ra", 0.0, 360.0, focus=ra_focus), obsid_axis()


def criteria_axes() -> tuple[Axis, ...]:
    """All-sky slices: ``s_ra``, ``s_dec``, then ``obsid``."""
    return Axis("s_ra", 0.0, 360.0), Axis("s_dec", -90.0, 90.0), obsid_axis()


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a query: one inclusive range per axis (None: not constrained), its row count,
    and the axis its next split uses."""

    ranges: tuple[tuple[float, float] | None, ...]
    count: int
    axis: int = 0


@dataclass(frozen=True, slots=True)
class Source:
    """A CAOM query that parts are cut from: service, criteria, position, columns and order.

    ``axes`` leaves out columns the criteria already constrain (their range would be ANDed with
    the user's), keeping ``obsid`` at least.
    """

    service: str
    filters: tuple[Filter, ...] = ()
    position: str | None = None
    columns: str = "*"
    order: tuple[tuple[str, str], ...] = CAOM_ORDER
    axes: tuple[Axis, ...] = field(default_factory=criteria_axes)

    def __post_init__(self) -> None:
        used = {f.column.lower() for f in self.filters}
        kept = tuple(a for a in self.axes if a.column.lower() not in used)
        object.__setattr__(self, "axes", kept or (obsid_axis(),))

    def params(self, part: Part | None = None, *, count: bool = False) -> dict[str, Any]:
        """The request parameters of the whole query, or of ``part``; a count with ``count``."""
        extra = []
        if part is not None:
            for axis, bounds in zip(self.axes, part.ranges, strict=True):
                if bounds is not None:
                    lo, hi = (int(b) for b in bounds) if axis.integer else bounds
                    extra.append(Filter(axis.column, (Range(lo, hi),)))
        params: dict[str, Any] = {
            "columns": COUNT if count else self.columns,
            "filters": filters_to_json([*self.filters, *extra]),
        }
        if self.position is not None:
            params["position"] = self.position
        return params

    def describe(self, part: Part) -> str:
        """The part's ranges, for messages and logs."""
        shown = [
            f"{a.column} {lo:g}..{hi:g}"
            for a, r in zip(self.axes, part.ranges, strict=True)
            if r is not None
            for lo, hi in [r]
        ]
        return ", ".join(shown) or "the whole query"


# ------------------------------------------------------------------------------ counting


def count_value(table: ResultTable, service: str) -> int:
    """The number in a ``COUNT_BIG(*)`` reply.

    Raises
    ------
    DecodeError
        When the reply does not hold one number.
    """
    if len(table) != 1 or not table.columns:
        raise DecodeError(
            f"{service}: a count reply must hold one value, got {table.shape}.", service=service
        )
    value = table[table.columns[0]][0].as_py()
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DecodeError(
            f"{service}: the count {value!r} is not a number.", service=service
        ) from None


def count_rows(source: Source, part: Part | None = None) -> Plan[int]:
    """The row count of ``source`` (or of one of its parts)."""
    table = yield Query(source.service, source.params(part, count=True))
    return count_value(table, source.service)
