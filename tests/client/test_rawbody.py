"""Bodies read straight from the connection (mastkit.client._rawbody), over real loopback servers.

The direct path must give exactly httpx's bytes, hand the connection back for the next request
(checked by the server: every request of a sequence arrives on the same client port), and fail
as httpx fails when the body is cut short, stalls or is reset.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mastkit.client import _rawbody
from mastkit.client._rawbody import (
    CLOSING_MIN,
    DIRECT_MIN,
    DIRECT_READ,
    aiter_body,
    aread_body,
    iter_body,
    read_body,
)
from tests.support.live import serve


def _payload(size: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(f"{seed}".encode()).digest() * 2048  # 64 KiB, not all alike
    whole = block * (size // len(block) + 1)
    return bytes(b ^ (i & 0xFF) for i, b in enumerate(whole[:4096])) + whole[4096:size]


class BodyApp:
    """``/bytes?n=N`` (N bytes, Content-Length), ``/gzip?n=N`` (gzip-coded); records the client
    port of every request."""

    def __init__(self) -> None:
        self.ports: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.ports.append(scope["client"][1])
        query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
        size = int(query.get("n", "0"))
        body = _payload(size, int(query.get("seed", "0")))
        headers = [(b"content-type", b"application/octet-stream")]
        if scope["path"] == "/gzip":
            body = gzip.compress(body, compresslevel=1)
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Several sends: the body arrives in pieces, as a large reply does.
        for start in range(0, len(body), 1 << 20):
            await send(
                {
                    "type": "http.response.body",
                    "body": body[start : start + (1 << 20)],
                    "more_body": start + (1 << 20) < len(body),
                }
            )
        if not body:
            await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, BodyApp]]:
    app = BodyApp()
    with serve(app) as url:
        yield url, app


SIZES = [0, 1000, DIRECT_MIN - 1, DIRECT_MIN, DIRECT_MIN + 1, 3_000_007, 2 * DIRECT_READ]


@pytest.mark.parametrize("size", SIZES)
def test_sync_bodies_are_exact_and_the_connection_is_reused(
    server: tuple[str, BodyApp], size: int
) -> None:
    url, app = server
    app.ports.clear()
    with httpx.Client() as http:
        for seed in range(3):
            with http.stream("GET", f"{url}/bytes?n={size}&seed={seed}") as response:
                if size >= DIRECT_MIN:
                    direct = _rawbody._direct(response)
                    # The parser is found where httpcore keeps it: the connection can go back.
                    assert direct is not None and direct.parser is not None
                chunks = list(iter_body(response, None, 10.0))
            assert b"".join(chunks) == _payload(size, seed)
    assert len(app.ports) == 3
    assert len(set(app.ports)) == 1, "each request should reuse the first connection"


def check_read_body(http: httpx.Client, url: str, app: BodyApp, size: int) -> None:
    """Three bodies of ``size`` through ``read_body``: exact, read off the socket into one
    buffer when large, and all on the first connection. Shared with the HTTPS tests."""
    app.ports.clear()
    for seed in range(3):
        with http.stream("GET", f"{url}/bytes?n={size}&seed={seed}") as response:
            body = read_body(response, 10.0)
            downloaded = response.num_bytes_downloaded
        assert body == _payload(size, seed)
        if size >= DIRECT_MIN:
            # Read off the socket into a buffer of the body's length, past httpx.
            assert isinstance(body, bytearray) and len(body) == size
            assert downloaded < size
    assert len(set(app.ports)) == 1, "each request should reuse the first connection"


@pytest.mark.parametrize("size", SIZES)
def test_read_body_reads_into_one_buffer_and_reuses_the_connection(
    server: tuple[str, BodyApp], size: int
) -> None:
    url, app = server
    with httpx.Client() as http:
        check_read_body(http, url, app, size)


@pytest.mark.parametrize("size", SIZES)
def test_async_bodies_are_exact_and_the_connection_is_reused(
    server: tuple[str, BodyApp], size: int
) -> None:
    url, app = server
    app.ports.clear()

    async def main() -> list[bytes]:
        bodies = []
        async with httpx.AsyncClient() as http:
            for seed in range(3):
                async with http.stream("GET", f"{url}/bytes?n={size}&seed={seed}") as response:
                    if size >= DIRECT_MIN:
                        direct = _rawbody._direct(response)
                        assert direct is not None and direct.parser is not None
                    bodies.append(b"".join([c async for c in aiter_body(response, None, 10.0)]))
        return bodies

    bodies = asyncio.run(main())
    assert bodies == [_payload(size, seed) for seed in range(3)]
    assert len(set(app.ports)) == 1


def test_read_body_decodes_a_content_coding_through_httpx(server: tuple[str, BodyApp]) -> None:
    url, _ = server
    size = 4 * DIRECT_MIN
    with httpx.Client() as http, http.stream("GET", f"{url}/gzip?n={size}") as response:
        assert _rawbody._direct(response) is None  # the wire bytes are not the body
        assert read_body(response, 10.0) == _payload(size)


def test_aread_body_matches_read_body(server: tuple[str, BodyApp]) -> None:
    url, _ = server

    async def main() -> tuple[bytes, bytes]:
        async with httpx.AsyncClient() as http:
            async with http.stream("GET", f"{url}/bytes?n=2500000") as plain:
                first = await aread_body(plain, 10.0)
            async with http.stream("GET", f"{url}/gzip?n=2500000") as coded:
                second = await aread_body(coded, 10.0)
        return first, second

    first, second = asyncio.run(main())
    assert first == second == _payload(2_500_000)


def test_chunk_size_applies_to_the_httpx_path(server: tuple[str, BodyApp]) -> None:
    url, _ = server
    with httpx.Client() as http, http.stream("GET", f"{url}/bytes?n=5000") as response:
        chunks = list(iter_body(response, 1000, 10.0))
    assert [len(c) for c in chunks] == [1000] * 5


# -- faults -----------------------------------------------------------------------------------


class PartialServer:
    """Answers each connection with a head announcing ``length`` bytes, sends ``sent`` of them,
    then stalls (``then="stall"``), resets (``"reset"``) or closes (``"close"``)."""

    def __init__(self, length: int, sent: int, then: str) -> None:
        self.length, self.sent, self.then = length, sent, then
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}/file"

    def __enter__(self) -> PartialServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {self.length}\r\n\r\n".encode()
            conn.sendall(head + _payload(self.sent))
            if self.then == "stall":
                self._stop.wait(10)
            elif self.then == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            conn.close()


@pytest.mark.parametrize("length", [DIRECT_MIN * 4, CLOSING_MIN + 1])
def test_a_body_cut_short_raises_as_httpx_does(length: int) -> None:
    with PartialServer(length, 300_000, "close") as fault, httpx.Client() as http:
        with http.stream("GET", fault.url) as response, pytest.raises(
            httpx.RemoteProtocolError, match="expected"
        ):
            read_body(response, 5.0)


def test_a_stalled_body_times_out_as_httpx_does() -> None:
    with PartialServer(DIRECT_MIN * 8, 300_000, "stall") as fault, httpx.Client() as http:
        with http.stream("GET", fault.url) as response, pytest.raises(httpx.ReadTimeout):
            read_body(response, 0.3)


def test_a_reset_body_is_a_read_error() -> None:
    with PartialServer(DIRECT_MIN * 8, 300_000, "reset") as fault, httpx.Client() as http:
        with http.stream("GET", fault.url) as response, pytest.raises(httpx.TransportError):
            read_body(response, 5.0)


def test_async_faults_raise_the_same_errors() -> None:
    async def main(url: str, timeout: float) -> None:
        async with httpx.AsyncClient() as http, http.stream("GET", url) as response:
            await aread_body(response, timeout)

    with PartialServer(DIRECT_MIN * 4, 300_000, "close") as fault:
        with pytest.raises(httpx.RemoteProtocolError):
            asyncio.run(main(fault.url, 5.0))
    with PartialServer(DIRECT_MIN * 8, 300_000, "stall") as fault:
        with pytest.raises(httpx.ReadTimeout):
            asyncio.run(main(fault.url, 0.3))


def test_without_the_parser_a_large_body_is_read_directly_and_the_connection_closed(
    server: tuple[str, BodyApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: when httpcore's parser cannot be found, a body of at least CLOSING_MIN is
    still read directly and its connection closed (never reused half-read); smaller bodies go
    through httpx and keep their connection."""
    url, app = server
    monkeypatch.setattr(_rawbody, "_parser", lambda response, stream: None)
    monkeypatch.setattr(_rawbody, "CLOSING_MIN", 1 << 20)
    app.ports.clear()
    with httpx.Client() as http:
        for seed in range(2):
            with http.stream("GET", f"{url}/bytes?n={3 << 20}&seed={seed}") as response:
                assert _rawbody._direct(response) is not None
                assert read_body(response, 10.0) == _payload(3 << 20, seed)
                # Fewer bytes went through httpx than the body holds: the rest came directly.
                assert response.num_bytes_downloaded < 3 << 20
        for _ in range(2):
            with http.stream("GET", f"{url}/bytes?n={1 << 19}") as response:
                assert _rawbody._direct(response) is None
                assert read_body(response, 10.0) == _payload(1 << 19)
    assert len(set(app.ports[:2])) == 2  # a new connection after each direct read
    assert app.ports[2] == app.ports[3]  # through httpx: kept


def test_a_head_reply_has_no_body_to_read(server: tuple[str, BodyApp]) -> None:
    url, _ = server
    with httpx.Client() as http:
        with http.stream("HEAD", f"{url}/bytes?n={CLOSING_MIN + 1}") as response:
            assert int(response.headers["content-length"]) > CLOSING_MIN
            assert _rawbody._direct(response) is None
            assert read_body(response, 1.0) == b""
        with http.stream("GET", f"{url}/bytes?n=300000") as response:  # the connection still works
            assert read_body(response, 5.0) == _payload(300_000)
