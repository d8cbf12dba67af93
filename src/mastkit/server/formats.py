"""The server's bridge to :mod:`mastkit.tables` encoders (json rows, extjs, csv, votable).

TEMPORARY: minimal local encoders until mastkit.tables lands; replaced by calls into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pyarrow as pa

from mastkit.protocol import Field, Paging

if TYPE_CHECKING:
    from mastkit.server.responses import TableResult

__all__ = ["csv", "extjs", "rows_json", "votable"]

_ENCODER = msgspec.json.Encoder()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value


def rows_json(table: pa.Table) -> bytes:
    """``data`` of a json reply: a JSON array of row objects keyed by column name."""
    rows = [{k: _clean(v) for k, v in row.items()} for row in table.to_pylist()]
    return _ENCODER.encode(rows)


def extjs(table: pa.Table, result: TableResult, paging: Paging) -> bytes:
    """An extjs reply (mast-protocol.md 3.2): positional rows, Columns with ExtendedProperties."""
    columns = [
        {
            "text": f.name,
            "dataIndex": f.name.replace(".", "_"),
            "ExtendedProperties": dict(result.column_properties.get(f.name, {})),
        }
        for f in result.fields
    ]
    rows = [[_clean(v) for v in row.values()] for row in table.to_pylist()]
    tbl = {
        "name": "Table",
        "ExtendedProperties": {**result.table_properties, "Paging": paging.to_json()},
        "Columns": columns,
        "Fields": [{"name": f.name, "type": f.type} for f in result.fields],
        "Rows": rows,
    }
    data = {"name": "NewDataSet", "Tables": [tbl], "ExtendedProperties": {}}
    return _ENCODER.encode({"status": "COMPLETE", "msg": "", "data": data})


def csv(table: pa.Table, fields: tuple[Field, ...]) -> bytes:
    """A csv reply: header line, then one line per row (no status envelope)."""
    import io

    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def votable(table: pa.Table, fields: tuple[Field, ...]) -> bytes:
    """A VOTable reply."""
    import io

    from astropy.table import Table

    sink = io.BytesIO()
    Table(table.to_pydict()).write(sink, format="votable")
    return sink.getvalue()
