"""Turning the pages of a reply into one :class:`~mastkit.tables.ResultTable`.

Pages are decoded as they arrive (:class:`PageDecoder`, fed by :func:`decoding`), on a worker
thread, so the first page is decoded while the later ones are still being fetched: for a large
result the decoding then costs little more than the last page's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, wait
from typing import Any

import pyarrow as pa

from mastkit.client._workers import workers
from mastkit.errors import DecodeError
from mastkit.protocol import MashupRequest, MashupResponse, Paging
from mastkit.protocol.flows import Flow, Parallel, Send
from mastkit.tables import ResultTable, concat_pages, decode_reply

__all__ = ["PageDecoder", "build_result", "decoding", "page_result"]

#: Pages decoded at once.
_WORKERS = max(1, min(4, os.cpu_count() or 1))


class PageDecoder:
    """Decodes the table pages of a query on a worker thread as soon as each one arrives.

    :meth:`submit` starts decoding a reply; :meth:`table` returns its table (decoded then, if it
    was never submitted). A decoding error is raised by :meth:`table`, as the inline decode
    would raise it. Use as a context manager: leaving it forgets what was not collected and
    stops the workers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[MashupResponse, Future[pa.Table]]] = {}
        # At most this many pages decoded at once (on the shared worker threads).
        self._slots = threading.BoundedSemaphore(_WORKERS)
        self._closed = False

    def submit(self, request: MashupRequest, response: MashupResponse) -> None:
        """Start decoding ``response`` if it is a complete page of a table reply."""
        if request.page is None or response.status != "COMPLETE":
            return
        if not _has_table_data(response):
            return
        with self._lock:
            if self._closed or id(response) in self._pending:
                return
            # Each page on one thread: pages side by side cost less CPU in all than each
            # page spread over Arrow's pool, and CPU is what the pages still arriving need.
            future = workers().submit(self._decode, response)
            # The reply is kept with its future, so its id cannot be reused meanwhile.
            self._pending[id(response)] = (response, future)

    def _decode(self, response: MashupResponse) -> pa.Table:
        with self._slots:
            if self._closed:
                raise DecodeError("the query ended before this page was decoded")
            return decode_reply(response, threads=False)

    def table(self, response: MashupResponse) -> pa.Table:
        """The decoded table of ``response``."""
        with self._lock:
            entry = self._pending.pop(id(response), None)
        if entry is None:
            return decode_reply(response)
        return entry[1].result()

    def close(self) -> None:
        """Drop pending work (a failed query's pages).

        Pages not started are not decoded; one being decoded is waited for (well under a
        second), so no decoding of the query outlives it.
        """
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
        for _, future in pending.values():
            future.cancel()
        wait([future for _, future in pending.values()])

    def __enter__(self) -> PageDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decoding(flow: Flow[Any], decoder: PageDecoder) -> Flow[Any]:
    """``flow``, unchanged, except that every reply it receives is handed to ``decoder``.

    A transparent wrapper around a sans-I/O flow (sub-flows of :class:`Parallel` actions are
    wrapped too), so the drivers need not know about decoding.
    """
    result: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                action = flow.throw(error) if error is not None else flow.send(result)
            except StopIteration as stop:
                return stop.value
            if isinstance(action, Parallel):
                action = Parallel(tuple(decoding(f, decoder) for f in action.flows), action.limit)
            try:
                result, error = (yield action), None
            except Exception as exc:  # the driver's error, for the flow to handle
                result, error = None, exc
                continue
            if isinstance(action, Send) and isinstance(result, MashupResponse):
                decoder.submit(action.request, result)
    finally:
        flow.close()


def _has_table_data(response: MashupResponse) -> bool:
    """Whether a reply carries table data (without copying a json reply's rows out)."""
    return response.data_rows is not None or bool(response.data_raw or response.body)


def _check_table_reply(request: MashupRequest, response: MashupResponse) -> None:
    if (
        request.format in ("json", "extjs")
        and not response.fields
        and not _has_table_data(response)
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
    request: MashupRequest,
    pages: Sequence[MashupResponse],
    *,
    complete: bool = True,
    decoder: PageDecoder | None = None,
) -> ResultTable:
    """All pages of one result, concatenated without re-parsing.

    With ``complete`` (every page was fetched), the row count is checked against the server's
    ``rowsFiltered`` so a short result is never presented as the whole. ``decoder`` holds the
    pages already being decoded (see :func:`decoding`).
    """
    for page in pages:
        _check_table_reply(request, page)
    decode = decoder.table if decoder is not None else decode_reply
    table = concat_pages([decode(page) for page in pages])
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
