"""Encoders: exact wire text, MAST's csv quoting, extjs layout, VOTable validity, fields_for."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import warnings
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit.protocol import Field, Paging, decode_response, encode_envelope
from mastkit.tables import (
    decode_reply,
    decode_rows,
    decode_votable,
    encode_csv,
    encode_extjs,
    encode_rows,
    encode_votable,
    extjs_column_properties,
    fields_for,
)
from mastkit.tables.encode import encode_row_parts

from .conftest import fixture_reply


@pytest.fixture
def kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encode even small tables with the Arrow kernels (small ones normally go to msgspec)."""
    import mastkit.tables.encode as encode

    monkeypatch.setattr(encode, "_SMALL_ROWS", -1)


@pytest.mark.usefixtures("kernels")
def test_encode_rows_exact_text() -> None:
    table = pa.table(
        {
            "obsid": pa.array([2003585980, None], pa.int64()),
            "s_ra": [23.11817129395, float("nan")],
            "flag": [True, None],
            "name": ['M "31"\n', None],
            "big": pa.array([2**63 - 1, -(2**63)], pa.int64()),
            "inf": [float("inf"), -float("inf")],
        }
    )
    assert encode_rows(table) == (
        b'[{"obsid":2003585980,"s_ra":23.11817129395,"flag":true,"name":"M \\"31\\"\\n",'
        b'"big":9223372036854775807,"inf":null},'
        b'{"obsid":null,"s_ra":null,"flag":null,"name":null,"big":-9223372036854775808,"inf":null}]'
    )


@pytest.mark.parametrize("path", ["kernels", "msgspec"])
def test_integral_floats_stay_floats(path: str, request: pytest.FixtureRequest) -> None:
    if path == "kernels":
        request.getfixturevalue("kernels")
    table = pa.table({"f": [2.0, -0.0, 1e20, 5e-324, 123456789.0]})
    expected = b'[{"f":2.0},{"f":-0.0},{"f":1e+20},{"f":5e-324},{"f":123456789.0}]'
    assert encode_rows(table) == (expected if path == "kernels" else expected.replace(b"e+", b"e"))
    # A reader that types by value (a column declared "string") still sees floats.
    from mastkit.tables import decode_rows

    assert decode_rows([Field("f", "string")], encode_rows(table)).schema.types == [pa.float64()]


def test_encode_rows_times_nested_and_dictionary() -> None:
    table = pa.table(
        {
            "t": pa.array([dt.datetime(2020, 1, 2, 3, 4, 5, 250000)], pa.timestamp("us")),
            "tz": pa.array([dt.datetime(2020, 1, 2, tzinfo=dt.UTC)], pa.timestamp("s", "UTC")),
            "d": pa.array([dt.date(2020, 1, 2)]),
            "l": pa.array([[1, 2]]),
            "cat": pa.array(["HST"]).dictionary_encode(),
            "n": pa.nulls(1),
            "u": pa.array([2**64 - 1], pa.uint64()),
            "ctl": ["\x01\x1f\t\x08\x0c\r"],
        }
    )
    row = json.loads(encode_rows(table))[0]
    assert row == {
        "t": "2020-01-02T03:04:05.250000",
        "tz": "2020-01-02T00:00:00+0000",
        "d": "2020-01-02",
        "l": [1, 2],
        "cat": "HST",
        "n": None,
        "u": 2**64 - 1,
        "ctl": "\x01\x1f\t\x08\x0c\r",
    }


def test_small_and_large_tables_encode_to_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    import mastkit.tables.encode as encode

    table = decode_reply(fixture_reply("tic.json"))
    small = encode_rows(table), encode_extjs(table)
    monkeypatch.setattr(encode, "_SMALL_ROWS", -1)
    large = encode_rows(table), encode_extjs(table)
    assert json.loads(small[0]) == json.loads(large[0])
    assert json.loads(small[1]) == json.loads(large[1])


def test_encode_rows_many_batches_and_empty() -> None:
    table = pa.table({"i": pa.array(range(150_000), pa.int64())})
    decoded = json.loads(encode_rows(table))
    assert len(decoded) == 150_000 and decoded[-1] == {"i": 149_999}
    assert encode_rows(table.slice(0, 0)) == b"[]"
    assert encode_rows(pa.table({"a": [1]}).drop_columns(["a"])) == b"[{}]"  # a row, no columns


def test_server_reply_round_trip_through_the_protocol() -> None:
    """What the local server does: Arrow → envelope → bytes → decode_response → Arrow."""
    original = decode_reply(fixture_reply("caom.json"))
    declared = {"obsid": "string", "objID": "string"}
    fields = fields_for(original, declared)
    body = encode_envelope(
        status="COMPLETE",
        fields=fields,
        data_raw=encode_rows(original),
        paging=Paging(1, 50000, 1, 19, 19, 19),
    )
    response = decode_response(body)
    assert [f.type for f in response.fields if f.name == "obsid"] == ["string"]
    assert decode_reply(response).equals(original)


def test_fields_for() -> None:
    table = pa.table(
        {
            "i": pa.array([1], pa.int32()),
            "f": pa.array([1.0], pa.float32()),
            "b": [True],
            "s": ["x"],
            "t": pa.array([0], pa.timestamp("ms")),
            "n": pa.nulls(1),
            "d": pa.array(["a"]).dictionary_encode(),
        }
    )
    assert fields_for(table) == [
        Field("i", "int"),
        Field("f", "float"),
        Field("b", "boolean"),
        Field("s", "string"),
        Field("t", "date"),
        Field("n", "string"),
        Field("d", "string"),
    ]
    assert fields_for(table, {"i": "string"})[0] == Field("i", "string")


def test_encode_csv_follows_mast_quoting() -> None:
    table = pa.table(
        {
            "plain": ["M 31", "a,b", 'say "hi"', "two\nlines", "", None, "cr\r"],
            "n": pa.array([1, 2, 3, 4, 5, None, 7], pa.int64()),
            "f": [0.5, float("nan"), float("inf"), -float("inf"), 1e20, None, -0.0],
            "b": [True, False, None, True, True, True, True],
        }
    )
    lines = encode_csv(table).decode().split("\n")
    assert lines[0] == "plain,n,f,b"
    assert lines[1] == "M 31,1,0.5,True"
    assert lines[2] == '"a,b",2,NaN,False'
    assert lines[3] == '"say ""hi""",3,Infinity,'
    assert lines[4] == '"two'
    assert lines[5] == 'lines",4,-Infinity,True'
    assert lines[6] == '"",5,1e+20,True'
    assert lines[7] == ",,,True"
    assert lines[8] == '"cr\r",7,-0.0,True'
    assert lines[9] == ""


def test_encode_csv_quotes_header_names() -> None:
    assert encode_csv(pa.table({"a,b": [1], 'q"': [2]})).startswith(b'"a,b","q"""\n')
    assert encode_csv(pa.table({"a": [1]}).slice(0, 0)) == b"a\n"


def test_encode_extjs_layout() -> None:
    table = pa.table({"obs.collection": ["HST", None], "n": pa.array([1, 2], pa.int64())})
    fields = [Field("obs.collection", "string"), Field("n", "int")]
    raw = encode_extjs(
        table,
        fields,
        column_properties={
            "obs.collection": {"histObj": {"hist": [], "HST": {"key": "HST", "count": 1}}}
        },
        table_properties={"discreteHistogram": {}},
        paging=Paging(1, 10, 1, 2, 2, 2),
    )
    doc = json.loads(raw)
    assert doc["name"] == "NewDataSet" and doc["ExtendedProperties"] == {}
    t = doc["Tables"][0]
    assert t["Rows"] == [["HST", 1], [None, 2]]
    assert t["Fields"] == [
        {"name": "obs.collection", "type": "string"},
        {"name": "n", "type": "int"},
    ]
    assert t["Columns"][0]["dataIndex"] == "obs_collection"
    assert t["ExtendedProperties"]["Paging"]["rowsTotal"] == 2
    props = extjs_column_properties(raw)
    assert props["columns"]["obs.collection"]["histObj"]["HST"]["count"] == 1
    assert "discreteHistogram" in props["table"]


def test_encode_votable_is_valid_and_typed() -> None:
    from astropy.io.votable import parse

    table = pa.table(
        {
            "obsid": pa.array([2003585980, None], pa.int64()),
            "s_ra": [23.1, None],
            "target": ["é😀", None],
            "flag": [True, None],
            "t": pa.array([dt.datetime(2020, 1, 1), None], pa.timestamp("us")),
        }
    )
    body = encode_votable(table, units={"s_ra": "deg"}, descriptions={"s_ra": "Right ascension"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a strictly valid document: no VOWarning at all
        votable = parse(io.BytesIO(body), verify="exception").get_first_table()
    assert [f.name for f in votable.fields] == table.column_names
    assert votable.get_field_by_id("s_ra").unit.to_string() == "deg"
    back = decode_votable(body)
    assert back.column("obsid").to_pylist() == [2003585980, None]
    assert back.column("s_ra").to_pylist() == [23.1, None]
    assert back.column("target").to_pylist()[0] == "é😀"
    assert back.column("flag").to_pylist() == [True, None]
    assert back.column("t").to_pylist()[0] == "2020-01-01T00:00:00.000000"
    assert back.schema.field("s_ra").metadata == {
        b"unit": b"deg",
        b"description": b"Right ascension",
    }


@pytest.mark.parametrize("name", ["caom.json", "tic.json", "products.json"])
def test_votable_round_trip_of_real_replies(name: str) -> None:
    original = decode_reply(fixture_reply(name))
    back = decode_votable(encode_votable(original))
    assert back.column_names == original.column_names
    for column in original.column_names:
        want = original.column(column).to_pylist()
        got = back.column(column).to_pylist()
        if pa.types.is_string(original.schema.field(column).type):
            # VOTable text has no null, and TABLEDATA cells lose edge whitespace.
            want = ["" if v is None else v.strip() for v in want]
            got = ["" if v is None else v.strip() for v in got]
        assert got == want, column


# ------------------------------------------------------------------------------------------
# The Arrow-kernel row encoder (large tables and the server's pages): property tests against
# the JSON values json.dumps semantics give (NaN and infinities as null), value by value.
# ------------------------------------------------------------------------------------------

_KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "int64": (pa.int64(), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    "int32": (pa.int32(), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
    "uint64": (pa.uint64(), st.integers(min_value=0, max_value=2**64 - 1)),
    "float": (
        pa.float64(),
        st.one_of(
            st.floats(),
            st.sampled_from([0.0, -0.0, 2.0, 1e9, 1e10, 1e15, 1e16, 1e20, 1.5e20, 5e-324, 0.1]),
            st.integers(min_value=-(2**60), max_value=2**60).map(float),
        ),
    ),
    "bool": (pa.bool_(), st.booleans()),
    "string": (
        pa.string(),
        st.one_of(
            st.text(max_size=10),
            st.sampled_from(['"', "\\", '\\"', "\x00", "\x1f\x7f", "\u2028", "é😀", "null"]),
        ),
    ),
    "large_string": (pa.large_string(), st.text(max_size=6)),
}


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    names = draw(st.lists(st.text(max_size=6), min_size=1, max_size=6, unique=True))
    n = draw(st.integers(min_value=1, max_value=30))
    columns = []
    for _ in names:
        kind = draw(st.sampled_from([*_KINDS, "null"]))
        if kind == "null":
            columns.append(pa.nulls(n))
            continue
        dtype, values = _KINDS[kind]
        nullable = draw(st.booleans())
        cell = st.one_of(st.none(), values) if nullable else values
        columns.append(pa.array(draw(st.lists(cell, min_size=n, max_size=n)), dtype))
    return pa.table(columns, names=names)


def _expected(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _same(got: Any, want: Any) -> bool:
    """Equal JSON values, floats exactly (sign of zero included) and still floats."""
    if isinstance(want, float):
        return (
            type(got) is float and got == want and math.copysign(1, got) == math.copysign(1, want)
        )
    return type(got) is type(want) and got == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables(), block=st.integers(min_value=1, max_value=8))
def test_row_encoder_round_trips_json_values(table: pa.Table, block: int) -> None:
    import mastkit.tables._rowtext as rowtext

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rowtext, "_BLOCK", block)  # several blocks, encoded side by side
        objects = b"".join(rowtext.row_parts(table))
        positional = b"".join(rowtext.row_parts(table, objects=False))
    want = [[_expected(v) for v in row.values()] for row in table.to_pylist()]
    # Strict JSON: Python's reader refuses NaN and Infinity here.
    strict = {"parse_constant": lambda name: pytest.fail(f"non-JSON constant {name}")}
    decoded = json.loads(objects, **strict)
    assert [list(row) for row in decoded] == [table.column_names] * table.num_rows
    for got_rows in ([list(row.values()) for row in decoded], json.loads(positional, **strict)):
        assert len(got_rows) == len(want)
        for got, expected in zip(got_rows, want, strict=True):
            assert all(_same(g, w) for g, w in zip(got, expected, strict=True)), (got, expected)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables())
def test_row_encoder_agrees_with_msgspec_text_values(table: pa.Table) -> None:
    """The kernels and msgspec (the small-table path) give the same values."""
    import mastkit.tables._rowtext as rowtext

    kernels = json.loads(b"".join(rowtext.row_parts(table)))
    plain = json.loads(msgspec.json.encode(table.to_pylist()))
    for got, want in zip(kernels, plain, strict=True):
        assert all(_same(got[k], want[k]) for k in want), (got, want)


def test_encode_row_parts_join_to_encode_rows(kernels: None) -> None:
    table = pa.table({"s": ["a", None, 'q"'] * 700, "f": [1.0, None, 2.5] * 700})
    parts = encode_row_parts(table)
    assert len(parts) > 1  # buffers to splice, not one joined copy
    assert b"".join(parts) == encode_rows(table)
    assert json.loads(encode_rows(table))[:3] == [
        {"s": "a", "f": 1.0},
        {"s": None, "f": None},
        {"s": 'q"', "f": 2.5},
    ]


@pytest.mark.parametrize("threads", [True, False])
def test_large_replies_decode_alike_with_or_without_arrow_threads(
    threads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Arrow path, on Arrow's pool or on the calling thread, ignoring undeclared keys."""
    import mastkit.tables.decode as decode

    monkeypatch.setattr(decode, "_SMALL", 0)
    rows = [
        {
            "obsid": 2_000_000_000 + i,
            "s_ra": i / 7,
            "name": f"M{i}",
            "flag": i % 2 == 0,
            "undeclared": "text" if i % 3 else i,
        }  # mixed types: read only if asked for
        for i in range(3000)
    ]
    fields = [
        Field("obsid", "string"),
        Field("s_ra", "float"),
        Field("name", "string"),
        Field("flag", "boolean"),
    ]
    table = decode_rows(fields, json.dumps(rows).encode(), threads=threads)
    assert table.schema.types == [pa.int64(), pa.float64(), pa.string(), pa.bool_()]
    assert table.to_pylist() == [{k: r[k] for k in ("obsid", "s_ra", "name", "flag")} for r in rows]
