"""The synchronous client."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from mastkit._settings import Settings
from mastkit.client._base import (
    COLUMNS_CONFIG_PATH,
    INVOKE_HEADERS,
    INVOKE_PATH,
    TRANSPORT_ERRORS,
    ClientCore,
    cacheable_reply,
    translate_transport_error,
)
from mastkit.client._cache_keys import Kind
from mastkit.client._caching import Caching, options_with_guard
from mastkit.client._rawbody import read_body
from mastkit.client._results import PageDecoder, build_result, decoding, page_result
from mastkit.client._retry import RetryPolicy, next_delay
from mastkit.client._workers import bounded_map
from mastkit.client.cache import ResultCache
from mastkit.errors import MastError
from mastkit.protocol import MashupRequest, MashupResponse, decode_columns_config
from mastkit.protocol.flows import (
    Flow,
    Parallel,
    Send,
    Sleep,
    Splitter,
    fetch_all,
    first_page,
    poll,
    remaining_pages,
)
from mastkit.tables import ResultTable

__all__ = ["Client", "bounded_map"]

logger = logging.getLogger("mastkit.client")
T = TypeVar("T")


class Client:
    """A synchronous MAST API client.

    Parameters
    ----------
    server : str, optional
        Base URL; default ``MASTKIT_SERVER`` or ``https://mast.stsci.edu``.
    token : str, optional
        MAST API token; default ``MAST_API_TOKEN`` or ``MAST_TOKEN``. Sent only to ``server``.
    timeout : float, optional
        Overall deadline of one call in seconds (all polls, pages and retries); default 600.
    pagesize : int, optional
        Rows per page when auto-paging; default 50,000.
    concurrency : int, optional
        Pages fetched at once after the first; default 4.
    max_retries : int, optional
        Retries of transient failures per request; default 5.
    transport : httpx.BaseTransport, optional
        Injected transport (e.g. ``httpx.MockTransport`` or a WSGI transport) for tests.
    settings : Settings, optional
        Base settings instead of the environment.
    cache : ResultCache, bool or None, optional
        The on-disk result cache: a :class:`~mastkit.client.ResultCache`, True for the
        default one (under ``MASTKIT_CACHE_DIR``), False for none. The default, None, follows
        ``MASTKIT_CACHE``/``MASTKIT_NO_CACHE``, and without them caches results of the real
        MAST only (for a day, ``MASTKIT_CACHE_TTL``). See docs/cache.md.
    offline : bool, optional
        Answer only from the cache and never touch the network; a missing answer raises
        :class:`~mastkit.errors.CacheMissError`. Default ``MASTKIT_OFFLINE`` or False.
    retry : RetryPolicy or bool, optional
        How transient failures (resets, timeouts, 429/502/503/504, garbled replies) are retried:
        a :class:`~mastkit.client.RetryPolicy` (its ``max_retries`` replaces the argument of
        that name), False for no retries at all, or None/True (default) for the default policy
        with ``max_retries``. A Retry-After longer than the policy's ``max_retry_after``, or
        than the time left before the call's deadline, raises
        :class:`~mastkit.errors.RateLimitError` at once.

    Examples
    --------
    >>> with Client("http://127.0.0.1:8765") as client:                      # doctest: +SKIP
    ...     table = client.query("Mast.Caom.Cone", {"ra": 210.8, "dec": 54.35, "radius": 0.2})

    Fewer, quicker retries, or none:

    >>> quick = Client(retry=RetryPolicy(max_retries=2, base=0.1, cap=1.0))  # doctest: +SKIP
    >>> strict = Client(retry=False)                                           # doctest: +SKIP
    """

    def __init__(
        self,
        server: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = None,
        pagesize: int | None = None,
        concurrency: int | None = None,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
        settings: Settings | None = None,
        cache: ResultCache | bool | None = None,
        offline: bool | None = None,
        retry: RetryPolicy | bool | None = None,
    ) -> None:
        self._core = ClientCore.create(
            server,
            token=token,
            timeout=timeout,
            pagesize=pagesize,
            concurrency=concurrency,
            max_retries=max_retries,
            settings=settings,
            offline=offline,
            retry=retry,
        )
        self._caching = Caching(cache, self._core.settings)
        options = self._core.client_options(transport)
        self._http = httpx.Client(**options_with_guard(options, offline=self.offline, sync=True))
        self._columns_configs: dict[str, dict[str, dict[str, Any]]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The effective settings."""
        return self._core.settings

    @property
    def server(self) -> str:
        """Base URL of the server."""
        return self._core.settings.server

    @property
    def http(self) -> httpx.Client:
        """The underlying httpx client (shared connection pool)."""
        return self._http

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of transient failures (``RetryPolicy(max_retries=0)``: none)."""
        return self._core.retry

    @property
    def cache(self) -> ResultCache | None:
        """The on-disk result cache, or None when caching is off."""
        return self._caching.cache

    @property
    def offline(self) -> bool:
        """Whether the client answers only from the cache."""
        return self._caching.offline

    def __repr__(self) -> str:
        return f"Client(server={self.server!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the driver ---------------------------------------------------------------------------

    def run(self, flow: Flow[T]) -> T:
        """Run a sans-I/O flow to completion and return its result."""
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = flow.throw(error) if error is not None else flow.send(result)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            result, error = None, None
            try:
                if isinstance(action, Send):
                    result = self._send(action)
                elif isinstance(action, Sleep):
                    time.sleep(action.seconds)
                elif isinstance(action, Parallel):
                    result = self._parallel(action)
                else:  # pragma: no cover - flows only yield the three actions
                    raise TypeError(f"unknown flow action {action!r}")
            except MastError as exc:
                error = exc

    def _parallel(self, action: Parallel) -> list[Any]:
        return bounded_map(self.run, action.flows, action.limit)

    def _send(self, action: Send) -> MashupResponse:
        request = action.request
        url = self._core.url(INVOKE_PATH)

        def once() -> MashupResponse:
            timeout = self._core.socket_timeout(action.deadline)
            with self._http.stream(
                "POST", url, content=action.body, headers=INVOKE_HEADERS, timeout=timeout
            ) as response:
                # A page of tens of MB: read off the connection, not through h11 (_rawbody).
                body = read_body(response, timeout.read)
            return self._core.handle_reply(response, request, body)

        return self._retrying(once, request, url, action.deadline)

    def _retrying(
        self, once: Callable[[], T], request: MashupRequest | None, url: str, deadline: float
    ) -> T:
        attempt = 0
        while True:
            try:
                try:
                    return once()
                except TRANSPORT_ERRORS as exc:
                    raise translate_transport_error(exc, request, url) from exc
            except MastError as error:
                attempt += 1
                # Raises when giving up: not retryable, retries used up, or past the deadline.
                delay = next_delay(
                    self._core.retry,
                    attempt,
                    error,
                    time_left=deadline - time.monotonic(),
                    request=request,
                )
                logger.info("retrying %s in %.2fs after: %s", url, delay, error)
                time.sleep(delay)

    # -- public API ---------------------------------------------------------------------------

    def invoke(
        self,
        service: str | MashupRequest,
        params: Mapping[str, Any] | None = None,
        *,
        format: str = "json",
        pagesize: int | None = None,
        page: int | None = None,
        timeout: float | None = None,
        server_timeout: float | None = None,
        cache: bool = True,
        refresh: bool = False,
        **options: Any,
    ) -> MashupResponse:
        """Send one request, polling while the server is EXECUTING, and return the reply.

        No auto-paging: this is the raw protocol (for non-table services such as
        ``Mast.Name.Lookup`` too).

        Parameters
        ----------
        service : str or MashupRequest
            Service name, or a complete request.
        params : mapping, optional
            Service parameters.
        format, pagesize, page
            Request properties.
        timeout : float, optional
            Overall deadline of this call in seconds.
        server_timeout : float, optional
            The request's ``timeout`` property: how long the server holds each poll.
        cache : bool
            False: neither read nor write the on-disk cache for this call.
        refresh : bool
            Fetch afresh even if cached, and cache the new answer.
        **options
            Other request properties (``clearcache``, ``removecache``, ``removenullcolumns``,
            ``columnsconfigid``, ``data``, ``filename``, ``cachebreaker``).

        Raises
        ------
        ServiceError
            The server answered ERROR.
        CacheMissError
            Offline, and the reply is not cached.
        QueryTimeout, TransportError, HTTPStatusError, DecodeError
            See :mod:`mastkit.errors`.
        """
        request = self._core.build_request(
            service,
            params,
            format=format,
            pagesize=pagesize,
            page=page,
            server_timeout=server_timeout,
            options=options,
        )
        call = self._caching.for_request(request, Kind.REPLY, use=cache, refresh=refresh)
        hit = self._caching.lookup(call, MashupResponse)
        if hit is not None:
            return hit
        if request.cachebreaker is None:
            request = request.with_cachebreaker()
        reply = self.run(poll(request, deadline=self._core.deadline(timeout)))
        if cacheable_reply(reply):
            self._caching.store(call, reply)
        return reply

    def query(
        self,
        service: str | MashupRequest,
        params: Mapping[str, Any] | None = None,
        *,
        pagesize: int | None = None,
        page: int | None = None,
        format: str = "json",
        timeout: float | None = None,
        server_timeout: float | None = None,
        splitter: Splitter | None = None,
        cache: bool = True,
        refresh: bool = False,
        **options: Any,
    ) -> ResultTable:
        """Run a query and return every row as one table.

        Without ``page`` all pages are fetched (pages 2..N concurrently) and their row count is
        checked against the server's; with ``page`` only that page is returned.

        Parameters
        ----------
        service : str or MashupRequest
            Service name, or a complete request.
        params : mapping, optional
            Service parameters.
        pagesize : int, optional
            Rows per page (default from settings).
        page : int, optional
            Fetch only this page.
        format : str
            Wire format: ``json`` (default), ``extjs``, ``csv`` or ``votable``.
        timeout : float, optional
            Overall deadline in seconds.
        server_timeout : float, optional
            How long the server holds each poll.
        splitter : Splitter, optional
            Splits the query if the server refuses it as too large.
        cache : bool
            False: neither read nor write the on-disk cache for this call.
        refresh : bool
            Run the query afresh even if its result is cached, and cache the new result.
        **options
            Other request properties (see :meth:`invoke`).

        Returns
        -------
        ResultTable
            Fresh, or from the cache (keyed by server, service, params, format and the other
            request properties; not by page size or cachebreaker).

        Raises
        ------
        CacheMissError
            Offline, and the result is not cached.
        """
        request = self._core.build_request(
            service,
            params,
            format=format,
            pagesize=pagesize,
            page=page,
            server_timeout=server_timeout,
            options=options,
        )
        deadline = self._core.deadline(timeout)
        if request.page is not None:
            request = request.replace(pagesize=request.pagesize or self.settings.pagesize)
            call = self._caching.for_request(request, Kind.PAGE, use=cache, refresh=refresh)
            hit = self._caching.lookup(call, ResultTable)
            if hit is not None:
                return hit
            if request.cachebreaker is None:
                request = request.with_cachebreaker()
            result = page_result(request, self.run(poll(request, deadline=deadline)))
        else:
            call = self._caching.for_request(request, Kind.TABLE, use=cache, refresh=refresh)
            hit = self._caching.lookup(call, ResultTable)
            if hit is not None:
                return hit
            # Pages are decoded as they arrive, while the later ones are still on their way.
            with PageDecoder() as decoder:
                pages = self.run(
                    decoding(
                        fetch_all(
                            request,
                            pagesize=self.settings.pagesize,
                            deadline=deadline,
                            concurrency=self.settings.concurrency,
                            splitter=splitter,
                        ),
                        decoder,
                    )
                )
                first = first_page(request, self.settings.pagesize)
                result = build_result(first, pages, decoder=decoder)
        self._caching.store(call, result)
        return result

    def iter_pages(
        self,
        service: str | MashupRequest,
        params: Mapping[str, Any] | None = None,
        *,
        pagesize: int | None = None,
        format: str = "json",
        timeout: float | None = None,
        server_timeout: float | None = None,
        **options: Any,
    ) -> Iterator[ResultTable]:
        """Yield the result page by page, each as a :class:`ResultTable`, in order.

        Memory stays bounded by one page, whatever the size of the result. Pages are not
        cached; offline, a result cached by :meth:`query` is yielded as one page.
        """
        request = self._core.build_request(
            service,
            params,
            format=format,
            pagesize=pagesize,
            server_timeout=server_timeout,
            options=options,
        )
        if self.offline:
            cached = self._caching.lookup(
                self._caching.for_request(request, Kind.TABLE), ResultTable
            )
            if cached is not None:
                yield cached
            return
        deadline = self._core.deadline(timeout)
        request = first_page(request, self.settings.pagesize)
        first = self.run(poll(request, deadline=deadline))
        yield page_result(request, first)
        for later in remaining_pages(request, first):
            yield page_result(later, self.run(poll(later, deadline=deadline)))

    def columns_config(
        self, config_id: str, *, timeout: float | None = None
    ) -> dict[str, dict[str, Any]]:
        """The portal's columns config for ``config_id`` (cached per client, and on disk).

        Returns ``{}`` for ids the server does not know.
        """
        cached = self._columns_configs.get(config_id)
        if cached is not None:
            return cached
        call = self._caching.for_columns_config(config_id)
        hit = self._caching.lookup(call, dict)
        if hit is not None:
            self._columns_configs[config_id] = hit
            return hit
        url = self._core.url(COLUMNS_CONFIG_PATH)
        deadline = self._core.deadline(timeout)

        def once() -> dict[str, dict[str, Any]]:
            response = self._http.post(
                url,
                content=f"colConfigId={config_id}".encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "text/plain",
                },
                timeout=self._core.socket_timeout(deadline),
            )
            self._core.raise_for_status(response, None)
            return decode_columns_config(response.content)

        config = self._retrying(once, None, url, deadline)
        self._caching.store(call, config)
        self._columns_configs[config_id] = config
        return config

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """A plain HTTP request (relative to the server or absolute) with retries.

        Used by the resolver and other non-invoke endpoints. The body is read in full.
        Not cached; offline it raises :class:`~mastkit.errors.CacheMissError`.
        """
        deadline = self._core.deadline(timeout)
        target = url if "://" in url else self._core.url(url)
        self._caching.check_online(method, target)

        def once() -> httpx.Response:
            response = self._http.request(
                method,
                target,
                params=params,
                data=data,
                headers=headers,
                timeout=self._core.socket_timeout(deadline),
            )
            self._core.raise_for_status(response, None)
            return response

        return self._retrying(once, None, target, deadline)
