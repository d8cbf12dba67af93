"""How a client uses its :class:`~mastkit.client.cache.ResultCache`: one policy, two drivers.

:class:`Caching` decides, per call, whether the cache is read and written (per-call
``cache=False`` and ``refresh=True``, the server-cache directives, offline mode), computes the
key, and turns an offline miss into a :class:`~mastkit.errors.CacheMissError` that names the
request. It performs only disk I/O; the async client runs it in a worker thread.

Offline mode is enforced twice: every cached call is answered from the cache or fails before a
request is built, and the HTTP client of an offline client gets a transport that refuses to
send anything (so plain requests and downloads cannot reach the network either).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from mastkit._settings import DEFAULT_SERVER, Settings
from mastkit.client._cache_keys import CacheKey, Kind, columns_config_key, request_key
from mastkit.client.cache import CachedValue, ResultCache
from mastkit.errors import BadInputError, CacheMissError
from mastkit.protocol import MashupRequest

__all__ = [
    "AsyncOfflineTransport",
    "Caching",
    "CallCache",
    "OfflineTransport",
    "options_with_guard",
    "reply_key",
]

logger = logging.getLogger("mastkit.cache")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CallCache:
    """What one call does with the cache."""

    key: CacheKey
    read: bool
    write: bool
    request: MashupRequest | None = None


def _refuse(request: httpx.Request) -> CacheMissError:
    return CacheMissError(
        f"Offline mode: {request.method} {request.url} would need the network. "
        "Only answers already in the cache are available offline."
    )


class OfflineTransport(httpx.BaseTransport):
    """A transport that never sends: every request raises :class:`CacheMissError`."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise _refuse(request)


class AsyncOfflineTransport(httpx.AsyncBaseTransport):
    """The async :class:`OfflineTransport`."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise _refuse(request)


class Caching:
    """A client's cache policy.

    Parameters
    ----------
    cache : ResultCache, bool or None
        A cache; True for the default one (``<cache_dir>/queries``); False for none; None to
        follow ``settings.cache``, whose own default (None) means on for the real MAST only.
    settings : Settings
        The client's effective settings (server, token, offline, cache location and bounds).
    """

    def __init__(self, cache: ResultCache | bool | None, settings: Settings) -> None:
        self.offline = settings.offline
        self.server = settings.server
        self._token = settings.token
        self.cache: ResultCache | None
        if isinstance(cache, ResultCache):
            self.cache = cache
        elif cache is None or isinstance(cache, bool):
            if cache is None:
                enabled = settings.cache
                if enabled is None:
                    # The real MAST is slow and far away: caching pays. Another server is local
                    # or a test peer, whose answers change as its archive is rebuilt.
                    enabled = self.offline or settings.server == DEFAULT_SERVER.rstrip("/")
            else:
                enabled = cache
            self.cache = ResultCache.from_settings(settings) if enabled else None
        else:
            raise BadInputError(
                f"cache must be a ResultCache, True, False or None, not {type(cache).__name__}."
            )
        if self.offline and self.cache is None:
            raise BadInputError(
                "Offline mode answers from the cache, so it cannot be used with the cache "
                "turned off (cache=False, MASTKIT_CACHE=0 or MASTKIT_NO_CACHE)."
            )

    def __repr__(self) -> str:
        return f"Caching(cache={self.cache!r}, offline={self.offline})"

    # -- per-call decisions -----------------------------------------------------------------

    def _decide(
        self, key: CacheKey | None, request: MashupRequest | None, *, use: bool, refresh: bool
    ) -> CallCache | None:
        if self.offline:
            if not use or refresh or key is None:
                why = "refresh=True" if refresh else "cache=False" if not use else "this request"
                raise BadInputError(
                    f"Offline mode answers only from the cache; {why} would need the network"
                    + (f" ({key.describe()})." if key is not None else ".")
                )
            return CallCache(key, read=True, write=False, request=request)
        if self.cache is None or not use or key is None:
            return None
        return CallCache(key, read=not refresh, write=True, request=request)

    def for_request(
        self,
        request: MashupRequest,
        kind: Kind,
        *,
        use: bool = True,
        refresh: bool = False,
    ) -> CallCache | None:
        """The cache plan of a query or invoke call (None: the cache is not involved)."""
        if not isinstance(use, bool) or not isinstance(refresh, bool):
            raise BadInputError("cache= and refresh= take True or False.")
        if self.cache is None:
            return None
        if request.filename is not None:
            # Saving a result server-side is a side effect that a cached answer would skip.
            key = None
        else:
            key = request_key(self.server, request, kind, self._token)
            refresh = refresh or bool(request.clearcache) or bool(request.removecache)
        return self._decide(key, request, use=use, refresh=refresh)

    def for_columns_config(self, config_id: str) -> CallCache | None:
        """The cache plan of a columns config look-up."""
        if self.cache is None:
            return None
        key = columns_config_key(self.server, config_id, self._token)
        return self._decide(key, None, use=True, refresh=False)

    def check_online(self, method: str, url: str) -> None:
        """Refuse a plain HTTP request in offline mode, naming it."""
        if self.offline:
            raise CacheMissError(
                f"Offline mode: {method.upper()} {url} is not a cached query and would need "
                "the network."
            )

    # -- disk -------------------------------------------------------------------------------

    def lookup(self, call: CallCache | None, expected: type[V]) -> V | None:
        """The cached answer, None on a miss; offline, a miss raises :class:`CacheMissError`."""
        if call is None or not call.read or self.cache is None:
            return None
        value = self.cache.get(call.key, stale_ok=self.offline)
        if not isinstance(value, expected):  # the key's kind fixes the type; this is for mypy
            value = None
        if value is None and self.offline:
            raise CacheMissError(
                f"Offline mode: {call.key.describe()} is not in the cache at "
                f"{self.cache.directory}. Run it once online to cache it.",
                service=call.key.service,
                request=call.request,
            )
        if value is not None:
            logger.info("answered from the cache: %s", call.key.describe())
        return value

    def store(self, call: CallCache | None, value: CachedValue) -> None:
        """Store a fresh answer (errors of the disk are logged by the cache, never raised)."""
        if call is None or not call.write or self.cache is None:
            return
        self.cache.put(call.key, value)


def reply_key(
    settings: Settings, service: str, params: Mapping[str, Any], *, format: str = "json"
) -> CacheKey:
    """The key under which ``client.invoke(service, params, format=format)`` keeps its reply.

    For callers that fill or read a client's cache with replies obtained another way (the batch
    name resolver stores each name's answer as the ``Mast.Name.Lookup`` reply it stands for), so
    both routes share one entry. ``settings`` are the client's (``client.settings``): the server
    and the token enter the key exactly as in :meth:`Caching.for_request`.
    """
    request = MashupRequest(service, dict(params), format=format)
    return request_key(settings.server, request, Kind.REPLY, settings.token)


def options_with_guard(options: Mapping[str, Any], *, offline: bool, sync: bool) -> dict[str, Any]:
    """httpx client options, with the refusing transport when offline."""
    merged = dict(options)
    if offline:
        merged["transport"] = OfflineTransport() if sync else AsyncOfflineTransport()
    return merged
