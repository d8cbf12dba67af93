"""What both drivers share around the transfers: skipping, outcomes, the manifest."""

from __future__ import annotations

import errno
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mastkit.download._transfer import (
    DownloadOptions,
    Fatal,
    Retry,
    Transfer,
    describe_os_error,
    fsync_dir,
)
from mastkit.download.manifest import Outcome, Status, VerifiedIndex, manifest_table, write_manifest
from mastkit.download.plan import DownloadItem, DownloadPlan
from mastkit.download.progress import NullProgress, Progress
from mastkit.tables import ResultTable

__all__ = ["Run", "classify"]


def classify(exc: BaseException, transfer: Transfer) -> Retry | Fatal:
    """Map what an attempt raised to Retry (try again) or Fatal (report)."""
    if isinstance(exc, Retry | Fatal):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return Retry(f"timed out: {type(exc).__name__}")
    if isinstance(exc, httpx.TransportError):
        return Retry(f"connection failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            transfer.part.unlink(missing_ok=True)  # give the space back
        return Fatal(describe_os_error(exc, transfer.part))
    return Fatal(f"{type(exc).__name__}: {exc}")


@dataclass
class Run:
    """State of one run over a plan."""

    plan: DownloadPlan
    options: DownloadOptions
    progress: Progress = field(default_factory=NullProgress)

    def __post_init__(self) -> None:
        self.root = self.plan.root
        self.index = VerifiedIndex(self.root)
        self.outcomes: dict[str, Outcome] = {}
        self.reported: dict[str, int] = {}
        self.directories: set[Path] = set()  # where files were renamed into place

    def start(self) -> list[DownloadItem]:
        """Report the start, settle skipped and rejected items; return the items to fetch."""
        total = sum(i.size or 0 for i in self.plan.items)
        self.progress.start(len(self.plan.items), total)
        todo: list[DownloadItem] = []
        for uri, reason in self.plan.rejected:
            self.outcomes[uri] = Outcome(
                uri=uri, url="", path="", status=Status.ERROR, message=reason
            )
        for item in self.plan.items:
            record = None if self.options.force else self.index.trusted(item)
            if record is None:
                self.index.forget(item)
                todo.append(item)
                continue
            self.done(
                Outcome.for_item(
                    item,
                    self.root,
                    Status.SKIPPED,
                    size=record.size,
                    sha256=record.sha256,
                    message="verified earlier; not fetched",
                )
            )
        return todo

    def advance(self, item: DownloadItem, transfer: Transfer) -> None:
        """Report the bytes of ``item`` now on disk."""
        now = transfer.offset + transfer.received
        delta = now - self.reported.get(item.uri, 0)
        if delta:
            self.reported[item.uri] = now
            self.progress.advance(item, delta)

    def completed(
        self, item: DownloadItem, size: int, sha: str, started: float, attempts: int
    ) -> None:
        """Record a verified file."""
        if self.options.durable:
            self.directories.add((self.root / item.path).parent)
        self.index.record(item, size, sha)
        self.done(
            Outcome.for_item(
                item,
                self.root,
                Status.COMPLETE,
                size=size,
                sha256=sha,
                seconds=time.monotonic() - started,
                attempts=attempts,
            )
        )

    def failed(self, item: DownloadItem, message: str, started: float, attempts: int) -> None:
        """Record a failure."""
        self.done(
            Outcome.for_item(
                item,
                self.root,
                Status.ERROR,
                message=message,
                size=item.size,
                seconds=time.monotonic() - started,
                attempts=attempts,
            )
        )

    def done(self, outcome: Outcome) -> None:
        self.outcomes[outcome.uri] = outcome
        self.progress.finished(outcome)

    def finish(self) -> ResultTable:
        """Make the renames durable (if asked), compact the index, build and write the
        manifest (in plan order)."""
        directories = sorted(self.directories)
        if len(directories) > 1:  # each waits on the disk: wait for them together
            with ThreadPoolExecutor(min(16, len(directories))) as pool:
                list(pool.map(fsync_dir, directories))
        elif directories:
            fsync_dir(directories[0])
        self.index.compact()
        order = [uri for uri, _ in self.plan.rejected] + [i.uri for i in self.plan.items]
        table = manifest_table(
            [self.outcomes[u] for u in order if u in self.outcomes], root=self.root
        )
        if self.options.write_manifest:
            written = write_manifest(table, self.root)
            table.metadata["manifest_file"] = str(written) if written else None
        return table


def http_settings(token: str | None, server: str | None, opts: DownloadOptions) -> dict[str, Any]:
    """Keyword arguments of the httpx client a download creates for itself (sync or async).

    The token goes only to ``server`` (:class:`~mastkit.client.auth.MastToken`), redirects are
    not followed (a redirect to another host must not carry it), and the pool holds one
    keep-alive connection per concurrent file.
    """
    from mastkit.client.auth import MastToken

    return {
        "auth": MastToken(token, server) if token and server else None,
        "limits": httpx.Limits(
            max_connections=opts.concurrency * 2, max_keepalive_connections=opts.concurrency
        ),
        "follow_redirects": False,
    }
