"""The mastkit exception and warning hierarchy.

Every exception mastkit raises derives from :class:`MastError`; every warning from
:class:`MastWarning`. Third-party exceptions are translated at the boundary where they occur and
chained with ``raise ... from``.

::

    MastError
    ├── BadInputError            wrong argument (coordinates, radius, page, filters, names, ...)
    │   └── UnknownColumnError   a column the service does not have (with suggestions)
    ├── TransportError           connection refused/reset, DNS, TLS, protocol-level faults
    │   └── QueryTimeout         socket or overall deadline exceeded
    ├── HTTPStatusError          an HTTP status MAST should not send for a valid request
    │   └── RateLimitError       429 (or 503) with the server's Retry-After
    ├── ServiceError             the reply said ``"status": "ERROR"``; carries the server's msg
    ├── DecodeError              the reply is not the protocol (HTML, truncated JSON, wrong types)
    │   └── RequestDecodeError   a request the server side could not decode
    ├── ResolverError            a name the resolver does not know
    ├── ResultTooLargeError      the query exceeds the server's row limit and could not be split
    ├── CacheMissError           offline mode, and the answer is not in the cache
    └── DownloadError            a download failed (size/checksum mismatch, disk full, ...)

    MastWarning
    ├── NoResultsWarning         the query matched nothing
    └── TruncatedResultWarning   fewer rows than exist were returned, at the user's request
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadInputError",
    "CacheMissError",
    "DecodeError",
    "DownloadError",
    "HTTPStatusError",
    "MastError",
    "MastWarning",
    "NoResultsWarning",
    "QueryTimeout",
    "RateLimitError",
    "RequestDecodeError",
    "ResolverError",
    "ResultTooLargeError",
    "ServiceError",
    "TransportError",
    "TruncatedResultWarning",
    "UnknownColumnError",
]


class MastError(Exception):
    """Root of every mastkit exception.

    Parameters
    ----------
    message : str
        What went wrong, phrased so a user can act on it.
    service : str, optional
        The MAST service the failing request named, when there was one.
    request : object, optional
        The request (usually a :class:`mastkit.protocol.MashupRequest`) that failed.
    server_message : str, optional
        The server's own words (``msg`` of an ERROR reply, or an excerpt of the body).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        request: Any = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.request = request
        self.server_message = server_message

    def __str__(self) -> str:
        return self.message


class BadInputError(MastError, ValueError):
    """An argument is invalid; nothing was sent."""


class UnknownColumnError(BadInputError, KeyError):
    """A column name the service does not know.

    Attributes
    ----------
    column : str
        The name given.
    suggestions : list of str
        Close matches among the known columns, best first.
    """

    def __init__(
        self,
        column: str,
        suggestions: list[str] | None = None,
        *,
        service: str | None = None,
        known: list[str] | None = None,
    ) -> None:
        self.column = column
        self.suggestions = list(suggestions or [])
        self.known = list(known or [])
        hint = (
            f" Did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else ""
        )
        where = f" of {service}" if service else ""
        super().__init__(f"Unknown column {column!r}{where}.{hint}", service=service)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class TransportError(MastError):
    """The HTTP exchange failed below the protocol: refused, reset, DNS, TLS."""


class QueryTimeout(TransportError, TimeoutError):
    """A socket timeout or the overall deadline of a call was exceeded."""


class HTTPStatusError(MastError):
    """The server answered with an HTTP error status.

    Attributes
    ----------
    status_code : int
    url : str
    body_excerpt : str
        The first few hundred characters of the body, for diagnosis.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        url: str = "",
        body_excerpt: str = "",
        service: str | None = None,
        request: Any = None,
    ) -> None:
        super().__init__(message, service=service, request=request, server_message=body_excerpt)
        self.status_code = status_code
        self.url = url
        self.body_excerpt = body_excerpt


class RateLimitError(HTTPStatusError):
    """429 (or a 503 with Retry-After): the server asks the client to slow down.

    Attributes
    ----------
    retry_after : float or None
        Seconds the server asked to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceError(MastError):
    """The service answered ``"status": "ERROR"``; ``server_message`` holds its ``msg``."""


class DecodeError(MastError):
    """A reply does not follow the protocol: not JSON, truncated, or of the wrong shape."""


class RequestDecodeError(DecodeError):
    """A request could not be decoded (used by the server side)."""


class ResolverError(MastError):
    """A name could not be resolved to coordinates."""


class ResultTooLargeError(MastError):
    """The result exceeds the server's row limit and could not be split into parts that fit."""


class CacheMissError(MastError):
    """Offline mode is on and the answer is not in the cache."""


class DownloadError(MastError):
    """A file could not be downloaded intact."""


class MastWarning(UserWarning):
    """Root of every mastkit warning."""


class NoResultsWarning(MastWarning):
    """The query matched nothing; an empty table with the right columns is returned."""


class TruncatedResultWarning(MastWarning):
    """Fewer rows than exist were returned because the caller asked for a limit."""
