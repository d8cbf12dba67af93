"""Reading a response body: through httpx, or for a large file straight from the connection.

httpx parses an HTTP/1.1 body with h11, which copies every 64 KiB read through a receive buffer
and an event: for a large file that costs more CPU than hashing and writing it together (about
2 ms per MB, against 0.7 ms from the socket). So once the response head has been parsed, a body
of at least :data:`DIRECT_MIN` bytes with a ``Content-Length`` is read straight from the
connection's network stream (httpcore's documented ``network_stream`` response extension), in
pieces of up to :data:`DIRECT_READ` bytes:

1. the first chunk comes through httpx as usual: it is whatever body bytes h11 had already
   buffered with the head (h11 hands over its whole buffer as one event);
2. the rest, exactly ``Content-Length`` minus that, comes from the stream;
3. h11 never sees the end of the body, so httpcore closes the connection instead of reusing it,
   which costs one new connection per large file, nothing against its transfer.

Anything else (HTTP/2, chunked bodies, small files, transports without a network stream such as
test transports) goes through httpx unchanged. A body that ends early just stops: the size check
that follows reports it, as it does for httpx's path.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any, cast

import httpx

__all__ = ["DIRECT_MIN", "DIRECT_READ", "aiter_body", "iter_body"]

#: Bodies at least this large are read straight from the connection.
DIRECT_MIN = 16 << 20
#: Largest single read from the connection.
DIRECT_READ = 1 << 20


def _direct(response: httpx.Response) -> tuple[Any, int] | None:
    """The connection's stream and the body length, when the body may be read directly."""
    if response.http_version != "HTTP/1.1" or "transfer-encoding" in response.headers:
        return None
    length = response.headers.get("content-length", "")
    if not length.isdigit() or int(length) < DIRECT_MIN:
        return None
    stream = response.extensions.get("network_stream")
    if stream is None or not hasattr(stream, "read"):
        return None
    return stream, int(length)


def iter_body(response: httpx.Response, chunk_size: int | None, timeout: float) -> Iterator[bytes]:
    """The raw body of ``response`` (a streamed httpx response), in chunks."""
    direct = _direct(response)
    if direct is None:
        yield from response.iter_raw(chunk_size)
        return
    stream, remaining = direct
    # Kept referenced until the end: closing it closes the connection.
    chunks = cast(Generator[bytes, None, None], response.iter_raw())
    try:
        first = next(chunks, b"")
        remaining -= len(first)
        if first:
            yield first
        while remaining > 0:
            chunk: bytes = stream.read(min(DIRECT_READ, remaining), timeout=timeout)
            if not chunk:
                return  # closed early
            remaining -= len(chunk)
            yield chunk
    finally:
        chunks.close()


async def aiter_body(
    response: httpx.Response, chunk_size: int | None, timeout: float
) -> AsyncIterator[bytes]:
    """The async :func:`iter_body`."""
    direct = _direct(response)
    if direct is None:
        async for piece in response.aiter_raw(chunk_size):
            yield piece
        return
    stream, remaining = direct
    chunks = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    try:
        first = await anext(chunks, b"")
        remaining -= len(first)
        if first:
            yield first
        while remaining > 0:
            chunk: bytes = await stream.read(min(DIRECT_READ, remaining), timeout=timeout)
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        await chunks.aclose()
