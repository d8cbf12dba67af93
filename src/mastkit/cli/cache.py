"""``mastkit cache``: inspect and clear the on-disk result cache."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mastkit.cli.errors import epilog, guarded

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.client import CacheEntry, ResultCache

__all__ = ["cache_app", "clear", "format_age", "info", "list_entries", "register"]

_NOTES = (
    "The cache keeps final query results (tables, name look-ups, column configs), keyed by "
    "server, service and parameters. By default mastkit caches results of the real MAST for a "
    "day; set MASTKIT_CACHE_TTL (e.g. 12h, 7d), MASTKIT_CACHE_SIZE (e.g. 2G), "
    "MASTKIT_CACHE_DIR, or bypass it with mastkit --no-cache."
)

cache_app = typer.Typer(
    name="cache",
    help="Inspect and clear the on-disk cache of query results.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``cache`` command group to ``app``."""
    app.add_typer(cache_app, name="cache")


def format_age(seconds: float) -> str:
    """A short age: ``42 s``, ``5 min``, ``3.5 h``, ``12 d``.

    Examples
    --------
    >>> format_age(42), format_age(300), format_age(12600), format_age(86400 * 12)
    ('42 s', '5 min', '3.5 h', '12 d')
    """
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.0f} d"


def _cache() -> ResultCache:
    from mastkit._settings import Settings
    from mastkit.client import ResultCache

    return ResultCache.from_settings(Settings.from_env())


def _json_flag(ctx: typer.Context) -> bool:
    from mastkit.cli._context import get_state

    return get_state(ctx).options.json


def _ttl_text(ttl: float | None) -> str:
    return "never expires" if ttl is None else f"{format_age(ttl)} ({ttl:,.0f} s)"


_EPILOG_INFO = epilog(["mastkit cache info", "mastkit --json cache info"], _NOTES)


@cache_app.command("info", epilog=_EPILOG_INFO)
@guarded
def info(ctx: typer.Context) -> None:
    """Where the cache is, how many entries and bytes it holds, its bound and TTL."""
    from mastkit._settings import Settings
    from mastkit.cli.render import Output, format_bytes

    settings = Settings.from_env()
    summary = _cache().info()
    default = {True: "on", False: "off", None: "on for the real MAST only"}[settings.cache]
    out = Output(json_output=_json_flag(ctx))
    if out.mode == "json":
        out.document(
            {
                "directory": str(summary.directory),
                "entries": summary.entries,
                "bytes": summary.size,
                "max_bytes": summary.max_bytes,
                "ttl_seconds": summary.ttl,
                "expired": summary.expired,
                "caching": default,
                "offline": settings.offline,
            }
        )
        return
    out.lines(
        [
            f"location   {summary.directory}",
            f"entries    {summary.entries:,} ({summary.expired:,} expired)",
            f"size       {format_bytes(summary.size)} of {format_bytes(summary.max_bytes)}",
            f"ttl        {_ttl_text(summary.ttl)}",
            f"caching    {default}",
            f"offline    {'yes' if settings.offline else 'no'}",
        ]
    )


def _params_text(entry: CacheEntry) -> str:
    return json.dumps(entry.params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _terminal_rows(entries: list[CacheEntry], now: float) -> dict[str, list[Any]]:
    return {
        "kind": [e.kind for e in entries],
        "service": [e.service for e in entries],
        "params": [_params_text(e) for e in entries],
        "rows": [e.rows for e in entries],
        "size": [e.size for e in entries],
        "age": [format_age(now - e.created) + (" (expired)" if e.expired else "") for e in entries],
        "last_used": [format_age(now - e.last_access) for e in entries],
    }


def _full_rows(entries: list[CacheEntry]) -> dict[str, list[Any]]:
    """Every field, exact, for pipes and ``--json``."""
    return {
        "key": [e.digest for e in entries],
        "kind": [e.kind for e in entries],
        "server": [e.server for e in entries],
        "service": [e.service for e in entries],
        "params": [_params_text(e) for e in entries],
        "rows": [e.rows for e in entries],
        "bytes": [e.size for e in entries],
        "created": [e.created for e in entries],
        "last_access": [e.last_access for e in entries],
        "expired": [e.expired for e in entries],
        "authenticated": [e.authenticated for e in entries],
    }


_EPILOG_LIST = epilog(
    [
        "mastkit cache list",
        "mastkit cache list --service Mast.Caom.Cone",
        "mastkit --json cache list",
    ],
    "Entries are listed most recently used first; ages count from when an entry was written. "
    "Piped or with --json, every field is given exactly (times as POSIX seconds).",
)


@cache_app.command("list", epilog=_EPILOG_LIST)
@guarded
def list_entries(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Option("--service", metavar="NAME", help="Only entries of this service."),
    ] = None,
) -> None:
    """List the cached answers: service, parameters, rows, size, age."""
    import pyarrow as pa

    from mastkit.cli.render import Output, counted, format_bytes

    entries = _cache().entries()
    if service is not None:
        entries = [e for e in entries if e.service.lower() == service.lower()]
    out = Output(json_output=_json_flag(ctx))
    columns = _full_rows(entries) if out.mode != "table" else _terminal_rows(entries, time.time())
    table = pa.table(
        {name: values if values else pa.array([], pa.string()) for name, values in columns.items()}
    )
    out.table(
        table,
        title=counted(len(entries), "cached answers"),
        formatters={"size": format_bytes},
        every_column=True,
    )


_EPILOG_CLEAR = epilog(
    [
        "mastkit cache clear",
        "mastkit cache clear --older-than 7d",
        "mastkit cache clear --expired",
    ],
    "Only the result cache is cleared; the local archive under the same directory is kept.",
)


@cache_app.command("clear", epilog=_EPILOG_CLEAR)
@guarded
def clear(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Only entries written more than AGE ago: 3600, 30m, 12h, 7d, 2w.",
        ),
    ] = None,
    expired: Annotated[bool, typer.Option("--expired", help="Only entries past the TTL.")] = False,
) -> None:
    """Delete cached answers (all of them, or only old or expired ones)."""
    from mastkit._settings import parse_duration
    from mastkit.cli.render import Output, counted, format_bytes

    seconds = parse_duration(older_than, what="--older-than") if older_than else None
    cache = _cache()
    before = cache.info()
    removed = cache.clear(older_than=seconds, expired=expired)
    freed = before.size - cache.info().size
    out = Output(json_output=_json_flag(ctx))
    if out.mode == "json":
        out.document({"removed": removed, "bytes": freed, "directory": str(cache.directory)})
        return
    out.lines(
        [
            f"removed {counted(removed, 'cached answers')} "
            f"({format_bytes(freed)}) from {cache.directory}"
        ]
    )
