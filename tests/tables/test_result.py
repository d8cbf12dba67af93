"""ResultTable: access, provenance, display and conversions."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol import Field, Paging
from mastkit.tables import ResultTable, concat_pages

from .conftest import fixture_bytes, fixture_reply


@pytest.fixture
def caom() -> ResultTable:
    config = json.loads(fixture_bytes("columnsconfig.json"))
    return ResultTable.from_reply(
        fixture_reply("caom.json"),
        service="Mast.Caom.Cone",
        params={"ra": 23.34086, "dec": 60.658, "radius": 0.2},
        columns_config=config,
    )


def test_shape_columns_and_provenance(caom: ResultTable) -> None:
    assert len(caom) == 19
    assert caom.shape == (19, 27)
    assert caom.columns == caom.colnames == caom.arrow.column_names
    assert caom.service == "Mast.Caom.Cone"
    assert caom.params["radius"] == 0.2
    assert caom.paging == Paging(1, 50000, 1, 19, 19, 19)
    assert caom.rows_total == 19 and caom.pages == 1 and caom.truncated is False
    assert caom.units["s_ra"] == "deg"
    assert caom.descriptions["obs_collection"] == "Collection"
    assert caom.metadata["labels"]["obs_collection"] == "Mission"
    assert "obsid" in caom and "nope" not in caom


def test_column_access_returns_arrow(caom: ResultTable) -> None:
    column = caom["obsid"]
    assert isinstance(column, pa.ChunkedArray)
    assert column.type == pa.int64()
    assert column[0].as_py() == 2003585980
    with pytest.raises(UnknownColumnError) as info:
        caom["obsId"]
    assert "obsid" in info.value.suggestions
    assert isinstance(info.value, KeyError)


def test_rows_slices_and_selections(caom: ResultTable) -> None:
    assert caom[0]["obsid"] == 2003585980
    assert caom[0]["dataURL"] is None
    assert caom[-1] == caom[18]
    with pytest.raises(IndexError):
        caom[19]
    part = caom[2:5]
    assert isinstance(part, ResultTable) and len(part) == 3 and part.service == caom.service
    assert part[0] == caom[2]
    assert [r["obsid"] for r in caom[::-6]] == [caom[i]["obsid"] for i in (18, 12, 6, 0)]
    assert caom[["obsid", "s_ra"]].columns == ["obsid", "s_ra"]
    with pytest.raises(UnknownColumnError):
        caom[["obsid", "nope"]]
    mask = np.asarray(caom["obs_collection"].to_pylist()) == "HST"
    assert len(caom[mask]) == int(mask.sum()) > 0
    assert [r["obsid"] for r in caom[np.array([0, -1])]] == [caom[0]["obsid"], caom[18]["obsid"]]
    with pytest.raises(IndexError):
        caom[np.array([True, False])]
    import pyarrow.compute as pc

    east = caom[pc.greater(caom["s_ra"], 23.2)]
    assert len(east) == sum(1 for r in caom if r["s_ra"] > 23.2) > 0
    assert caom[pa.array([0, 18])][1] == caom[18]
    with pytest.raises(TypeError):
        caom[1.5]  # type: ignore[call-overload]


def test_iteration_yields_dicts(caom: ResultTable) -> None:
    rows = list(caom)
    assert len(rows) == 19 and rows == caom.to_pylist()
    assert rows[0]["s_ra"] == 23.11817129395


def test_repr_is_compact_and_informative(caom: ResultTable) -> None:
    text = repr(caom)
    lines = text.splitlines()
    assert lines[0].startswith("ResultTable: 19 rows × 27 columns (Mast.Caom.Cone")
    assert "obs_collection" in lines[1] and "distance" in lines[1]
    assert "more columns not shown" in lines[-1]
    assert len(lines) <= 16
    assert all(len(line) <= 200 for line in lines)
    assert "--" in text  # nulls are shown
    small = repr(ResultTable(pa.table({"a": [1.0, None], "b": ["x", "y"]})))
    assert small.splitlines()[1:] == [
        "a       b",
        "double  str",
        "------  ---",
        "1.0     x",
        "--      y",
    ]
    assert repr(ResultTable(pa.table({}))).startswith("ResultTable: 0 rows × 0 columns")


def test_html_repr_escapes(caom: ResultTable) -> None:
    html = ResultTable(pa.table({"<b>": ["<script>"]}))._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    big = caom._repr_html_()
    assert big.count("<tr>") == 1 + 10 + 1 + 5 and "Mast.Caom.Cone" in big  # head, …, tail


def test_to_astropy_masks_nulls_and_keeps_units(caom: ResultTable) -> None:
    from astropy.table import MaskedColumn

    table = caom.to_astropy()
    assert len(table) == 19 and table.colnames == caom.columns
    assert isinstance(table["dataURL"], MaskedColumn) and table["dataURL"].mask.all()
    assert table["em_min"].mask.sum() == caom["em_min"].null_count > 0
    assert table["obsid"].dtype == np.int64 and table["obsid"][0] == 2003585980
    assert str(table["s_ra"].unit) == "deg"
    assert table["obs_collection"].description == "Collection"
    assert table.meta["service"] == "Mast.Caom.Cone"
    assert table.meta["paging"]["rowsTotal"] == 19
    table["s_ra"][0] = 1.0  # the user's to modify, not a view of Arrow's buffers
    table["obs_id"][0] = "X"
    table["em_min"][0] = 2.0
    assert caom["s_ra"][0].as_py() == 23.11817129395


def test_to_pandas_and_polars(caom: ResultTable) -> None:
    frame = caom.to_pandas()
    assert frame.shape == (19, 27) and frame["obsid"].iloc[0] == 2003585980
    import pandas as pd

    exact = caom.to_pandas(types_mapper=pd.ArrowDtype)
    assert str(exact["obsid"].dtype).startswith("int64")
    polars_frame = caom.to_polars()
    assert polars_frame.shape == (19, 27) and polars_frame["obsid"][0] == 2003585980


def test_arrow_pycapsule_stream(caom: ResultTable) -> None:
    import polars as pl

    assert pa.table(caom).equals(caom.arrow)
    assert pl.DataFrame(caom).shape == (19, 27)
    reader = pa.RecordBatchReader.from_stream(caom)
    assert reader.read_all().num_rows == 19


def test_empty_keeps_declared_columns() -> None:
    empty = ResultTable.empty(
        [Field("obsid", "string"), Field("s_ra", "float"), Field("_selected_", "boolean")],
        service="S",
    )
    assert empty.columns == ["obsid", "s_ra"] and len(empty) == 0 and empty.service == "S"
    assert empty.to_astropy().colnames == ["obsid", "s_ra"]
    assert "0 rows" in repr(empty)


def test_concat_unifies_pages_and_provenance() -> None:
    first = ResultTable(
        pa.table({"obsid": [1, 2], "url": pa.nulls(2, pa.string())}),
        service="S",
        paging=Paging(1, 2, 2, 2, 3, 3),
        metadata={"units": {"a": "deg"}},
    )
    second = ResultTable(
        pa.table({"obsid": pa.nulls(1, pa.string()), "url": ["x"]}),
        service="S",
        paging=Paging(2, 2, 2, 1, 3, 3),
        truncated=True,
        metadata={"units": {"b": "s"}},
    )
    both = ResultTable.concat([first, second])
    assert both.arrow.schema.types == [pa.int64(), pa.string()]
    assert both["obsid"].to_pylist() == [1, 2, None]
    assert both.pages == 2 and both.truncated and both.paging == second.paging
    assert both.metadata["units"] == {"a": "deg", "b": "s"}
    with pytest.raises(BadInputError):
        ResultTable.concat([])


def test_concat_pages_rules() -> None:
    a = pa.table(
        {"x": pa.array([1], pa.int64()), "y": [True], "t": pa.array([1], pa.timestamp("s"))}
    )
    b = pa.table(
        {
            "x": [2.5],
            "y": pa.array([2], pa.int64()),
            "z": ["new"],
            "t": pa.array([1], pa.timestamp("ms")),
        }
    )
    c = pa.table({"x": ["text"], "y": pa.nulls(1)})
    merged = concat_pages([a, b, c])
    assert merged.column_names == ["x", "y", "t", "z"]
    assert merged.schema.types == [pa.string(), pa.int64(), pa.timestamp("ms"), pa.string()]
    assert merged.column("x").to_pylist() == ["1", "2.5", "text"]
    assert merged.column("z").to_pylist() == [None, "new", None]
    assert concat_pages([]).num_columns == 0
    assert concat_pages([a]) is a


def test_concat_pages_keeps_field_metadata() -> None:
    field = pa.field("s_ra", pa.float64(), metadata={"unit": "deg"})
    a = pa.Table.from_arrays([pa.array([1.0])], schema=pa.schema([field]))
    b = pa.table({"s_ra": pa.array([2], pa.int64())})
    assert concat_pages([a, b]).schema.field("s_ra").metadata == {b"unit": b"deg"}


def test_constructor_rejects_non_tables_and_takes_arrow_streams() -> None:
    with pytest.raises(BadInputError):
        ResultTable([{"a": 1}])  # type: ignore[arg-type]
    import polars as pl

    assert ResultTable(pl.DataFrame({"a": [1, 2]}))["a"].to_pylist() == [1, 2]  # type: ignore[arg-type]
