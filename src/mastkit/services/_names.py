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
:class:`~mastkit.errors.MastError` that says why not. A name SANTA could not speak for (its
batch failed, the server has no SANTA, or the reply's entries do not say which name they
answer) is left out: the single-name path (``Mast.Name.Lookup``) then resolves it, so SANTA
is a faster route, never a different answer.

The on-disk result cache. When the client has one (on by default for the real MAST), each
name's answer is kept there *as the ``Mast.Name.Lookup`` reply of that name*: under the key
``client.invoke("Mast.Name.Lookup", {"input": name, "format": "json"})`` uses
(:func:`mastkit.client._caching.reply_key`), holding that name's SANTA entries as its
``resolvedCoordinate``. So a name resolved by a batch and later by ``resolve`` (or the other
way round, or by a later batch) reads one entry, and both routes compute the answer from it
with the same code: the :class:`Resolution` is identical. A batch first reads every name from
the cache (no request for what it holds), sends only the missing ones to SANTA, and stores
each answer. Entries are per spelling (``"M101"`` and ``"m101"`` are two keys, as for single
look-ups); a batch reads any spelling of a name it holds and stores under each one it was given.

Negative answers ("no resolver knows this name", "no TIC entry for this TIC id") are cached
too, for the cache's TTL like any answer (default one day): the single-name path has always
cached them (the reply of an unknown name is an ordinary reply), resolver catalogues change
far more slowly than that, and not caching them would make a batch with a typo in it ask SANTA
again every time. ``refresh``-style invalidation is ``mastkit cache clear``. What is *not* an
answer is never cached: a failed or malformed SANTA request, or a name the reply does not speak
for; those names go through the (cached) single-name path instead.

Offline, a batch answers from the cache only (expired entries included, as everywhere offline):
a name it lacks fails on its own with a :class:`~mastkit.errors.CacheMissError` naming it,
reported like any per-name failure, and nothing is sent.

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from mastkit.client._caching import reply_key
from mastkit.errors import CacheMissError, MastError, ResolverError
from mastkit.protocol import MashupResponse
from mastkit.protocol.codec import decode_response
from mastkit.protocol.services import NAME_LOOKUP
from mastkit.services._plan import Session
from mastkit.services.resolver import (
    Resolution,
    _cache_key,
    _clean,
    lookup_params,
    pick_entry,
    reply_entries,
    resolution_from_entry,
)

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from mastkit._settings import Settings
    from mastkit.client import AsyncClient, Client
    from mastkit.client.cache import ResultCache

__all__ = [
    "REAL_RESOLVER",
    "SANTA_BATCH",
    "SANTA_PATH",
    "Outcome",
    "lookup_reply",
    "outcome_of",
    "prefetch_async",
    "prefetch_sync",
    "read_groups",
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


Entries = list[Mapping[str, Any]]


def read_groups(names: list[str], payload: Any) -> dict[str, Entries]:
    """Each name's entries in a SANTA reply, for the names the reply speaks for.

    A name with no entry is included (with ``[]``: no resolver knows it) only when every
    entry of the reply says which name it answers; otherwise it is left out.

    Examples
    --------
    >>> reply = {"resolvedCoordinate": [{"searchString": "m101", "ra": 1, "decl": 2}]}
    >>> read_groups(["M101", "nothing"], reply)
    {'M101': [{'searchString': 'm101', 'ra': 1, 'decl': 2}], 'nothing': []}
    """
    entries = payload.get("resolvedCoordinate") if isinstance(payload, Mapping) else None
    if not isinstance(entries, list):
        return {}
    wanted = {n.lower(): n for n in names}
    groups: dict[str, Entries] = {}
    strangers = False
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        key = str(entry.get("searchString", "")).strip().lower()
        if key in wanted:
            groups.setdefault(key, []).append(entry)
        else:
            strangers = True
    found: dict[str, Entries] = {}
    for key, name in wanted.items():
        group = groups.get(key)
        if group is None and strangers:
            continue  # the reply names its entries some other way: ask the single-name path
        found[name] = group or []
    return found


def outcome_of(name: str, entries: Entries) -> Outcome:
    """A name's outcome from its entries, by the rule of the single-name path."""
    try:
        return resolution_from_entry(name, pick_entry(name, entries))
    except ResolverError as exc:
        return exc


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
    return {name: outcome_of(name, group) for name, group in read_groups(names, payload).items()}


def lookup_reply(entries: Entries) -> MashupResponse:
    """The ``Mast.Name.Lookup`` reply holding ``entries``, decoded as the client decodes one."""
    body = orjson.dumps({"resolvedCoordinate": list(entries), "status": ""})
    return decode_response(body, "json")


@dataclass
class _Work:
    """One prefetch: what the cache answered, and what SANTA is asked."""

    #: First spelling of a name -> outcome (from the disk cache, or an offline miss).
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: First spelling -> every spelling of it in the input (for storing).
    spellings: dict[str, list[str]] = field(default_factory=dict)
    #: The names for SANTA, :data:`SANTA_BATCH` a request.
    batches: list[list[str]] = field(default_factory=list)


def _pending(session: Session, names: Iterable[Any]) -> dict[str, list[str]]:
    """Names not in the session's cache: first spelling -> its distinct spellings.

    Unusable names (not strings, empty) are left to the plans, which report them.
    """
    todo: dict[str, list[str]] = {}
    for name in names:
        try:
            cleaned = _clean(name)
        except MastError:
            continue
        key = _cache_key(cleaned)
        if session.names.get(key) is not None:
            continue
        spellings = todo.setdefault(key[1], [])
        if cleaned not in spellings:
            spellings.append(cleaned)
    return {spellings[0]: spellings for spellings in todo.values()}


def _from_disk(
    client: Client | AsyncClient, cache: ResultCache, spellings: list[str]
) -> MashupResponse | None:
    for spelling in spellings:
        entry = reply_key(client.settings, NAME_LOOKUP, lookup_params(spelling))
        value = cache.get(entry, stale_ok=client.offline)
        if isinstance(value, MashupResponse):
            return value
    return None


def _offline_miss(name: str, cache: ResultCache, missing: list[str]) -> CacheMissError:
    others = len(missing) - 1
    also = f" (nor are {others} other name(s) of this batch)" if others else ""
    return CacheMissError(
        f"Offline mode: the name {name!r} is not in the cache at {cache.directory}{also}. "
        "Resolve it once online to cache it.",
        service=NAME_LOOKUP,
    )


def _prepare(client: Client | AsyncClient, session: Session, names: Iterable[Any]) -> _Work:
    """Read the disk cache (if any) for the pending names; batch the rest for SANTA."""
    work = _Work(spellings=_pending(session, names))
    cache = client.cache
    missing: list[str] = []
    for name, spellings in work.spellings.items():
        hit = _from_disk(client, cache, spellings) if cache is not None else None
        if hit is None:
            missing.append(name)
        else:
            work.outcomes[name] = outcome_of(name, reply_entries(hit))
    if work.outcomes:
        logger.info("answered %d name(s) from the cache", len(work.outcomes))
    if client.offline and cache is not None:
        if missing:
            logger.info("offline: %d name(s) not in the cache: %s", len(missing), missing[:10])
        for name in missing:
            work.outcomes[name] = _offline_miss(name, cache, missing)
    else:
        work.batches = _batches(missing)
    return work


def _finish(
    client: Client | AsyncClient, session: Session, work: _Work, parts: list[dict[str, Entries]]
) -> dict[tuple[str, ...], Outcome]:
    """Store SANTA's answers in the disk cache, and every outcome in the session."""
    cache = None if client.offline else client.cache
    for part in parts:
        for name, group in part.items():
            work.outcomes[name] = outcome_of(name, group)
            if cache is not None:
                reply = lookup_reply(group)
                for spelling in work.spellings.get(name, [name]):
                    entry = reply_key(client.settings, NAME_LOOKUP, lookup_params(spelling))
                    cache.put(entry, reply)
    outcomes: dict[tuple[str, ...], Outcome] = {}
    for name, outcome in work.outcomes.items():
        key = _cache_key(name)
        outcomes[key] = outcome
        if isinstance(outcome, Resolution):
            session.names[key] = outcome
    return outcomes


def _batches(names: list[str]) -> list[list[str]]:
    return [names[i : i + SANTA_BATCH] for i in range(0, len(names), SANTA_BATCH)]


def _decode(batch: list[str], response: httpx.Response) -> dict[str, Entries]:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        logger.info(
            "SANTA sent a reply that is not JSON; resolving its %d names one by one", len(batch)
        )
        return {}
    return read_groups(batch, payload)


def prefetch_sync(
    client: Client, session: Session, names: Iterable[Any], concurrency: int | None = None
) -> dict[tuple[str, ...], Outcome]:
    """Resolve ``names`` from the cache and through SANTA on a synchronous client.

    See the module docstring.

    Returns
    -------
    dict
        Name key (as the session's cache keys names) -> outcome, for the names the cache or
        SANTA answered (offline: every usable name, a miss as :class:`CacheMissError`).
    """
    work = _prepare(client, session, names)
    if not work.batches:
        return _finish(client, session, work, [])
    url = resolver_url(client.settings)

    def one(batch: list[str]) -> dict[str, Entries]:
        try:
            response = client.request("GET", url, params=santa_params(batch), headers=_HEADERS)
        except MastError as exc:
            logger.info(
                "SANTA failed for %d names (%s); resolving them one by one", len(batch), exc
            )
            return {}
        return _decode(batch, response)

    workers = max(1, min(concurrency or session.concurrency, len(work.batches)))
    if workers == 1:
        parts = [one(b) for b in work.batches]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(one, work.batches))
    logger.info("resolved names in %d SANTA request(s)", len(work.batches))
    return _finish(client, session, work, parts)


async def prefetch_async(
    client: AsyncClient, session: Session, names: Iterable[Any], concurrency: int | None = None
) -> dict[tuple[str, ...], Outcome]:
    """Resolve ``names`` from the cache and through SANTA on an asynchronous client.

    See :func:`prefetch_sync`; the cache's disk I/O runs in a worker thread.
    """
    given = list(names)
    disk = client.cache is not None
    if disk:
        work = await asyncio.to_thread(_prepare, client, session, given)
    else:
        work = _prepare(client, session, given)
    if not work.batches:
        return _finish(client, session, work, [])
    url = resolver_url(client.settings)
    gate = asyncio.Semaphore(max(1, concurrency or session.concurrency))

    async def one(batch: list[str]) -> dict[str, Entries]:
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

    parts = list(await asyncio.gather(*(one(b) for b in work.batches)))
    logger.info("resolved names in %d SANTA request(s)", len(work.batches))
    if disk:
        return await asyncio.to_thread(_finish, client, session, work, parts)
    return _finish(client, session, work, parts)
