"""Service results and how they become reply bodies: paging (mast-protocol.md 3.1) and formats.

A handler returns a :class:`TableResult` (an Arrow table in a deterministic order, its declared
MAST fields and any extjs column properties) or a :class:`DocumentResult` (a JSON object that is
not a table, such as a name lookup). The job manager keeps the result; every request for a page
of it is cut and encoded here, so paging a finished job never touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pyarrow as pa

from mastkit.protocol import Field, MashupRequest, Paging, encode_envelope
from mastkit.server import formats

__all__ = [
    "DEFAULT_PAGESIZE",
    "DocumentResult",
    "Reply",
    "Result",
    "TableResult",
    "compute_paging",
    "error_reply",
    "executing_reply",
    "render",
]

#: MAST's page size when a request names a ``page`` but no ``pagesize`` (MashupRequest docs).
DEFAULT_PAGESIZE = 1000

_JSON = "application/json; charset=utf-8"
_MEDIA = {"json": _JSON, "extjs": _JSON, "csv": "text/csv; charset=utf-8", "votable": "text/xml"}
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class TableResult:
    """A dataset result.

    Attributes
    ----------
    table : pyarrow.Table
        Every row of the result, in the order pages partition it.
    fields : tuple of Field
        Declared columns with MAST type names (long ids declared ``string``).
    column_properties : mapping
        extjs ``ExtendedProperties`` per column (columns config, ``histObj`` facets).
    table_properties : mapping
        extjs table-level ``ExtendedProperties`` (besides ``Paging``).
    """

    table: pa.Table
    fields: tuple[Field, ...]
    column_properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    table_properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory the result holds."""
        return int(self.table.nbytes) + 64 * len(self.fields)


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """A non-table JSON reply (``Mast.Name.Lookup``): sent as is, whatever the format."""

    payload: Mapping[str, Any]

    @property
    def nbytes(self) -> int:
        """Rough memory estimate."""
        return 256 + 128 * len(self.payload)


Result = TableResult | DocumentResult


@dataclass(frozen=True, slots=True)
class Reply:
    """An encoded reply body and its media type."""

    body: bytes
    media_type: str = _JSON


def compute_paging(total: int, page: int | None, pagesize: int | None) -> tuple[int, int, Paging]:
    """Rows ``[start, stop)`` of the page asked for and the ``paging`` block that describes it.

    * No ``page`` and no ``pagesize``: all rows, on page 1 of 1, ``pageSize`` = the row count.
    * Otherwise ``page`` defaults to 1 and ``pagesize`` to 1000; ``pagesFiltered`` is
      ``ceil(total / pagesize)``, and a page past the end has ``rows = 0``.
    * An empty result has all six values 0 (MAST never fills the block then).

    Examples
    --------
    >>> compute_paging(19, 1, 50000)[2]
    Paging(page=1, page_size=50000, pages_filtered=1, rows=19, rows_filtered=19, rows_total=19)
    >>> compute_paging(10, 4, 3)[:2]
    (9, 10)
    """
    if total <= 0:
        return 0, 0, Paging()
    if page is None and pagesize is None:
        return 0, total, Paging(1, total, 1, total, total, total)
    size = pagesize or DEFAULT_PAGESIZE
    number = page or 1
    pages = -(-total // size)
    start = min((number - 1) * size, total)
    stop = min(start + size, total)
    return start, stop, Paging(number, size, pages, stop - start, total, total)


def render(result: Result, request: MashupRequest) -> Reply:
    """Encode the page ``request`` asks for of a finished result, in its format."""
    if isinstance(result, DocumentResult):
        return Reply(_ENCODER.encode(dict(result.payload)))
    start, stop, paging = compute_paging(result.table.num_rows, request.page, request.pagesize)
    page = result.table.slice(start, stop - start)
    fmt = request.format
    if fmt == "json":
        body = formats.json(page, result, paging)
    elif fmt == "extjs":
        body = formats.extjs(page, result, paging)
    elif fmt == "csv":
        body = formats.csv(page, result)
    else:
        body = formats.votable(page, result)
    return Reply(body, _MEDIA.get(fmt, _JSON))


def executing_reply() -> Reply:
    """The reply to a poll of a job still running: no data, no fields, the zero paging block."""
    return Reply(encode_envelope(status="EXECUTING", msg=""))


def error_reply(msg: str) -> Reply:
    """A MAST ERROR reply (sent with HTTP 200)."""
    return Reply(encode_envelope(status="ERROR", msg=msg))
