"""Arrow IPC files written beside the archive, all or nothing.

The archive's side files (the product index, the rendered rows) are written to a temporary
name, flushed to disk, then renamed: a crash never leaves a partial file under the real name,
and readers only ever map complete files.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["BUILD_KEY", "read_build", "write_ipc_file"]

#: Schema metadata key of the archive build a side file was made from.
BUILD_KEY = b"mastkit.build_id"


def write_ipc_file(
    target: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch | None]
) -> bool:
    """Write ``batches`` as an uncompressed Arrow IPC file at ``target``, atomically.

    Parameters
    ----------
    target : Path
        Replaced if present, once the new file is complete and on disk.
    schema : pyarrow.Schema
        The file's schema (with its metadata).
    batches : iterable of RecordBatch or None
        The content; a None aborts the write (nothing is written, the old file stays).

    Returns
    -------
    bool
        Whether the file was written.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, schema) as writer:
            for batch in batches:
                if batch is None:
                    return False
                writer.write_batch(batch)
        # On disk before it is visible under its name: a crash cannot leave a torn file there.
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def read_build(path: Path, format_key: bytes, version: str) -> str | None:
    """The archive build recorded in the side file at ``path``, if it is of ``version``.

    Reads the file's footer only (the file's own ``open`` checks the rest). None for a missing,
    torn or foreign file, another version of the format, or no build recorded.
    """
    try:
        with pa.memory_map(str(path), "r") as source:
            metadata = ipc.open_file(source).schema.metadata or {}
    except (OSError, pa.ArrowException):
        return None
    if metadata.get(format_key) != version.encode():
        return None
    build = metadata.get(BUILD_KEY)
    return build.decode() if build else None
