"""MAST column type names and their Arrow types.

MAST names column types in two vocabularies (protocol reference §3.4): the json/extjs ``fields``
use ``string``, ``int``, ``float``, ``boolean``, ``date`` and ``auto``; columns configs and
VOTables use ``char``, ``double``, ``long``, ``short``, ``unsignedByte``, ``numeric``, ...; the
Missions API uses SQL names (``VARCHAR``, ``INTEGER``, ``DATETIME``). All of them reduce to one of
six *kinds*:

========  ====================================================================================
kind      Arrow type and rule
========  ====================================================================================
string    decided from the values: MAST declares Int64 ids (``obsid``, TIC ``ID``) ``string``
          but sends JSON numbers, so all-integer columns become int64, all-number columns
          float64, all-boolean columns bool, and anything else (text, or a mix) utf8
auto      like ``string`` (the type is unknown to the server, so the values decide)
int       int64
float     float64
bool      bool
date      ``timestamp[us]`` (naive, meaning UTC): epoch milliseconds (the legacy server's
          encoding) or ISO-8601 strings; a column of other strings stays utf8
========  ====================================================================================

The columns-config helpers here read the ``ignoreValue``, unit and description of each column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import pyarrow as pa

from mastkit.protocol.envelopes import Field

__all__ = [
    "Kind",
    "arrow_type",
    "column_metadata",
    "declared_schema",
    "ignore_values_from_config",
    "kind_of",
    "mast_type_for",
]

Kind = Literal["string", "auto", "int", "float", "bool", "date"]

#: The column MAST's portal adds for its UI; it carries no data and is always dropped.
SELECTED_COLUMN: Final = "_selected_"

#: The Arrow type of ``date`` columns.
TIMESTAMP: Final = pa.timestamp("us")

_KINDS: Final[dict[str, Kind]] = {
    # text, and Int64 ids the server declares as text
    "string": "string",
    "char": "string",
    "unicodechar": "string",
    "varchar": "string",
    "nvarchar": "string",
    "text": "string",
    # integers
    "int": "int",
    "integer": "int",
    "short": "int",
    "long": "int",
    "number": "int",
    "unsignedbyte": "int",
    "byte": "int",
    "tinyint": "int",
    "smallint": "int",
    "bigint": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    # floating point
    "float": "float",
    "double": "float",
    "decimal": "float",
    "numeric": "float",
    "real": "float",
    "single": "float",
    "floatcomplex": "float",
    # booleans (astroquery reads ``binary`` as boolean too)
    "boolean": "bool",
    "bool": "bool",
    "bit": "bool",
    "binary": "bool",
    # times
    "date": "date",
    "datetime": "date",
    "datetime2": "date",
    "timestamp": "date",
    # unknown
    "auto": "auto",
    "null": "auto",
    "": "auto",
}

_ARROW: Final[dict[Kind, pa.DataType]] = {
    "string": pa.string(),
    "auto": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": TIMESTAMP,
}


def kind_of(mast_type: str) -> Kind:
    """Reduce a MAST type name (any vocabulary, any case) to its kind.

    An unknown name is treated as ``auto``: the values decide, which is what a client can do
    best with a type it has never seen.

    Examples
    --------
    >>> kind_of("string"), kind_of("unsignedByte"), kind_of("DATETIME"), kind_of("hyperreal")
    ('string', 'int', 'date', 'auto')
    """
    return _KINDS.get(mast_type.strip().lower(), "auto")


def arrow_type(mast_type: str) -> pa.DataType:
    """The Arrow type a column declared ``mast_type`` has when it holds no values.

    Used for empty results and all-null columns. A ``string`` column holding JSON numbers
    decodes as int64 or float64 instead; see the module documentation.

    Examples
    --------
    >>> arrow_type("float"), arrow_type("string")
    (DataType(double), DataType(string))
    """
    return _ARROW[kind_of(mast_type)]


def declared_schema(fields: Iterable[Field]) -> pa.Schema:
    """The Arrow schema of an empty result with these declared columns.

    ``_selected_`` is dropped and a repeated name keeps its first declaration, as astroquery
    does.

    Examples
    --------
    >>> declared_schema([Field("obsid", "string"), Field("s_ra", "float")]).names
    ['obsid', 's_ra']
    """
    seen: set[str] = set()
    out = []
    for f in fields:
        if f.name == SELECTED_COLUMN or f.name in seen:
            continue
        seen.add(f.name)
        out.append(pa.field(f.name, arrow_type(f.type)))
    return pa.schema(out)


def mast_type_for(dtype: pa.DataType) -> str:
    """The json ``fields`` type name MAST uses for an Arrow type.

    Integers map to ``int``; MAST itself declares BIGINT ids ``string``, which
    :func:`mastkit.tables.fields_for` reproduces through its ``declared`` overrides.

    Examples
    --------
    >>> mast_type_for(pa.int32()), mast_type_for(pa.float32()), mast_type_for(pa.timestamp("ms"))
    ('int', 'float', 'date')
    """
    if pa.types.is_dictionary(dtype):
        return mast_type_for(dtype.value_type)
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "float"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return "date"
    return "string"


def _lookup(props: Mapping[str, Any], key: str) -> Any:
    """A columns-config property, plain or with the ``cc.``/``vot.`` prefix extjs replies use."""
    for name in (key, f"cc.{key}", f"vot.{key}"):
        if name in props:
            return props[name]
    return None


def ignore_values_from_config(config: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The ``ignoreValue`` of each column of a columns config, for ``decode_rows``.

    Columns whose ignoreValue is ``null`` (the TIC config's numeric columns) are left out:
    a JSON null is a null already. Entries marked ``remove`` are skipped.

    Parameters
    ----------
    config : mapping
        Column name to property dict, as :func:`mastkit.protocol.decode_columns_config` returns.

    Examples
    --------
    >>> ignore_values_from_config({"TYC": {"ignoreValue": ""}, "Tmag": {"ignoreValue": None}})
    {'TYC': ''}
    """
    out: dict[str, Any] = {}
    for name, props in config.items():
        if not isinstance(props, Mapping) or props.get("remove") is True:
            continue
        value = _lookup(props, "ignoreValue")
        if value is not None:
            out[name] = value
    return out


def column_metadata(config: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Units, descriptions and labels of the columns of a columns config.

    Returns
    -------
    dict
        ``{"units": {col: unit}, "descriptions": {col: text}, "labels": {col: text}}``, each
        holding only the columns that say. This is the shape :class:`ResultTable.metadata` uses.

    Examples
    --------
    >>> config = {"s_ra": {"text": "RA", "vot.unit": "deg", "vot.description": "Right ascension"}}
    >>> md = column_metadata(config)
    >>> md["units"], md["labels"]
    ({'s_ra': 'deg'}, {'s_ra': 'RA'})
    """
    units: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    labels: dict[str, str] = {}
    for name, props in config.items():
        if not isinstance(props, Mapping) or props.get("remove") is True:
            continue
        unit = _lookup(props, "unit")
        if isinstance(unit, str) and unit.strip():
            units[name] = unit.strip()
        description = _lookup(props, "description")
        if isinstance(description, str) and description.strip():
            descriptions[name] = description.strip()
        label = props.get("text", props.get("cc.text"))
        if isinstance(label, str) and label.strip():
            labels[name] = label.strip()
    return {"units": units, "descriptions": descriptions, "labels": labels}
