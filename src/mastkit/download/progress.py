"""Progress reporting for downloads: a small callback protocol, silent by default.

In the spirit of fsspec's callbacks, the library reports events and never draws anything; the
command line plugs in a rich progress bar. Callbacks run on the event loop (async engine) or on
worker threads (sync facade), so implementations should be quick and thread-safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.download.manifest import Outcome
    from mastkit.download.plan import DownloadItem

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    """What a download reports as it goes."""

    def start(self, files: int, total_bytes: int) -> None:
        """The run begins: ``files`` to consider, ``total_bytes`` known so far."""

    def advance(self, item: DownloadItem, nbytes: int) -> None:
        """``nbytes`` more of ``item`` arrived (negative when a partial file was discarded)."""

    def finished(self, outcome: Outcome) -> None:
        """An item is done: complete, skipped or failed."""


class NullProgress:
    """The default: report nothing."""

    def start(self, files: int, total_bytes: int) -> None:
        """Do nothing."""

    def advance(self, item: DownloadItem, nbytes: int) -> None:
        """Do nothing."""

    def finished(self, outcome: Outcome) -> None:
        """Do nothing."""
