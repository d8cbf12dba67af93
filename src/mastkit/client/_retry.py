"""Retry policy: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mastkit.errors import DecodeError, HTTPStatusError, MastError, RateLimitError, TransportError
from mastkit.protocol.status import RETRYABLE_STATUS

__all__ = ["RetryPolicy", "is_retryable"]


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

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt.
    base : float
        First backoff ceiling in seconds; doubles each attempt up to ``cap``.
    cap : float
        Largest backoff ceiling.
    max_retry_after : float
        Longest Retry-After the client honours before giving up (a server asking for an hour
        is better reported than waited on).
    """

    max_retries: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 300.0

    def delay(self, attempt: int, error: MastError, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after ``error``."""
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)  # full jitter spreads out synchronized clients
