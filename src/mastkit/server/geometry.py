"""Sky geometry of the local archive: the HEALPix index and distances to footprints.

* :func:`hpx_index` gives the ``_hpx`` column: the HEALPix nested index at :data:`HPX_ORDER`
  of each row's centre (tables with positions are stored sorted by it, so DuckDB's zone maps
  skip the row groups a cone cannot reach).
* :func:`hpx_ranges` covers a disc with a few contiguous ranges of those indices (the nested
  indices of a coarse pixel are contiguous at the fine order).
* :func:`footprint_distance` is the exact check: the great-circle distance from a point to each
  row's footprint (STC-S ``POLYGON`` or ``CIRCLE``; anything else is a point), 0 inside it. It is
  MAST's ``distance``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "HPX_ORDER",
    "footprint_distance",
    "hpx_index",
    "hpx_ranges",
    "numbers_distance",
    "region_numbers_sql",
    "separation",
    "shape_distance",
]

HPX_ORDER = 16  # stored _hpx resolution: nside 65536, pixels of about 3 arcsec
#: The cover's margin, in pixel sizes (see :func:`hpx_ranges`).
_PAD = 1.5
_BASE_RES = 58.6  # degrees: the side of an order-0 HEALPix pixel
_GAP = 8  # coarse pixels: ranges closer than this are scanned as one (fewer OR terms)


def hpx_index(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """HEALPix nested indices at :data:`HPX_ORDER` of positions (the ``_hpx`` column).

    Parameters
    ----------
    ra, dec : numpy.ndarray
        Positions in degrees.

    Returns
    -------
    numpy.ndarray
        int64 indices.
    """
    import astropy.units as u
    from astropy_healpix import lonlat_to_healpix

    index = lonlat_to_healpix(np.asarray(ra, dtype=float) * u.deg,
                              np.asarray(dec, dtype=float) * u.deg, 2**HPX_ORDER, order="nested")
    return np.asarray(index, dtype=np.int64)


def hpx_ranges(ra: float, dec: float, radius: float, *, max_terms: int = 8
               ) -> list[tuple[int, int]]:
    """Inclusive ranges of :data:`HPX_ORDER` nested indices covering a disc (degrees).

    The disc is covered with pixels of a coarse order (about the radius in size); a coarse
    pixel's descendants are one contiguous range at the fine order. Ranges separated by fewer
    than a few coarse pixels are merged, and the order is coarsened until at most ``max_terms``
    ranges remain: a slightly larger scan is cheaper than many OR terms.

    Parameters
    ----------
    ra, dec, radius : float
        Disc centre and radius, degrees.
    max_terms : int
        Most ranges returned.

    Returns
    -------
    list of (int, int)
        Sorted, disjoint, inclusive ``(first, last)`` index ranges.
    """
    import astropy.units as u
    from astropy_healpix.core import healpix_cone_search

    if radius >= 90.0:
        return [(0, 12 * 4**HPX_ORDER - 1)]
    level = int(np.clip(math.floor(math.log2(_BASE_RES / max(radius, 1e-6))), 0, HPX_ORDER))
    # astropy-healpix's cone search can leave out a pixel the disc only grazes (found for a
    # 0.36" disc across the edge of a 3" pixel); searching a pixel's size further covers every
    # pixel the disc touches. Extra pixels only cost a few more candidates, checked exactly.
    reach = min(radius + _PAD * _BASE_RES / 2**level, 180.0)
    pixels = np.unique(np.asarray(healpix_cone_search(
        ra * u.deg, dec * u.deg, reach * u.deg, nside=2**level, order="nested"), dtype=np.int64))
    while True:
        breaks = np.flatnonzero(np.diff(pixels) > _GAP)
        starts = np.concatenate([pixels[:1], pixels[breaks + 1]])
        ends = np.concatenate([pixels[breaks], pixels[-1:]])
        if len(starts) <= max_terms or level == 0:
            break
        level, pixels = level - 1, np.unique(pixels >> 2)
    shift = 2 * (HPX_ORDER - level)
    return [(int(a) << shift, ((int(b) + 1) << shift) - 1)
            for a, b in zip(starts, ends, strict=True)]


def separation(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> np.ndarray:
    """Great-circle distance in degrees (Vincenty's formula: accurate at all separations)."""
    a1, d1, a2, d2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    da = a2 - a1
    sin_d2, cos_d2 = np.sin(d2), np.cos(d2)
    sin_d1, cos_d1 = np.sin(d1), np.cos(d1)
    cos_da = np.cos(da)
    num = np.hypot(cos_d2 * np.sin(da), cos_d1 * sin_d2 - sin_d1 * cos_d2 * cos_da)
    den = sin_d1 * sin_d2 + cos_d1 * cos_d2 * cos_da
    return np.asarray(np.degrees(np.arctan2(num, den)))


def _polygon_distance(vra: np.ndarray, vdec: np.ndarray, ra: float, dec: float) -> np.ndarray:
    """Distance (deg) from a point to polygons of k vertices each (arrays m x k); 0 inside.

    The vertices are projected gnomonically about the point: great circles become straight
    lines and the distance from the origin grows monotonically with the angle (r = tan angle),
    so the crossing-number test and the nearest point of each edge are exact in the plane.
    """
    a, d = math.radians(ra), math.radians(dec)
    va, vd = np.radians(vra), np.radians(vdec)
    cos_vd = np.cos(vd)
    # Unit vectors of the vertices in the frame (towards the point, east, north).
    vx, vy, vz = cos_vd * np.cos(va), cos_vd * np.sin(va), np.sin(vd)
    sa, ca, sd, cd = math.sin(a), math.cos(a), math.sin(d), math.cos(d)
    cosc = cd * ca * vx + cd * sa * vy + sd * vz
    east = ca * vy - sa * vx
    north = cd * vz - sd * (ca * vx + sa * vy)
    visible = (cosc > 1e-9).all(axis=1)
    safe = np.where(cosc > 1e-9, cosc, 1.0)
    x, y = east / safe, north / safe
    bx, by = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    crosses = (y > 0) != (by > 0)
    x_at = x - y * (bx - x) / np.where(crosses, by - y, 1.0)
    inside = (crosses & (x_at > 0)).sum(axis=1) % 2 == 1
    ex, ey = bx - x, by - y
    length2 = ex * ex + ey * ey
    t = np.clip(-(x * ex + y * ey) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    nearest = np.hypot(x + t * ex, y + t * ey).min(axis=1)
    dist = np.where(inside, 0.0, np.degrees(np.arctan(nearest)))
    if not visible.all():  # vertices 90 degrees away or more (enormous cones): nearest vertex
        dist[~visible] = separation(ra, dec, vra[~visible], vdec[~visible]).min(axis=1)
    return np.asarray(dist)


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_DIGITS = pa.array(list("0123456789+-."))
_SMALL = 64  # rows: below this a plain loop parses faster than Arrow kernels

Parsed = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _parse_regions(arr: pa.Array) -> Parsed:
    """Shapes, numbers per row, start of each row in the numbers, and all numbers.

    Rows are ``SHAPE [frame] n1 n2 ...``. The fast path assumes that; a row with other words
    (unions of shapes, for instance) keeps 0 numbers and is measured as a point.
    """
    tokens = pc.utf8_split_whitespace(arr.fill_null(""))
    offsets = tokens.offsets.to_numpy()
    values = tokens.values
    counts = np.diff(offsets)
    last = max(len(values) - 1, 0)
    firsts = values.take(pa.array(np.minimum(offsets[:-1], last)))
    shape = np.asarray(pc.utf8_upper(firsts).to_numpy(zero_copy_only=False), dtype=object)
    seconds = values.take(pa.array(np.minimum(offsets[:-1] + 1, last)))
    framed = ~pc.is_in(pc.utf8_slice_codeunits(seconds, 0, 1), _DIGITS).to_numpy(
        zero_copy_only=False)
    skip = np.where(counts > 0, 1 + framed, counts)
    position = np.arange(len(values)) - np.repeat(offsets[:-1], counts)
    mask = position >= np.repeat(skip, counts)
    picked = values.filter(pa.array(mask))
    per_row = np.maximum(counts - skip, 0)
    try:
        numbers = pc.cast(picked, pa.float64()).to_numpy()
    except pa.ArrowInvalid:  # some row holds more words: find them, drop their numbers
        ok = pc.match_substring_regex(picked, _NUMBER).to_numpy(zero_copy_only=False)
        row_of = np.repeat(np.arange(len(counts)), per_row)
        bad = np.unique(row_of[~ok])
        keep = ~np.isin(row_of, bad)
        numbers = pc.cast(picked.filter(pa.array(keep)), pa.float64()).to_numpy()
        per_row[bad] = 0
        shape[bad] = ""
    return shape, per_row, np.cumsum(per_row) - per_row, numbers


def _parse_regions_small(arr: pa.Array) -> Parsed:
    """:func:`_parse_regions` for a few rows, token by token."""
    shapes: list[str] = []
    counts: list[int] = []
    numbers: list[float] = []
    for text in arr.to_pylist():
        tokens = (text or "").split()
        values: list[float] = []
        if len(tokens) > 1:
            skip = 1 if tokens[1][0] in "0123456789+-." else 2
            try:
                values = [float(t) for t in tokens[skip:]]
            except ValueError:  # other words: measured as a point
                values = []
        shapes.append(tokens[0].upper() if tokens and values else "")
        counts.append(len(values))
        numbers.extend(values)
    per_row = np.array(counts, dtype=np.int64)
    return (np.array(shapes, dtype=object), per_row, np.cumsum(per_row) - per_row,
            np.array(numbers, dtype=float))


def _as_array(regions: Any) -> pa.Array:
    if isinstance(regions, pa.ChunkedArray):
        return regions.combine_chunks()
    if isinstance(regions, pa.Array):
        return regions
    return pa.array(list(regions), pa.string())


def _measure(out: np.ndarray, circle: np.ndarray, polygon: np.ndarray, per_row: np.ndarray,
             start: np.ndarray, numbers: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    """Write into ``out`` the distances to the circles and polygons among parsed rows."""
    if circle.any():
        c = numbers[start[circle][:, None] + np.arange(3)]
        out[circle] = np.maximum(separation(ra0, dec0, c[:, 0], c[:, 1]) - c[:, 2], 0.0)
    for k in np.unique(per_row[polygon]):
        rows = np.flatnonzero(polygon & (per_row == k))
        v = numbers[start[rows][:, None] + np.arange(k)]
        # A closed ring repeats its first vertex: a zero-length edge, harmless to both tests.
        out[rows] = _polygon_distance(v[:, 0::2], v[:, 1::2], ra0, dec0)
    return out


def shape_distance(regions: Any, point_distance: np.ndarray, ra0: float, dec0: float
                   ) -> np.ndarray:
    """:func:`footprint_distance` given each row's centre distance (used for point rows).

    Parameters
    ----------
    regions : pyarrow string array or sequence of str or None
    point_distance : numpy.ndarray
        Distance (deg) from (ra0, dec0) to each row's position; taken for rows whose region
        is not a circle or a polygon. Not modified.
    ra0, dec0 : float

    Returns
    -------
    numpy.ndarray
    """
    out = np.array(point_distance, dtype=float, copy=True)
    arr = _as_array(regions)
    if len(arr) == 0:
        return out
    # Arrow kernels win on many rows; a plain loop on the few rows of a typical cone.
    parse = _parse_regions if len(arr) > _SMALL else _parse_regions_small
    shape, per_row, start, numbers = parse(arr)
    circle = (shape == "CIRCLE") & (per_row == 3)
    polygon = (shape == "POLYGON") & (per_row >= 6) & (per_row % 2 == 0)
    return _measure(out, circle, polygon, per_row, start, numbers, ra0, dec0)


def region_numbers_sql(region: str) -> str:
    """SQL of a region's numbers as ``DOUBLE[]``, for a column of ``SHAPE FRAME n1 n2 ...``.

    An archive may store them beside its regions (observations' ``_fp``), so that cones read
    numbers instead of parsing text (:func:`numbers_distance`). The text is cast as DuckDB
    casts any decimal (correctly rounded), so the numbers are those :func:`footprint_distance`
    parses. Only for regions known to have that form (the synthetic archive's).
    """
    return f"CAST(string_split({region}, ' ')[3:] AS DOUBLE[])"


def numbers_distance(numbers: Any, point_distance: np.ndarray, ra0: float, dec0: float
                     ) -> np.ndarray:
    """:func:`shape_distance` from each region's numbers (see :func:`region_numbers_sql`).

    Three numbers are a circle (ra, dec, radius), an even number from six up a polygon's
    vertices; a null or any other count is a point.

    Parameters
    ----------
    numbers : pyarrow list<double> array
    point_distance : numpy.ndarray
    ra0, dec0 : float

    Returns
    -------
    numpy.ndarray
    """
    out = np.array(point_distance, dtype=float, copy=True)
    arr = numbers.combine_chunks() if isinstance(numbers, pa.ChunkedArray) else numbers
    if len(arr) == 0:
        return out
    offsets = arr.offsets.to_numpy()
    per_row = np.diff(offsets)
    if arr.null_count:
        per_row = np.where(arr.is_null().to_numpy(zero_copy_only=False), 0, per_row)
    values = arr.values.to_numpy(zero_copy_only=False)
    circle = per_row == 3
    polygon = (per_row >= 6) & (per_row % 2 == 0)
    return _measure(out, circle, polygon, per_row, offsets[:-1], values, ra0, dec0)


def footprint_distance(regions: Any, ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float
                       ) -> np.ndarray:
    """Distance (deg) from (ra0, dec0) to each footprint, 0 inside it (MAST's ``distance``).

    Parameters
    ----------
    regions : pyarrow string array or sequence of str or None
        STC-S ``POLYGON [frame] ra dec ...`` or ``CIRCLE [frame] ra dec r``; null, empty or
        other shapes mean a point at (ra, dec). Parsed with Arrow kernels, not per row.
    ra, dec : numpy.ndarray
        Row positions (degrees).
    ra0, dec0 : float
        The search position (degrees).

    Returns
    -------
    numpy.ndarray
    """
    return shape_distance(regions, separation(ra0, dec0, ra, dec), ra0, dec0)
