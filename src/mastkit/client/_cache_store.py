"""The file format of one cache entry, written atomically and read back only if intact.

An entry is one file::

    magic (8 bytes) | header length (u64 BE) | payload length (u64 BE)
    | SHA-256 of the header (32 bytes) | SHA-256 of the payload (32 bytes)
    | header (UTF-8 JSON) | payload

It is written to a temporary file in the same directory and renamed over the final name, so a
reader sees the old entry, the new one, or none, never a mixture; concurrent writers of one key
each rename a complete file and the last one wins. The lengths and checksums catch everything
else (a truncated file, flipped bytes, garbage, a missing header): :func:`read_entry` raises
:class:`CorruptEntry` and the caller deletes the file. The header alone can be checked without
reading the payload, which is what listing does.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "ENTRY_SUFFIX",
    "TEMP_PREFIX",
    "CorruptEntry",
    "read_entry",
    "read_header",
    "write_entry",
]

MAGIC = b"MKCACHE\x01"
_LENGTHS = struct.Struct(">QQ")
_DIGEST = 32
PREFIX_SIZE = len(MAGIC) + _LENGTHS.size + 2 * _DIGEST
#: Headers are small (a request and some provenance); a bigger one means a damaged length field.
MAX_HEADER = 16 << 20
ENTRY_SUFFIX = ".mkc"
TEMP_PREFIX = ".tmp-"


class CorruptEntry(Exception):
    """An entry file that is not a complete, intact entry (internal; never leaves the cache)."""


def write_entry(path: Path, header: dict[str, Any], payload: bytes | memoryview) -> int:
    """Write an entry atomically at ``path`` and return its size in bytes.

    Raises
    ------
    OSError
        If the directory cannot be written (the caller decides whether that matters).
    TypeError, ValueError
        If ``header`` is not JSON-serialisable.
    """
    head = json.dumps(header, ensure_ascii=False, allow_nan=False).encode("utf-8")
    body = memoryview(payload).cast("B")
    prefix = (
        MAGIC
        + _LENGTHS.pack(len(head), body.nbytes)
        + hashlib.sha256(head).digest()
        + hashlib.sha256(body).digest()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=ENTRY_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(prefix)
            out.write(head)
            out.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(prefix) + len(head) + body.nbytes


def _prefix(stream: BinaryIO, size: int) -> tuple[int, int, bytes, bytes]:
    raw = stream.read(PREFIX_SIZE)
    if len(raw) < PREFIX_SIZE or not raw.startswith(MAGIC):
        raise CorruptEntry("not a cache entry (bad magic or shorter than its prefix)")
    head_len, body_len = _LENGTHS.unpack_from(raw, len(MAGIC))
    if head_len > MAX_HEADER or PREFIX_SIZE + head_len + body_len != size:
        raise CorruptEntry(
            f"size mismatch: the prefix announces {PREFIX_SIZE + head_len + body_len} bytes, "
            f"the file has {size}"
        )
    start = len(MAGIC) + _LENGTHS.size
    return head_len, body_len, raw[start : start + _DIGEST], raw[start + _DIGEST :]


def _header(raw: bytes, digest: bytes) -> dict[str, Any]:
    if hashlib.sha256(raw).digest() != digest:
        raise CorruptEntry("header checksum mismatch")
    try:
        header = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # pragma: no cover - the checksum matched, so we wrote it
        raise CorruptEntry(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):  # pragma: no cover - same
        raise CorruptEntry("header is not an object")
    return header


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The checked header of an entry and the entry's size, without reading the payload.

    Raises
    ------
    CorruptEntry
        If the prefix or the header is damaged, or the file's size is not the announced one.
    FileNotFoundError
        If the entry is gone (evicted or cleared meanwhile).
    """
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        head_len, _, head_digest, _ = _prefix(stream, size)
        return _header(stream.read(head_len), head_digest), size


def read_entry(path: Path) -> tuple[dict[str, Any], bytes]:
    """The checked header and payload of an entry.

    Raises
    ------
    CorruptEntry
        If anything is damaged, truncated or extended.
    FileNotFoundError
        If the entry is gone.
    """
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        head_len, body_len, head_digest, body_digest = _prefix(stream, size)
        header = _header(stream.read(head_len), head_digest)
        payload = stream.read(body_len)
    if len(payload) != body_len or hashlib.sha256(payload).digest() != body_digest:
        raise CorruptEntry("payload checksum mismatch")
    return header, payload
