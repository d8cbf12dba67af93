"""The filter builder: the forms users write, and what MAST receives."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mastkit.errors import BadInputError
from mastkit.protocol.filters import (
    COUNT,
    Filter,
    Range,
    criterion,
    filters_to_json,
    position_string,
    validate_position,
)


def test_astroquery_documented_example() -> None:
    # mast-protocol.md 4.2: the filter set astroquery builds for these criteria.
    built = filters_to_json(
        [
            criterion("dataproduct_type", ["image"]),
            criterion("proposal_pi", "Ost*"),
            criterion("s_dec", [43.5, 45.5], continuous=True),
            criterion("filters", ["NUV", "FUV"], separator=";"),
            criterion("calib_level", 3),
            criterion("obs_collection", ["HST", "*UV"], separator=";"),
        ]
    )
    assert built == [
        {"paramName": "dataproduct_type", "values": ["image"]},
        {"paramName": "proposal_pi", "values": [], "freeText": "Ost%"},
        {"paramName": "s_dec", "values": [{"min": 43.5, "max": 45.5}]},
        {"paramName": "filters", "separator": ";", "values": ["NUV", "FUV"]},
        {"paramName": "calib_level", "values": ["3"]},
        {"paramName": "obs_collection", "separator": ";", "values": ["HST"], "freeText": "%UV"},
    ]


@pytest.mark.parametrize(
    ("value", "lo", "hi"),
    [
        ((1, 5), 1, 5),
        (slice(2, 3), 2, 3),
        ("10..20", 10, 20),
        ("10..", 10, math.inf),
        ("..20", -math.inf, 20),
        (">=5", 5, math.inf),
        ("<=5", -math.inf, 5),
        ({"min": 1, "max": 2}, 1, 2),
        ({"min": 1}, 1, math.inf),
        (Range(0, 1), 0, 1),
        (slice(None, 4), -math.inf, 4),
        ("=7", 7, 7),
    ],
)
def test_range_forms(value: object, lo: float, hi: float) -> None:
    f = criterion("t_exptime", value, continuous=True)
    (r,) = f.values
    assert isinstance(r, Range) and (r.min, r.max) == (lo, hi)
    wire = f.to_json()["values"][0]
    assert all(math.isfinite(v) for v in wire.values())  # JSON cannot carry infinities


def test_strict_inequalities_exclude_the_bound() -> None:
    (r,) = criterion("t_min", ">5", continuous=True).values
    assert r.min > 5 and r.min == math.nextafter(5, math.inf)
    (r,) = criterion("t_min", "<5", continuous=True).values
    assert r.max < 5


def test_discrete_numbers_are_stringified_and_dates_use_mjd() -> None:
    from astropy.time import Time

    assert criterion("calib_level", [2, 3]).to_json()["values"] == ["2", "3"]
    (r,) = criterion("t_min", (Time("2020-01-01"), Time("2020-02-01")), continuous=True).values
    assert r.min == pytest.approx(58849.0) and r.max == pytest.approx(58880.0)
    assert criterion("mtFlag", True).to_json()["values"] == ["true"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "empty list"),
        ((5, 1), "Reversed range"),
        ("9..3", "Reversed range"),
        ({"gt": 3}, "Unknown range operator"),
        ("=>5", "Unknown operator"),
        ("!=5", "Unknown operator"),
        (["a*", "b*"], "Only one wildcard"),
        (None, "None is not a valid value"),
        ("abc..5", "is not a number"),
        (slice(1, 5, 2), "cannot have a step"),
        ((float("nan"), 1), "must be numbers"),
        ([float("inf")], "non-finite"),
        ([object()], "Unsupported value"),
    ],
)
def test_invalid_filters_raise_before_sending(value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        criterion("t_exptime", value, continuous=True)


def test_filter_object_validation() -> None:
    with pytest.raises(BadInputError, match="no values and no pattern"):
        Filter("x")
    with pytest.raises(BadInputError, match="needs a column"):
        Filter("", ("a",))
    with pytest.raises(BadInputError, match="mixes a range"):
        Filter("x", (Range(0, 1), "a"))


def test_position_string_matches_astroquery() -> None:
    assert position_string(210.8023, 54.349, 0.24) == "210.8023, 54.349, 0.24"
    assert position_string(-10, 0, 1) == "350.0, 0.0, 1.0"
    assert COUNT == "COUNT_BIG(*)"


@pytest.mark.parametrize(
    ("ra", "dec", "radius", "message"),
    [
        (float("nan"), 0, 1, "ra must be finite"),
        (0, 91, 1, "dec must be within"),
        (0, 0, -1, "radius must not be negative"),
        (0, 0, 200, "at most 180"),
        ("12", 0, 1, "ra must be a number"),
        (0, float("inf"), 1, "dec must be finite"),
    ],
)
def test_bad_positions(ra: object, dec: object, radius: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        validate_position(ra, dec, radius)  # type: ignore[arg-type]


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@given(lo=finite, hi=finite)
def test_range_property(lo: float, hi: float) -> None:
    if lo > hi:
        with pytest.raises(BadInputError):
            criterion("c", (lo, hi), continuous=True)
        return
    wire = criterion("c", (lo, hi), continuous=True).to_json()
    assert wire == {"paramName": "c", "values": [{"min": lo, "max": hi}]}
    text = criterion("c", f"{lo!r}..{hi!r}", continuous=True).to_json()
    assert text == wire


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="*%"), min_size=1, max_size=10),
        min_size=1,
        max_size=5,
    )
)
def test_exact_values_property(values: list[str]) -> None:
    assume(
        all(
            not v.lstrip().startswith(("=>", "=<", "<>", "!=", "~", ">>", "<<", ">", "<", "="))
            for v in values
        )
    )
    assume(all(".." not in v for v in values))
    wire = criterion("target_name", values).to_json()
    assert wire["values"] == values and "freeText" not in wire


safe_text = st.text(alphabet=st.characters(blacklist_characters="=<>!~."), max_size=6)


@given(st.builds(lambda a, b: a + "*" + b, safe_text, safe_text))
def test_wildcard_property(pattern: str) -> None:
    wire = criterion("target_name", pattern).to_json()
    assert wire["values"] == [] and wire["freeText"] == pattern.replace("*", "%")


@given(
    ra=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    dec=st.floats(min_value=-90, max_value=90),
    radius=st.floats(min_value=0, max_value=180),
)
def test_position_property(ra: float, dec: float, radius: float) -> None:
    text = position_string(ra, dec, radius)
    r, d, rad = (float(x) for x in text.split(", "))
    assert 0 <= r < 360 and d == dec and rad == radius


def test_service_names() -> None:
    from mastkit.protocol import services

    assert services.canonical(" mast.caom.CONE ") == "Mast.Caom.Cone"
    assert services.canonical("Mast.Other.Thing") == "Mast.Other.Thing"
    assert services.is_filtered("Mast.Caom.Filtered.Position") and services.is_position(
        "Mast.Caom.Filtered.Position"
    )
    assert not services.is_position("Mast.Caom.Filtered")
    assert services.columns_config_id("Mast.Caom.Filtered.Position") == "Mast.Caom.Cone"
    assert (
        services.columns_config_id("Mast.Catalogs.Filtered.Tic.Rows") == "Mast.Catalogs.Tess.Cone"
    )
    assert services.is_valid_name("Mast.Caom.Cone") and not services.is_valid_name(
        "Mast; DROP TABLE x"
    )


def test_range_wrapped_in_a_list() -> None:
    assert criterion("t_min", [(1, 2)], continuous=True).to_json()["values"] == [{"min": 1, "max": 2}]
    with pytest.raises(BadInputError, match="one range per filter"):
        criterion("t_min", [(1, 2), 5], continuous=True)
