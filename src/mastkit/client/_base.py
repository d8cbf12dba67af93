"""What Client and AsyncClient share: configuration, request building, error translation.

Nothing here performs I/O; the two drivers in ``_sync`` and ``_async`` do.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mastkit import __version__
from mastkit._settings import Settings
from mastkit.client._retry import NO_RETRIES, RetryPolicy
from mastkit.client.auth import MastToken
from mastkit.errors import BadInputError, DecodeError, MastError, QueryTimeout, TransportError
from mastkit.protocol import MashupRequest, MashupResponse, decode_response
from mastkit.protocol.services import validate_params
from mastkit.protocol.status import error_for_http

__all__ = [
    "COLUMNS_CONFIG_PATH",
    "INVOKE_HEADERS",
    "INVOKE_PATH",
    "TRANSPORT_ERRORS",
    "ClientCore",
    "cacheable_reply",
]

logger = logging.getLogger("mastkit.client")

INVOKE_PATH = "/api/v0/invoke"
#: Headers of every invoke request (the form-encoded ``request=`` body, as astroquery sends).
INVOKE_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"}
COLUMNS_CONFIG_PATH = "/portal/Mashup/Mashup.asmx/columnsconfig"
_REQUEST_KEYS = frozenset(
    {
        "removenullcolumns",
        "removecache",
        "clearcache",
        "columnsconfigid",
        "data",
        "filename",
        "cachebreaker",
    }
)


def user_agent() -> str:
    """The User-Agent mastkit sends."""
    return (
        f"mastkit/{__version__} Python/{platform.python_version()} ({platform.system()}) "
        f"httpx/{httpx.__version__}"
    )


@dataclass(frozen=True, slots=True)
class ClientCore:
    """Settings plus everything derived from them that both clients need."""

    settings: Settings
    retry: RetryPolicy

    @classmethod
    def create(
        cls,
        server: str | None,
        *,
        token: str | None,
        timeout: float | None,
        pagesize: int | None,
        concurrency: int | None,
        max_retries: int | None,
        settings: Settings | None,
        offline: bool | None = None,
        retry: RetryPolicy | bool | None = None,
    ) -> ClientCore:
        """Merge explicit arguments over ``settings`` (or the environment) and validate them.

        ``retry`` is the retry policy: None or True for the default one (with ``max_retries``),
        False for none, or a :class:`RetryPolicy`, whose ``max_retries`` then becomes the
        settings' (so passing ``max_retries`` beside it is refused as ambiguous).
        """
        policy = _retry_policy(retry, max_retries)
        if policy is not None:
            max_retries = policy.max_retries
        base = settings if settings is not None else Settings.from_env()
        merged = base.replace(
            **{
                k: v
                for k, v in {
                    "server": server,
                    "token": token,
                    "timeout": timeout,
                    "pagesize": pagesize,
                    "concurrency": concurrency,
                    "max_retries": max_retries,
                    "offline": offline,
                }.items()
                if v is not None
            }
        )
        url = httpx.URL(merged.server)
        if url.scheme not in ("http", "https") or not url.host:
            raise BadInputError(f"The server must be an http(s) URL, not {merged.server!r}.")
        if merged.timeout <= 0:
            raise BadInputError(f"timeout must be > 0 seconds, not {merged.timeout!r}.")
        if merged.pagesize < 1:
            raise BadInputError(f"pagesize must be >= 1, not {merged.pagesize!r}.")
        if merged.concurrency < 1:
            raise BadInputError(f"concurrency must be >= 1, not {merged.concurrency!r}.")
        if merged.max_retries < 0:
            raise BadInputError(f"max_retries must be >= 0, not {merged.max_retries!r}.")
        merged = merged.replace(server=str(url).rstrip("/"))
        if policy is None:
            policy = RetryPolicy(max_retries=merged.max_retries)
        return cls(settings=merged, retry=policy)

    # -- HTTP client construction ------------------------------------------------------------

    def client_options(self, transport: Any) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client``/``httpx.AsyncClient``."""
        s = self.settings
        options: dict[str, Any] = {
            "base_url": s.server,
            "headers": {"User-Agent": user_agent()},
            "timeout": httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            "follow_redirects": False,
            "limits": httpx.Limits(max_connections=max(10, s.concurrency * 2)),
        }
        if s.token:
            options["auth"] = MastToken(s.token, s.server)
        if transport is not None:
            options["transport"] = transport
        return options

    def url(self, path: str) -> str:
        """Absolute URL of a path on the configured server."""
        return self.settings.server + path

    def socket_timeout(self, deadline: float) -> httpx.Timeout:
        """Socket timeouts capped by what is left before ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeout("The call's deadline passed before the request could be sent.")
        s = self.settings
        return httpx.Timeout(
            min(s.read_timeout, remaining), connect=min(s.connect_timeout, remaining)
        )

    def deadline(self, timeout: float | None) -> float:
        """The monotonic deadline of a call started now."""
        seconds = self.settings.timeout if timeout is None else timeout
        if seconds <= 0:
            raise BadInputError(f"timeout must be > 0 seconds, not {seconds!r}.")
        return time.monotonic() + seconds

    # -- Requests -----------------------------------------------------------------------------

    def build_request(
        self,
        service: str | MashupRequest,
        params: Mapping[str, Any] | None,
        *,
        format: str = "json",
        pagesize: int | None = None,
        page: int | None = None,
        server_timeout: float | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> MashupRequest:
        """A :class:`MashupRequest` from the arguments of ``query``/``invoke``."""
        if isinstance(service, MashupRequest):
            if params is not None:
                raise BadInputError("Pass params inside the MashupRequest, not beside it.")
            return service
        if params is not None and not isinstance(params, Mapping):
            raise BadInputError(f"params must be a mapping, not {type(params).__name__}.")
        extra = dict(options or {})
        unknown = set(extra) - _REQUEST_KEYS
        if unknown:
            raise BadInputError(
                f"Unknown request option(s) {sorted(unknown)}; known: {sorted(_REQUEST_KEYS)}."
            )
        validate_params(service, params or {})
        return MashupRequest(
            service,
            dict(params or {}),
            format=format,
            pagesize=pagesize,
            page=page,
            timeout=server_timeout,
            **extra,
        )

    # -- Replies ------------------------------------------------------------------------------

    def raise_for_status(self, response: httpx.Response, request: MashupRequest | None) -> None:
        """Raise the mastkit error for an HTTP error status."""
        error = error_for_http(
            response.status_code,
            headers=response.headers,
            body=response.content,
            url=str(response.url),
            request=request,
        )
        if error is not None:
            raise error

    def handle_reply(
        self,
        response: httpx.Response,
        request: MashupRequest | None,
        body: bytes | bytearray | None = None,
    ) -> MashupResponse:
        """Map an HTTP reply to a decoded :class:`MashupResponse` or raise the right error.

        ``body``: the reply's body when it was read from a streamed response (else
        ``response.content``).
        """
        content = response.content if body is None else body
        error = error_for_http(
            response.status_code,
            headers=response.headers,
            body=content,
            url=str(response.url),
            request=request,
        )
        if error is not None:
            raise error
        try:
            return decode_response(content, request.format if request else "json")
        except DecodeError as exc:
            if request is not None:
                exc.service = request.service
                exc.request = request
                exc.message = f"{request.service}: {exc.message}"
                exc.args = (exc.message,)
            raise


def _retry_policy(retry: object, max_retries: int | None) -> RetryPolicy | None:
    """The policy ``retry=`` asks for, or None for the default built from the settings."""
    if retry is None or retry is True:
        return None
    if retry is False:
        if max_retries:
            raise BadInputError("retry=False means no retries; do not pass max_retries too.")
        return NO_RETRIES
    if not isinstance(retry, RetryPolicy):
        raise BadInputError(
            f"retry must be a RetryPolicy, True or False, not {type(retry).__name__}."
        )
    if max_retries is not None and max_retries != retry.max_retries:
        raise BadInputError(
            f"max_retries={max_retries!r} contradicts the RetryPolicy's "
            f"max_retries={retry.max_retries!r}; set it in the policy only."
        )
    return retry


def cacheable_reply(reply: MashupResponse) -> bool:
    """Whether a final reply may be cached: never an error, never a reply still executing."""
    return not reply.is_error and not reply.is_executing


#: What a transport may raise for a failed exchange: httpx's own errors, and the bare
#: ``ConnectionError`` (reset, aborted, refused) that in-process transports such as
#: ``httpx.ASGITransport`` let through from the app, where a socket would have been reset.
TRANSPORT_ERRORS = (httpx.HTTPError, ConnectionError)


def translate_transport_error(
    exc: httpx.HTTPError | ConnectionError, request: MashupRequest | None, url: str
) -> MastError:
    """The mastkit exception for a transport's exception (chained by the caller).

    A ``ConnectionError`` becomes the same :class:`TransportError` a reset socket gives, so
    it is retried alike whatever the transport.
    """
    service = request.service if request is not None else None
    where = f" ({service})" if service else ""
    if isinstance(exc, httpx.TimeoutException):
        return QueryTimeout(
            f"Timed out talking to {url}{where}: {type(exc).__name__}.",
            service=service,
            request=request,
        )
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionError):
        detail = f"the connection was reset ({type(exc).__name__}: {detail})"
    return TransportError(
        f"Could not complete the request to {url}{where}: {detail}.",
        service=service,
        request=request,
    )
