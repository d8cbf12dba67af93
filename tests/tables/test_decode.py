"""decode_rows / decode_reply: typing rules, nulls, fallbacks and malformed input."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pyarrow as pa
import pytest

import mastkit.tables._arrowjson as arrowjson
import mastkit.tables.decode as decode
from mastkit.errors import DecodeError
from mastkit.protocol import Field, decode_response
from mastkit.tables import decode_csv, decode_reply, decode_rows, encode_votable

from .conftest import fixture_bytes, fixture_reply

F = Field


def rows(*objs: dict[str, Any]) -> bytes:
    return json.dumps(list(objs), separators=(",", ":")).encode()


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send even small data down the Arrow path (small replies normally take the careful one)."""
    monkeypatch.setattr(decode, "_SMALL", 0)


@pytest.fixture
def careful(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the careful (Python-values) path."""
    monkeypatch.setattr(decode, "read_rows", lambda *args: None)


# ----------------------------------------------------------------------------- typing rules


def test_nulls_missing_keys_and_extra_keys() -> None:
    table = decode_rows(
        [F("a", "int"), F("b", "string"), F("c", "float")],
        rows({"a": 1, "b": None, "zzz": "ignored"}, {"c": 2.5}),
    )
    assert table.column_names == ["a", "b", "c"]
    assert table.to_pylist() == [
        {"a": 1, "b": None, "c": None},
        {"a": None, "b": None, "c": 2.5},
    ]
    assert table.schema.types == [pa.int64(), pa.string(), pa.float64()]


def test_column_order_is_the_declared_order() -> None:
    table = decode_rows([F("z", "int"), F("a", "int")], rows({"a": 1, "z": 2}))
    assert table.column_names == ["z", "a"]


def test_repeated_and_selected_fields() -> None:
    fields = [F("a", "int"), F("_selected_", "boolean"), F("a", "string")]
    table = decode_rows(fields, rows({"a": 1, "_selected_": None}))
    assert table.column_names == ["a"]
    assert table.schema.field("a").type == pa.int64()


def test_declared_columns_absent_from_every_row() -> None:
    fields = [F("a", "int"), F("b", "float"), F("c", "boolean"), F("d", "string"), F("e", "date")]
    table = decode_rows(fields, rows({"x": 1}, {"x": 2}))
    assert table.schema.types == [
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.string(),
        pa.timestamp("us"),
    ]
    assert all(table.column(i).null_count == 2 for i in range(5))


@pytest.mark.parametrize(
    ("values", "expected_type", "expected"),
    [
        ([1, None, 2], pa.int64(), [1, None, 2]),
        ([1, 2.5], pa.float64(), [1.0, 2.5]),
        ([True, None], pa.bool_(), [True, None]),
        (["x", None], pa.string(), ["x", None]),
        ([1, "x"], pa.string(), ["1", "x"]),
        ([1.5, "x"], pa.string(), ["1.5", "x"]),
        ([True, 1], pa.string(), ["true", "1"]),
        ([{"k": 1}, "x"], pa.string(), ['{"k":1}', "x"]),
        ([[1, 2], None], pa.string(), ["[1,2]", None]),
        ([2**63, 1], pa.string(), [str(2**63), "1"]),
        ([2**63 - 1, -(2**63)], pa.int64(), [2**63 - 1, -(2**63)]),
        ([2**60, 0.5], pa.string(), [str(2**60), "0.5"]),
        ([None, None], pa.string(), [None, None]),
        (["2020-01-01", "2021-02-03T04:05:06"], pa.string(), ["2020-01-01", "2021-02-03T04:05:06"]),
        (["5371", "08880"], pa.string(), ["5371", "08880"]),
    ],
)
@pytest.mark.parametrize("path", ["fast", "careful"])
def test_string_columns_are_typed_by_their_values(
    values: list[Any],
    expected_type: pa.DataType,
    expected: list[Any],
    path: str,
    request: pytest.FixtureRequest,
) -> None:
    if path == "careful":
        request.getfixturevalue("careful")
    table = decode_rows([F("v", "string")], rows(*({"v": v} for v in values)))
    assert table.schema.field("v").type == expected_type
    assert table.column("v").to_pylist() == expected


@pytest.mark.parametrize(
    ("kind", "values", "expected_type", "expected"),
    [
        ("int", [1, None], pa.int64(), [1, None]),
        ("int", [1.0, 2], pa.int64(), [1, 2]),
        ("int", [1.5, 2], pa.float64(), [1.5, 2.0]),
        ("int", ["12", " 3 ", ""], pa.int64(), [12, 3, None]),
        ("int", [True, 0], pa.int64(), [1, 0]),
        ("int", [2**64, 1], pa.float64(), [float(2**64), 1.0]),
        ("float", [1, 2.5, None], pa.float64(), [1.0, 2.5, None]),
        ("float", ["1.5", "", "1e3"], pa.float64(), [1.5, None, 1000.0]),
        ("double", [0.1], pa.float64(), [0.1]),
        ("boolean", [True, False, None], pa.bool_(), [True, False, None]),
        ("boolean", [0, 1, "true", "False", ""], pa.bool_(), [False, True, True, False, None]),
        ("long", [2**62], pa.int64(), [2**62]),
        ("auto", [1, 2], pa.int64(), [1, 2]),
        ("mystery", ["a"], pa.string(), ["a"]),
    ],
)
@pytest.mark.parametrize("path", ["fast", "careful"])
def test_declared_types(
    kind: str,
    values: list[Any],
    expected_type: pa.DataType,
    expected: list[Any],
    path: str,
    request: pytest.FixtureRequest,
) -> None:
    if path == "careful":
        request.getfixturevalue("careful")
    table = decode_rows([F("v", kind)], rows(*({"v": v} for v in values)))
    assert table.schema.field("v").type == expected_type
    assert table.column("v").to_pylist() == expected


def test_nan_text_in_a_float_column() -> None:
    table = decode_rows([F("v", "float")], rows({"v": "NaN"}, {"v": 1}))
    assert math.isnan(table.column("v")[0].as_py())


@pytest.mark.parametrize("path", ["fast", "careful"])
def test_date_columns(path: str, request: pytest.FixtureRequest) -> None:
    if path == "careful":
        request.getfixturevalue("careful")
    epoch = decode_rows([F("t", "date")], rows({"t": 1577836800000}, {"t": None}))
    assert epoch.schema.field("t").type == pa.timestamp("us")
    assert epoch.column("t").to_pylist() == [dt.datetime(2020, 1, 1), None]
    iso = decode_rows(
        [F("t", "datetime")], rows({"t": "2020-01-01T00:00:00.250"}, {"t": "2021-06-01"})
    )
    assert iso.column("t").to_pylist() == [
        dt.datetime(2020, 1, 1, 0, 0, 0, 250000),
        dt.datetime(2021, 6, 1),
    ]
    zoned = decode_rows([F("t", "date")], rows({"t": "2020-01-01T01:00:00+01:00"}))
    assert zoned.column("t").to_pylist() == [dt.datetime(2020, 1, 1)]
    text = decode_rows([F("t", "date")], rows({"t": "Apr 17, 2025, 3:47:59 PM"}))
    assert text.schema.field("t").type == pa.string()
    assert text.column("t").to_pylist() == ["Apr 17, 2025, 3:47:59 PM"]


def test_ignore_values() -> None:
    fields = [F("s", "string"), F("i", "int"), F("f", "float"), F("g", "float")]
    data = rows({"s": "", "i": -999, "f": "NaN", "g": 1.5}, {"s": "x", "i": 3, "f": 2.0, "g": 2.5})
    table = decode_rows(
        fields, data, ignore_values={"s": "", "i": "-999", "f": "NaN", "g": "", "zz": 1}
    )
    assert table.to_pylist() == [
        {"s": None, "i": None, "f": None, "g": 1.5},
        {"s": "x", "i": 3, "f": 2.0, "g": 2.5},
    ]
    unchanged = decode_rows(fields, data, ignore_values={"s": 0, "i": "abc", "g": True})
    assert unchanged.column("s").to_pylist() == ["", "x"]


# ----------------------------------------------------------------------------- layouts and paths


def test_pretty_printed_and_spaced_rows_decode_like_compact() -> None:
    compact = decode_reply(fixture_reply("caom.json"))
    doc = json.loads(fixture_bytes("caom.json"))
    fields = [F(f["name"], f["type"]) for f in doc["fields"]]
    pretty = decode_rows(fields, json.dumps(doc["data"], indent=2).encode())
    spaced = decode_rows(fields, json.dumps(doc["data"]).encode())  # ", " between rows
    crlf = decode_rows(fields, json.dumps(doc["data"], indent=1).replace("\n", "\r\n").encode())
    assert pretty.equals(compact) and spaced.equals(compact) and crlf.equals(compact)


@pytest.mark.parametrize(
    "name", ["caom.json", "products.json", "tic.json", "hsc.json", "dd.json", "spectra.json"]
)
def test_fast_and_careful_paths_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = decode_reply(fixture_reply(name))
    monkeypatch.setattr(decode, "read_rows", lambda *args: None)
    slow = decode_reply(fixture_reply(name))
    assert fast.equals(slow)


def test_blocks_smaller_than_a_row_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = decode_reply(fixture_reply("caom.json"))
    monkeypatch.setattr(arrowjson, "_BLOCK_SIZE", 64)
    assert decode_reply(fixture_reply("caom.json")).equals(expected)


def test_separator_lookalikes_inside_strings() -> None:
    data = rows({"a": "},{", "b": 1}, {"a": '}\n{"x":1}', "b": 2}, {"a": "[]", "b": 3})
    table = decode_rows([F("a", "string"), F("b", "int")], data)
    assert table.column("a").to_pylist() == ["},{", '}\n{"x":1}', "[]"]
    assert table.column("b").to_pylist() == [1, 2, 3]


def test_a_wrong_type_guess_is_corrected() -> None:
    """The first rows sampled say int; a later row holds text."""
    values: list[Any] = [*range(500), "x"]
    table = decode_rows([F("v", "string")], rows(*({"v": v} for v in values)))
    assert table.schema.field("v").type == pa.string()
    assert table.column("v").to_pylist()[-2:] == ["499", "x"]


def test_unicode_and_escapes() -> None:
    values = ["é😀", 'quote " and \\ backslash', "tab\tnew\nline", "\u0000nul", ""]
    table = decode_rows([F("v", "string")], rows(*({"v": v} for v in values)))
    assert table.column("v").to_pylist() == values


def test_empty_results_keep_declared_columns() -> None:
    fields = [F("obsid", "string"), F("s_ra", "float"), F("_selected_", "boolean")]
    for data in (b"", b"[]", b"  [ ]  ", b"null"):
        table = decode_rows(fields, data)
        assert table.num_rows == 0
        assert table.column_names == ["obsid", "s_ra"]
        assert table.schema.types == [pa.string(), pa.float64()]
    reply = decode_response(
        b'{"status":"COMPLETE","msg":"","data":[],"fields":[{"name":"n","type":"int"}]}'
    )
    assert decode_reply(reply).schema == pa.schema([("n", pa.int64())])


# ----------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"a": 1}', "not a JSON array"),
        (b"[1, 2]", "Row 0"),
        (b'[{"a": 1}, "x"]', "Row 1"),
        (b'[{"a": 1}, {"a": ', "cut off"),
        (b'[{"a": 1},, {"a": 2}]', "not valid JSON"),
        (b'[{"a": 1} {"a": 2}]', "not valid JSON"),
        (b'[{"a": NaN}]', "not valid JSON"),
        (b'[{"a": "\xff"}]', "UTF-8"),
        (b'[{"s_ra": "abc"}]', "'s_ra'"),
        (b'[{"s_ra": 1}, {"s_ra": {"x": 1}}]', "'s_ra'"),
        (b'[{"flag": "maybe"}]', "'flag'"),
        (b'[{"n": [1]}]', "'n'"),
    ],
)
@pytest.mark.parametrize("small", [False, True])
def test_malformed_data_raises_decode_error(
    data: bytes, fragment: str, small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small:
        monkeypatch.setattr(decode, "_SMALL", 1 << 20)
    fields = [F("a", "int"), F("s_ra", "float"), F("flag", "boolean"), F("n", "int")]
    with pytest.raises(DecodeError) as info:
        decode_rows(fields, data)
    assert fragment in str(info.value)


def test_small_and_large_replies_decode_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = []
    for limit in (0, 1 << 30):
        monkeypatch.setattr(decode, "_SMALL", limit)
        tables.append(
            [decode_reply(fixture_reply(n)) for n in ("caom.json", "tic.json", "hsc.json")]
        )
    assert all(a.equals(b) for a, b in zip(*tables, strict=True))


def test_decode_error_names_column_and_row() -> None:
    with pytest.raises(DecodeError, match=r"Column 's_ra' is declared float but row 2 holds 'abc'"):
        decode_rows([F("s_ra", "float")], rows({"s_ra": 1}, {"s_ra": 2}, {"s_ra": "abc"}))


# ----------------------------------------------------------------------------- other formats


def test_decode_csv_typed_and_untyped() -> None:
    body = (
        b"obsid,name,s_ra,flag,when\n"
        b'2003585980,"M 31",23.1,True,2020-01-01T00:00:00\n,"",,,\n,NA,NaN,False,\n'
    )
    fields = [
        F("obsid", "int"),
        F("name", "string"),
        F("s_ra", "float"),
        F("flag", "boolean"),
        F("when", "date"),
    ]
    table = decode_csv(body, fields)
    assert table.schema.types == [
        pa.int64(),
        pa.string(),
        pa.float64(),
        pa.bool_(),
        pa.timestamp("us"),
    ]
    assert table.column("name").to_pylist() == ["M 31", "", "NA"]
    assert table.column("obsid").to_pylist() == [2003585980, None, None]
    assert math.isnan(table.column("s_ra")[2].as_py())
    assert table.column("flag").to_pylist() == [True, None, False]
    untyped = decode_csv(body)
    assert untyped.schema.field("obsid").type == pa.int64()


def test_decode_csv_errors_name_the_column() -> None:
    with pytest.raises(DecodeError, match="'s_ra'"):
        decode_csv(b"a,s_ra\n1,abc\n", [F("a", "int"), F("s_ra", "float")])


def test_decode_reply_dispatches_on_format() -> None:
    csv_reply = decode_response(b"a,b\n1,x\n", "csv")
    assert decode_reply(csv_reply).to_pylist() == [{"a": 1, "b": "x"}]
    vot = encode_votable(pa.table({"a": [1, None]}))
    vot_reply = decode_response(vot, "votable")
    assert decode_reply(vot_reply).column("a").to_pylist() == [1, None]


def test_votable_garbage_raises_decode_error() -> None:
    from mastkit.tables import decode_votable

    with pytest.raises(DecodeError):
        decode_votable(b"<html><body>Service unavailable</body></html>")
    with pytest.raises(DecodeError):
        decode_votable(b'<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE/></VOTABLE>')
