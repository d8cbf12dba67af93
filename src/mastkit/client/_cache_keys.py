"""Cache keys: what makes two requests the same question.

A key is the SHA-256 of a canonical text built from the protocol's own wire form of the request
(:func:`mastkit.protocol.codec.request_to_wire`), so the cache agrees with the server about what
a request *is*. Per-request noise is left out: the cachebreaker (fresh for every query), the
server-side poll hold time, the server-cache directives, and, for an auto-paged result, the page
and page size (every paging of a query gives the same rows). Parameters are written with sorted
keys, so ``{"ra": 1, "dec": 2}`` and ``{"dec": 2, "ra": 1}`` are one key. The server URL is part
of the key; the token is not written anywhere, but whether one was used, and a salted digest of
it, are (an authenticated user may see rows an anonymous one does not).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mastkit.errors import BadInputError
from mastkit.protocol import MashupRequest
from mastkit.protocol.codec import request_to_wire

__all__ = ["CacheKey", "Kind", "columns_config_key", "request_key"]

#: Bumped when the key material changes, so old entries simply stop matching.
KEY_VERSION = 1

#: Wire keys that never change the answer.
_NOISE = frozenset({"cacheBreaker", "cachebreaker", "timeout", "clearcache", "removecache"})
#: Further wire keys that do not change an auto-paged result.
_PAGING = frozenset({"page", "pagesize"})


class Kind(StrEnum):
    """What a cache entry holds."""

    #: Every page of a query, as one table (``Client.query`` without ``page``).
    TABLE = "table"
    #: One page of a query, as a table (``Client.query(page=N)``).
    PAGE = "page"
    #: A raw reply (``Client.invoke``: name look-ups, non-table services).
    REPLY = "reply"
    #: A portal columns config (``Client.columns_config``).
    COLUMNS_CONFIG = "columnsconfig"


@dataclass(frozen=True, slots=True)
class CacheKey:
    """A cache key and the readable description stored beside the entry.

    Attributes
    ----------
    digest : str
        64 hex digits; the entry's file name.
    kind : Kind
        What the entry holds.
    server : str
        Base URL of the server that answered.
    service : str
        The service name (or ``columnsconfig``).
    request : dict
        The canonical request the digest was computed from (no token in it).
    authenticated : bool
        Whether a token was used.
    """

    digest: str
    kind: Kind
    server: str
    service: str
    request: dict[str, Any]
    authenticated: bool

    def describe(self) -> str:
        """``Mast.Caom.Cone {"dec":54.3,"ra":210.8} @ https://mast.stsci.edu``."""
        params = self.request.get("params", self.request.get("config_id", ""))
        shown = _canonical(params) if isinstance(params, dict) else str(params)
        return f"{self.service} {shown} @ {self.server}"


def _canonical(value: Any) -> str:
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"The request cannot be written as JSON: {exc}") from exc


def _token_part(token: str | None) -> str:
    if not token:
        return ""
    # Salted so the digest of a token is not a reusable identifier outside the cache.
    return hashlib.sha256(b"mastkit-cache-token\0" + token.encode("utf-8")).hexdigest()


def _key(
    kind: Kind, server: str, service: str, material: dict[str, Any], token: str | None
) -> CacheKey:
    text = _canonical({"v": KEY_VERSION, "kind": kind.value, "server": server, "request": material})
    digest = hashlib.sha256((text + "\0" + _token_part(token)).encode("utf-8")).hexdigest()
    return CacheKey(
        digest=digest,
        kind=kind,
        server=server,
        service=service,
        request=material,
        authenticated=bool(token),
    )


def request_key(server: str, request: MashupRequest, kind: Kind, token: str | None) -> CacheKey:
    """The key of ``request`` sent to ``server``.

    Parameters
    ----------
    server : str
        Base URL (the client's, already normalised).
    request : MashupRequest
        The request as built by the client.
    kind : Kind
        ``TABLE`` ignores page and page size; ``PAGE`` and ``REPLY`` keep them.
    token : str or None
        The API token, if any (only a salted digest of it enters the key).

    Raises
    ------
    BadInputError
        If the request cannot be encoded as JSON (the same request could not be sent either).
    """
    wire = request_to_wire(request)
    drop = _NOISE | _PAGING if kind is Kind.TABLE else _NOISE
    material = {k: v for k, v in wire.items() if k not in drop}
    return _key(kind, server, request.service, material, token)


def columns_config_key(server: str, config_id: str, token: str | None) -> CacheKey:
    """The key of the columns config ``config_id`` on ``server``."""
    return _key(Kind.COLUMNS_CONFIG, server, "columnsconfig", {"config_id": config_id}, token)
