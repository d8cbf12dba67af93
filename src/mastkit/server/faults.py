"""Connection resets and other transport faults, the way production MAST misbehaves.

MAST does not answer a query of more than about 500,000 rows with an error: the server runs out of
memory and the client sees ``Connection reset by peer`` (mast-protocol.md section 6). The local
server copies that, so clients can be tested against it.

ASGI has no way to say "reset this connection", and uvicorn answers 500 when an app raises before
its response starts. :class:`ResettingHTTPProtocol` is uvicorn's HTTP protocol with one addition:
each request's scope carries a callable under ``scope["extensions"]["mastkit.reset"]`` that aborts
the socket with ``SO_LINGER`` 0, so the kernel sends a TCP RST rather than a FIN. Under any other
ASGI server (or in-process over ``httpx.ASGITransport``) :func:`reset_connection` raises
:class:`ConnectionResetError` instead, which an in-process client sees directly. A second
callable, under ``"mastkit.close"``, closes the socket gracefully (FIN after the bytes written so
far), which is how :func:`send_truncated` cuts a reply short.

The rest of the module carries out the faults of a :class:`~mastkit.server.fault_injection.
FaultPlan`: :class:`FaultMiddleware` for every route but invoke, and :func:`fault_reply` /
:class:`TruncatedReply` for the invoke route, which decides only once it has decoded the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from mastkit.server.fault_injection import FaultInjector, FaultRule
from mastkit.server.responses import error_reply, executing_reply

__all__ = [
    "CLOSE_EXTENSION",
    "LOST_JOB_MESSAGE",
    "RESET_EXTENSION",
    "FaultMiddleware",
    "ResettingHTTPProtocol",
    "TruncatedReply",
    "fault_reply",
    "reset_connection",
    "send_truncated",
]

#: The scope extension key under which :class:`ResettingHTTPProtocol` puts its reset callable.
RESET_EXTENSION = "mastkit.reset"
#: The scope extension key of the graceful close callable.
CLOSE_EXTENSION = "mastkit.close"
#: What MAST's legacy server answered for a job whose thread died (mast-protocol.md 3.6).
LOST_JOB_MESSAGE = (
    "[MASHUP] Invoke Thread exited without specifying the response status.  "
    "Results may be incomplete."
)


def _abort_with_rst(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 turns close() into an RST: that is what "reset by peer" means. (A socket
        # already gone needs no reset.)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _close_gracefully(protocol: Any, transport: asyncio.Transport) -> None:
    # Mark the request cycle disconnected at once, so uvicorn neither sends the rest of the
    # reply nor logs "ASGI callable returned without completing response" for a cut we meant.
    cycle = getattr(protocol, "cycle", None)
    if cycle is not None:
        cycle.disconnected = True
    transport.close()  # writes what is buffered, then FIN


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
                extensions[CLOSE_EXTENSION] = lambda: _close_gracefully(self, transport)
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


# ---------------------------------------------------------------------------- injected faults


class _Truncating:
    """An ASGI ``send`` that passes on only part of the body, then stops."""

    def __init__(self, send: Send, fraction: float) -> None:
        self.send = send
        self.fraction = fraction
        self.cut: int | None = None
        self.sent = 0
        self.done = False

    async def __call__(self, message: Message) -> None:
        if self.done:
            return
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                if name.lower() == b"content-length" and value.strip().isdigit():
                    self.cut = int(int(value) * self.fraction)
            await self.send(message)
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        body: bytes = message.get("body", b"")
        if self.cut is None:  # no declared length: cut into the first chunk
            self.cut = self.sent + int(len(body) * self.fraction)
        room = self.cut - self.sent
        if len(body) < room and message.get("more_body", False):
            self.sent += len(body)
            await self.send(message)
            return
        self.done = True
        if room > 0:
            self.sent += room
            await self.send({"type": "http.response.body", "body": body[:room], "more_body": True})


async def send_truncated(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, fraction: float
) -> None:
    """Run ``app`` but send only ``fraction`` of its body, then close the connection.

    The headers go out as the app wrote them, ``Content-Length`` included, so the client is
    promised more than it gets.

    Raises
    ------
    ConnectionResetError
        When the server offers no close hook (in-process transports).
    """
    close: Callable[[], None] | None = (scope.get("extensions") or {}).get(CLOSE_EXTENSION)
    if close is None:
        raise ConnectionResetError("injected fault: truncated reply")
    truncating = _Truncating(send, fraction)
    await app(scope, receive, truncating)
    close()
    for _ in range(3):
        await asyncio.sleep(0)


class TruncatedReply(Response):
    """``inner`` sent short (see :func:`send_truncated`)."""

    def __init__(self, inner: Response, fraction: float) -> None:
        super().__init__(status_code=inner.status_code)
        self.inner = inner
        self.fraction = fraction

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_truncated(self.inner, scope, receive, send, self.fraction)


class _ResetReply(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await reset_connection(scope, "injected fault: connection reset")


def fault_reply(rule: FaultRule) -> Response:
    """The reply of a fault that replaces the normal one: reset, status, EXECUTING or ERROR.

    ``slow``, ``truncate`` and ``drop`` change the normal reply instead, so callers handle them
    without asking here.

    Raises
    ------
    ValueError
        For those three kinds.
    """
    if rule.kind == "reset":
        return _ResetReply()
    status = rule.status
    if status is not None:
        headers = {}
        retry_after = rule.retry_after_header
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return PlainTextResponse(
            f"Injected fault: HTTP {status}.", status_code=status, headers=headers
        )
    if rule.kind == "executing":
        reply = executing_reply()
    elif rule.kind == "lost":
        reply = error_reply(LOST_JOB_MESSAGE)
    else:
        raise ValueError(f"fault kind {rule.kind!r} does not replace the reply")
    return Response(reply.body, media_type=reply.media_type)


class FaultMiddleware:
    """Applies path rules of a fault plan to every route except ``skip`` (the invoke routes)."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, skip: frozenset[str]) -> None:
        self.app = app
        self.injector = injector
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        rule = self.injector.choose(scope["path"], None)
        if rule is None or rule.kind == "drop":  # no job to drop outside invoke
            await self.app(scope, receive, send)
        elif rule.kind == "slow":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif rule.kind == "truncate":
            await send_truncated(self.app, scope, receive, send, rule.fraction)
        else:
            await fault_reply(rule)(scope, receive, send)
