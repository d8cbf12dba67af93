"""``mastkit serve``: run the local MAST server, or answer one request without a socket.

``--fault SPEC`` (repeatable) makes the server misbehave on purpose, for testing clients, e.g.
``--fault service=Mast.Caom.Cone:kind=503:times=2`` or
``--fault 'path=/api/v0.1/Download/*:kind=truncate:p=0.2'``; the spec syntax is described in
:mod:`mastkit.server.fault_injection`. Faults in ``MASTKIT_SERVER_FAULTS`` are added after those
given on the command line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["fetch_in_process", "register", "serve"]


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command("serve")(serve)


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
    archive: Annotated[
        Path | None,
        typer.Option("--archive", help="Archive file (default: the one in the cache directory)."),
    ] = None,
    get: Annotated[
        str | None,
        typer.Option(
            "--get",
            metavar="PATH",
            help="Answer this one GET (e.g. '/api/v0/invoke?request=...') in-process, print the "
            "body and exit.",
        ),
    ] = None,
    row_limit: Annotated[int, typer.Option(help="Largest result a query may have.")] = 500_000,
    limit_error: Annotated[
        bool,
        typer.Option(
            help="Answer an ERROR past the row limit instead of resetting the connection."
        ),
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="SPEC",
            help="Inject a fault, e.g. 'service=Mast.Caom.Cone:kind=503:times=2' (repeatable). "
            "Keys: kind (reset, 500, 502, 503, 504, 429, slow, truncate, executing, drop, lost), "
            "service, path, probability, times, every, retry_after, delay, fraction.",
        ),
    ] = None,
    fault_seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the faults' random draws (default: MASTKIT_SERVER_FAULT_SEED or 0)."
        ),
    ] = None,
) -> None:
    """Run the local MAST-compatible server under uvicorn."""
    from mastkit.server.app import ServerSettings, create_app
    from mastkit.server.local import open_archive

    plan = _fault_plan(fault or [], fault_seed)
    settings = ServerSettings(row_limit=row_limit, reset_over_limit=not limit_error, faults=plan)
    if get is not None:
        db = open_archive(archive)
        try:
            status, body = fetch_in_process(create_app(db, settings), get)
        finally:
            _close(db)
        sys.stdout.buffer.write(body)
        if body and not body.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        if status >= 400:
            typer.echo(f"HTTP {status}", err=True)
            raise typer.Exit(1)
        return
    import uvicorn

    from mastkit.server.faults import ResettingHTTPProtocol
    from mastkit.server.local import KEEP_ALIVE_SECONDS

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: serving on {host}, reachable from other machines", err=True)
    db = open_archive(archive)
    typer.echo(f"mastkit local MAST server on http://{host}:{port} (Ctrl+C to stop)", err=True)
    for spec in plan.specs():
        typer.echo(f"injecting fault {spec}", err=True)
    from mastkit.server.memory import keep_large_buffers

    keep_large_buffers()
    try:
        uvicorn.run(
            create_app(db, settings),
            host=host,
            port=port,
            http=ResettingHTTPProtocol,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        _close(db)


def _fault_plan(specs: list[str], seed: int | None) -> Any:
    """The fault plan of ``--fault`` options and the environment (a usage error if malformed)."""
    from mastkit.server.fault_injection import FaultPlan, FaultSpecError

    try:
        env = FaultPlan.from_env()
        plan = FaultPlan.parse(specs, seed=env.seed if seed is None else seed)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fault") from None
    return FaultPlan(rules=plan.rules + env.rules, seed=plan.seed)


def _close(db: Any) -> None:
    close = getattr(db, "close", None)
    if callable(close):
        close()


def fetch_in_process(app: Any, target: str) -> tuple[int, bytes]:
    """GET ``target`` (a path with query) from ``app`` over ``httpx.ASGITransport``.

    Returns
    -------
    (int, bytes)
        The HTTP status and body. A connection reset (a result over the row limit) is reported
        as status 502 with an explanatory body.
    """
    import httpx

    if not target.startswith("/"):
        target = "/" + target

    async def fetch() -> tuple[int, bytes]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mastkit.local"
        ) as client:
            try:
                response = await client.get(target)
            except ConnectionResetError as exc:
                return 502, f"connection reset: {exc}".encode()
            return response.status_code, response.content

    return asyncio.run(fetch())
