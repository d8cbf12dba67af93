"""The asynchronous client: the same API as :class:`~mastkit.client.Client`, awaitable."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
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
from mastkit.client._caching import Caching, CallCache, options_with_guard
from mastkit.client._rawbody import aread_body
from mastkit.client._results import PageDecoder, build_result, decoding, page_result
from mastkit.client._retry import RetryPolicy, next_delay
from mastkit.client.cache import CachedValue, ResultCache
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

__all__ = ["AsyncClient", "bounded_map"]

logger = logging.getLogger("mastkit.client")
T = TypeVar("T")
A = TypeVar("A")


async def bounded_map(fn: Callable[[A], Awaitable[T]], items: Sequence[A], limit: int) -> list[T]:
    """``[await fn(item) for item in items]`` on tasks, at most ``limit`` at once, in order.

    The concurrency of the driver's :class:`~mastkit.protocol.flows.Parallel`, shared with the
    plan driver of :mod:`mastkit.services` so that both fan out the same way. A failure cancels
    the other tasks and is raised itself (not an exception group), so callers catch
    :class:`~mastkit.errors.MastError`.
    """
    if len(items) <= 1:
        return [await fn(item) for item in items]
    gate = asyncio.Semaphore(max(1, limit))

    async def bounded(item: A) -> T:
        async with gate:
            return await fn(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(bounded(item)) for item in items]
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    return [task.result() for task in tasks]


V = TypeVar("V")


class AsyncClient:
    """An asynchronous MAST API client.

    Takes the same arguments as :class:`~mastkit.client.Client` (``cache``, ``offline`` and
    ``retry`` included); ``transport`` is an ``httpx.AsyncBaseTransport`` (e.g.
    ``httpx.ASGITransport(app)`` for the local server in-process). The on-disk cache is read
    and written in a worker thread, so the event loop never waits for the disk.

    Examples
    --------
    >>> async with AsyncClient("http://127.0.0.1:8765") as client:           # doctest: +SKIP
    ...     table = await client.query("Mast.Caom.Cone", {"ra": 210.8, "dec": 54.35})
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
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._http = httpx.AsyncClient(
            **options_with_guard(options, offline=self.offline, sync=False)
        )
        self._columns_configs: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def settings(self) -> Settings:
        """The effective settings."""
        return self._core.settings

    @property
    def server(self) -> str:
        """Base URL of the server."""
        return self._core.settings.server

    @property
    def http(self) -> httpx.AsyncClient:
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

    async def _lookup(self, call: CallCache | None, expected: type[V]) -> V | None:
        if call is None:
            return None
        return await asyncio.to_thread(self._caching.lookup, call, expected)

    async def _store(self, call: CallCache | None, value: CachedValue) -> None:
        if call is not None and call.write:
            await asyncio.to_thread(self._caching.store, call, value)

    def __repr__(self) -> str:
        return f"AsyncClient(server={self.server!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the driver ---------------------------------------------------------------------------

    async def run(self, flow: Flow[T]) -> T:
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
                    result = await self._send(action)
                elif isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                elif isinstance(action, Parallel):
                    result = await self._parallel(action)
                else:  # pragma: no cover
                    raise TypeError(f"unknown flow action {action!r}")
            except MastError as exc:
                error = exc

    async def _parallel(self, action: Parallel) -> list[Any]:
        return await bounded_map(self.run, action.flows, action.limit)

    async def _send(self, action: Send) -> MashupResponse:
        request = action.request
        url = self._core.url(INVOKE_PATH)

        async def once() -> MashupResponse:
            timeout = self._core.socket_timeout(action.deadline)
            async with self._http.stream(
                "POST", url, content=action.body, headers=INVOKE_HEADERS, timeout=timeout
            ) as response:
                # A page of tens of MB: read off the connection, not through h11 (_rawbody).
                body = await aread_body(response, timeout.read)
            return self._core.handle_reply(response, request, body)

        return await self._retrying(once, request, url, action.deadline)

    async def _retrying(
        self,
        once: Callable[[], Awaitable[T]],
        request: MashupRequest | None,
        url: str,
        deadline: float,
    ) -> T:
        attempt = 0
        while True:
            try:
                try:
                    return await once()
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
                await asyncio.sleep(delay)

    # -- public API ---------------------------------------------------------------------------

    async def invoke(
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
        """Send one request, polling while EXECUTING; see :meth:`Client.invoke`."""
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
        hit = await self._lookup(call, MashupResponse)
        if hit is not None:
            return hit
        if request.cachebreaker is None:
            request = request.with_cachebreaker()
        reply = await self.run(poll(request, deadline=self._core.deadline(timeout)))
        if cacheable_reply(reply):
            await self._store(call, reply)
        return reply

    async def query(
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
        """Run a query and return every row as one table; see :meth:`Client.query`."""
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
            hit = await self._lookup(call, ResultTable)
            if hit is not None:
                return hit
            if request.cachebreaker is None:
                request = request.with_cachebreaker()
            result = page_result(request, await self.run(poll(request, deadline=deadline)))
        else:
            call = self._caching.for_request(request, Kind.TABLE, use=cache, refresh=refresh)
            hit = await self._lookup(call, ResultTable)
            if hit is not None:
                return hit
            # Pages are decoded as they arrive, while the later ones are still on their way.
            with PageDecoder() as decoder:
                pages = await self.run(
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
        await self._store(call, result)
        return result

    async def iter_pages(
        self,
        service: str | MashupRequest,
        params: Mapping[str, Any] | None = None,
        *,
        pagesize: int | None = None,
        format: str = "json",
        timeout: float | None = None,
        server_timeout: float | None = None,
        **options: Any,
    ) -> AsyncIterator[ResultTable]:
        """Yield the result page by page, in order, fetching ahead concurrently.

        Up to ``concurrency`` pages are in flight while earlier ones are consumed. Pages are
        not cached; offline, a result cached by :meth:`query` is yielded as one page.
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
            call = self._caching.for_request(request, Kind.TABLE)
            cached = await self._lookup(call, ResultTable)
            if cached is not None:
                yield cached
            return
        deadline = self._core.deadline(timeout)
        request = first_page(request, self.settings.pagesize)
        first = await self.run(poll(request, deadline=deadline))
        yield page_result(request, first)
        later = iter(remaining_pages(request, first))
        window = max(1, self.settings.concurrency)
        pending: deque[tuple[MashupRequest, asyncio.Task[MashupResponse]]] = deque()

        def launch(page_request: MashupRequest) -> None:
            task = asyncio.create_task(self.run(poll(page_request, deadline=deadline)))
            pending.append((page_request, task))

        try:
            for page_request in itertools.islice(later, window):
                launch(page_request)
            while pending:
                page_request, task = pending.popleft()
                response = await task
                following = next(later, None)
                if following is not None:
                    launch(following)
                yield page_result(page_request, response)
        finally:
            for _, task in pending:
                task.cancel()

    async def columns_config(
        self, config_id: str, *, timeout: float | None = None
    ) -> dict[str, dict[str, Any]]:
        """The portal's columns config for ``config_id`` (cached per client, and on disk)."""
        cached = self._columns_configs.get(config_id)
        if cached is not None:
            return cached
        call = self._caching.for_columns_config(config_id)
        hit = await self._lookup(call, dict)
        if hit is not None:
            self._columns_configs[config_id] = hit
            return hit
        url = self._core.url(COLUMNS_CONFIG_PATH)
        deadline = self._core.deadline(timeout)

        async def once() -> dict[str, dict[str, Any]]:
            response = await self._http.post(
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

        config = await self._retrying(once, None, url, deadline)
        await self._store(call, config)
        self._columns_configs[config_id] = config
        return config

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """A plain HTTP request with retries; see :meth:`Client.request`."""
        deadline = self._core.deadline(timeout)
        target = url if "://" in url else self._core.url(url)
        self._caching.check_online(method, target)

        async def once() -> httpx.Response:
            response = await self._http.request(
                method,
                target,
                params=params,
                data=data,
                headers=headers,
                timeout=self._core.socket_timeout(deadline),
            )
            self._core.raise_for_status(response, None)
            return response

        return await self._retrying(once, None, target, deadline)
