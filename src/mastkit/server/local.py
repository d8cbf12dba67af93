"""``LocalArchive``: the local MAST server, running in this process for the length of a block.

::

    from mastkit.server import LocalArchive

    with LocalArchive() as url:          # e.g. "http://127.0.0.1:53817"
        ...                              # point any MAST client at url

The archive is built on first use (under ``MASTKIT_CACHE_DIR``, else the platform's user cache
directory) and reused afterwards. The server is uvicorn on a background thread, bound to a free
loopback port chosen by the kernel (the socket is bound before uvicorn starts, so there is no
race for the port).

Idle keep-alive connections are held for :data:`KEEP_ALIVE_SECONDS`, longer than clients keep
theirs (httpx: 5 s). When both sides use the same idle limit, the server can close a connection
just as the client sends a request on it, and the client sees a ``ReadError`` or "server
disconnected" for a request the server never read; a server that outlasts its clients leaves
the closing to them, which is race-free.

Without explicit settings, :class:`LocalArchive` injects the faults named in
``MASTKIT_SERVER_FAULTS`` (see :mod:`mastkit.server.fault_injection`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from mastkit.server.app import ServerSettings, create_app
from mastkit.server.fault_injection import FaultPlan
from mastkit.server.faults import ResettingHTTPProtocol

__all__ = ["KEEP_ALIVE_SECONDS", "BackgroundServer", "LocalArchive", "open_archive"]

_START_TIMEOUT = 60.0
#: Seconds an idle keep-alive connection is held open (see the module documentation).
KEEP_ALIVE_SECONDS = 30


def open_archive(
    path: str | Path | None = None, *, observations: int | None = None, seed: int | None = None
) -> Any:
    """Open the archive at ``path``, or the default one, building it first if needed.

    An existing archive is reused unless ``observations`` or ``seed`` are given and differ
    from the ones it was built with (see :func:`mastkit.server.archive.ensure_archive`).

    Returns
    -------
    mastkit.server.archive.Archive
    """
    from mastkit.server import archive as archive_module

    built = archive_module.ensure_archive(
        Path(path) if path is not None else None, observations=observations, seed=seed
    )
    return archive_module.Archive.open(built)


class BackgroundServer:
    """Serve an ASGI app with uvicorn on a background thread, on a free loopback port.

    Parameters
    ----------
    app : ASGI app
        What to serve (``create_app(...)``).
    host : str
        Interface to bind; loopback unless told otherwise.
    port : int
        Port; 0 lets the kernel choose a free one.
    keep_alive : float
        Seconds an idle connection is kept open (longer than clients keep theirs).
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: int = KEEP_ALIVE_SECONDS,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.keep_alive = keep_alive
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> str:
        """Start serving and return the base URL once the server accepts connections."""
        import uvicorn

        from mastkit.server.memory import keep_large_buffers

        if self._thread is not None:
            return self.url
        keep_large_buffers()  # pages of tens of MB reuse freed memory (see its module)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=ResettingHTTPProtocol,
            log_config=None,  # a library must not reconfigure the host program's logging
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=self.keep_alive,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"mastkit-server-{port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self._thread.join(timeout=1)
                self._thread = None
                raise RuntimeError(f"the local MAST server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local MAST server did not start within a minute")
            time.sleep(0.01)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        return self.url

    def _run(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # reported to start(); a thread has nowhere else to raise
            self._error = exc
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self.url = ""


class LocalArchive:
    """The local MAST server in a background thread, as a context manager.

    Parameters
    ----------
    path : str or Path, optional
        The archive file; by default the one under the cache directory.
    observations : int, optional
        Size of the synthetic archive, if it has to be built.
    seed : int, optional
        Seed of the synthetic archive. None reuses whatever archive exists (a new one gets
        seed 0); a value rebuilds an archive built with another seed.
    settings : ServerSettings, optional
        Server settings (limits, timeouts, faults); by default the defaults, with the faults of
        ``MASTKIT_SERVER_FAULTS`` if set.
    archive : Archive, optional
        An archive already open (``path``, ``observations`` and ``seed`` are then unused, and
        the archive is left open on exit).

    Attributes
    ----------
    url : str
        Base URL of the running server (``http://127.0.0.1:<port>``), once started.
    app : starlette.applications.Starlette
        The ASGI app being served.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        observations: int | None = None,
        seed: int | None = None,
        settings: ServerSettings | None = None,
        archive: Any = None,
    ) -> None:
        self.path = path
        self.observations = observations
        self.seed = seed
        self.settings = settings or ServerSettings(faults=FaultPlan.from_env())
        self.archive = archive
        self._owns_archive = archive is None
        self.app: Any = None
        self._server: BackgroundServer | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server (empty when stopped)."""
        return self._server.url if self._server is not None else ""

    def start(self) -> str:
        """Open (building if needed) the archive, start serving, and return the base URL."""
        if self._server is not None:
            return self.url
        if self.archive is None:
            self.archive = open_archive(self.path, observations=self.observations, seed=self.seed)
        self.app = create_app(self.archive, self.settings)
        server = BackgroundServer(self.app)
        try:
            server.start()
        except BaseException:
            self._close_archive()
            raise
        self._server = server
        return self.url

    def stop(self) -> None:
        """Stop serving, wait for the server thread, and close the archive if opened here."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._close_archive()

    def _close_archive(self) -> None:
        if self._owns_archive and self.archive is not None:
            close = getattr(self.archive, "close", None)
            if callable(close):
                close()
            self.archive = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LocalArchive {self.url or 'stopped'}>"
