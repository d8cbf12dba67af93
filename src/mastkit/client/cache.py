"""The persistent result cache: final query results on disk, with a TTL and a size bound.

What is cached is the *final* answer of a call (every page of a query as one table, a polled
reply, a columns config), never a raw ``EXECUTING`` poll, so MAST's long polling and the cache
do not interfere. Tables are stored as Arrow IPC streams with their provenance (service, params,
paging), so a cached :class:`~mastkit.tables.ResultTable` is indistinguishable from a fresh one.

Entries are files under one directory (by default ``<cache_dir>/queries``), written atomically
and checked on every read (see :mod:`mastkit.client._cache_store`): a damaged entry is deleted
and treated as a miss, never returned. Failures of the cache itself (a read-only or full disk)
are logged and never fail a query.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from mastkit._settings import DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_TTL, Settings
from mastkit.client._cache_keys import CacheKey, Kind
from mastkit.client._cache_store import (
    ENTRY_SUFFIX,
    TEMP_PREFIX,
    CorruptEntry,
    read_entry,
    read_header,
    write_entry,
)
from mastkit.errors import BadInputError
from mastkit.protocol import Field, MashupResponse, Paging
from mastkit.tables import ResultTable

__all__ = ["CacheEntry", "CacheInfo", "CacheStats", "ResultCache"]

logger = logging.getLogger("mastkit.cache")

FORMAT_VERSION = 1
#: A temporary file this old belongs to a writer that died; it is removed on the next scan.
_STALE_TEMP = 3600.0

CachedValue = ResultTable | MashupResponse | dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One entry, as listed by :meth:`ResultCache.entries`.

    Attributes
    ----------
    digest : str
        The key (64 hex digits).
    kind : str
        ``table`` (a whole query), ``page``, ``reply`` (a raw reply) or ``columnsconfig``.
    server, service : str
        Where the answer came from.
    request : dict
        The canonical request (params, format, ...), without the token.
    authenticated : bool
        Whether the answer was fetched with a token.
    created, last_access : float
        POSIX times of the write and of the last hit.
    size : int
        Bytes on disk.
    rows : int or None
        Rows of a table entry.
    expired : bool
        Older than the cache's TTL (still used by offline mode).
    """

    digest: str
    kind: str
    server: str
    service: str
    request: dict[str, Any]
    authenticated: bool
    created: float
    last_access: float
    size: int
    rows: int | None
    expired: bool

    @property
    def params(self) -> dict[str, Any]:
        """The service parameters (the config id for a columns config)."""
        params = self.request.get("params")
        if isinstance(params, dict):
            return params
        return {k: v for k, v in self.request.items() if k not in ("service", "format")}


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """A summary of a cache, from :meth:`ResultCache.info`."""

    directory: Path
    entries: int
    size: int
    max_bytes: int
    ttl: float | None
    expired: int


@dataclass(slots=True)
class CacheStats:
    """What one :class:`ResultCache` object did since it was made (not persisted)."""

    hits: int = 0
    misses: int = 0
    stores: int = 0
    dropped: int = 0
    evicted: int = 0


class ResultCache:
    """A persistent on-disk cache of final query results.

    Parameters
    ----------
    directory : path
        Where entries live. Created on the first write; nothing else should be stored there
        (:meth:`clear` deletes every entry file in it).
    ttl : float or None
        Seconds an entry stays valid; None keeps entries until evicted or cleared.
        Default one day.
    max_bytes : int
        Size bound: after each write, the least recently used entries are evicted until the
        cache fits. An answer larger than this is not cached. Default 1 GB.
    clock : callable
        Returns the current POSIX time (tests pass a fake one).

    Examples
    --------
    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp(), ttl=3600, max_bytes=10_000_000)
    >>> cache.info().entries
    0
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        ttl: float | None = DEFAULT_CACHE_TTL,
        max_bytes: int = DEFAULT_CACHE_MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl is not None and not ttl > 0:
            raise BadInputError(f"The cache TTL must be > 0 seconds or None, not {ttl!r}.")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise BadInputError(f"max_bytes must be a positive integer, not {max_bytes!r}.")
        self._directory = Path(directory).expanduser()
        self._ttl = ttl
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self.stats = CacheStats()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ResultCache:
        """The default cache: ``<cache_dir>/queries`` with the settings' TTL and size bound."""
        s = settings if settings is not None else Settings.from_env()
        return cls(s.cache_dir / "queries", ttl=s.cache_ttl, max_bytes=s.cache_max_bytes)

    @property
    def directory(self) -> Path:
        """The directory holding the entries."""
        return self._directory

    @property
    def ttl(self) -> float | None:
        """Seconds an entry stays valid (None: no expiry)."""
        return self._ttl

    @property
    def max_bytes(self) -> int:
        """The size bound in bytes."""
        return self._max_bytes

    def __repr__(self) -> str:
        return (
            f"ResultCache({str(self._directory)!r}, ttl={self._ttl!r}, "
            f"max_bytes={self._max_bytes!r})"
        )

    def _path(self, digest: str) -> Path:
        return self._directory / f"{digest}{ENTRY_SUFFIX}"

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + n)

    def _expired(self, created: float) -> bool:
        return self._ttl is not None and self._clock() - created > self._ttl

    def _drop(self, path: Path, reason: str) -> None:
        logger.warning("dropping the damaged cache entry %s: %s", path.name, reason)
        self._count("dropped")
        path.unlink(missing_ok=True)

    # -- reading --------------------------------------------------------------------------------

    def get(self, key: CacheKey, *, stale_ok: bool = False) -> CachedValue | None:
        """The cached answer for ``key``, or None.

        An expired entry is a miss (and is deleted) unless ``stale_ok`` (offline mode); a
        damaged one is deleted and is a miss. A hit counts as an access for the LRU order.
        """
        path = self._path(key.digest)
        try:
            header, payload = read_entry(path)
            value = self._rebuild(key, header, payload)
        except FileNotFoundError:
            self._count("misses")
            return None
        except CorruptEntry as exc:
            self._drop(path, str(exc))
            self._count("misses")
            return None
        except OSError as exc:
            logger.warning("cannot read the cache entry %s: %s", path, exc)
            self._count("misses")
            return None
        if self._expired(float(header["created"])) and not stale_ok:
            logger.debug("cache entry expired: %s", key.describe())
            path.unlink(missing_ok=True)
            self._count("misses")
            return None
        self._touch(path)
        self._count("hits")
        logger.debug("cache hit: %s", key.describe())
        return value

    def _touch(self, path: Path) -> None:
        # atime is the last access (LRU order); mtime stays the time of the write. Failing
        # (evicted meanwhile, a read-only cache) costs only the LRU order: the hit counts.
        with contextlib.suppress(OSError):
            os.utime(path, (self._clock(), path.stat().st_mtime))

    def _rebuild(self, key: CacheKey, header: dict[str, Any], payload: bytes) -> CachedValue:
        """Turn a checked entry back into the value that was stored."""
        try:
            if header.get("format_version") != FORMAT_VERSION:
                raise CorruptEntry(f"format version {header.get('format_version')!r}")
            if header.get("digest") != key.digest or header.get("kind") != key.kind.value:
                raise CorruptEntry("the entry belongs to another key")
            if header.get("request") != _json_roundtrip(key.request):
                raise CorruptEntry("the entry was stored for another request")
            kind = Kind(header["kind"])
            if kind in (Kind.TABLE, Kind.PAGE):
                return _table_from(header["result"], payload)
            if kind is Kind.REPLY:
                return _reply_from(header["reply"], payload)
            config = json.loads(payload.decode("utf-8"))
            if not isinstance(config, dict):
                raise CorruptEntry("a columns config entry is not an object")
            return config
        except CorruptEntry:
            raise
        except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            raise CorruptEntry(f"unreadable content: {type(exc).__name__}: {exc}") from None

    # -- writing --------------------------------------------------------------------------------

    def put(self, key: CacheKey, value: CachedValue) -> bool:
        """Store ``value`` under ``key``; return whether it was stored.

        Values larger than ``max_bytes`` are not stored; errors of the disk are logged, not
        raised. After a write the cache is brought back under its size bound.
        """
        try:
            header, payload = _encode(key, value)
        except (TypeError, ValueError, pa.ArrowException) as exc:
            logger.info("not caching %s: %s", key.describe(), exc)
            return False
        if len(payload) >= self._max_bytes:
            logger.info(
                "not caching %s: %d bytes exceed the cache's bound", key.describe(), len(payload)
            )
            return False
        now = self._clock()
        header.update(
            format_version=FORMAT_VERSION,
            digest=key.digest,
            kind=key.kind.value,
            created=now,
            server=key.server,
            service=key.service,
            request=key.request,
            authenticated=key.authenticated,
        )
        path = self._path(key.digest)
        try:
            write_entry(path, header, payload)
            os.utime(path, (now, now))
        except (OSError, TypeError, ValueError) as exc:
            logger.warning("could not write the cache entry for %s: %s", key.describe(), exc)
            return False
        self._count("stores")
        self.evict(keep=path)
        return True

    # -- size bound -----------------------------------------------------------------------------

    def _scan(self) -> Iterator[tuple[Path, os.stat_result]]:
        try:
            children = list(self._directory.iterdir())
        except FileNotFoundError:
            return
        now = time.time()
        for path in children:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.name.startswith(TEMP_PREFIX):
                if now - stat.st_mtime > _STALE_TEMP:
                    path.unlink(missing_ok=True)
                continue
            if path.suffix == ENTRY_SUFFIX:
                yield path, stat

    def evict(self, *, keep: Path | None = None) -> int:
        """Delete least recently used entries until the cache fits ``max_bytes``.

        Returns how many entries were deleted.
        """
        entries = list(self._scan())
        total = sum(stat.st_size for _, stat in entries)
        if total <= self._max_bytes:
            return 0
        entries.sort(key=lambda item: (item[0] == keep, item[1].st_atime))
        evicted = 0
        for path, stat in entries:
            if total <= self._max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= stat.st_size
            evicted += 1
        self._count("evicted", evicted)
        logger.debug("evicted %d cache entries", evicted)
        return evicted

    # -- inspection and clean-up ----------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every intact entry, most recently used first (damaged ones are deleted)."""
        found = []
        for path, stat in self._scan():
            try:
                header, size = read_header(path)
                entry = CacheEntry(
                    digest=str(header["digest"]),
                    kind=str(header["kind"]),
                    server=str(header["server"]),
                    service=str(header["service"]),
                    request=dict(header["request"]),
                    authenticated=bool(header["authenticated"]),
                    created=float(header["created"]),
                    last_access=stat.st_atime,
                    size=size,
                    rows=header.get("rows"),
                    expired=self._expired(float(header["created"])),
                )
            except FileNotFoundError:
                continue
            except CorruptEntry as exc:
                self._drop(path, str(exc))
                continue
            except (KeyError, TypeError, ValueError) as exc:
                self._drop(path, f"incomplete header: {exc}")
                continue
            found.append(entry)
        found.sort(key=lambda e: e.last_access, reverse=True)
        return found

    def info(self) -> CacheInfo:
        """Location, entry count, bytes used, bound, TTL and how many entries are expired."""
        listed = self.entries()
        return CacheInfo(
            directory=self._directory,
            entries=len(listed),
            size=sum(e.size for e in listed),
            max_bytes=self._max_bytes,
            ttl=self._ttl,
            expired=sum(e.expired for e in listed),
        )

    def clear(self, *, older_than: float | None = None, expired: bool = False) -> int:
        """Delete entries and return how many were deleted.

        Parameters
        ----------
        older_than : float, optional
            Only entries written more than this many seconds ago.
        expired : bool
            Only entries past the TTL.
        """
        if older_than is not None and not older_than >= 0:
            raise BadInputError(f"older_than must be >= 0 seconds, not {older_than!r}.")
        if older_than is None and not expired:
            removed = 0
            for path, _ in self._scan():
                path.unlink(missing_ok=True)
                removed += 1
            return removed
        now = self._clock()
        removed = 0
        for entry in self.entries():
            if older_than is not None and now - entry.created <= older_than:
                continue
            if expired and not entry.expired:
                continue
            self._path(entry.digest).unlink(missing_ok=True)
            removed += 1
        return removed

    def remove(self, digest: str) -> bool:
        """Delete one entry by its digest; return whether it existed."""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BadInputError(f"Not a cache key: {digest!r} (64 lowercase hex digits).")
        path = self._path(digest)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def verify(self) -> int:
        """Read every entry in full, delete the damaged ones, and return how many there were."""
        dropped = 0
        for path, _ in self._scan():
            try:
                read_entry(path)
            except FileNotFoundError:
                continue
            except CorruptEntry as exc:
                self._drop(path, str(exc))
                dropped += 1
        return dropped


# -- values <-> entries -----------------------------------------------------------------------


def _json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))


def _encode(key: CacheKey, value: CachedValue) -> tuple[dict[str, Any], bytes | memoryview]:
    if key.kind in (Kind.TABLE, Kind.PAGE):
        if not isinstance(value, ResultTable):
            raise TypeError(f"a {key.kind.value} entry holds a ResultTable")
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.arrow.schema) as writer:
            writer.write_table(value.arrow)
        result = {
            "service": value.service,
            "params": value.params,
            "paging": value.paging.to_json() if value.paging is not None else None,
            "pages": value.pages,
            "truncated": value.truncated,
            "metadata": value.metadata,
        }
        return {"rows": len(value), "result": result}, memoryview(sink.getvalue())
    if key.kind is Kind.REPLY:
        if not isinstance(value, MashupResponse):
            raise TypeError("a reply entry holds a MashupResponse")
        reply = {
            "status": value.status,
            "msg": value.msg,
            "fields": [[f.name, f.type] for f in value.fields],
            "paging": value.paging.to_json() if value.paging is not None else None,
            "format": value.format,
            "extra": dict(value.extra),
            "data_raw": len(value.data_raw),
        }
        return {"reply": reply}, value.data_raw + value.body
    if not isinstance(value, Mapping):
        raise TypeError("a columns config entry holds a mapping")
    return {}, json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _paging(obj: Any) -> Paging | None:
    if obj is None:
        return None
    return Paging(
        page=int(obj["page"]),
        page_size=int(obj["pageSize"]),
        pages_filtered=int(obj["pagesFiltered"]),
        rows=int(obj["rows"]),
        rows_filtered=int(obj["rowsFiltered"]),
        rows_total=int(obj["rowsTotal"]),
    )


def _table_from(result: dict[str, Any], payload: bytes) -> ResultTable:
    table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
    return ResultTable(
        table,
        service=result["service"],
        params=result["params"],
        paging=_paging(result["paging"]),
        pages=int(result["pages"]),
        truncated=bool(result["truncated"]),
        metadata=result["metadata"],
    )


def _reply_from(reply: dict[str, Any], payload: bytes) -> MashupResponse:
    split = int(reply["data_raw"])
    if not 0 <= split <= len(payload):
        raise ValueError("reply data length out of range")
    return MashupResponse(
        status=str(reply["status"]),
        msg=str(reply["msg"]),
        fields=tuple(Field(str(name), str(kind)) for name, kind in reply["fields"]),
        paging=_paging(reply["paging"]),
        data_raw=payload[:split],
        format=str(reply["format"]),
        extra=dict(reply["extra"]),
        body=payload[split:],
    )
