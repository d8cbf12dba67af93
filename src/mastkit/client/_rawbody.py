"""Reading a response body straight from its connection, and handing the connection back.

httpx parses an HTTP/1.1 body with h11, which copies every 64 KiB read through a receive buffer
and an event object: some 2 ms of CPU per MB, more than hashing and writing a download together
(a direct read costs about 0.7 ms per MB). A 50 MB page of a query, or 200 files of a few MB,
spend most of their client CPU there. So once httpx has parsed the response head, a body with a
``Content-Length`` (and no content coding) is read straight from the connection's network stream
(httpcore's documented ``network_stream`` response extension):

1. the first chunk comes through httpx as usual: whatever body bytes h11 had already buffered
   with the head (h11 hands over its whole buffer as one event);
2. the rest, exactly ``Content-Length`` minus that, comes from the stream, in reads of up to
   :data:`DIRECT_READ` bytes (:func:`iter_body`, the async functions), or, for the whole body of
   the sync client (:func:`read_body`), off httpcore's plain or TLS socket into one buffer of
   the body's length;
3. h11 is then told that the body has been consumed, so that it reports the end of the message
   and httpcore puts the connection back in its pool for the next request.

Step 3 needs two private attributes of httpcore's HTTP/1.1 connection and h11's body reader
(``_h11_state`` and its ``_reader._remaining``). They are only touched after checking that the
objects are what they should be: the connection owns this very network stream, h11 is reading a
``Content-Length`` body, its buffer is empty and it expects exactly the bytes about to be read.
When any check fails (another httpx, httpcore or h11, HTTP/2, a test transport), the body is
read through httpx unchanged, or, for a body of at least :data:`CLOSING_MIN` bytes, still read
directly at the cost of closing the connection afterwards (one new connection per large body,
nothing against its transfer). ``tests/client/test_rawbody.py`` checks that the connection is
reused, so a dependency upgrade that moves these attributes is noticed, not silently slower.

Errors of the direct reads are raised as the httpx exceptions httpx's own path raises: a body
that ends before its ``Content-Length`` is a ``RemoteProtocolError``, a stalled one a
``ReadTimeout``, a reset one a ``ReadError``; the connection is then closed, never reused.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Any, cast

import h11
import httpcore
import httpx

__all__ = [
    "CLOSING_MIN",
    "DIRECT_MIN",
    "DIRECT_READ",
    "aiter_body",
    "aread_body",
    "iter_body",
    "read_body",
]

#: Bodies at least this large are read directly when the connection can be handed back.
DIRECT_MIN = 128 << 10
#: Bodies at least this large are read directly even when the connection must then be closed.
CLOSING_MIN = 16 << 20
#: Largest single read from the connection.
DIRECT_READ = 1 << 20
#: How deep the wrappers around httpcore's byte stream may go (httpx's and the pool's).
_DEPTH = 8
#: Where httpcore's synchronous socket stream lives (the only stream read into a buffer).
_SYNC_STREAM_MODULE = "httpcore._backends.sync"


@dataclass(slots=True)
class _Direct:
    """What a direct read needs: the stream, the body's length, and the h11 connection."""

    stream: Any
    length: int
    parser: h11.Connection | None


def _parser(response: httpx.Response, stream: Any) -> h11.Connection | None:
    """The h11 connection parsing ``response``, if it is found where httpcore keeps it."""
    layer: Any = response.stream
    for _ in range(_DEPTH):
        connection = getattr(layer, "_connection", None)
        if connection is not None:
            parser = getattr(connection, "_h11_state", None)
            owns = getattr(connection, "_network_stream", None) is stream
            return parser if owns and isinstance(parser, h11.Connection) else None
        layer = getattr(layer, "_stream", None) or getattr(layer, "_httpcore_stream", None)
        if layer is None:
            return None
    return None


def _direct(response: httpx.Response) -> _Direct | None:
    """How to read the body of ``response`` directly, or None to read it through httpx."""
    if response.http_version != "HTTP/1.1" or "transfer-encoding" in response.headers:
        return None
    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return None  # no body follows, whatever Content-Length says
    coding = response.headers.get("content-encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        return None  # the bytes on the wire are not the body: httpx decodes them
    length = response.headers.get("content-length", "")
    if not length.isdigit() or int(length) < DIRECT_MIN:
        return None
    stream = response.extensions.get("network_stream")
    if stream is None or not hasattr(stream, "read"):
        return None
    parser = _parser(response, stream)
    if parser is None and int(length) < CLOSING_MIN:
        return None
    return _Direct(stream, int(length), parser)


def _can_hand_back(parser: h11.Connection | None, remaining: int) -> bool:
    """Whether h11 is reading a ``Content-Length`` body, has nothing buffered, and expects
    exactly ``remaining`` more bytes: then it may be told they were read."""
    if parser is None or parser.their_state is not h11.SEND_BODY:
        return False
    reader = getattr(parser, "_reader", None)
    buffered = getattr(parser, "_receive_buffer", None)
    return (
        type(reader).__name__ == "ContentLengthReader"
        and getattr(reader, "_remaining", None) == remaining
        and buffered is not None
        and len(buffered) == 0
    )


def _httpx_error(exc: Exception, response: httpx.Response) -> httpx.TransportError:
    """The httpx exception httpx itself raises for httpcore's ``exc`` while reading a body."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, httpcore.TimeoutException):
        return httpx.ReadTimeout(message, request=response.request)
    if isinstance(exc, httpcore.ProtocolError):
        return httpx.RemoteProtocolError(message, request=response.request)
    return httpx.ReadError(message, request=response.request)


def _cut_short(response: httpx.Response, received: int, length: int) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body "
        f"(received {received} bytes, expected {length})",
        request=response.request,
    )


_HTTPCORE_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError)


def _hand_back(parser: h11.Connection) -> None:
    """Tell h11 the body was read (see the module docstring)."""
    reader: Any = parser._reader
    reader._remaining = 0


def iter_body(
    response: httpx.Response, chunk_size: int | None = None, timeout: float | None = None
) -> Iterator[bytes]:
    """The raw body of ``response`` (a streamed httpx response), in chunks.

    Parameters
    ----------
    response : httpx.Response
        Opened with ``Client.stream``, not yet read.
    chunk_size : int, optional
        For bodies read through httpx: re-chunk to this size (None: as they come).
    timeout : float, optional
        Read timeout of each direct read, in seconds.
    """
    direct = _direct(response)
    if direct is None:
        yield from response.iter_raw(chunk_size)
    else:
        yield from _iter_direct(response, direct, timeout)


def _iter_direct(
    response: httpx.Response, direct: _Direct, timeout: float | None
) -> Iterator[bytes]:
    """:func:`iter_body` of a body read directly (see the module docstring)."""
    # Kept referenced until the end: closing it early closes the connection.
    chunks = cast(Generator[bytes, None, None], response.iter_raw())
    try:
        first = next(chunks, b"")
        remaining = direct.length - len(first)
        if first:
            yield first
        reusable = remaining > 0 and _can_hand_back(direct.parser, remaining)
        if remaining > 0 and not reusable and direct.length < CLOSING_MIN:
            yield from chunks  # not worth a new connection: the rest through httpx
            return
        while remaining > 0:
            try:
                chunk: bytes = direct.stream.read(min(DIRECT_READ, remaining), timeout=timeout)
            except _HTTPCORE_ERRORS as exc:
                raise _httpx_error(exc, response) from exc
            if not chunk:
                raise _cut_short(response, direct.length - remaining, direct.length)
            remaining -= len(chunk)
            yield chunk
        if reusable:
            assert direct.parser is not None
            _hand_back(direct.parser)
            for extra in chunks:  # h11 now ends the message; the connection goes back to the pool
                if extra:
                    yield extra
        # Otherwise h11 still waits for the body: closing the stream closes the connection.
    finally:
        chunks.close()


async def aiter_body(
    response: httpx.Response, chunk_size: int | None = None, timeout: float | None = None
) -> AsyncIterator[bytes]:
    """The async :func:`iter_body`."""
    direct = _direct(response)
    if direct is None:
        async for piece in response.aiter_raw(chunk_size):
            yield piece
    else:
        async for piece in _aiter_direct(response, direct, timeout):
            yield piece


async def _aiter_direct(
    response: httpx.Response, direct: _Direct, timeout: float | None
) -> AsyncIterator[bytes]:
    """:func:`aiter_body` of a body read directly."""
    chunks = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    try:
        first = await anext(chunks, b"")
        remaining = direct.length - len(first)
        if first:
            yield first
        reusable = remaining > 0 and _can_hand_back(direct.parser, remaining)
        if remaining > 0 and not reusable and direct.length < CLOSING_MIN:
            async for piece in chunks:
                yield piece
            return
        while remaining > 0:
            try:
                chunk: bytes = await direct.stream.read(
                    min(DIRECT_READ, remaining), timeout=timeout
                )
            except _HTTPCORE_ERRORS as exc:
                raise _httpx_error(exc, response) from exc
            if not chunk:
                raise _cut_short(response, direct.length - remaining, direct.length)
            remaining -= len(chunk)
            yield chunk
        if reusable:
            assert direct.parser is not None
            _hand_back(direct.parser)
            async for extra in chunks:
                if extra:
                    yield extra
    finally:
        await chunks.aclose()


def read_body(response: httpx.Response, timeout: float | None = None) -> bytes | bytearray:
    """The whole body of a streamed ``response``, decoded as httpx would (content codings).

    A large identity-coded body is read straight from the connection (:func:`iter_body`); on a
    plain or TLS socket, into one ``bytearray`` of its ``Content-Length``
    (:func:`_read_into`): no chunk is allocated, kept and joined, which spares a copy of the
    body and leaves no trail of freed chunks in the allocator's per-thread heaps.
    """
    direct = _direct(response)
    if direct is None:
        return response.read()
    sock = _plain_socket(direct.stream)
    if sock is None:
        return b"".join(_iter_direct(response, direct, timeout))
    return _read_into(response, direct, sock, timeout)


def _plain_socket(stream: Any) -> socket.socket | None:
    """The socket under httpcore's synchronous stream, when reading it reads the body.

    Only for httpcore's ``SyncStream`` (a plain or TLS socket, which decrypts as it reads);
    a TLS-in-TLS stream also offers its socket, whose bytes are still encrypted.
    """
    if type(stream).__name__ != "SyncStream" or type(stream).__module__ != _SYNC_STREAM_MODULE:
        return None
    sock = stream.get_extra_info("socket")
    return sock if isinstance(sock, socket.socket) else None


def _read_into(
    response: httpx.Response, direct: _Direct, sock: socket.socket, timeout: float | None
) -> bytes | bytearray:
    """:func:`read_body` of a direct read, into one buffer (see the module docstring)."""
    chunks = cast(Generator[bytes, None, None], response.iter_raw())
    try:
        first = next(chunks, b"")
        length = direct.length
        received = len(first)
        reusable = received < length and _can_hand_back(direct.parser, length - received)
        if received < length and not reusable and length < CLOSING_MIN:
            return b"".join([first, *chunks])  # not worth a new connection: through httpx
        body = bytearray(length)
        view = memoryview(body)
        view[:received] = first[:length]
        try:
            sock.settimeout(timeout)
            while received < length:
                count = sock.recv_into(view[received:], length - received)
                if not count:
                    raise _cut_short(response, received, length)
                received += count
        except TimeoutError as exc:  # socket.timeout
            raise httpx.ReadTimeout(str(exc) or "timed out", request=response.request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=response.request) from exc
        finally:
            view.release()
        if len(first) > length:
            body += first[length:]
        if reusable:
            assert direct.parser is not None
            _hand_back(direct.parser)
            for extra in chunks:  # h11 now ends the message; the connection goes back to the pool
                body += extra
        # Otherwise h11 still waits for the body: closing the stream closes the connection.
        return body
    finally:
        chunks.close()


async def aread_body(response: httpx.Response, timeout: float | None = None) -> bytes:
    """The async :func:`read_body`."""
    direct = _direct(response)
    if direct is None:
        return await response.aread()
    return b"".join([chunk async for chunk in _aiter_direct(response, direct, timeout)])
