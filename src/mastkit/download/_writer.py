"""Writing and hashing a ``.part`` file on a thread of its own, behind the network reads.

A download's CPU goes to three things of similar cost: parsing the HTTP stream, computing the
SHA-256, and copying the bytes into the page cache. The last two release the GIL, so for a
large file a :class:`PartWriter` does them on its own thread while the caller keeps reading the
socket (a bounded queue between them keeps memory flat and slows the reader when the disk falls
behind). Small files, usually fetched many at a time, are written inline (:class:`InlineWriter`).

For a durable download (``DownloadOptions.durable``) the writers also ask the kernel to start
writing the file out every few megabytes, where the platform allows (``posix_fadvise(DONTNEED)``
starts writeback of the range's dirty pages without waiting, the flush hint PostgreSQL falls
back on). The ``fsync`` before the atomic rename then finds most of the file already on disk,
instead of waiting for all of it at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sys
import threading
from typing import IO

__all__ = ["BACKGROUND_MIN", "InlineWriter", "PartWriter", "open_writer"]

#: Chunks queued between the reader and the writer: reads are up to 64 KiB through httpx and
#: up to 1 MiB straight from the connection, so at most 16 MiB wait in memory.
QUEUE_CHUNKS = 16
#: Bytes written between two writeback hints.
HINT_BYTES = 8 << 20
#: Files expected to be at least this large get a writer thread; smaller ones (and their
#: many siblings, fetched in parallel anyway) are written inline, without thread hand-offs.
BACKGROUND_MIN = 16 << 20
_HINT = sys.platform.startswith("linux") and hasattr(os, "posix_fadvise")


def _hint(fd: int, start: int, stop: int) -> None:
    """Ask the kernel to start writing bytes ``[start, stop)`` out (without waiting)."""
    with contextlib.suppress(OSError):  # only a hint
        os.posix_fadvise(fd, start, stop - start, os.POSIX_FADV_DONTNEED)


def _tell(file: IO[bytes]) -> int:
    try:
        return file.tell()
    except OSError:  # not seekable (a pipe): positions only serve the hints
        return 0


def open_writer(
    file: IO[bytes], digest: hashlib._Hash, expected: int | None, *, hint: bool = False
) -> InlineWriter | PartWriter:
    """The writer for a file of ``expected`` more bytes (None: unknown, so maybe large);
    ``hint``: ask for early writeback (before an fsync)."""
    if expected is None or expected >= BACKGROUND_MIN:
        return PartWriter(file, digest, hint=hint)
    return InlineWriter(file, digest, hint=hint)


class InlineWriter:
    """The same interface as :class:`PartWriter`, writing and hashing in the caller's thread."""

    def __init__(self, file: IO[bytes], digest: hashlib._Hash, *, hint: bool = False) -> None:
        self._file = file
        self._digest = digest
        self._hint = hint and _HINT
        self.written = 0
        self._hinted = self._position = _tell(file)

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` and hash it."""
        self._file.write(chunk)
        self._digest.update(chunk)
        self.written += len(chunk)
        self._position += len(chunk)
        if self._hint and self._position - self._hinted >= HINT_BYTES:
            _hint(self._file.fileno(), self._hinted, self._position)
            self._hinted = self._position

    def try_write(self, chunk: bytes) -> bool:
        """:meth:`write`; never needs to wait."""
        self.write(chunk)
        return True

    def close(self) -> None:
        """Nothing queued, nothing to stop."""


class PartWriter:
    """Append chunks to ``file`` and feed them to ``digest`` on a background thread.

    Parameters
    ----------
    file : binary file opened for writing (unbuffered is best)
        Positioned where the chunks go (the end of a ``.part``).
    digest : hashlib object
        Updated with every chunk written, in order.
    hint : bool
        Ask the kernel to start writeback every :data:`HINT_BYTES` (before an fsync).

    Notes
    -----
    A write error (a full disk, a revoked permission) is kept and raised to the caller by the
    next :meth:`write` or by :meth:`close`; chunks queued after it are dropped.
    """

    def __init__(self, file: IO[bytes], digest: hashlib._Hash, *, hint: bool = False) -> None:
        self._file = file
        self._digest = digest
        self._hint = hint and _HINT
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self.written = 0
        self._hinted = _tell(file)
        self._thread = threading.Thread(target=self._run, name="mastkit-part-writer", daemon=True)
        self._thread.start()

    def write(self, chunk: bytes) -> None:
        """Queue ``chunk`` (blocks while the queue is full); raise an earlier write error."""
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def try_write(self, chunk: bytes) -> bool:
        """Queue ``chunk`` if there is room now; False when the caller must wait."""
        if self._error is not None:
            raise self._error
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        """Write what is queued, stop the thread; raise the first write error, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        fd = self._file.fileno()
        position = self._hinted
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: the reader will see the error on its next write
            try:
                self._file.write(chunk)
                self._digest.update(chunk)
            except BaseException as exc:  # handed over to the reader thread
                self._error = exc
                continue
            self.written += len(chunk)
            position += len(chunk)
            if self._hint and position - self._hinted >= HINT_BYTES:
                _hint(fd, self._hinted, position)
                self._hinted = position
