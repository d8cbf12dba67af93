"""Sky positions and search radii, from the forms users write.

:func:`parse_coordinates` turns a :class:`~astropy.coordinates.SkyCoord`, an ``"ra dec"`` string
(decimal degrees or sexagesimal hours/degrees) or a pair of numbers into ICRS ``(ra, dec)`` in
degrees; :func:`parse_radius` turns a :class:`~astropy.units.Quantity`, a number of degrees or a
string such as ``"3 arcmin"`` into degrees. Bad input raises
:class:`~mastkit.errors.BadInputError` saying what was expected; nothing is sent.

Strings and numbers are parsed here without astropy; astropy is imported only when an astropy
object is given (or an unusual string needs its parser).

Examples
--------
>>> parse_coordinates("14h03m12.6s +54d20m57s")
(210.8025, 54.34916666666667)
>>> parse_coordinates((210.8, "54.35"))
(210.8, 54.35)
>>> parse_radius("3 arcmin"), parse_radius(None)
(0.05, 0.2)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from mastkit.errors import BadInputError
from mastkit.protocol.filters import validate_position

__all__ = ["DEFAULT_RADIUS", "parse_coordinates", "parse_radius"]

#: MAST's default search radius, in degrees (``Mast.Caom.Cone``, astroquery's default).
DEFAULT_RADIUS = 0.2

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DEG_SUFFIX = r"(?:\s*(?:d|deg|degrees?|°))?"
_DEGREES = re.compile(
    rf"^\s*({_NUM}){_DEG_SUFFIX}\s*(?:,\s*|\s+)({_NUM}){_DEG_SUFFIX}\s*$", re.IGNORECASE
)
# 14h03m12.6s / 14:03:12.6 / 14 03 12.6 then +54d20m57s / +54:20:57 / +54 20 57 (the seconds,
# or minutes and seconds, may be left out in the letter form: 14h03.2m is fine).
_SEXAGESIMAL = re.compile(
    r"^\s*(?P<h>\d{1,2}(?:\.\d*)?)\s*(?:h|:|\s)\s*(?:(?P<m>\d{1,2}(?:\.\d*)?)\s*(?:m|:|\s)?\s*"
    r"(?:(?P<s>\d{1,2}(?:\.\d*)?)\s*s?)?)?\s*,?\s*"
    r"(?P<sign>[+-])?\s*(?P<d>\d{1,2}(?:\.\d*)?)\s*(?:(?:d|°|:|\s)\s*"
    r"(?:(?P<dm>\d{1,2}(?:\.\d*)?)\s*(?:m|'|′|:|\s)?\s*"
    r"(?:(?P<ds>\d{1,2}(?:\.\d*)?)\s*(?:s|\"|″|'')?)?)?)?\s*$",
    re.IGNORECASE,
)

_UNITS: dict[str, float] = {
    "deg": 1.0,
    "degree": 1.0,
    "degrees": 1.0,
    "d": 1.0,
    "°": 1.0,
    "arcmin": 1 / 60,
    "arcmins": 1 / 60,
    "amin": 1 / 60,
    "'": 1 / 60,
    "′": 1 / 60,
    "arcsec": 1 / 3600,
    "arcsecs": 1 / 3600,
    "asec": 1 / 3600,
    '"': 1 / 3600,
    "″": 1 / 3600,
    "''": 1 / 3600,
    "mas": 1 / 3_600_000,
    "rad": 180 / math.pi,
    "radian": 180 / math.pi,
    "radians": 180 / math.pi,
}
_RADIUS = re.compile(rf"^\s*({_NUM})\s*(\S*)\s*$")


def _degrees(value: Any, what: str) -> float:
    """A number of degrees from a number, numeric string or angle Quantity."""
    if isinstance(value, bool) or value is None:
        raise BadInputError(f"{what} must be a number of degrees, not {value!r}.")
    if hasattr(value, "unit") and hasattr(value, "to_value"):  # astropy Quantity / Angle
        return _quantity_degrees(value, what)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(rf"{_NUM}{_DEG_SUFFIX}", text, flags=re.IGNORECASE):
            return float(re.match(_NUM, text).group(0))  # type: ignore[union-attr]
        raise BadInputError(f"{what} must be a number of degrees, not {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must be a number of degrees, not {value!r}.") from None
    return number


def _quantity_degrees(value: Any, what: str) -> float:
    import astropy.units as u

    try:
        number = float(value.to_value(u.deg))
    except (u.UnitsError, TypeError, ValueError):
        raise BadInputError(
            f"{what} must be an angle (deg, arcmin, arcsec, ...), not {value!r}."
        ) from None
    return number


def _check(ra: float, dec: float, original: Any) -> tuple[float, float]:
    if not (math.isfinite(ra) and math.isfinite(dec)):
        raise BadInputError(f"Coordinates must be finite, not {original!r}.")
    if not -90.0 <= dec <= 90.0:
        raise BadInputError(
            f"The declination of {original!r} is {dec!r} degrees, outside [-90, 90]."
        )
    ra, dec, _ = validate_position(ra, dec, 0.0)
    return ra, dec


def _sexagesimal(text: str) -> tuple[float, float] | None:
    m = _SEXAGESIMAL.match(text)
    if not m:
        return None
    if not re.search(r"[hdms:°'′\"″]", text, flags=re.IGNORECASE) and len(
        re.findall(r"\d+(?:\.\d*)?", text)
    ) != 6:
        return None  # bare numbers are sexagesimal only as "hh mm ss.s +dd mm ss.s"
    h, mi, s = (float(m.group(k) or 0) for k in ("h", "m", "s"))
    d, dm, ds = (float(m.group(k) or 0) for k in ("d", "dm", "ds"))
    if (h > 24 or (h == 24 and mi + s > 0)) or mi >= 60 or s >= 60 or dm >= 60 or ds >= 60:
        raise BadInputError(
            f"{text!r}: hours must be below 24, minutes and seconds below 60."
        )
    ra = 15.0 * (h + mi / 60 + s / 3600)
    dec = d + dm / 60 + ds / 3600
    return ra, -dec if m.group("sign") == "-" else dec


def _from_string(text: str) -> tuple[float, float]:
    m = _DEGREES.match(text)
    if m:
        return float(m.group(1)), float(m.group(2))
    found = _sexagesimal(text)
    if found is not None:
        return found
    # Anything else astropy can read (e.g. "14h03m12.6s 54d20m57s" with odd spacing).
    try:
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        coord = SkyCoord(text, unit=(u.hourangle, u.deg), frame="icrs")
        return float(coord.ra.deg), float(coord.dec.deg)
    except Exception:  # astropy raises several unrelated types for unparseable text
        raise BadInputError(
            f"Could not read {text!r} as coordinates. Give 'ra dec' in degrees "
            "('210.8 54.35'), sexagesimal ('14h03m12.6s +54d20m57s' or '14:03:12.6 +54:20:57'), "
            "a pair of numbers, or a SkyCoord; for an object name use query_object()."
        ) from None


def parse_coordinates(value: Any) -> tuple[float, float]:
    """ICRS ``(ra, dec)`` in degrees from any of the usual forms.

    Parameters
    ----------
    value : SkyCoord, str, or pair
        * an :class:`astropy.coordinates.SkyCoord` (scalar; any frame, converted to ICRS);
        * ``"ra dec"`` in decimal degrees (``"210.8 54.35"``, ``"210.8, +54.35"``,
          ``"210.8d 54.35d"``);
        * sexagesimal hours and degrees (``"14h03m12.6s +54d20m57s"``,
          ``"14:03:12.6 +54:20:57"``, ``"14 03 12.6 +54 20 57"``);
        * a tuple or list of two numbers (degrees), numeric strings or angle Quantities.

    Returns
    -------
    tuple of float
        ``(ra, dec)`` with ``ra`` in [0, 360) and ``dec`` in [-90, 90].

    Raises
    ------
    BadInputError
        For unparseable text, non-finite values, ``|dec| > 90``, or another kind of object.

    Examples
    --------
    >>> parse_coordinates("210.8 54.35")
    (210.8, 54.35)
    >>> parse_coordinates("14:03:12.6 +54:20:57")
    (210.8025, 54.34916666666667)
    >>> parse_coordinates([-10, 5])
    (350.0, 5.0)
    """
    if isinstance(value, str):
        ra, dec = _from_string(value)
        return _check(ra, dec, value)
    if hasattr(value, "icrs") and hasattr(value, "frame"):  # SkyCoord (or a frame object)
        try:
            icrs = value.icrs
            if not icrs.isscalar:
                raise BadInputError(
                    f"Give one position, not a SkyCoord of shape {icrs.shape}; "
                    "loop over positions (or use resolve_many for names)."
                )
            ra, dec = float(icrs.ra.deg), float(icrs.dec.deg)
        except BadInputError:
            raise
        except Exception as exc:  # a frame without a transformation to ICRS, ...
            raise BadInputError(f"Could not convert {value!r} to ICRS: {exc}") from exc
        return _check(ra, dec, value)
    if (isinstance(value, Sequence) and not isinstance(value, bytes | bytearray)) or type(
        value
    ).__name__ == "ndarray":
        items = list(value)
        if len(items) != 2:
            raise BadInputError(
                f"Coordinates as a sequence need exactly two values (ra, dec), not {len(items)}."
            )
        if all(isinstance(v, str) for v in items) and not all(
            re.fullmatch(rf"\s*{_NUM}{_DEG_SUFFIX}\s*", v, flags=re.IGNORECASE) for v in items
        ):
            ra, dec = _from_string(f"{items[0].strip()} {items[1].strip()}")
        else:
            ra, dec = _degrees(items[0], "ra"), _degrees(items[1], "dec")
        return _check(ra, dec, value)
    raise BadInputError(
        f"Cannot read coordinates from a {type(value).__name__} ({value!r}); give a SkyCoord, "
        "an 'ra dec' string or a pair of numbers in degrees."
    )


def parse_radius(value: Any = None) -> float:
    """A search radius in degrees.

    Parameters
    ----------
    value : Quantity, float, str or None
        An angle :class:`~astropy.units.Quantity`; a number of degrees; a string with a unit
        (``"3 arcmin"``, ``"0.2 deg"``, ``"10 arcsec"``, ``"10\\""``, ``"3'"``, ``"5 mas"``; a
        bare number is degrees); None for MAST's default, :data:`DEFAULT_RADIUS` (0.2 deg).

    Returns
    -------
    float
        Degrees, in [0, 180].

    Raises
    ------
    BadInputError
        For negative, non-finite or larger than 180 degree radii, unknown units, or other types.

    Examples
    --------
    >>> parse_radius("10 arcsec") * 3600
    10.0
    >>> parse_radius(0.5)
    0.5
    """
    if value is None:
        return DEFAULT_RADIUS
    if isinstance(value, str):
        m = _RADIUS.match(value)
        if not m:
            raise BadInputError(
                f"Could not read {value!r} as a radius; write e.g. '3 arcmin', '0.2 deg' or "
                "'10 arcsec'."
            )
        unit = m.group(2).lower()
        if unit not in _UNITS and unit != "":
            raise BadInputError(
                f"Unknown angle unit {m.group(2)!r} in radius {value!r}; use deg, arcmin, "
                "arcsec or mas."
            )
        degrees = float(m.group(1)) * _UNITS.get(unit, 1.0)
    elif isinstance(value, bool):
        raise BadInputError(f"radius must be an angle, not {value!r}.")
    elif hasattr(value, "unit") and hasattr(value, "to_value"):
        if getattr(value, "isscalar", True) is False:
            raise BadInputError(f"radius must be a single angle, not {value!r}.")
        degrees = _quantity_degrees(value, "radius")
    elif isinstance(value, int | float) or type(value).__module__ == "numpy":
        try:
            degrees = float(value)
        except (TypeError, ValueError):
            raise BadInputError(f"radius must be an angle, not {value!r}.") from None
    else:
        raise BadInputError(
            f"radius must be an angle (Quantity, degrees or a string like '3 arcmin'), "
            f"not a {type(value).__name__}."
        )
    if not math.isfinite(degrees):
        raise BadInputError(f"radius must be finite, not {value!r}.")
    if degrees < 0:
        raise BadInputError(f"radius must not be negative, not {value!r}.")
    if degrees > 180:
        raise BadInputError(f"radius must be at most 180 degrees, not {value!r}.")
    return degrees
