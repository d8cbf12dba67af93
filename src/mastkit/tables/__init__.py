"""Result tables: MAST payloads ⇄ Arrow, and the :class:`ResultTable` users work with.

Arrow is the canonical table (architecture decision 4). Decoders go straight from a reply's
payload to a :class:`pyarrow.Table` typed by the reply's ``fields``; encoders do the reverse for
the local server; :class:`ResultTable` adds provenance, conversions (astropy, pandas, polars,
the Arrow PyCapsule interface) and file writers. astropy, pandas and polars are imported only
when a conversion needs them.

Examples
--------
>>> from mastkit.protocol import decode_response
>>> reply = decode_response(b'{"status": "COMPLETE", "msg": "", "data": [{"obsid": 2003585980}],'
...                         b' "fields": [{"name": "obsid", "type": "string"}]}')
>>> decode_reply(reply).column("obsid").type
DataType(int64)
"""

from mastkit.tables.concat import concat_pages
from mastkit.tables.decode import (
    decode_csv,
    decode_extjs,
    decode_reply,
    decode_rows,
    decode_votable,
    extjs_column_properties,
)
from mastkit.tables.encode import (
    encode_csv,
    encode_extjs,
    encode_rows,
    encode_votable,
    fields_for,
)
from mastkit.tables.io import write_table
from mastkit.tables.result import ResultTable
from mastkit.tables.schema import (
    arrow_type,
    column_metadata,
    declared_schema,
    ignore_values_from_config,
    kind_of,
    mast_type_for,
)

__all__ = [
    "ResultTable",
    "arrow_type",
    "column_metadata",
    "concat_pages",
    "declared_schema",
    "decode_csv",
    "decode_extjs",
    "decode_reply",
    "decode_rows",
    "decode_votable",
    "encode_csv",
    "encode_extjs",
    "encode_rows",
    "encode_votable",
    "extjs_column_properties",
    "fields_for",
    "ignore_values_from_config",
    "kind_of",
    "mast_type_for",
    "write_table",
]
