"""The csv format, both ways.

MAST's csv (protocol reference §3.3): a header line of column names, then one line per row; a
value is quoted when it holds ``"`` (doubled inside), ``,``, CR or LF; a null is written as the
column's ignoreValue or as nothing. There is no status header.

mastkit writes nulls as nothing and an empty string as ``""``, so the two stay apart on a round
trip; that is a valid reading of MAST's rules (an empty value needs no quotes, but quotes are
harmless) and every csv reader understands it. Both directions are vectorised with Arrow
compute kernels.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from mastkit.errors import DecodeError
from mastkit.protocol.envelopes import Field
from mastkit.tables._jsontext import float_text
from mastkit.tables._values import finish_date
from mastkit.tables.schema import SELECTED_COLUMN, kind_of

__all__ = ["decode_csv", "encode_csv"]

_COLUMN_INDEX: Final = re.compile(r"column #(\d+)")
_NEEDS_QUOTES: Final = r'[",\r\n]'
_CSV_TYPES: Final = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}


def decode_csv(body: bytes, fields: Sequence[Field] | None = None) -> pa.Table:
    """Decode a csv reply (or file) into an Arrow table.

    Parameters
    ----------
    body : bytes
        The csv text: a header line of names, then rows.
    fields : sequence of Field, optional
        Declared columns. With them, declared numeric, boolean and date columns are typed as
        declared, and ``string`` columns stay text: csv cannot tell the number ``5371`` from
        the text ``"5371"`` (a ``proposal_id``), so the declaration is all there is to go on.
        Without them every column's type is inferred by Arrow.

    Only an empty unquoted value is null (``NA``, ``null`` or ``NaN`` are kept as written, as
    text, or NaN in a float column); a quoted empty value ``""`` is an empty string.

    Raises
    ------
    DecodeError
        If the text is not csv, or a value does not fit its declared column (the message names
        the column).

    Examples
    --------
    >>> fields = [Field("obsid", "int"), Field("s_ra", "float")]
    >>> decode_csv(b'obsid,s_ra\\n2003585980,23.1\\n,\\n', fields).to_pylist()
    [{'obsid': 2003585980, 's_ra': 23.1}, {'obsid': None, 's_ra': None}]
    """
    if not body.strip(b"\r\n"):  # (a header of one blank name is still a header)
        return pa.table({})
    column_types: dict[str, pa.DataType] = {}
    dates: list[str] = []
    for f in fields or ():
        kind = kind_of(f.type)
        if kind == "date":
            dates.append(f.name)
            column_types[f.name] = pa.string()
        elif kind in _CSV_TYPES:
            column_types[f.name] = _CSV_TYPES[kind]
    convert = pa_csv.ConvertOptions(
        column_types=column_types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["true", "True", "TRUE", "1"],
        false_values=["false", "False", "FALSE", "0"],
    )
    # In a one-column table an empty line is a null; elsewhere it is noise to skip.
    header = next(csv.reader([body.split(b"\n", 1)[0].decode("utf-8", "replace")]), [])
    parse = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=len(header) != 1)
    try:
        table = pa_csv.read_csv(io.BytesIO(body), parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DecodeError(_describe(str(exc), body)) from exc
    if SELECTED_COLUMN in table.column_names:
        table = table.drop_columns([SELECTED_COLUMN])
    for name in dates:
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, finish_date(table.column(index)))
    if fields:
        wanted = [f.name for f in fields if f.name in table.column_names]
        table = table.select(list(dict.fromkeys(wanted)))
    return table


def _describe(message: str, body: bytes) -> str:
    """Arrow names a csv column by its index; name it by its header instead."""
    match = _COLUMN_INDEX.search(message)
    if match:
        try:
            header = pa_csv.read_csv(
                io.BytesIO(body.split(b"\n", 1)[0] + b"\n"),
                convert_options=pa_csv.ConvertOptions(column_types={}),
            ).column_names
            name = header[int(match.group(1))]
            return f"The csv column {name!r} holds a value of the wrong type: {message}"
        except (pa.ArrowInvalid, IndexError):
            pass
    return f"The reply is not valid csv: {message}"


def _quote(column: pa.Array) -> pa.Array:
    """MAST quoting: quote a value holding ``"``, ``,``, CR or LF, doubling inner quotes."""
    needs = pc.match_substring_regex(column, _NEEDS_QUOTES)
    empty = pc.equal(pc.utf8_length(column), 0)
    escaped = pc.replace_substring(column, '"', '""')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.if_else(pc.or_(needs, empty), quoted, column)


def _text(column: pa.Array) -> pa.Array:
    """A column's csv text (nulls stay null and are written as nothing)."""
    t = column.type
    if pa.types.is_dictionary(t):
        return _text(column.cast(t.value_type))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _quote(column.cast(pa.string()))
    if pa.types.is_boolean(t):  # .NET's Boolean.ToString()
        return pc.if_else(column, "True", "False")
    if pa.types.is_timestamp(t):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_floating(t):
        text = float_text(column)
        # Arrow spells them nan/inf; .NET (and every csv reader) says NaN/Infinity.
        text = pc.replace_substring(text, "nan", "NaN")
        return pc.replace_substring_regex(text, "inf$", "Infinity")
    if pa.types.is_null(t):
        return pa.nulls(len(column), pa.string())
    try:
        return _quote(column.cast(pa.string()))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return _quote(
            pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
        )


def encode_csv(table: pa.Table) -> bytes:
    """Encode a table as MAST csv: a header line, then one line per row.

    Lines end in LF. Nulls are empty, empty strings are ``""``, booleans are ``True``/``False``
    and times ISO 8601.

    Examples
    --------
    >>> encode_csv(pa.table({"name": ["M 31", 'a "b", c', None], "n": [1, None, 3]}))
    b'name,n\\nM 31,1\\n"a ""b"", c",\\n,3\\n'
    """
    header = _quote(pa.array(table.column_names, pa.string()))
    parts = [",".join(header.to_pylist()).encode() + b"\n"]
    if table.num_columns == 0:
        return parts[0]
    for batch in table.to_batches(max_chunksize=65536):
        texts = [_text(batch.column(i)) for i in range(batch.num_columns)]
        lines = pc.binary_join_element_wise(
            *texts, ",", null_handling="replace", null_replacement=""
        )
        parts.append("\n".join(lines.to_pylist()).encode() + b"\n")
    return b"".join(parts)
