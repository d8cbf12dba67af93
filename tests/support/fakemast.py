"""Small real servers that behave like MAST, or misbehave on purpose, for client tests.

``ScriptedMast`` is an ASGI app (used in-process through ``httpx.ASGITransport`` and over a real
socket through uvicorn) that serves the real replies in ``tests/fixtures`` paged exactly as MAST
pages them, records every request it receives, and plays a script of faults first.
``RawFaultServer`` is a bare TCP server for faults HTTP frameworks will not produce: connection
resets, stalls and bodies cut short.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mastkit.protocol import MashupRequest, Paging, decode_request, encode_envelope, encode_error
from mastkit.protocol.envelopes import Field

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_rows(name: str) -> tuple[list[Field], list[dict[str, Any]]]:
    """Fields and rows of a real MAST json reply."""
    obj = json.loads((FIXTURES / name).read_text())
    fields = [Field(f["name"], f["type"]) for f in obj["fields"]]
    return fields, obj["data"]


@dataclass
class Fault:
    """One scripted reply: an HTTP status, headers and body, or EXECUTING."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


EXECUTING = Fault(body=encode_envelope(status="EXECUTING", data_raw=b"[]"))


@dataclass
class ScriptedMast:
    """A MAST-like ASGI app serving fixture tables with MAST's paging.

    Attributes
    ----------
    script : list of Fault
        Replies played, in order, before normal service (one per invoke request).
    bodies : list of bytes
        Raw bodies of every invoke request received.
    headers : list of dict
        Request headers of every request received, any route.
    """

    table: str = "caom.json"
    script: list[Fault] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    requests: list[MashupRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    mutate: Callable[[MashupRequest, list[dict[str, Any]]], list[dict[str, Any]]] | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v0/invoke", self.invoke, methods=["GET", "POST"]),
                Route("/portal/Mashup/Mashup.asmx/columnsconfig", self.columns, methods=["POST"]),
                Route("/echo", self.echo, methods=["GET", "POST"]),
            ]
        )

    async def echo(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        return JSONResponse({"host": request.url.hostname})

    async def columns(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        body = (await request.body()).decode()
        if body == "colConfigId=Mast.Caom.Cone":
            return Response((FIXTURES / "columnsconfig.json").read_bytes())
        return Response(b"{}")

    async def invoke(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        body = await request.body() if request.method == "POST" else request.url.query.encode()
        self.bodies.append(body)
        mreq = decode_request(body)
        self.requests.append(mreq)
        if self.script:
            fault = self.script.pop(0)
            return Response(fault.body, status_code=fault.status, headers=fault.headers)
        if mreq.service == "Mast.Name.Lookup":
            return Response((FIXTURES / "resolver.json").read_bytes())
        if mreq.service not in ("Mast.Caom.Cone", "Mast.Caom.Filtered"):
            return Response(
                encode_error(f"Mashup: Unable to Find Service Adaptor for service: {mreq.service}")
            )
        fields, rows = fixture_rows(self.table)
        if self.mutate is not None:
            rows = self.mutate(mreq, rows)
        return Response(page_body(fields, rows, mreq.page, mreq.pagesize))


def page_body(
    fields: list[Field], rows: list[dict[str, Any]], page: int | None, pagesize: int | None
) -> bytes:
    """A json reply holding one page of ``rows``, paging computed as MAST does."""
    total = len(rows)
    if total == 0:
        return encode_envelope(status="COMPLETE", fields=fields, data_raw=b"[]", paging=Paging())
    size = pagesize or total
    number = page or 1
    chunk = rows[(number - 1) * size : number * size]
    paging = Paging(number, size, math.ceil(total / size), len(chunk), total, total)
    return encode_envelope(
        status="COMPLETE", fields=fields, data_raw=json.dumps(chunk).encode(), paging=paging
    )


class RawFaultServer:
    """A TCP server on loopback that answers each connection with the next scripted behaviour.

    Behaviours: ``"reset"`` (read the request, then abort the connection with RST),
    ``"stall"`` (read the request, then say nothing until closed), ``("truncate", body)`` (send a
    Content-Length for ``body`` but only half of it, then close), or raw bytes (sent as is).
    After the script runs out, every connection gets ``default``.
    """

    def __init__(self, script: list[Any], default: bytes) -> None:
        self.script = list(script)
        self.default = default
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._open: list[socket.socket] = []

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()
        return f"http://{host}:{port}"

    def __enter__(self) -> RawFaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._open:
            try:
                conn.close()
            except OSError:
                pass
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            behaviour = self.script.pop(0) if self.script else self.default
            threading.Thread(target=self._handle, args=(conn, behaviour), daemon=True).start()

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            rest += chunk

    def _handle(self, conn: socket.socket, behaviour: Any) -> None:
        try:
            self._read_request(conn)
            if behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            if behaviour == "stall":
                self._open.append(conn)
                while not self._stop.is_set():
                    time.sleep(0.05)
                return
            if isinstance(behaviour, tuple) and behaviour[0] == "truncate":
                body = behaviour[1]
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode() + body[: len(body) // 2])
                conn.close()
                return
            conn.sendall(behaviour)
            conn.close()
        except OSError:
            pass


def http_reply(body: bytes, status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response with ``Connection: close``."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
