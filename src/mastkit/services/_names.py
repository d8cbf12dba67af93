"""Many names resolved in few requests, through MAST's SANTA resolver (mast-protocol.md 1.4).

``Mast.Name.Lookup`` answers one name per request. The resolver behind it, SANTA
(``GET <resolver>/Santa-war/query?name=n1&name=n2...&outputFormat=json&resolveAll=true``),
answers many: :func:`prefetch_sync` / :func:`prefetch_async` send the names of a batch
:data:`SANTA_BATCH` at a time (as astroquery does), several batches at once, and pick each
name's entry with the very rule of the single-name path (:func:`~mastkit.services.resolver.
pick_entry`, on the entries whose ``searchString`` is that name). ``resolveAll=true`` makes the
reply hold every resolver's entries, as ``Mast.Name.Lookup`` does, so catalogue identifiers are
matched exactly the same way.

Outcomes go into the session's name cache (successes) and come back as a mapping from the name
key to a :class:`~mastkit.services.resolver.Resolution` or the
:class:`~mastkit.errors.ResolverError` that says why not. A name SANTA could not speak for (its
batch failed, the server has no SANTA, or the reply's entries do not say which name they
answer) is left out: the single-name path (``Mast.Name.Lookup``) then resolves it, so SANTA
is a faster route, never a different answer.

A client with the on-disk result cache on (or offline) skips SANTA: its names go through
``Mast.Name.Lookup``, whose answers the cache keeps (and offline mode answers from), one by one.

Where SANTA lives (:func:`resolver_url`): ``Settings.resolver`` when set
(``MASTKIT_RESOLVER``); for the real MAST, its resolver host; for any other server (the local
one), the server itself. The client's token is confined to the MAST host (see
:class:`~mastkit.client.auth.MastToken`), so it never reaches a resolver elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from mastkit.errors import MastError, ResolverError
from mastkit.services._plan import Session
from mastkit.services.resolver import (
    Resolution,
    _cache_key,
    _clean,
    pick_entry,
    resolution_from_entry,
)

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from mastkit._settings import Settings
    from mastkit.client import AsyncClient, Client

__all__ = [
    "REAL_RESOLVER",
    "SANTA_BATCH",
    "SANTA_PATH",
    "Outcome",
    "prefetch_async",
    "prefetch_sync",
    "read_reply",
    "resolver_url",
    "santa_params",
]

logger = logging.getLogger("mastkit.services")

#: Names per SANTA request (astroquery's batch; it keeps URLs short).
SANTA_BATCH = 30
SANTA_PATH = "/Santa-war/query"
#: MAST's resolver, on its own host.
REAL_RESOLVER = "https://mastresolver.stsci.edu" + SANTA_PATH
_REAL_HOSTS = frozenset({"mast.stsci.edu"})
#: A resolved name, or why it cannot be.
Outcome = Resolution | MastError
_HEADERS = {"Accept": "application/json"}


def resolver_url(settings: Settings) -> str:
    """The SANTA query URL for ``settings`` (see the module docstring).

    Examples
    --------
    >>> from mastkit._settings import Settings
    >>> resolver_url(Settings(server="https://mast.stsci.edu"))
    'https://mastresolver.stsci.edu/Santa-war/query'
    >>> resolver_url(Settings(server="http://127.0.0.1:8765/"))
    'http://127.0.0.1:8765/Santa-war/query'
    """
    explicit = settings.resolver
    if explicit:
        text = str(explicit).rstrip("/")
        return text if text.endswith(SANTA_PATH) else text + SANTA_PATH
    if (urlsplit(settings.server).hostname or "").lower() in _REAL_HOSTS:
        return REAL_RESOLVER
    return settings.server.rstrip("/") + SANTA_PATH


def santa_params(names: Iterable[str]) -> list[tuple[str, str]]:
    """The query string of one SANTA request.

    Examples
    --------
    >>> santa_params(["M101", "HIP 1"])
    [('name', 'M101'), ('name', 'HIP 1'), ('outputFormat', 'json'), ('resolveAll', 'true')]
    """
    return [*(("name", n) for n in names), ("outputFormat", "json"), ("resolveAll", "true")]


def read_reply(names: list[str], payload: Any) -> dict[str, Outcome]:
    """Each name's outcome from a SANTA reply (names SANTA cannot be trusted on left out).

    Parameters
    ----------
    names : list of str
        The cleaned names sent.
    payload : Any
        The decoded reply: ``{"resolvedCoordinate": [entry, ...], "status": ""}``.

    Examples
    --------
    >>> reply = {"resolvedCoordinate": [{"searchString": "m101", "canonicalName": "M 101",
    ...          "ra": 210.8, "decl": 54.3, "resolver": "NED"}], "status": ""}
    >>> found = read_reply(["M101", "nothing"], reply)
    >>> found["M101"].canonical_name, type(found["nothing"]).__name__
    ('M 101', 'ResolverError')
    """
    entries = payload.get("resolvedCoordinate") if isinstance(payload, Mapping) else None
    if not isinstance(entries, list):
        return {}
    wanted = {n.lower(): n for n in names}
    groups: dict[str, list[Mapping[str, Any]]] = {}
    strangers = False
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        key = str(entry.get("searchString", "")).strip().lower()
        if key in wanted:
            groups.setdefault(key, []).append(entry)
        else:
            strangers = True
    found: dict[str, Outcome] = {}
    for key, name in wanted.items():
        group = groups.get(key)
        if group is None and strangers:
            continue  # the reply names its entries some other way: ask the single-name path
        try:
            found[name] = resolution_from_entry(name, pick_entry(name, group or []))
        except ResolverError as exc:
            found[name] = exc
    return found


def _pending(session: Session, names: Iterable[Any]) -> list[str]:
    """Distinct cleaned names not in the session's cache (unusable names left to the plans)."""
    todo: dict[str, str] = {}
    for name in names:
        try:
            cleaned = _clean(name)
        except MastError:
            continue
        key = _cache_key(cleaned)
        if key[1] not in todo and session.names.get(key) is None:
            todo[key[1]] = cleaned
    return list(todo.values())


def _uses_santa(client: Client | AsyncClient) -> bool:
    """Whether names go to SANTA: not when results are cached (SANTA replies are not)."""
    return client.cache is None and not client.offline


def _batches(names: list[str]) -> list[list[str]]:
    return [names[i : i + SANTA_BATCH] for i in range(0, len(names), SANTA_BATCH)]


def _decode(batch: list[str], response: httpx.Response) -> dict[str, Outcome]:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        logger.info(
            "SANTA sent a reply that is not JSON; resolving its %d names one by one", len(batch)
        )
        return {}
    return read_reply(batch, payload)


def _collect(session: Session, parts: list[dict[str, Outcome]]) -> dict[tuple[str, ...], Outcome]:
    outcomes: dict[tuple[str, ...], Outcome] = {}
    for part in parts:
        for name, outcome in part.items():
            key = _cache_key(name)
            outcomes[key] = outcome
            if isinstance(outcome, Resolution):
                session.names[key] = outcome
    return outcomes


def prefetch_sync(
    client: Client, session: Session, names: Iterable[Any], concurrency: int | None = None
) -> dict[tuple[str, ...], Outcome]:
    """Resolve ``names`` through SANTA on a synchronous client (see the module docstring).

    Returns
    -------
    dict
        Name key (as the session's cache keys names) -> outcome, for the names SANTA answered.
    """
    batches = _batches(_pending(session, names)) if _uses_santa(client) else []
    if not batches:
        return {}
    url = resolver_url(client.settings)

    def one(batch: list[str]) -> dict[str, Outcome]:
        try:
            response = client.request("GET", url, params=santa_params(batch), headers=_HEADERS)
        except MastError as exc:
            logger.info(
                "SANTA failed for %d names (%s); resolving them one by one", len(batch), exc
            )
            return {}
        return _decode(batch, response)

    workers = max(1, min(concurrency or session.concurrency, len(batches)))
    if workers == 1:
        parts = [one(b) for b in batches]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(one, batches))
    logger.info("resolved names in %d SANTA request(s)", len(batches))
    return _collect(session, parts)


async def prefetch_async(
    client: AsyncClient, session: Session, names: Iterable[Any], concurrency: int | None = None
) -> dict[tuple[str, ...], Outcome]:
    """Resolve ``names`` through SANTA on an asynchronous client; see :func:`prefetch_sync`."""
    batches = _batches(_pending(session, names)) if _uses_santa(client) else []
    if not batches:
        return {}
    url = resolver_url(client.settings)
    gate = asyncio.Semaphore(max(1, concurrency or session.concurrency))

    async def one(batch: list[str]) -> dict[str, Outcome]:
        async with gate:
            try:
                response = await client.request(
                    "GET", url, params=santa_params(batch), headers=_HEADERS
                )
            except MastError as exc:
                logger.info(
                    "SANTA failed for %d names (%s); resolving them one by one", len(batch), exc
                )
                return {}
        return _decode(batch, response)

    parts = list(await asyncio.gather(*(one(b) for b in batches)))
    logger.info("resolved names in %d SANTA request(s)", len(batches))
    return _collect(session, parts)
