"""What the client is doing, seen from its outgoing requests, as one status text.

The library is silent (architecture decision 6), so the command line watches the client's
requests through an httpx ``request`` event hook instead of asking the library to report. Each
request says which service it asks and which page; because every poll of a request re-sends
exactly the same bytes (decision 2), a body seen before means the server answered EXECUTING
and the client is polling. That is enough for a useful status line, without reading replies.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import httpx

__all__ = ["RequestTracker", "describe_request"]

_COLUMNS_CONFIG = "columnsconfig"


def describe_request(request: httpx.Request) -> tuple[str, int | None]:
    """The service a request asks for and its page (None when not paged).

    Examples
    --------
    >>> import httpx
    >>> from mastkit.protocol import MashupRequest, encode_form
    >>> body = encode_form(MashupRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2}, page=3))
    >>> describe_request(httpx.Request("POST", "http://x/api/v0/invoke", content=body))
    ('Mast.Caom.Cone', 3)
    """
    if request.url.path.lower().endswith(_COLUMNS_CONFIG):
        return "column metadata", None
    try:
        from mastkit.protocol.codec import decode_request

        decoded = decode_request(request.content)
    except Exception:  # any unreadable body: describe it by its path, never fail the request
        return request.url.path, None
    return decoded.service, decoded.page


class RequestTracker:
    """Turns outgoing requests into status texts (thread-safe: pages go out concurrently).

    Parameters
    ----------
    show : callable
        Receives each new status text.
    """

    def __init__(self, show: Callable[[str], None]) -> None:
        self._show = show
        self._sent: Counter[bytes] = Counter()
        self._pages: dict[str, int] = {}
        self._lock = threading.Lock()

    def on_request(self, request: httpx.Request) -> None:
        """The httpx event hook: called with every request before it is sent."""
        service, page = describe_request(request)
        body = request.content
        with self._lock:
            self._sent[body] += 1
            polls = self._sent[body] - 1
            if page is not None:
                self._pages[service] = max(self._pages.get(service, 0), page)
            highest = self._pages.get(service)
        self._show(self.text(service, page=highest, polls=polls))

    @staticmethod
    def text(service: str, *, page: int | None, polls: int) -> str:
        """The status text for a request.

        Examples
        --------
        >>> RequestTracker.text("Mast.Caom.Filtered", page=2, polls=3)
        'Mast.Caom.Filtered · page 2 · waiting for the server, poll 3'
        """
        parts = [service]
        if page is not None and page > 1:
            parts.append(f"page {page}")
        if polls:
            # A re-sent body is a poll (the server said EXECUTING) or a retry: either way, waiting.
            parts.append(f"waiting for the server, poll {polls}")
        return " · ".join(parts)
