"""Map HTTP statuses and ERROR replies to mastkit exceptions (pure functions)."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

from mastkit.errors import HTTPStatusError, MastError, RateLimitError, ServiceError
from mastkit.protocol.envelopes import MashupRequest, MashupResponse

__all__ = [
    "RETRYABLE_STATUS",
    "error_for_http",
    "error_for_reply",
    "parse_retry_after",
]

#: HTTP statuses worth retrying: rate limits and transient gateway/server faults.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_EXCERPT = 300


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns None when the header is absent or unreadable; never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        current = time.time() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def error_for_http(
    status_code: int,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | bytearray = b"",
    url: str = "",
    request: MashupRequest | None = None,
) -> MastError | None:
    """The exception for an HTTP status, or None for a success (2xx/3xx).

    429, and 503 with a Retry-After, give :class:`RateLimitError`; any other status >= 400 gives
    :class:`HTTPStatusError` with a short excerpt of the body.
    """
    if status_code < 400:
        return None
    excerpt = " ".join(body[: _EXCERPT * 2].decode("utf-8", "replace").split())[:_EXCERPT]
    service = request.service if request is not None else None
    what = f" for {service}" if service else ""
    retry_after = parse_retry_after((headers or {}).get("retry-after"))
    if status_code == 429 or (status_code == 503 and retry_after is not None):
        hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimitError(
            f"MAST is rate limiting requests (HTTP {status_code}){what}{hint}.",
            retry_after=retry_after,
            status_code=status_code,
            url=url,
            body_excerpt=excerpt,
            service=service,
            request=request,
        )
    if status_code >= 500:
        message = f"MAST answered HTTP {status_code}{what}: the server is failing or overloaded"
    else:
        message = f"MAST refused the request{what} with HTTP {status_code}"
    if excerpt:
        message += f" ({excerpt})"
    return HTTPStatusError(
        message + ".",
        status_code=status_code,
        url=url,
        body_excerpt=excerpt,
        service=service,
        request=request,
    )


def error_for_reply(
    response: MashupResponse, request: MashupRequest | None = None
) -> ServiceError | None:
    """The :class:`ServiceError` of an ERROR reply, or None for any other status."""
    if not response.is_error:
        return None
    service = request.service if request is not None else None
    msg = response.msg.strip() or "There was an error with your request."
    where = f"{service}: " if service else ""
    return ServiceError(
        f"{where}{msg}", service=service, request=request, server_message=response.msg
    )
