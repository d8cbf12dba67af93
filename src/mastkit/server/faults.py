"""Connection resets, the way production MAST answers a result that is too large.

MAST does not answer a query of more than about 500,000 rows with an error: the server runs out of
memory and the client sees ``Connection reset by peer`` (mast-protocol.md section 6). The local
server copies that, so clients can be tested against it.

ASGI has no way to say "reset this connection", and uvicorn answers 500 when an app raises before
its response starts. :class:`ResettingHTTPProtocol` is uvicorn's HTTP protocol with one addition:
each request's scope carries a callable under ``scope["extensions"]["mastkit.reset"]`` that aborts
the socket with ``SO_LINGER`` 0, so the kernel sends a TCP RST rather than a FIN. Under any other
ASGI server (or in-process over ``httpx.ASGITransport``) :func:`reset_connection` raises
:class:`ConnectionResetError` instead, which an in-process client sees directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["RESET_EXTENSION", "ResettingHTTPProtocol", "reset_connection"]

#: The scope extension key under which :class:`ResettingHTTPProtocol` puts its reset callable.
RESET_EXTENSION = "mastkit.reset"


def _abort_with_rst(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 turns close() into an RST: that is what "reset by peer" means. (A socket
        # already gone needs no reset.)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class ResettingHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol, offering apps a way to reset the connection (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner: ASGIApp = self.app  # type: ignore[has-type]  # uvicorn is untyped here

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            transport = getattr(self, "transport", None)
            if transport is not None and scope["type"] == "http":
                extensions = dict(scope.get("extensions") or {})
                extensions[RESET_EXTENSION] = lambda: _abort_with_rst(transport)
                scope = {**scope, "extensions": extensions}
            await inner(scope, receive, send)

        self.app = app


async def reset_connection(scope: Scope, reason: str) -> None:
    """Reset the client's connection without any response.

    Raises
    ------
    ConnectionResetError
        When the server offers no reset hook (in-process transports, other ASGI servers); an
        in-process client receives this exception, a socket client a 500.
    """
    reset: Callable[[], None] | None = (scope.get("extensions") or {}).get(RESET_EXTENSION)
    if reset is None:
        raise ConnectionResetError(reason)
    reset()
    # Let the transport's connection_lost run, so uvicorn marks the cycle disconnected and does
    # not try to send a 500 on a dead socket (nor log that the app sent no response).
    for _ in range(3):
        await asyncio.sleep(0)
