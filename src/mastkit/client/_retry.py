"""Retry policy: exponential backoff with full jitter, honouring Retry-After.

:func:`next_delay` is the one decision both drivers share: wait this long and try again, or give
up with this error. Keeping it here keeps :class:`~mastkit.client.Client` and
:class:`~mastkit.client.AsyncClient` raising the same exceptions for the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mastkit.errors import (
    BadInputError,
    DecodeError,
    HTTPStatusError,
    MastError,
    QueryTimeout,
    RateLimitError,
    TransportError,
)
from mastkit.protocol.status import RETRYABLE_STATUS

__all__ = ["NO_RETRIES", "RetryPolicy", "is_retryable", "next_delay"]


def is_retryable(error: MastError) -> bool:
    """Whether a failed request may succeed if sent again.

    Transport faults (refused, reset, timeouts), 429/502/503/504 and replies that arrived garbled
    are; other HTTP errors and ERROR replies are not: sending them again cannot help.
    """
    if isinstance(error, TransportError | DecodeError):
        return True
    if isinstance(error, HTTPStatusError):
        return error.status_code in RETRYABLE_STATUS
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    Pass one to :class:`~mastkit.client.Client` or :class:`~mastkit.client.AsyncClient` as
    ``retry=``.

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt (0: never retry).
    base : float
        First backoff ceiling in seconds; doubles each attempt up to ``cap``.
    cap : float
        Largest backoff ceiling.
    max_retry_after : float
        Longest Retry-After the client honours. A server asking for longer (an hour, say) is
        reported at once with :class:`~mastkit.errors.RateLimitError`, its ``retry_after``
        telling how long it asked for, rather than waited on.

    Raises
    ------
    BadInputError
        A negative count or duration.

    Examples
    --------
    >>> from mastkit.client import RetryPolicy
    >>> RetryPolicy(max_retries=2, base=0.1).max_retries
    2
    """

    max_retries: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise BadInputError(f"max_retries must be an int, not {self.max_retries!r}.")
        for name in ("max_retries", "base", "cap", "max_retry_after"):
            value = getattr(self, name)
            if not value >= 0:  # also refuses NaN
                raise BadInputError(f"RetryPolicy.{name} must be >= 0, not {value!r}.")

    def delay(self, attempt: int, error: MastError, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after ``error``.

        The server's Retry-After when it gave one, otherwise a random backoff.

        Raises
        ------
        RateLimitError
            The server asked to wait longer than ``max_retry_after``.
        """
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                raise _rate_limited(
                    error,
                    f"the server asks to wait {error.retry_after:g} s before retrying, longer "
                    f"than the retry policy's max_retry_after ({self.max_retry_after:g} s)",
                ) from error
            return error.retry_after
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)  # full jitter spreads out synchronized clients


#: The policy of a client built with ``retry=False``.
NO_RETRIES = RetryPolicy(max_retries=0)


def next_delay(
    policy: RetryPolicy,
    attempt: int,
    error: MastError,
    *,
    time_left: float,
    request: object = None,
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based) after ``error``, or raise.

    Called by the drivers inside their ``except`` block, with ``time_left`` the seconds until the
    call's deadline.

    Raises
    ------
    MastError
        ``error`` itself when it is not retryable or the retries are used up;
        :class:`~mastkit.errors.RateLimitError` (chained from ``error``) when the server's
        Retry-After is longer than the policy allows or than the time left before the deadline;
        :class:`~mastkit.errors.QueryTimeout` when the backoff would end past the deadline.
    """
    if not is_retryable(error) or attempt > policy.max_retries:
        raise error
    delay = policy.delay(attempt, error)
    if delay < time_left:
        return delay
    if isinstance(error, RateLimitError):
        # Still a rate limit: code catching RateLimitError must see it, and learn the deadline.
        asked = (
            f"the server asks to wait {delay:g} s before retrying"
            if error.retry_after is not None
            else f"the next retry would be in {delay:.3g} s"
        )
        plural = "s" if attempt > 1 else ""
        raise _rate_limited(
            error,
            f"{asked}, but the call's deadline is {max(time_left, 0.0):.3g} s away "
            f"(after {attempt} attempt{plural}); raise the timeout to wait for it",
        ) from error
    if isinstance(error, QueryTimeout):
        raise error
    raise QueryTimeout(
        f"Gave up after {attempt} attempts before the deadline: {error}",
        service=error.service,
        request=request if request is not None else error.request,
    ) from error


def _rate_limited(error: RateLimitError, why: str) -> RateLimitError:
    """A copy of ``error`` whose message says why the client gave up on it."""
    where = f"{error.service}: " if error.service else ""
    return RateLimitError(
        f"{where}Rate limited (HTTP {error.status_code}): {why}; try again later.",
        retry_after=error.retry_after,
        status_code=error.status_code,
        url=error.url,
        body_excerpt=error.body_excerpt,
        service=error.service,
        request=error.request,
    )
