"""Criteria: checked against real column metadata, turned into MAST filters (no server)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol.filters import Range, filters_to_json
from mastkit.services import Not
from mastkit.services.criteria import (
    column_infos,
    compile_criteria,
    fields_from_config,
    split_negation,
    to_mjd,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The real MAST columns config of Mast.Caom.Cone (astroquery's test data).
REAL = json.loads((FIXTURES / "columnsconfig.json").read_text())
MJD_2020 = 58849.0  # 2020-01-01T00:00 UTC


def local_config() -> dict[str, Any]:
    from mastkit.server.schema import columns_config

    return columns_config("Mast.Caom.Cone")


def wire(criteria: dict[str, Any], config: dict[str, Any] = REAL) -> list[dict[str, Any]]:
    return filters_to_json(compile_criteria(criteria, config).filters)


def test_astroquery_documented_example() -> None:
    # mast-protocol.md 4.2: what astroquery sends for these criteria, here from the real config.
    assert wire({"dataproduct_type": ["image"], "proposal_pi": "Ost*", "s_dec": [43.5, 45.5],
                 "filters": ["NUV", "FUV"], "calib_level": 3,
                 "obs_collection": ["HST", "*UV"]}) == [
        {"paramName": "dataproduct_type", "values": ["image"]},
        {"paramName": "proposal_pi", "values": [], "freeText": "Ost%"},
        {"paramName": "s_dec", "values": [{"min": 43.5, "max": 45.5}]},
        {"paramName": "filters", "separator": ";", "values": ["NUV", "FUV"]},
        {"paramName": "calib_level", "values": ["3"]},
        {"paramName": "obs_collection", "separator": ";", "values": ["HST"], "freeText": "%UV"},
    ]


def test_column_kinds_from_real_and_local_configs() -> None:
    for config in (REAL, local_config()):
        infos = column_infos(config)
        assert infos["t_min"].kind == infos["t_obs_release"].kind == "time"
        assert infos["s_ra"].kind == infos["t_exptime"].kind == "float"
        assert infos["calib_level"].kind == infos["obsid"].kind == "int"
        assert infos["obs_collection"].kind == "text" and infos["obs_collection"].separator == ";"
        assert infos["mtflag"].kind == "bool"
    assert "s_fov" not in column_infos(REAL)  # marked remove: true
    assert "_selected_" not in column_infos(REAL)


def test_unknown_columns_suggest_close_names() -> None:
    with pytest.raises(UnknownColumnError) as caught:
        compile_criteria({"instrumnt_name": "ACS/WFC"}, REAL, service="Mast.Caom.Filtered")
    error = caught.value
    assert error.column == "instrumnt_name" and error.suggestions[0] == "instrument_name"
    assert "Did you mean 'instrument_name'" in str(error) and "Mast.Caom.Filtered" in str(error)
    assert "target_name" in error.known
    with pytest.raises(UnknownColumnError, match="Unknown column 's_fov'"):
        compile_criteria({"s_fov": 1}, REAL)  # removed by MAST: not a column any more


def test_column_names_ignore_case_and_take_the_config_spelling() -> None:
    assert wire({"OBS_COLLECTION": "HST", "mtflag": True}) == [
        {"paramName": "obs_collection", "separator": ";", "values": ["HST"]},
        {"paramName": "mtFlag", "values": ["true"]},
    ]


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"calib_level": "high"}, "'calib_level' is a number column; 'high' is not a number"),
        ({"calib_level": 2.5}, "holds integers"),
        ({"s_ra": "abc"}, "number column"),
        ({"s_ra": [1, 2, 3]}, "continuous column"),
        ({"s_ra": "21*"}, "wildcard patterns apply to text and integer columns"),
        ({"target_name": (1, 5)}, "a range applies to number and time columns only"),
        ({"target_name": ">=5"}, "a range applies"),
        ({"proposal_id": "100..200"}, "a range applies"),
        ({"mtFlag": "maybe"}, "true/false column"),
        ({"mtFlag": (0, 1)}, "a range applies"),
        ({"calib_level": True}, "not a true/false column"),
        ({"t_min": "yesterday"}, "Could not read 'yesterday' as a time"),
        ({"t_min": [1, 2, 3]}, "one time or a \\(start, end\\) pair"),
        ({"t_max": "2021-01-01..2020-01-01"}, "Reversed range"),
        ({"calib_level": (2.2, 2.8)}, "holds no integer"),
        ({"obs_collection": []}, "has no values"),
        ({"obs_collection": None}, "has no values"),
        ({"obs_collection": "!"}, None),  # a negated empty string is fine (excludes "")
    ],
)
def test_wrong_types_are_refused_before_sending(
    criteria: dict[str, Any], message: str | None
) -> None:
    if message is None:
        compile_criteria(criteria, REAL)
        return
    with pytest.raises(BadInputError, match=message):
        compile_criteria(criteria, REAL)


def test_ranges_on_number_columns() -> None:
    assert wire({"t_exptime": (100, 500)}) == [
        {"paramName": "t_exptime", "values": [{"min": 100, "max": 500}]}]
    assert wire({"t_exptime": slice(100, None)})[0]["values"][0]["min"] == 100
    assert wire({"em_min": "300..600"})[0]["values"] == [{"min": 300.0, "max": 600.0}]
    assert wire({"s_ra": 210.5})[0]["values"] == [{"min": 210.5, "max": 210.5}]
    # Integer columns: small bounded ranges become their values (MAST filters them discretely).
    assert wire({"calib_level": (2, 3)})[0]["values"] == ["2", "3"]
    assert wire({"calib_level": "1..3"})[0]["values"] == ["1", "2", "3"]
    assert wire({"calib_level": ">=2"})[0]["values"][0]["min"] == 2
    assert wire({"obsid": (1, 10**9)})[0]["values"] == [{"min": 1, "max": 10**9}]
    assert wire({"obsid": "%200%"}) == [{"paramName": "obsid", "values": [], "freeText": "%200%"}]


def test_dates_become_mjd_on_time_columns() -> None:
    day = wire({"t_min": "2020-01-01"})[0]["values"][0]  # a date alone: that whole day
    assert day["min"] == MJD_2020 and MJD_2020 + 0.999999 < day["max"] < MJD_2020 + 1
    span = {"min": MJD_2020, "max": MJD_2020 + 366}
    forms = [
        ("2020-01-01", "2021-01-01"),
        "2020-01-01..2021-01-01",
        [Time("2020-01-01"), Time("2021-01-01")],
        Time(["2020-01-01", "2021-01-01"]),
        (dt.date(2020, 1, 1), dt.datetime(2021, 1, 1)),
        (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "59215"),
        slice("2020-01-01T00:00:00", 59215),
        {"min": "2020-01-01", "max": 59215.0},
    ]
    for form in forms:
        assert wire({"t_obs_release": form})[0]["values"] == [span], form
    assert wire({"t_max": ">=2020-01-01"})[0]["values"][0]["min"] == MJD_2020
    assert wire({"t_max": "<2020-01-01"})[0]["values"][0]["max"] < MJD_2020
    assert wire({"t_min": 59000.25})[0]["values"] == [{"min": 59000.25, "max": 59000.25}]
    assert wire({"t_min": Time("2020-01-01T12:00:00")})[0]["values"][0]["min"] == MJD_2020 + 0.5


def test_to_mjd() -> None:
    assert to_mjd("2020-01-01T12:00") == MJD_2020 + 0.5
    assert to_mjd(dt.date(2020, 1, 1)) == MJD_2020
    with pytest.raises(BadInputError):
        to_mjd(math.nan)
    with pytest.raises(BadInputError):
        to_mjd(object())


def test_negation_forms() -> None:
    assert split_negation("!HLA") == (None, ["HLA"])
    assert split_negation(Not(["HST", "HLA"])) == (None, [["HST", "HLA"]])
    assert split_negation(["HST", "!HLA", Not("K2")]) == (["HST"], ["HLA", "K2"])
    assert split_negation((1, 2)) == ((1, 2), [])
    assert Not(Not("HLA")) == "HLA" and Not("a") == Not("a") and Not("a") != Not("b")
    compiled = compile_criteria(
        {"obs_collection": ["HST", "JWST", "!HLA", "!K2"], "instrument_name": Not("WFC3*"),
         "t_exptime": Not((0, 100)), "calib_level": "!1"},
        REAL,
    )
    assert filters_to_json(compiled.filters) == [
        {"paramName": "obs_collection", "separator": ";", "values": ["HST", "JWST"]}]
    assert filters_to_json(compiled.negations) == [
        {"paramName": "obs_collection", "separator": ";", "values": ["HLA", "K2"]},
        {"paramName": "instrument_name", "values": [], "freeText": "WFC3%"},
        {"paramName": "t_exptime", "values": [{"min": 0, "max": 100}]},
        {"paramName": "calib_level", "values": ["1"]},
    ]
    assert compiled and not compile_criteria({}, REAL)


def test_fields_from_config_follow_the_order() -> None:
    names = [f.name for f in fields_from_config(local_config(), distance=True)]
    assert names[:2] == ["intentType", "obs_collection"] and names[-1] == "distance"
    assert "distance" not in [f.name for f in fields_from_config(local_config())]
    types = {f.name: f.type for f in fields_from_config(REAL, distance=True)}
    assert types["s_ra"] == "float" and types["calib_level"] == "int"
    assert types["mtFlag"] == "boolean" and "s_fov" not in types and "_selected_" not in types


def test_an_empty_config_cannot_check_anything() -> None:
    with pytest.raises(BadInputError, match="no column metadata"):
        compile_criteria({"obs_collection": "HST"}, {})


values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-10**6, 10**6),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
        st.sampled_from(["!HST", "*", "2..3", ">=4", "<x", "2020-01-01", "a..", "..b", "!"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.builds(Not, inner)),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(column_infos(REAL))), values)
def test_any_value_compiles_or_is_refused_cleanly(column: str, value: Any) -> None:
    try:
        compiled = compile_criteria({column: value}, REAL)
    except BadInputError:
        return
    for f in (*compiled.filters, *compiled.negations):
        f.to_json()  # every filter that compiled has a wire form
        assert all(not isinstance(v, Range) or v.min <= v.max for v in f.values)
