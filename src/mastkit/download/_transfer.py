"""One file's transfer, shared by the async engine and the sync facade (no network I/O here).

A :class:`Transfer` is driven through one attempt: :meth:`Transfer.request_headers` (resume a
``.part`` with ``Range``), :meth:`Transfer.accept` (decide from the status and headers whether to
append, restart, retry or give up), :meth:`Transfer.write` per chunk, and
:meth:`Transfer.finish` (fsync, verify size and SHA-256, atomic rename). The drivers only move
bytes, sleep and bound concurrency. A large file is written and hashed behind the reads, on
a thread of its own (:mod:`mastkit.download._writer`); its body is read straight from the
connection (:mod:`mastkit.client._rawbody`).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO

from mastkit.download._writer import InlineWriter, PartWriter, open_writer
from mastkit.download.plan import DownloadItem

__all__ = ["DownloadOptions", "Fatal", "Retry", "Transfer", "describe_os_error", "fsync_dir"]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class DownloadOptions:
    """How a download run behaves.

    Parameters
    ----------
    concurrency : int
        Files in flight at once, overall.
    per_host : int
        Files in flight at once per host.
    max_retries : int
        Retries of one file after its first attempt (transient faults, 429/503, bad content).
    backoff, backoff_cap : float
        Exponential backoff with full jitter: first ceiling and largest ceiling, in seconds.
    max_retry_after : float
        Longest Retry-After honoured; longer requests are waited for this long.
    connect_timeout, read_timeout : float
        Socket timeouts in seconds (a stalled connection fails after ``read_timeout``).
    chunk_size : int or None
        Bytes per chunk handed on from the network; None (the default) passes on each read as
        it comes (up to 64 KiB), which avoids copying reads into larger pieces.
    force : bool
        Fetch again even files the verified index trusts.
    write_manifest : bool
        Write ``manifest.csv`` into the download directory.
    durable : bool
        ``fsync`` each file before renaming it into place (and each directory at the end), so
        that a finished file also survives a crash of the machine, not only of the process.
        Off by default, as in curl or astroquery: it makes a run wait for the disk (on a
        network file system, for every file). Without it a file still appears under its final
        name only complete and verified; after a machine crash, a file whose data had not
        reached the disk fails the verified index's size check and is fetched again.
    """

    concurrency: int = 8
    per_host: int = 8
    max_retries: int = 5
    backoff: float = 0.5
    backoff_cap: float = 20.0
    max_retry_after: float = 120.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    chunk_size: int | None = None
    force: bool = False
    write_manifest: bool = True
    durable: bool = False

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        return random.uniform(0, min(self.backoff_cap, self.backoff * 2 ** (attempt - 1)))


class Retry(Exception):
    """This attempt failed in a way another attempt may fix."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Fatal(Exception):
    """This item cannot succeed; report it."""


def describe_os_error(exc: OSError, path: Path) -> str:
    """A message a user can act on for a file-system error."""
    if exc.errno == errno.ENOSPC:
        return f"No space left on the device writing {path} (disk full)."
    if exc.errno == errno.EDQUOT:
        return f"Disk quota exceeded writing {path}."
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"The destination {path} is not writable ({os.strerror(exc.errno)})."
    return f"Cannot write {path}: {exc.strerror or exc}."


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def header_sha256(headers: Mapping[str, str]) -> str | None:
    """The whole-file SHA-256 (hex) the server announced, if any."""
    hexed = headers.get("x-checksum-sha256")
    if hexed and re.fullmatch(r"[0-9a-fA-F]{64}", hexed.strip()):
        return hexed.strip().lower()
    for part in (headers.get("digest") or "").split(","):
        algo, _, value = part.strip().partition("=")
        if algo.lower() == "sha-256" and value:
            try:
                raw = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                continue
            if len(raw) == 32:
                return raw.hex()
    return None


class Transfer:
    """One attempt at one item (see the module docstring)."""

    def __init__(self, item: DownloadItem, root: Path, *, durable: bool = False) -> None:
        self.item = item
        self.durable = durable
        self.final = root / item.path
        self.part = self.final.with_name(self.final.name + ".part")
        self.offset = 0
        self.received = 0
        self.expected_total: int | None = None
        self.expected_sha: str | None = item.sha256
        self.discarded = 0
        self._file: IO[bytes] | None = None
        self._writer: InlineWriter | PartWriter | None = None
        self._hash = hashlib.sha256()

    # -- before the request -----------------------------------------------------------------

    def request_headers(self) -> dict[str, str]:
        """Create the directory and ask for the rest of a ``.part`` when there is one."""
        self.final.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.offset = self.part.stat().st_size
        except FileNotFoundError:
            self.offset = 0
        if self.item.size is not None and self.offset > self.item.size:
            self._discard()
        return {"Range": f"bytes={self.offset}-"} if self.offset else {}

    # -- the response head ------------------------------------------------------------------

    def accept(self, status: int, headers: Mapping[str, str]) -> None:
        """Check the reply's status and headers and open the ``.part`` for writing."""
        if status in _RETRY_STATUS:
            wait = retry_after_seconds(headers.get("retry-after"))
            raise Retry(f"HTTP {status}", retry_after=wait)
        if status == 416:
            self._discard()  # the .part does not fit the file (any more): start over
            raise Retry("HTTP 416: the partial file did not fit; restarting", retry_after=0)
        if status not in (200, 206):
            raise Fatal(f"HTTP {status} from the server.")
        self.expected_sha = self.item.sha256 or header_sha256(headers)
        if status == 206:
            match = _CONTENT_RANGE.match(headers.get("content-range", ""))
            if not self.offset or match is None or int(match.group(1)) != self.offset:
                self._discard()
                raise Retry("the server answered a different range; restarting", retry_after=0)
            total = match.group(3)
            self.expected_total = int(total) if total != "*" else None
            self._hash_existing()
            self._open("ab")
        else:
            if self.offset:
                self._discard()  # 200 to a Range request: the whole file comes again
            length = headers.get("content-length")
            self.expected_total = int(length) if length and length.isdigit() else None
            self._open("wb")

    def _open(self, mode: str) -> None:
        self._file = open(self.part, mode)  # noqa: SIM115 - closed by close()/finish()
        total = self.expected_total if self.expected_total is not None else self.item.size
        remaining = None if total is None else total - self.offset
        self._writer = open_writer(self._file, self._hash, remaining, hint=self.durable)

    def _hash_existing(self) -> None:
        with open(self.part, "rb") as f:
            while chunk := f.read(1 << 20):
                self._hash.update(chunk)

    def _discard(self) -> None:
        self.discarded += self.offset
        self.offset = 0
        self._hash = hashlib.sha256()
        self.part.unlink(missing_ok=True)

    # -- the body ----------------------------------------------------------------------------

    def write(self, chunk: bytes) -> None:
        """Append a chunk to the ``.part`` (for a large file: queued for the writer thread,
        waiting while the queue is full)."""
        assert self._writer is not None
        self._writer.write(chunk)
        self.received += len(chunk)

    def try_write(self, chunk: bytes) -> bool:
        """:meth:`write` if that would not block; False (nothing done) otherwise."""
        assert self._writer is not None
        if not self._writer.try_write(chunk):
            return False
        self.received += len(chunk)
        return True

    def close(self) -> BaseException | None:
        """Write what is queued and close the ``.part`` (after a failure: its bytes are kept
        for a resume). Returns a write error not yet reported (the cause that matters)."""
        writer, self._writer = self._writer, None
        pending: BaseException | None = None
        if writer is not None:
            try:
                writer.close()
            except Exception as exc:
                pending = exc
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:  # a buffered write failing at close: same as above
                pending = pending or exc
            finally:
                self._file = None
        return pending

    # -- the end -----------------------------------------------------------------------------

    def finish(self) -> tuple[int, str]:
        """Verify and rename (after an fsync, if durable); return ``(size, sha256)``."""
        assert self._file is not None and self._writer is not None
        writer, self._writer = self._writer, None
        writer.close()
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())
        pending = self.close()
        if pending is not None:
            raise pending
        size = self.offset + self.received
        if self.expected_total is not None and size < self.expected_total:
            raise Retry(f"incomplete body: {size} of {self.expected_total} bytes")
        digest = self._hash.hexdigest()
        if self.expected_total is not None and size != self.expected_total:
            self._discard_all()
            raise Retry(
                f"size mismatch: got {size} bytes, the server announced {self.expected_total}"
            )
        if self.item.size is not None and size != self.item.size:
            self._discard_all()
            raise Retry(f"size mismatch: got {size} bytes, expected {self.item.size}")
        if self.expected_sha is not None and digest != self.expected_sha:
            self._discard_all()
            raise Retry(f"checksum mismatch: got sha256 {digest}, expected {self.expected_sha}")
        os.replace(self.part, self.final)  # a durable run fsyncs the directory at its end
        return size, digest

    def _discard_all(self) -> None:
        self.offset += self.received
        self.received = 0
        self._discard()


def fsync_dir(path: Path) -> None:
    """Make the renames in directory ``path`` durable (best effort: not every OS can)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
