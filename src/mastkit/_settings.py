"""Settings: one frozen dataclass, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "https://mast.stsci.edu"
DEFAULT_TIMEOUT = 600.0
DEFAULT_PAGESIZE = 50_000


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
        if env.get("MASTKIT_CACHE_DIR"):
            values["cache_dir"] = Path(env["MASTKIT_CACHE_DIR"]).expanduser()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)
