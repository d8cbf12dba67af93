"""Coordinates and radii: every accepted form, the errors, and properties (hypothesis)."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from mastkit.errors import BadInputError
from mastkit.services import DEFAULT_RADIUS, parse_coordinates, parse_radius

M101 = (210.8025, 54.34916666666667)


@pytest.mark.parametrize(
    "text",
    [
        "14h03m12.6s +54d20m57s",
        "14:03:12.6 +54:20:57",
        "14 03 12.6 +54 20 57",
        "14h03m12.6s, +54d20m57s",
        "14h 03m 12.6s 54° 20′ 57″",
        "210.8025 54.34916666666667",
        "210.8025, +54.34916666666667",
        "210.8025d 54.34916666666667d",
    ],
)
def test_strings(text: str) -> None:
    ra, dec = parse_coordinates(text)
    assert ra == pytest.approx(M101[0], abs=1e-9) and dec == pytest.approx(M101[1], abs=1e-9)


def test_other_forms() -> None:
    assert parse_coordinates((210.8, 54.35)) == (210.8, 54.35)
    assert parse_coordinates([210.8, -54.35]) == (210.8, -54.35)
    assert parse_coordinates(np.array([10.0, 20.0])) == (10.0, 20.0)
    assert parse_coordinates(("210.8", "54.35")) == (210.8, 54.35)
    assert parse_coordinates(("14:03:12.6", "+54:20:57")) == pytest.approx(M101)
    assert parse_coordinates((10 * u.deg, 30 * u.arcmin)) == pytest.approx((10.0, 0.5))
    skycoord = SkyCoord(210.8 * u.deg, 54.35 * u.deg)
    assert parse_coordinates(skycoord) == pytest.approx((210.8, 54.35))
    galactic = SkyCoord(l=0 * u.deg, b=0 * u.deg, frame="galactic")
    assert parse_coordinates(galactic) == pytest.approx((266.40499, -28.93617), abs=1e-4)
    assert parse_coordinates((-10, 0)) == (350.0, 0.0)  # RA wraps into [0, 360)
    assert parse_coordinates((360, 0)) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("M101", "Could not read 'M101' as coordinates"),
        ("", "Could not read"),
        ("1 2 3", "Could not read"),
        ("210.8 95", "outside [-90, 90]"),
        ("12:00:00 +91:00:00", "outside [-90, 90]"),
        ("25:00:00 +10:00:00", "below 24"),
        ("12:61:00 +10:00:00", "below 60"),
        ((float("nan"), 0), "finite"),
        ((0, float("inf")), "finite"),
        ((1, 2, 3), "exactly two values"),
        ((True, 1), "not True"),
        ((None, 1), "not None"),
        ({"ra": 1, "dec": 2}, "Cannot read coordinates from a dict"),
        (b"ab", "Cannot read coordinates from a bytes"),
        (SkyCoord([1, 2] * u.deg, [3, 4] * u.deg), "one position"),
        ((1 * u.m, 2 * u.deg), "must be an angle"),
    ],
)
def test_bad_coordinates(value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_coordinates(value)


@pytest.mark.parametrize(
    ("value", "degrees"),
    [
        (None, 0.2),
        (0.5, 0.5),
        (1, 1.0),
        (np.float32(0.25), 0.25),
        ("0.2 deg", 0.2),
        ("0.2deg", 0.2),
        ("3 arcmin", 0.05),
        ("3'", 0.05),
        ("10 arcsec", 10 / 3600),
        ('10"', 10 / 3600),
        ("500 mas", 0.5 / 3600),
        ("0.1", 0.1),
        ("2 DEG", 2.0),
        (3 * u.arcmin, 0.05),
        (Angle(0.3, u.deg), 0.3),
        (0, 0.0),
    ],
)
def test_radius(value: object, degrees: float) -> None:
    assert parse_radius(value) == pytest.approx(degrees)


def test_default_radius_is_mast_s() -> None:
    assert DEFAULT_RADIUS == 0.2 and parse_radius() == 0.2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "negative"),
        ("-3 arcmin", "negative"),
        (181, "at most 180"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ("3 furlongs", "Unknown angle unit"),
        ("three arcmin", "Could not read"),
        ("", "Could not read"),
        (True, "angle"),
        ([1], "list"),
        (3 * u.s, "must be an angle"),
        ([1, 2] * u.deg, "single angle"),
    ],
)
def test_bad_radius(value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_radius(value)


# --------------------------------------------------------------------------- properties

ras = st.floats(min_value=0, max_value=360, exclude_max=True, allow_nan=False)
decs = st.floats(min_value=-90, max_value=90, allow_nan=False)


def sexagesimal(ra: float, dec: float, style: str) -> str:
    ra_a = Angle(ra, u.deg).to_string(unit=u.hourangle, sep=style if style != "hms" else "hms",
                                      precision=6, pad=True)
    dec_a = Angle(dec, u.deg).to_string(unit=u.deg, sep=style if style != "hms" else "dms",
                                        precision=6, alwayssign=True, pad=True)
    return f"{ra_a} {dec_a}"


@settings(max_examples=150, deadline=None)
@given(ras, decs, st.sampled_from(["hms", ":", " "]))
def test_sexagesimal_round_trip(ra: float, dec: float, style: str) -> None:
    got_ra, got_dec = parse_coordinates(sexagesimal(ra, dec, style))
    assert abs(got_dec - dec) < 1e-5
    wrapped = abs(got_ra - ra) % 360
    assert min(wrapped, 360 - wrapped) < 1e-5


@settings(max_examples=150, deadline=None)
@given(ras, decs, st.sampled_from(["{} {}", "{}, {}", "{},{}", "{}d {}d", "  {}   {}  "]))
def test_decimal_round_trip(ra: float, dec: float, template: str) -> None:
    assert parse_coordinates(template.format(repr(ra), repr(dec))) == pytest.approx(
        (ra % 360.0, dec), abs=1e-12)
    assert parse_coordinates((ra, dec)) == pytest.approx((ra % 360.0, dec), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_bad_input(text: str) -> None:
    try:
        ra, dec = parse_coordinates(text)
    except BadInputError:
        return
    assert 0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=180, allow_nan=False),
       st.sampled_from([("deg", 1.0), ("arcmin", 1 / 60), ("arcsec", 1 / 3600), ("'", 1 / 60),
                        ('"', 1 / 3600), ("mas", 1 / 3_600_000), ("", 1.0)]),
       st.sampled_from(["", " "]))
def test_radius_strings(number: float, unit: tuple[str, float], space: str) -> None:
    name, factor = unit
    assert parse_radius(f"{number!r}{space}{name}") == pytest.approx(number * factor)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=20), st.floats(), st.integers(-10**6, 10**6), st.none()))
def test_any_radius_is_in_range_or_bad_input(value: object) -> None:
    try:
        degrees = parse_radius(value)
    except BadInputError:
        return
    assert 0.0 <= degrees <= 180.0 and math.isfinite(degrees)
