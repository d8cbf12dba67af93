"""The local MAST server's ASGI app: routes, request bodies, and the invoke protocol.

``create_app(archive, settings)`` builds a Starlette app. Routes (mast-protocol.md section 1):

==========================================  ======================================================
``/api/v0/invoke``                          GET ``?request=`` or POST (form ``request=``, raw JSON)
``/portal/Mashup/Mashup.asmx/invoke``       alias of the above
``/portal/Mashup/Mashup.asmx/columnsconfig`` POST ``colConfigId=X`` (or GET): a JSON object
``/Santa-war/query``                        the SANTA name resolver astroquery calls
``/api/v0.1/Download/file``                 HEAD/GET (Range) of a product file by ``uri``
``/api/v0.1/Download/bundle.sh``            POST ``uri`` (repeated): a curl script
``/api/v0.1/path_lookup/``                  ``?uri=`` (repeated): archive paths of products
``/whoami``                                 the anonymous session
==========================================  ======================================================

Service faults answer HTTP 200 with ``"status": "ERROR"``; only HTTP-level faults get 4xx (body
too large 413, wrong method 405, unknown path 404), and 503 when the job table is full.

``ServerSettings.faults`` makes the server misbehave on purpose (resets, 5xx, 429, slow or
truncated replies, jobs that never finish or are forgotten): see
:mod:`mastkit.server.fault_injection`. Invoke requests are judged once decoded, so rules can name
services; other routes go through :class:`~mastkit.server.faults.FaultMiddleware`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mastkit.errors import RequestDecodeError
from mastkit.protocol import MashupRequest, decode_request
from mastkit.server import downloads, faults
from mastkit.server.fault_injection import FaultInjector, FaultPlan, FaultRule
from mastkit.server.handlers import Context, Registry, RowLimitExceeded, ServiceFailure, execute
from mastkit.server.jobs import JobManager, ServerBusy
from mastkit.server.responses import Reply, Result, error_reply, executing_reply, render

__all__ = ["INVOKE_PATHS", "BodyTooLarge", "ServerSettings", "create_app", "read_body"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Settings of the local server.

    Attributes
    ----------
    row_limit : int
        Largest result a query may have (MAST: about 500,000 rows).
    reset_over_limit : bool
        Over the limit, reset the connection as production does (True), or answer ERROR.
    timeout : float
        Default seconds a request is held waiting for its job before EXECUTING (MAST: 20).
    max_timeout : float
        Cap on a request's own ``timeout``.
    job_expiry : float
        Seconds without a request after which a job is dropped (MAST: 600).
    cache_bytes : int
        Memory budget for finished results kept for paging.
    max_jobs : int
        Most jobs kept at once; past it new requests get 503.
    workers : int
        Worker threads for database work.
    max_body_bytes : int
        Largest request body accepted (413 past it).
    slow_seconds : float
        Test setting: every job waits this long before working.
    slow_services : mapping
        Test setting: per-service delays (service name, case-insensitive -> seconds).
    clock : callable
        Monotonic clock of the job manager (injectable for expiry tests).
    faults : FaultPlan
        Test setting: faults to inject (:mod:`mastkit.server.fault_injection`); none by default.
    """

    row_limit: int = 500_000
    reset_over_limit: bool = True
    timeout: float = 20.0
    max_timeout: float = 600.0
    job_expiry: float = 600.0
    cache_bytes: int = 512 * 1024 * 1024
    max_jobs: int = 10_000
    workers: int = field(default_factory=lambda: min(8, (os.cpu_count() or 2) + 2))
    max_body_bytes: int = 8 * 1024 * 1024
    slow_seconds: float = 0.0
    slow_services: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    clock: Callable[[], float] = time.monotonic
    faults: FaultPlan = field(default_factory=FaultPlan)

    def delay_for(self, service: str) -> float:
        """The test delay of ``service``."""
        for name, seconds in self.slow_services.items():
            if name.lower() == service.lower():
                return seconds
        return self.slow_seconds


class BodyTooLarge(Exception):
    """A request body over ``max_body_bytes``."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (without reading it all) one larger than ``limit`` bytes.

    Raises
    ------
    BodyTooLarge
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


INVOKE_PATHS = frozenset({"/api/v0/invoke", "/portal/Mashup/Mashup.asmx/invoke"})


def _job_key(name: str, request: MashupRequest) -> tuple[str, str, str | None, str | None]:
    """What makes two requests the same job: service, params, cachebreaker and uploaded data.

    The upload (``data``, e.g. a crossmatch's table) is part of the question: two requests that
    differ only in it must never share an answer. It enters as a digest of its canonical JSON,
    so the key stays small whatever the upload's size.
    """
    params = json.dumps(request.params, sort_keys=True, separators=(",", ":"), default=str)
    data = None
    if request.data is not None:
        canonical = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
        data = hashlib.sha256(canonical.encode()).hexdigest()
    return (name.lower(), params, request.cachebreaker, data)


class _Server:
    """The state the routes share: archive, settings, services and jobs."""

    def __init__(self, archive: Any, settings: ServerSettings, registry: Registry) -> None:
        self.archive = archive
        self.settings = settings
        self.registry = registry
        self.jobs: JobManager[Result] = JobManager(
            workers=settings.workers,
            expiry=settings.job_expiry,
            max_bytes=settings.cache_bytes,
            max_jobs=settings.max_jobs,
            sizer=lambda result: result.nbytes,
            clock=settings.clock,
        )
        #: The running fault plan (None when the settings inject none).
        self.faults = FaultInjector(settings.faults) if settings.faults else None

    def reply(self, reply: Reply, status_code: int = 200) -> Response:
        return Response(reply.body, status_code=status_code, media_type=reply.media_type)

    async def invoke(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await self._invoke(request)
        except ClientDisconnect:
            # The client went away while sending its request: nobody is left to answer (and
            # it is no server error worth a traceback in the log).
            return Response(status_code=400)
        # Server-side time, for benchmarks and curious clients (RFC: Server-Timing).
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"total;dur={elapsed:.2f}"
        return response

    async def _invoke(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                payload: bytes | str = request.url.query
            else:
                payload = await read_body(request, self.settings.max_body_bytes)
        except BodyTooLarge:
            return _too_large(self.settings.max_body_bytes)
        decoded = self._decode(payload)
        if self.faults is None:
            return decoded if isinstance(decoded, Response) else await self._run(request, *decoded)
        service = None if isinstance(decoded, Response) else decoded[1]
        rule = self.faults.choose(request.url.path, service)
        if rule is None:
            return decoded if isinstance(decoded, Response) else await self._run(request, *decoded)
        return await self._faulty(rule, request, decoded)

    async def _faulty(
        self,
        rule: FaultRule,
        request: Request,
        decoded: Response | tuple[MashupRequest, str, Any],
    ) -> Response:
        """Answer ``request`` with the injected fault ``rule``."""
        if rule.kind in ("drop", "lost") and not isinstance(decoded, Response):
            self.jobs.discard(_job_key(decoded[1], decoded[0]))
        if rule.kind not in ("slow", "drop", "truncate"):
            return faults.fault_reply(rule)
        if rule.kind == "slow":
            await asyncio.sleep(rule.delay)
        response = decoded if isinstance(decoded, Response) else await self._run(request, *decoded)
        if rule.kind == "truncate":
            return faults.TruncatedReply(response, rule.fraction)
        return response

    def _decode(self, payload: bytes | str) -> Response | tuple[MashupRequest, str, Any]:
        """The request, its canonical service name and handler; or the ERROR reply."""
        try:
            mashup = decode_request(payload)
            name, handler = self.registry.resolve(mashup.service)
        except RequestDecodeError as exc:
            return self.reply(error_reply(str(exc)))
        except ServiceFailure as exc:
            return self.reply(error_reply(exc.msg))
        except (RecursionError, MemoryError, ValueError, TypeError) as exc:
            # json.loads raises RecursionError on absurd nesting; any decoder slip is the
            # request's fault, answered as MAST answers a bad request.
            return self.reply(
                error_reply(f"Mashup: the request could not be decoded: {type(exc).__name__}")
            )
        return mashup, name, handler

    async def _run(
        self, request: Request, mashup: MashupRequest, name: str, handler: Any
    ) -> Response:
        context = Context(
            archive=self.archive,
            row_limit=self.settings.row_limit,
            delay=self.settings.delay_for(name),
            closing=self.jobs.closing,
        )
        timeout = min(mashup.timeout or self.settings.timeout, self.settings.max_timeout)
        try:
            outcome = await self.jobs.run(
                _job_key(name, mashup),
                partial(execute, handler, mashup, context),
                timeout=timeout,
                fresh=bool(mashup.clearcache),
                keep=mashup.data is None and not mashup.removecache,
            )
        except ServerBusy:
            return PlainTextResponse(
                "The server is busy; retry shortly.", status_code=503, headers={"Retry-After": "5"}
            )
        if outcome is None:
            return self.reply(executing_reply())
        if outcome.error is not None:
            return await self._failure(request, outcome.error, name)
        assert outcome.value is not None
        reply = await run_in_threadpool(render, outcome.value, mashup)
        return self.reply(reply)

    async def _failure(self, request: Request, error: BaseException, service: str) -> Response:
        if isinstance(error, ServiceFailure):
            return self.reply(error_reply(error.msg))
        if isinstance(error, RowLimitExceeded):
            if self.settings.reset_over_limit:
                await faults.reset_connection(request.scope, str(error))
                return Response(status_code=500)  # not sent: the socket is gone
            return self.reply(
                error_reply(
                    f"Query returned more than {error.limit} rows; narrow the query or count it "
                    "first with COUNT_BIG(*)."
                )
            )
        log.error("%s failed", service, exc_info=error)
        return self.reply(error_reply(f"Mashup: {service} failed: {type(error).__name__}: {error}"))


def _too_large(limit: int) -> Response:
    return PlainTextResponse(f"Request body larger than {limit} bytes.", status_code=413)


def create_app(
    archive: Any,
    settings: ServerSettings | None = None,
    *,
    registry: Registry | None = None,
    files: downloads.FileSource | None = None,
) -> Starlette:
    """Build the ASGI app of the local MAST server.

    Parameters
    ----------
    archive : Archive
        The DuckDB archive to serve (:class:`mastkit.server.archive.Archive`).
    settings : ServerSettings, optional
        Limits, timeouts and test settings.
    registry : Registry, optional
        The services; by default every service of :mod:`mastkit.server.handlers`.
    files : FileSource, optional
        Where product files come from; by default the archive's products.

    Returns
    -------
    starlette.applications.Starlette
        The app; ``app.state.server`` holds its archive, settings and job manager.
    """
    settings = settings or ServerSettings()
    if registry is None:
        from mastkit.server.handlers import default_registry

        registry = default_registry()
    server = _Server(archive, settings, registry)
    files_routes = downloads.Downloads(archive, files, max_body_bytes=settings.max_body_bytes)
    routes = [
        Route("/api/v0/invoke", server.invoke, methods=["GET", "POST"]),
        Route("/portal/Mashup/Mashup.asmx/invoke", server.invoke, methods=["GET", "POST"]),
        Route(
            "/portal/Mashup/Mashup.asmx/columnsconfig",
            partial(_columns_config, server),
            methods=["GET", "POST"],
        ),
        Route("/Santa-war/query", partial(_santa, server), methods=["GET", "POST"]),
        Route("/api/v0.1/Download/file", files_routes.file, methods=["GET", "HEAD"]),
        Route("/api/v0.1/Download/bundle.sh", files_routes.bundle, methods=["POST"]),
        Route("/api/v0.1/path_lookup/", files_routes.path_lookup, methods=["GET"]),
        Route("/api/v0.1/path_lookup", files_routes.path_lookup, methods=["GET"]),
        Route("/whoami", _whoami, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        server.jobs.shutdown()

    middleware = []
    if server.faults is not None:
        middleware.append(
            Middleware(faults.FaultMiddleware, injector=server.faults, skip=INVOKE_PATHS)
        )
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.server = server
    return app


async def _form(request: Request, server: _Server) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        body = await read_body(request, server.settings.max_body_bytes)
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return pairs


async def _columns_config(server: _Server, request: Request) -> Response:
    from mastkit.server.handlers import columns_config

    try:
        pairs = await _form(request, server)
    except BodyTooLarge:
        return _too_large(server.settings.max_body_bytes)
    except ClientDisconnect:
        return Response(status_code=400)
    ids = [v for k, v in pairs if k.lower() == "colconfigid"]
    config = await run_in_threadpool(columns_config, server.archive, ids[0].strip() if ids else "")
    return JSONResponse(config)


async def _santa(server: _Server, request: Request) -> Response:
    from mastkit.server.handlers import santa

    try:
        pairs = await _form(request, server)
    except BodyTooLarge:
        return _too_large(server.settings.max_body_bytes)
    except ClientDisconnect:
        return Response(status_code=400)
    names = [v for k, v in pairs if k == "name"][:1000]
    flags = {k.lower(): v for k, v in pairs if k != "name"}
    resolve_all = flags.get("resolveall", "false").strip().lower() in {"true", "1", "yes"}
    payload = await run_in_threadpool(
        santa, server.archive, names, resolve_all=resolve_all, resolver=flags.get("resolver")
    )
    return JSONResponse(payload)


async def _whoami(request: Request) -> Response:
    # The anonymous session (mast-protocol.md 1.9): the local server has no accounts.
    return JSONResponse(
        {
            "eppn": "",
            "ezid": "anonymous",
            "attrib": {},
            "anon": True,
            "scopes": [],
            "session": None,
            "token": None,
        }
    )
