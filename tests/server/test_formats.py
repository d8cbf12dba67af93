"""The json rows of the server's replies: the fast encoders agree with the general one."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pytest

from mastkit.protocol import Paging, decode_response
from mastkit.server import formats
from mastkit.server.responses import TableResult
from mastkit.tables import encode_rows, fields_for


def _decoded(data: bytes) -> Any:
    return json.loads(data)


def _table(n: int) -> pa.Table:
    def pick(i: int, values: list[Any]) -> Any:
        return values[i % len(values)]

    return pa.table(
        {
            "obsid": pa.array([2_000_000_000 + i for i in range(n)], pa.int64()),
            "calib_level": pa.array([pick(i, [1, 2, None]) for i in range(n)], pa.int32()),
            "s_ra": pa.array([pick(i, [0.1, 359.99999999, -0.0, 1e-7, 2.0]) for i in range(n)]),
            "srcDen": pa.array(
                [pick(i, [None, math.nan, math.inf, 5000.0]) for i in range(n)], pa.float64()
            ),
            "mtFlag": pa.array([i % 2 == 0 for i in range(n)]),
            "maybe": pa.array([pick(i, [True, None]) for i in range(n)], pa.bool_()),
            "target_name": pa.array(
                [
                    pick(i, ["M101", None, 'say "hi"', "tab\there", "é ü", "back\\slash", ""])
                    for i in range(n)
                ]
            ),
            "not an identifier.x": pa.array([f"v{i}" for i in range(n)]),
            "type": pa.array([pick(i, ["S", "C"]) for i in range(n)], pa.large_string()),
            "nothing": pa.nulls(n),
        }
    )


@pytest.mark.parametrize("n", [0, 1, 7, 100, 101, 2500])
def test_rows_match_the_general_encoder(n: int) -> None:
    table = _table(n)
    assert _decoded(formats._rows(table)) == _decoded(encode_rows(table))
    assert _decoded(formats._rows(table)) == _decoded(formats._ENCODER.encode(table.to_pylist()))


@pytest.mark.parametrize("structs", [0, 10_000])
def test_json_reply_splices_the_rows_into_the_envelope(
    structs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both encoders (kernels in row blocks, msgspec structs) give the same reply."""
    import mastkit.tables._rowtext as rowtext

    monkeypatch.setattr(formats, "_STRUCTS", structs)
    monkeypatch.setattr(rowtext, "_BLOCK", 64)
    table = _table(1000)
    fields = tuple(fields_for(table, {"obsid": "string"}))
    result = TableResult(table, fields)
    paging = Paging(2, 1000, 3, 1000, 2500, 2500)
    body = formats.json(table, result, paging)
    reply = decode_response(body)
    assert (reply.status, reply.msg, reply.paging, tuple(reply.fields)) == (
        "COMPLETE",
        "",
        paging,
        fields,
    )
    assert _decoded(reply.data_raw) == _decoded(formats._ENCODER.encode(table.to_pylist()))
    assert body.startswith(b'{"status":"COMPLETE","msg":"","data":[{"obsid":2000000000,')


def test_rows_keep_column_order_and_names() -> None:
    table = _table(150).select(["type", "obsid", "not an identifier.x"])
    rows = _decoded(formats._rows(table))
    assert list(rows[0]) == ["type", "obsid", "not an identifier.x"]
    assert rows[3] == {"type": "C", "obsid": 2_000_000_003, "not an identifier.x": "v3"}


@pytest.mark.parametrize(
    "column", [pa.array([0] * 150, pa.timestamp("s")), pa.array([0.1] * 150, pa.float32())]
)
def test_rows_of_other_types_take_the_general_encoder(column: pa.Array) -> None:
    table = pa.table({"other": column, "n": list(range(150))})
    assert formats._rows(table) == encode_rows(table)


def test_rows_without_columns() -> None:
    assert _decoded(formats._rows(pa.table({"a": list(range(200))}).select([]))) == [{}] * 200
