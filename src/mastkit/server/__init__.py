"""The local MAST-compatible server: an ASGI app over a DuckDB archive.

::

    from mastkit.server import LocalArchive

    with LocalArchive() as url:       # builds the archive on first use, serves on loopback
        ...                           # point any MAST client (mastkit, astroquery) at url

Public names are loaded on first use, so importing :mod:`mastkit.server` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mastkit.server.app import ServerSettings, create_app
    from mastkit.server.archive import Archive, build_archive, default_archive_path, ensure_archive
    from mastkit.server.local import BackgroundServer, LocalArchive

__all__ = [
    "Archive",
    "BackgroundServer",
    "LocalArchive",
    "ServerSettings",
    "build_archive",
    "create_app",
    "default_archive_path",
    "ensure_archive",
]

_WHERE = {
    "Archive": "mastkit.server.archive",
    "BackgroundServer": "mastkit.server.local",
    "LocalArchive": "mastkit.server.local",
    "ServerSettings": "mastkit.server.app",
    "build_archive": "mastkit.server.archive",
    "create_app": "mastkit.server.app",
    "default_archive_path": "mastkit.server.archive",
    "ensure_archive": "mastkit.server.archive",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mastkit.server' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
