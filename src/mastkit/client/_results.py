"""Turning the pages of a reply into one :class:`~mastkit.tables.ResultTable`."""

from __future__ import annotations

from collections.abc import Sequence

from mastkit.errors import DecodeError
from mastkit.protocol import MashupRequest, MashupResponse, Paging
from mastkit.tables import ResultTable, concat_pages, decode_reply

__all__ = ["build_result", "page_result"]


def _check_table_reply(request: MashupRequest, response: MashupResponse) -> None:
    if (
        request.format in ("json", "extjs")
        and not response.fields
        and not response.data_raw
        and response.status != "COMPLETE"
    ):
        raise DecodeError(
            f"{request.service} did not answer with a table (status {response.status!r}); "
            "use Client.invoke() for non-table services.",
            service=request.service,
            request=request,
        )


def page_result(request: MashupRequest, response: MashupResponse) -> ResultTable:
    """One page as a table."""
    _check_table_reply(request, response)
    table = decode_reply(response)
    return ResultTable(
        table,
        service=request.service,
        params=dict(request.params),
        paging=response.paging,
        pages=1,
    )


def build_result(
    request: MashupRequest, pages: Sequence[MashupResponse], *, complete: bool = True
) -> ResultTable:
    """All pages of one result, concatenated without re-parsing.

    With ``complete`` (every page was fetched), the row count is checked against the server's
    ``rowsFiltered`` so a short result is never presented as the whole.
    """
    for page in pages:
        _check_table_reply(request, page)
    table = concat_pages([decode_reply(page) for page in pages])
    paging: Paging | None = pages[0].paging if pages else None
    if (
        complete
        and paging is not None
        and paging.rows_filtered
        and table.num_rows != paging.rows_filtered
    ):
        raise DecodeError(
            f"{request.service}: received {table.num_rows} rows over {len(pages)} pages but the "
            f"server reported {paging.rows_filtered}; the result is incomplete.",
            service=request.service,
            request=request,
        )
    return ResultTable(
        table,
        service=request.service,
        params=dict(request.params),
        paging=paging,
        pages=len(pages),
    )
