"""Settings: one frozen dataclass, read from the environment in one place."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mastkit.errors import BadInputError

DEFAULT_SERVER = "https://mast.stsci.edu"
DEFAULT_TIMEOUT = 600.0
DEFAULT_PAGESIZE = 50_000
#: Results cached on disk expire after a day by default: MAST adds data continually (TESS
#: sectors arrive monthly), so a result must not be trusted for ever.
DEFAULT_CACHE_TTL = 86_400.0
DEFAULT_CACHE_MAX_BYTES = 1_000_000_000

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds from ``"90"``, ``"90s"``, ``"30m"``, ``"12h"``, ``"7d"`` or ``"2w"``.

    Raises
    ------
    BadInputError
        For anything else, or a value that is not > 0.

    Examples
    --------
    >>> parse_duration("12h"), parse_duration("90")
    (43200.0, 90.0)
    """
    cleaned = text.strip().lower()
    unit = cleaned[-1:] if cleaned[-1:] in _DURATION_UNITS else "s"
    number = cleaned[:-1] if cleaned[-1:] in _DURATION_UNITS else cleaned
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise BadInputError(
            f"{what} must be a positive duration such as 3600, 30m, 12h or 7d, not {text!r}."
        )
    return seconds


def parse_size(text: str, *, what: str = "size") -> int:
    """Bytes from ``"1000000"``, ``"500M"``/``"500MB"`` (decimal) or ``"2GiB"`` (binary).

    Raises
    ------
    BadInputError
        For anything else, or a value that is not > 0.

    Examples
    --------
    >>> parse_size("500M"), parse_size("2GB"), parse_size("1GiB"), parse_size("4096")
    (500000000, 2000000000, 1073741824, 4096)
    """
    cleaned = text.strip().lower().removesuffix("b")
    binary = cleaned.endswith("i")
    cleaned = cleaned.removesuffix("i")
    unit = cleaned[-1:] if cleaned[-1:].isalpha() else ""
    number = cleaned[: len(cleaned) - len(unit)]
    try:
        scale = _SIZE_UNITS[unit] if binary and unit else 1000 ** "_kmgt".index(unit or "_")
        size = float(number) * scale
    except (KeyError, ValueError):
        size = math.nan
    if not math.isfinite(size) or size < 1:
        raise BadInputError(f"{what} must be a positive size such as 500M or 2G, not {text!r}.")
    return int(size)


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    """A boolean environment variable: None when unset."""
    value = env.get(name)
    if value is None:
        return None
    cleaned = value.strip().lower()
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    raise BadInputError(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}.")


def _default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("mastkit", appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    """Client-side settings.

    Attributes
    ----------
    server : str
        Base URL of the MAST server (``MASTKIT_SERVER``).
    token : str or None
        MAST API token (``MAST_API_TOKEN``, then ``MAST_TOKEN``). Never shown in reprs.
    timeout : float
        Overall deadline of one call in seconds (``MASTKIT_TIMEOUT``).
    connect_timeout, read_timeout : float
        Socket timeouts in seconds.
    pagesize : int
        Rows per page when auto-paging (``MASTKIT_PAGESIZE``).
    max_retries : int
        Retries of transient failures per request.
    concurrency : int
        Requests in flight at once for pages and batches.
    cache_dir : pathlib.Path
        Root of mastkit's on-disk cache and local archive (``MASTKIT_CACHE_DIR``).
    cache : bool or None
        Whether clients keep query results in the on-disk cache (``MASTKIT_CACHE=1|0``;
        ``MASTKIT_NO_CACHE=1`` turns it off whatever else says). None, the default, means on
        for the real MAST and off for other servers (see docs/cache.md).
    cache_ttl : float or None
        Seconds a cached result stays valid (``MASTKIT_CACHE_TTL``: ``3600``, ``30m``, ``12h``,
        ``7d``, or ``never``); default one day.
    cache_max_bytes : int
        Size bound of the result cache; the least recently used entries go first
        (``MASTKIT_CACHE_SIZE``: ``500M``, ``2G``, ``2GiB``...); default 1 GB.
    offline : bool
        Answer only from the cache and never touch the network (``MASTKIT_OFFLINE=1``).
    resolver : str or None
        Base URL (or full ``.../Santa-war/query`` URL) of the SANTA name resolver that batch
        name resolution uses (``MASTKIT_RESOLVER``). None, the default, means MAST's resolver
        host for the real MAST and the server itself for any other server. The token is never
        sent to it unless it is the server's own host.
    """

    server: str = DEFAULT_SERVER
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    pagesize: int = DEFAULT_PAGESIZE
    max_retries: int = 5
    concurrency: int = 4
    cache_dir: Path = field(default_factory=_default_cache_dir)
    cache: bool | None = None
    cache_ttl: float | None = DEFAULT_CACHE_TTL
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES
    offline: bool = False
    resolver: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, then apply non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("MASTKIT_SERVER"):
            values["server"] = env["MASTKIT_SERVER"]
        token = env.get("MAST_API_TOKEN") or env.get("MAST_TOKEN")
        if token:
            values["token"] = token
        if env.get("MASTKIT_TIMEOUT"):
            values["timeout"] = float(env["MASTKIT_TIMEOUT"])
        if env.get("MASTKIT_PAGESIZE"):
            values["pagesize"] = int(env["MASTKIT_PAGESIZE"])
        if env.get("MASTKIT_RESOLVER"):
            values["resolver"] = env["MASTKIT_RESOLVER"]
        if env.get("MASTKIT_CACHE_DIR"):
            values["cache_dir"] = Path(env["MASTKIT_CACHE_DIR"]).expanduser()
        values.update(_cache_values(env))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


def _cache_values(env: Mapping[str, str]) -> dict[str, Any]:
    """The cache settings of the environment (only those that are set)."""
    values: dict[str, Any] = {}
    cache = _flag(env, "MASTKIT_CACHE")
    if _flag(env, "MASTKIT_NO_CACHE"):
        cache = False
    if cache is not None:
        values["cache"] = cache
    ttl = env.get("MASTKIT_CACHE_TTL")
    if ttl:
        never = ttl.strip().lower() in {"never", "none", "inf", "infinite"}
        values["cache_ttl"] = None if never else parse_duration(ttl, what="MASTKIT_CACHE_TTL")
    if env.get("MASTKIT_CACHE_SIZE"):
        values["cache_max_bytes"] = parse_size(env["MASTKIT_CACHE_SIZE"], what="MASTKIT_CACHE_SIZE")
    offline = _flag(env, "MASTKIT_OFFLINE")
    if offline is not None:
        values["offline"] = offline
    return values
