"""Property tests: encoders and decoders agree, and both decoding paths give the same table."""

from __future__ import annotations

import itertools
import json
import math
import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit.errors import DecodeError
from mastkit.protocol import Field
from mastkit.tables import (
    concat_pages,
    decode_csv,
    decode_extjs,
    decode_rows,
    encode_csv,
    encode_extjs,
    encode_rows,
    fields_for,
)

# A quick run by default; MASTKIT_PROPERTY_EXAMPLES=1000 for a thorough one.
SETTINGS = settings(
    max_examples=int(os.environ.get("MASTKIT_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
BIG_INTS = st.one_of(INT64, st.sampled_from([0, 2**53, 2**53 + 1, 2**63 - 1, -(2**63), 2003585980]))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "},{", '"', "\\", "\n", "a,b", "NA", "null", "5371", "2020-01-01", "é😀"]),
)
NAMES = st.text(min_size=1, max_size=8).filter(lambda s: s != "_selected_")

COLUMN_KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "int": (pa.int64(), BIG_INTS),
    "float": (pa.float64(), FLOATS),
    "string": (pa.string(), TEXT),
    "bool": (pa.bool_(), st.booleans()),
}


@st.composite
def tables(draw: st.DrawFn, *, min_rows: int = 0, finite: bool = False) -> pa.Table:
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    n = draw(st.integers(min_value=min_rows, max_value=25))
    arrays = []
    for _ in names:
        dtype, values = COLUMN_KINDS[draw(st.sampled_from(sorted(COLUMN_KINDS)))]
        if finite and dtype == pa.float64():
            values = FINITE
        cells = draw(st.lists(st.one_of(st.none(), values), min_size=n, max_size=n))
        arrays.append(pa.array(cells, type=dtype))
    return pa.table(arrays, names=names)


def nan_to_null(table: pa.Table) -> pa.Table:
    """JSON has no NaN: encoders write null, so that is what comes back."""
    columns = []
    for column in table.columns:
        if pa.types.is_floating(column.type):
            column = pc.if_else(pc.is_finite(column), column, pa.scalar(None, column.type))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


@SETTINGS
@given(tables(), st.booleans(), st.booleans())
def test_encode_rows_then_decode_rows_round_trips(
    table: pa.Table, kernels: bool, arrow: bool
) -> None:
    """Both encoders (Arrow kernels, msgspec) against both decoders (Arrow, careful)."""
    import mastkit.tables.decode as decode
    import mastkit.tables.encode as encode

    limits = encode._SMALL_ROWS, decode._SMALL
    try:
        encode._SMALL_ROWS = -1 if kernels else limits[0]  # type: ignore[misc]
        decode._SMALL = 0 if arrow else limits[1]  # type: ignore[misc]
        encoded = encode_rows(table)
        assert json.loads(encoded) is not None  # valid JSON for any reader
        decoded = decode_rows(fields_for(table), encoded)
    finally:
        encode._SMALL_ROWS, decode._SMALL = limits  # type: ignore[misc]
    assert decoded.equals(nan_to_null(table))


@SETTINGS
@given(tables(min_rows=1))
def test_ids_declared_string_come_back_as_int64(table: pa.Table) -> None:
    declared = {f.name: "string" for f in table.schema if f.type == pa.int64()}
    decoded = decode_rows(fields_for(table, declared), encode_rows(table))
    expected = nan_to_null(table)
    for name in declared:
        column = expected.column(name)
        # A string-declared column holding no value at all has nothing to say it is numeric.
        want = pa.string() if column.null_count == len(column) else pa.int64()
        assert decoded.schema.field(name).type == want
        assert decoded.column(name).to_pylist() == column.to_pylist()


@SETTINGS
@given(tables())
def test_extjs_round_trips(table: pa.Table) -> None:
    assert decode_extjs(encode_extjs(table)).equals(nan_to_null(table))


@SETTINGS
@given(tables(finite=True))
def test_csv_round_trips(table: pa.Table) -> None:
    decoded = decode_csv(encode_csv(table), fields_for(table))
    assert decoded.equals(table)


@SETTINGS
@given(tables(finite=True), st.lists(st.integers(min_value=0, max_value=25), max_size=3))
def test_concat_pages_of_a_split_table_is_the_table(table: pa.Table, cuts: list[int]) -> None:
    bounds = sorted({0, table.num_rows, *(min(c, table.num_rows) for c in cuts)})
    pages = [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)] or [table]
    assert concat_pages(pages).equals(table)


# Rows of arbitrary JSON values, so that fast and careful paths meet every kind of mix.
JSON_VALUE = st.one_of(
    st.none(), st.booleans(), BIG_INTS, FINITE, TEXT, st.sampled_from([[1], {"k": "v"}, 10**20])
)


@st.composite
def json_rows(draw: st.DrawFn) -> tuple[list[Field], bytes]:
    names = draw(
        st.lists(st.sampled_from(["a", "b", "c", "obsid"]), min_size=1, max_size=3, unique=True)
    )
    kinds = [
        draw(st.sampled_from(["string", "int", "float", "boolean", "auto", "date"])) for _ in names
    ]
    # Each column draws from one pool: a single JSON type (the usual case) or any mix.
    pools = {
        n: draw(st.sampled_from([JSON_VALUE, BIG_INTS, FINITE, TEXT, st.booleans()])) for n in names
    }
    row = st.fixed_dictionaries({}, optional={n: st.one_of(st.none(), pools[n]) for n in names})
    data = draw(st.lists(row, min_size=1, max_size=12))
    layout = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    fields = [Field(n, k) for n, k in zip(names, kinds, strict=True)]
    return fields, json.dumps(data, separators=layout).encode()


def _outcome(fields: list[Field], data: bytes) -> pa.Table | str:
    try:
        return decode_rows(fields, data)
    except DecodeError:
        return "DecodeError"


@SETTINGS
@given(json_rows())
def test_fast_and_careful_paths_agree(case: tuple[list[Field], bytes]) -> None:
    import mastkit.tables.decode as decode

    fields, data = case
    original_small, original_read = decode._SMALL, decode.read_rows
    try:
        decode._SMALL = 0  # type: ignore[misc]
        fast = _outcome(fields, data)
        decode.read_rows = lambda *args: None  # type: ignore[assignment]
        careful = _outcome(fields, data)
    finally:
        decode._SMALL, decode.read_rows = original_small, original_read  # type: ignore[misc]
    if isinstance(fast, str) or isinstance(careful, str):
        assert fast == careful
    else:
        assert fast.schema == careful.schema
        for a, b in zip(fast.columns, careful.columns, strict=True):
            for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True):
                assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))


@pytest.mark.parametrize("value", [0.1, 1e300, 5e-324, -0.0, 123456789.123456789, 2.0**53])
def test_floats_survive_exactly(value: float) -> None:
    table = pa.table({"f": [value]})
    back = decode_rows(fields_for(table), encode_rows(table)).column("f")[0].as_py()
    assert back == value and math.copysign(1, back) == math.copysign(1, value)
