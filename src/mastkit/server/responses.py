"""Service results and how they become reply bodies: paging (mast-protocol.md 3.1) and formats.

A handler returns a :class:`TableResult` (an Arrow table in a deterministic order, its declared
MAST fields and any extjs column properties) or a :class:`DocumentResult` (a JSON object that is
not a table, such as a name lookup). The job manager keeps the result; every request for a page
of it is cut and encoded here, so paging a finished job never touches the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from mastkit.protocol import Field, MashupRequest, Paging, encode_envelope
from mastkit.server import formats
from mastkit.server.row_texts import RowSelection

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


class TableResult:
    """A dataset result.

    Parameters
    ----------
    table : pyarrow.Table or None
        Every row of the result, in the order pages partition it. None for a result kept as
        ``rows`` alone, whose columns ``load`` reads when a page needs them.
    fields : tuple of Field
        Declared columns with MAST type names (long ids declared ``string``).
    column_properties : mapping
        extjs ``ExtendedProperties`` per column (columns config, ``histObj`` facets).
    table_properties : mapping
        extjs table-level ``ExtendedProperties`` (besides ``Paging``).
    rows : RowSelection, optional
        The same rows as positions in the archive's rendered rows, whose texts hold exactly
        ``fields``: json pages are then gathered from those texts instead of rendered.
    load : callable, optional
        ``load(positions)``: the columns (``fields``) of the rows at those positions of
        ``rows``, in that order. Required without ``table``.

    A query of whole archive rows needs only their positions for json pages (most of them):
    reading their columns, a third of such a query's time, is left to the pages in other
    formats that need it, and to :attr:`table`.
    """

    __slots__ = ("_load", "_lock", "_table", "column_properties", "fields", "rows",
                 "table_properties")

    def __init__(
        self,
        table: pa.Table | None,
        fields: Sequence[Field],
        column_properties: Mapping[str, Mapping[str, Any]] | None = None,
        table_properties: Mapping[str, Any] | None = None,
        *,
        rows: RowSelection | None = None,
        load: Callable[[np.ndarray], pa.Table] | None = None,
    ) -> None:
        self.fields = tuple(fields)
        self.column_properties = column_properties if column_properties is not None else {}
        self.table_properties = table_properties if table_properties is not None else {}
        self.rows = rows
        self._table = table
        self._load = load
        self._lock = threading.Lock()
        if table is None and (rows is None or load is None):
            raise ValueError("a result without its table needs its rows and a loader")
        if rows is not None and (
            rows.texts.names != tuple(f.name for f in self.fields)
            or (table is not None and len(rows.positions) != table.num_rows)
        ):
            raise ValueError("the rendered rows must hold the result's fields and rows")

    @property
    def num_rows(self) -> int:
        """Rows in the result."""
        if self._table is not None:
            return int(self._table.num_rows)
        assert self.rows is not None
        return len(self.rows.positions)

    @property
    def table(self) -> pa.Table:
        """Every row of the result (read on first use for a result kept as rows)."""
        if self._table is None:
            with self._lock:
                if self._table is None:
                    assert self.rows is not None and self._load is not None
                    self._table = self._load(self.rows.positions)
        return self._table

    def page(self, start: int, stop: int) -> pa.Table:
        """Rows ``[start, stop)`` (of a result kept as rows: read for this page alone)."""
        table = self._table
        if table is not None:
            return table.slice(start, stop - start)
        assert self.rows is not None and self._load is not None
        return self._load(self.rows.positions[start:stop])

    @property
    def nbytes(self) -> int:
        """Memory the result holds."""
        extra = self.rows.nbytes if self.rows is not None else 0
        table = int(self._table.nbytes) if self._table is not None else 0
        return table + 64 * len(self.fields) + extra


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
    start, stop, paging = compute_paging(result.num_rows, request.page, request.pagesize)
    fmt = request.format
    if fmt == "json" and result.rows is not None:
        body = formats.json_spliced(result.rows.data_parts(start, stop), result, paging)
    elif fmt == "json":
        body = formats.json(result.page(start, stop), result, paging)
    elif fmt == "extjs":
        body = formats.extjs(result.page(start, stop), result, paging)
    elif fmt == "csv":
        body = formats.csv(result.page(start, stop), result)
    else:
        body = formats.votable(result.page(start, stop), result)
    return Reply(body, _MEDIA.get(fmt, _JSON))


def executing_reply() -> Reply:
    """The reply to a poll of a job still running: no data, no fields, the zero paging block."""
    return Reply(encode_envelope(status="EXECUTING", msg=""))


def error_reply(msg: str) -> Reply:
    """A MAST ERROR reply (sent with HTTP 200)."""
    return Reply(encode_envelope(status="ERROR", msg=msg))
