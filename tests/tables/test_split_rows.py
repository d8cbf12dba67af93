"""json replies decoded in one scan: rows split by the envelope decoder, read in place.

``decode_response`` splits a json table reply's ``data`` into row slices of the body
(``MashupResponse.data_rows``) and ``decode_reply`` reads them where they are. These tests hold
that path to the general one (``decode_rows`` on the data's bytes, and the careful path), for
every layout a server may send, and check the reply object around it.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import FrozenInstanceError
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mastkit.tables.decode as decode
from mastkit.errors import DecodeError
from mastkit.protocol import Field, MashupResponse, decode_response, encode_envelope
from mastkit.protocol.envelopes import DataRows
from mastkit.tables import decode_reply, decode_rows

from .conftest import fixture_bytes

F = Field
FIELDS = [
    F("obsid", "string"),
    F("s_ra", "float"),
    F("n", "int"),
    F("ok", "boolean"),
    F("name", "string"),
]


def envelope(data: bytes, fields: list[Field] = FIELDS, **extra: Any) -> bytes:
    return encode_envelope(status="COMPLETE", fields=fields, data_raw=data, extra=extra)


def layout(rows: list[dict[str, Any]], style: str) -> bytes:
    """The rows as a JSON array in one of the layouts servers send."""
    if style == "compact":
        return json.dumps(rows, separators=(",", ":")).encode()
    if style == "spaced":
        return json.dumps(rows).encode()
    if style == "pretty":
        return json.dumps(rows, indent=2).encode()
    if style == "crlf":
        return json.dumps(rows, indent=1).replace("\n", "\r\n").encode()
    if style == "rows-on-lines":  # compact between rows, each row spread over lines
        return ("[" + ",".join(json.dumps(r, indent=1) for r in rows) + "]").encode()
    raise AssertionError(style)


STYLES = ["compact", "spaced", "pretty", "crlf", "rows-on-lines"]


def sample_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "obsid": 2003000000 + i,
            "s_ra": None if i % 7 == 0 else i * 0.25,
            "n": i,
            "ok": i % 2 == 0,
            "name": f"target {i} é" if i % 5 else None,
        }
        for i in range(count)
    ]


def careful_table(fields: list[Field], data: bytes) -> pa.Table:
    """The careful path's table (Python values), the independent reference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decode, "read_rows", lambda *args: None)
        patch.setattr(decode, "_SMALL", 0)
        return decode_rows(fields, data)


# ----------------------------------------------------------------------------- the reply


def test_rows_are_slices_of_the_body_and_data_raw_is_exact() -> None:
    data = b'[ {"n": 1} ,\n {"n": 2}\t]'
    body = envelope(data, [F("n", "int")])
    reply = decode_response(body)
    assert reply.data_rows is not None and reply.data_rows.body is body
    assert [bytes(r) for r in reply.data_rows.rows] == [b'{"n": 1}', b'{"n": 2}']
    assert reply.data_raw == data  # copied out on demand, byte for byte
    assert reply.data == [{"n": 1}, {"n": 2}]


def test_replies_the_split_does_not_fit_keep_their_data_bytes() -> None:
    extra = decode_response(envelope(b'[{"n":1}]', **{"percent complete": 100}))
    assert extra.data_rows is None and extra.extra == {"percent complete": 100}
    assert extra.data_raw == b'[{"n":1}]'
    for data, raw in ((b"null", b"null"), (b"[ ]", b"[ ]"), (b'{"a": 1}', b'{"a": 1}')):
        reply = decode_response(envelope(data))
        assert reply.data_rows is None and reply.data_raw == raw
    absent = decode_response(b'{"status": "COMPLETE", "msg": ""}')
    assert absent.data_rows is None and absent.data_raw == b""
    extjs = decode_response(envelope(b'[{"n":1}]'), "extjs")
    assert extjs.data_rows is None and extjs.data_raw == b'[{"n":1}]'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"status": 5, "data": [{"a": 1}]}', "status is not a string"),
        (b'{"status": "COMPLETE", "data": [{"a": 1}], "fields": {"a": 1}}', "not a list"),
        (b'{"status": "COMPLETE", "data": [{"a": 1}], "fields": [{"type": 1}]}', "malformed"),
        (b'{"status": "COMPLETE", "data": [{"a": 1}], "paging": {"rows": "x"}}', "paging.rows"),
        (b'{"status": "COMPLETE", "data": [{"a": 1}], "fields": []', "cut off"),
        (b'{"status": "COMPLETE", "data": [{"a": 1},]}', "not MAST JSON"),
    ],
)
def test_errors_are_those_of_the_general_decoder(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_response(body)


def test_reply_is_immutable_comparable_and_picklable() -> None:
    body = envelope(layout(sample_rows(3), "compact"))
    split = decode_response(body)
    assert "<3 rows>" in repr(split)  # nothing copied out just to show it
    eager = MashupResponse(
        status="COMPLETE",
        fields=tuple(FIELDS),
        paging=split.paging,
        data_raw=layout(sample_rows(3), "compact"),
    )
    assert split == eager and split != decode_response(envelope(b'[{"n":1}]'))
    with pytest.raises(FrozenInstanceError):
        split.status = "ERROR"  # type: ignore[misc]
    clone = pickle.loads(pickle.dumps(split))
    assert clone == split and clone.data_raw == split.data_raw
    assert len(repr(eager)) < 2000


# ----------------------------------------------------------------------------- the table


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("small", [0, 1 << 30])
def test_every_layout_decodes_like_the_general_path(
    style: str, small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = sample_rows(300)
    data = layout(rows, style)
    reply = decode_response(b"  \n" + envelope(data) + b"\n")
    assert reply.data_rows is not None
    expected = careful_table(FIELDS, data)
    monkeypatch.setattr(decode, "_SMALL", small)
    table = decode_reply(reply, threads=False)
    assert table.equals(expected) and table.equals(decode_rows(FIELDS, data))
    assert table.column("obsid").to_pylist() == [r["obsid"] for r in rows]
    assert table.column("name").to_pylist() == [r["name"] for r in rows]


def test_a_real_page_above_the_threshold_takes_arrow_in_place() -> None:
    doc = json.loads(fixture_bytes("caom.json"))
    fields = [F(f["name"], f["type"]) for f in doc["fields"]]
    many = doc["data"] * (1 + (2 << 20) // len(json.dumps(doc["data"])))
    data = json.dumps(many, separators=(",", ":")).encode()
    assert len(data) > decode._SMALL
    reply = decode_response(envelope(data, fields))
    assert reply.data_rows is not None
    table = decode_reply(reply, threads=False)
    assert table.num_rows == len(many)
    assert table.equals(careful_table(fields, data))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["obsid", "s_ra", "n", "ok", "name", "other"]),
            st.one_of(
                st.none(),
                st.integers(-(2**40), 2**40),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=8),
                st.booleans(),
            ),
        ),
        min_size=1,
        max_size=30,
    ),
    style=st.sampled_from(STYLES),
)
def test_split_and_general_paths_agree_on_anything(rows: list[dict[str, Any]], style: str) -> None:
    """Whatever the rows (key order, missing keys, values a column cannot take), both agree."""
    fields = [F("obsid", "string"), F("s_ra", "float"), F("n", "int"), F("name", "string")]
    data = layout(rows, style)
    reply = decode_response(envelope(data, fields))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decode, "_SMALL", 0)  # Arrow first, as for a large page
        outcomes = []
        for decoded in (
            lambda: decode_reply(reply, threads=False),
            lambda: decode_rows(fields, data, threads=False),
        ):
            try:
                outcomes.append(decoded())
            except DecodeError as exc:
                outcomes.append(str(exc))
    split, general = outcomes
    if isinstance(general, str):
        assert split == general
    else:
        assert isinstance(split, pa.Table) and split.equals(general)


def test_invalid_utf8_in_place_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "_SMALL", 0)
    reply = decode_response(envelope(b'[{"name":"ok"},{"name":"\xff"}]'))
    assert reply.data_rows is not None
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_reply(reply)


def test_rows_from_another_buffer_are_decoded_from_a_copy() -> None:
    data = layout(sample_rows(20), "compact")
    body = envelope(data)
    elsewhere = msgspec.json.decode(bytes(data), type=list[msgspec.Raw])
    reply = MashupResponse(
        status="COMPLETE",
        fields=tuple(FIELDS),
        data_raw=None,
        data_rows=DataRows(body, elsewhere),
    )
    assert decode_reply(reply).equals(careful_table(FIELDS, data))
    assert reply.data_raw == data


def test_key_order_other_than_declared_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "_SMALL", 0)
    rows = [dict(reversed(list(r.items()))) for r in sample_rows(50)]
    rows[10] = dict(sorted(rows[10].items()))
    data = layout(rows, "compact")
    table = decode_reply(decode_response(envelope(data)))
    assert table.column_names == [f.name for f in FIELDS]
    assert table.equals(careful_table(FIELDS, data))
