"""Every real MAST reply in tests/fixtures decodes to the right shape, names, types and values."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pytest

from mastkit.protocol import Field
from mastkit.tables import (
    decode_extjs,
    decode_reply,
    decode_rows,
    extjs_column_properties,
    ignore_values_from_config,
)

from .conftest import fixture_bytes, fixture_reply

TABLE_SAMPLES = [
    # name, rows, declared fields (with _selected_)
    ("caom.json", 19, 28),
    ("advSearch.json", 3, 26),
    ("advSearchPos.json", 12, 28),
    ("countsResp.json", 1, 1),
    ("products.json", 22, 16),
    ("tic.json", 7, 89),
    ("hsc.json", 28, 46),
    ("dd.json", 7, 64),
    ("spectra.json", 26, 17),
]


def _python_rows(name: str) -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    doc = json.loads(fixture_bytes(name))
    return doc["data"], doc["fields"]


@pytest.mark.parametrize(("name", "rows", "declared"), TABLE_SAMPLES)
def test_sample_shape_and_order(name: str, rows: int, declared: int) -> None:
    response = fixture_reply(name)
    table = decode_reply(response)
    expected = [f.name for f in response.fields if f.name != "_selected_"]
    assert len(response.fields) == declared
    assert table.num_rows == rows
    assert table.column_names == expected
    assert "_selected_" not in table.column_names


@pytest.mark.parametrize(("name", "rows", "declared"), TABLE_SAMPLES)
def test_sample_values_match_the_json(name: str, rows: int, declared: int) -> None:
    """Cell by cell against the stdlib's reading of the same file."""
    data, fields = _python_rows(name)
    table = decode_reply(fixture_reply(name))
    for field in fields:
        if field["name"] == "_selected_":
            continue
        column = table.column(field["name"]).to_pylist()
        expected = [row.get(field["name"]) for row in data]
        kind = table.schema.field(field["name"]).type
        for got, want in zip(column, expected, strict=True):
            if want is None:
                assert got is None
            elif pa.types.is_floating(kind):
                assert got == pytest.approx(float(want), rel=0, abs=0) or (
                    math.isnan(got) and math.isnan(want)
                )
            else:
                assert got == want, (name, field["name"])


@pytest.mark.parametrize(("name", "rows", "declared"), TABLE_SAMPLES)
def test_declared_types_are_honoured(name: str, rows: int, declared: int) -> None:
    data, fields = _python_rows(name)
    table = decode_reply(fixture_reply(name))
    for field in fields:
        if field["name"] == "_selected_":
            continue
        kind = table.schema.field(field["name"]).type
        values = [row.get(field["name"]) for row in data if row.get(field["name"]) is not None]
        if field["type"] == "float":
            assert kind == pa.float64()
        elif field["type"] == "int":
            assert kind == pa.int64()
        elif field["type"] == "boolean":
            assert kind == pa.bool_()
        elif all(type(v) is int for v in values) and values:
            # Long ids declared string but sent as JSON numbers.
            assert kind == pa.int64(), field["name"]
        elif all(isinstance(v, str) for v in values):
            assert kind == pa.string(), field["name"]


def test_caom_specifics() -> None:
    table = decode_reply(fixture_reply("caom.json"))
    assert table.num_rows == 19
    assert table.schema.field("obsid").type == pa.int64()
    assert table.column("obsid")[0].as_py() == 2003585980
    assert table.column("objID")[0].as_py() == 2012765872
    assert table.column("dataURL").null_count == 19
    assert table.schema.field("dataURL").type == pa.string()
    assert table.column("proposal_id")[0].as_py() == "5371"  # text that looks like a number
    assert table.schema.field("calib_level").type == pa.int64()
    assert table.column("t_exptime")[0].as_py() == 1500.0  # int value in a float column
    assert table.column("s_ra")[0].as_py() == 23.11817129395
    assert table.column("obs_collection").to_pylist()[-1] == "GALEX"


def test_counts_reply_is_an_int() -> None:
    table = decode_reply(fixture_reply("countsResp.json"))
    assert table.schema.field("Column1").type == pa.int64()
    assert table.column("Column1").to_pylist() == [599]


def test_products() -> None:
    table = decode_reply(fixture_reply("products.json"))
    assert table.num_rows == 22
    assert table.schema.field("size").type == pa.int64()
    assert table.column("size")[0].as_py() == 207360
    assert table.schema.field("obsID").type == pa.int64()
    assert set(table.column("obsID").to_pylist()) == {2003738726}
    assert table.column("productFilename")[0].as_py() == "u9o40504m_c3m.fits"
    assert table.column("prvversion").null_count == 22
    assert table.column("productGroupDescription").to_pylist().count(None) > 0


def test_tic() -> None:
    table = decode_reply(fixture_reply("tic.json"))
    assert table.shape == (7, 89)
    assert table.schema.field("ID").type == pa.int64()
    assert table.column("ID")[0].as_py() == 10000732589
    assert table.schema.field("objID").type == pa.int64()
    assert table.schema.field("HIP").type == pa.int64()  # declared int, all null
    assert table.column("HIP").null_count == 7
    assert table.schema.field("GAIA").type == pa.string()  # declared string, all null
    assert table.schema.field("SDSS").type == pa.int64()  # string ids sent as numbers, some null
    assert table.column("TWOMASS")[0].as_py() == "16573094-0405387"
    assert table.column("TWOMflag")[0].as_py() == "   -   -   -  0-0- "  # spaces kept


def test_tic_with_ignore_values_like_its_columns_config() -> None:
    """The filtered TIC config says ignoreValue "" for text, "NaN" for floats, null for the rest."""
    config = {
        "TWOMflag": {"ignoreValue": ""},
        "POSflag": {"ignoreValue": ""},
        "Tmag": {"ignoreValue": "NaN"},
        "HIP": {"ignoreValue": None},
        "ID": {"text": "TIC ID"},
    }
    ignore = ignore_values_from_config(config)
    assert ignore == {"TWOMflag": "", "POSflag": "", "Tmag": "NaN"}
    plain = decode_reply(fixture_reply("tic.json"))
    cleaned = decode_reply(fixture_reply("tic.json"), ignore_values=ignore)
    assert cleaned.schema == plain.schema
    assert cleaned.equals(plain)  # no "" flags and no NaN magnitudes in this reply
    doc = json.loads(fixture_bytes("tic.json"))
    doc["data"][0]["POSflag"] = ""
    fields = [Field(f["name"], f["type"]) for f in doc["fields"]]
    edited = decode_rows(fields, json.dumps(doc["data"]).encode(), ignore_values=ignore)
    assert edited.column("POSflag")[0].as_py() is None
    assert edited.column("POSflag")[1].as_py() == plain.column("POSflag")[1].as_py()


def test_missing_fields_are_inferred_from_values() -> None:
    """Some astroquery fixtures (and non-table services) carry no ``fields``."""
    data = json.dumps(json.loads(fixture_bytes("caom.json"))["data"]).encode()
    table = decode_rows([], data)
    assert table.num_rows == 19
    assert "_selected_" not in table.column_names
    assert table.schema.field("obsid").type == pa.int64()
    assert table.schema.field("s_ra").type == pa.float64()
    assert table.schema.field("obs_id").type == pa.string()
    assert table.schema.field("dataURL").type == pa.string()  # all null: text


def test_missions_extjs() -> None:
    response = fixture_reply("missions.extjs", "extjs")
    assert response.format == "extjs"
    table = decode_reply(response)
    assert table.num_rows == 0
    assert table.column_names[:3] == ["dataproduct_type", "obs_collection", "instrument_name"]
    assert table.schema.field("s_ra").type == pa.float64()
    assert table.schema.field("calib_level").type == pa.int64()
    assert "_selected_" not in table.column_names
    props = extjs_column_properties(response.data_raw)
    facets = props["columns"]["obs_collection"]["histObj"]
    missions = sorted(k for k in facets if k != "hist")
    assert missions[:3] == ["BEFS", "EUVE", "FUSE"]
    assert len(missions) == 15
    assert facets["HST"]["count"] == 484983
    assert props["table"]["Paging"]["rowsTotal"] == 0
    assert props["columns"]["obs_collection"]["cc.text"] == "Mission"
    assert decode_extjs(response.data_raw).schema == table.schema


def test_extjs_rows_are_positional() -> None:
    raw = json.dumps(
        {
            "name": "NewDataSet",
            "Tables": [
                {
                    "name": "Table",
                    "Fields": [
                        {"name": "obsid", "type": "string"},
                        {"name": "s_ra", "type": "float"},
                        {"name": "_selected_", "type": "boolean"},
                        {"name": "target", "type": "string"},
                    ],
                    "Rows": [[2003585980, 23.1, None, "M31"], [2003585981, None, None]],
                }
            ],
        }
    ).encode()
    table = decode_extjs(raw)
    assert table.column_names == ["obsid", "s_ra", "target"]
    assert table.schema.types == [pa.int64(), pa.float64(), pa.string()]
    assert table.to_pylist() == [
        {"obsid": 2003585980, "s_ra": 23.1, "target": "M31"},
        {"obsid": 2003585981, "s_ra": None, "target": None},
    ]


def test_rows_in_any_key_order() -> None:
    fields = [Field("a", "int"), Field("b", "string")]
    table = decode_rows(fields, b'[{"b": "x", "a": 1}, {"a": 2, "b": "y"}]')
    assert table.to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
