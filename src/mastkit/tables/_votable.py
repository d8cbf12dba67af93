"""The votable format, both ways, through :mod:`astropy.io.votable` (imported when used).

VOTable has no null for text: an empty cell reads back as ``""``. Floats use NaN as null, so a
NaN reads back as null.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping

import pyarrow as pa

from mastkit.errors import DecodeError
from mastkit.tables.convert import from_astropy, to_astropy

__all__ = ["decode_votable", "encode_votable"]


def decode_votable(body: bytes) -> pa.Table:
    """Decode a VOTable document (its first table) into an Arrow table.

    Masked cells are nulls; units and descriptions go to the Arrow field metadata
    (``unit``, ``description``). Column names are the FIELD ``name`` attributes.

    Raises
    ------
    DecodeError
        If the document is not a VOTable or holds no table.

    Examples
    --------
    >>> vot = encode_votable(pa.table({"n": [1, None]}))
    >>> decode_votable(vot).column("n").to_pylist()
    [1, None]
    """
    from astropy.io.votable import parse
    from astropy.io.votable.exceptions import VOWarning
    from astropy.units import UnitsWarning

    with warnings.catch_warnings():
        # Real-world VOTables break the standard in small ways; astropy reports each one.
        warnings.simplefilter("ignore", VOWarning)
        warnings.simplefilter("ignore", UnitsWarning)
        try:
            document = parse(io.BytesIO(body), verify="ignore")
            votable = document.get_first_table()
            table = votable.to_table(use_names_over_ids=True)
        except IndexError as exc:
            raise DecodeError("The VOTable holds no table.") from exc
        except Exception as exc:  # astropy raises many types (ValueError, XML errors, ...)
            excerpt = body[:120].decode("utf-8", "replace")
            raise DecodeError(f"The reply is not a valid VOTable ({exc}): {excerpt}") from exc
    return from_astropy(table)


def encode_votable(
    table: pa.Table,
    *,
    descriptions: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
) -> bytes:
    """Encode a table as a VOTable 1.4 document (TABLEDATA serialisation).

    Nulls are written as empty cells; timestamps as ISO-8601 text. ``descriptions`` and
    ``units`` add to (and override) those in the Arrow field metadata.

    Examples
    --------
    >>> encode_votable(pa.table({"s_ra": [23.1]}), units={"s_ra": "deg"}).count(b'unit="deg"')
    1
    """
    from astropy.io.votable import from_table

    converted = to_astropy(table, units=units, descriptions=descriptions, times_as_text=True)
    document = from_table(converted)
    buffer = io.BytesIO()
    document.to_xml(buffer)
    return buffer.getvalue()
