"""A threaded loopback HTTP file server that misbehaves on cue (real sockets, real faults).

It serves ``/api/v0.1/Download/file?uri=<uri>`` for the files it holds, with single ranges
(206) and the checksum headers of the local server. Each request takes the next behaviour of
``script`` (then ``"ok"``):

``"ok"``; ``"reset"`` (headers and half the body, then RST); ``"truncate"`` (full
Content-Length, half the body, clean close); ``"wrong"`` (right length and checksum header, wrong
bytes); ``("status", code, retry_after)``; ``"stall"`` (headers and a few bytes, then silence);
``"die"`` (half the body, then the whole server stops listening).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import socketserver
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FaultServer:
    def __init__(
        self, files: dict[str, bytes], script: list[Any] | None = None, port: int = 0
    ) -> None:
        self.files = files
        self.script = list(script or [])
        self.requests: list[dict[str, str]] = []
        self.died = threading.Event()
        self._stop = threading.Event()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            target = head[0].split(" ")[1]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in head[1:])
            }
            headers["target"] = target
            self.requests.append(headers)
            behaviour = self.script.pop(0) if self.script else "ok"
            self._respond(conn, target, headers, behaviour)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _respond(
        self, conn: socket.socket, target: str, headers: dict[str, str], behaviour: Any
    ) -> None:
        if isinstance(behaviour, tuple) and behaviour[0] == "status":
            _, code, retry_after = behaviour
            extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
            conn.sendall(
                f"HTTP/1.1 {code} Busy\r\nContent-Length: 4\r\n{extra}"
                "Connection: close\r\n\r\nbusy".encode()
            )
            return
        uri = parse_qs(urlsplit(target).query).get("uri", [""])[0]
        body = self.files.get(uri)
        if body is None:
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        digest = hashlib.sha256(body).digest()
        start = 0
        status = "200 OK"
        extra = ""
        rng = headers.get("range", "")
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(body):
                conn.sendall(
                    f"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */"
                    f"{len(body)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
                )
                return
            status = "206 Partial Content"
            extra = f"Content-Range: bytes {start}-{len(body) - 1}/{len(body)}\r\n"
        payload = body[start:]
        if behaviour == "wrong":
            payload = bytes(b ^ 0xFF for b in payload)
        conn.sendall(
            (
                f"HTTP/1.1 {status}\r\nContent-Length: {len(payload)}\r\nAccept-Ranges: bytes\r\n"
                f"Digest: sha-256={base64.b64encode(digest).decode()}\r\n"
                f"X-Checksum-Sha256: {digest.hex()}\r\n{extra}Connection: close\r\n\r\n"
            ).encode()
        )
        half = payload[: len(payload) // 2]
        if behaviour == "reset":
            conn.sendall(half)
            time.sleep(0.05)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if behaviour == "truncate":
            conn.sendall(half)
            return
        if behaviour == "stall":
            conn.sendall(half)
            while not self._stop.wait(0.05):
                pass
            return
        if behaviour == "die":
            conn.sendall(half)
            time.sleep(0.05)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.died.set()
            threading.Thread(target=self.stop, daemon=True).start()
            return
        conn.sendall(payload)
