"""The MAST type vocabulary and the columns-config helpers."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mastkit.protocol import Field
from mastkit.tables import (
    arrow_type,
    column_metadata,
    declared_schema,
    ignore_values_from_config,
    kind_of,
    mast_type_for,
)

from .conftest import fixture_bytes


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("string", "string"),
        ("char", "string"),
        ("unicodeChar", "string"),
        ("VARCHAR", "string"),
        ("int", "int"),
        ("short", "int"),
        ("long", "int"),
        ("unsignedByte", "int"),
        ("INTEGER", "int"),
        ("number", "int"),
        ("float", "float"),
        ("double", "float"),
        ("numeric", "float"),
        ("decimal", "float"),
        ("FLOAT", "float"),
        ("boolean", "bool"),
        ("binary", "bool"),
        ("date", "date"),
        ("datetime", "date"),
        ("DATETIME", "date"),
        ("auto", "auto"),
        ("", "auto"),
        (" Double ", "float"),
        ("never-seen", "auto"),
    ],
)
def test_kind_of(name: str, kind: str) -> None:
    assert kind_of(name) == kind


def test_arrow_types_and_back() -> None:
    assert arrow_type("string") == pa.string()
    assert arrow_type("long") == pa.int64()
    assert arrow_type("double") == pa.float64()
    assert arrow_type("boolean") == pa.bool_()
    assert arrow_type("date") == pa.timestamp("us")
    for mast in ("int", "float", "boolean", "string", "date"):
        assert mast_type_for(arrow_type(mast)) == mast
    assert mast_type_for(pa.uint8()) == "int"
    assert mast_type_for(pa.decimal128(10, 2)) == "float"
    assert mast_type_for(pa.list_(pa.int64())) == "string"


def test_declared_schema() -> None:
    schema = declared_schema(
        [Field("a", "int"), Field("_selected_", "boolean"), Field("a", "float"), Field("b", "char")]
    )
    assert schema == pa.schema([("a", pa.int64()), ("b", pa.string())])


def test_columns_config_metadata_from_the_real_caom_config() -> None:
    config = json.loads(fixture_bytes("columnsconfig.json"))
    meta = column_metadata(config)
    assert meta["units"]["s_ra"] == "deg"
    assert meta["units"]["t_min"] == "MJD"
    assert meta["descriptions"]["obs_collection"] == "Collection"
    assert meta["labels"]["obs_collection"] == "Mission"
    assert "_selected_" not in meta["units"]
    assert ignore_values_from_config(config) == {}


def test_columns_config_prefixed_and_removed_entries() -> None:
    config = {
        "a": {"cc.ignoreValue": -999, "cc.text": "A", "vot.unit": "s"},
        "b": {"ignoreValue": "", "remove": True, "unit": "deg"},
        "c": {"ignoreValue": None, "unit": "  "},
        "d": "not a mapping",
    }
    assert ignore_values_from_config(config) == {"a": -999}  # type: ignore[arg-type]
    meta = column_metadata(config)  # type: ignore[arg-type]
    assert meta == {"units": {"a": "s"}, "descriptions": {}, "labels": {"a": "A"}}
