"""Outcomes of a download run, the manifest table, and the index of verified files.

The index (``<download dir>/.mastkit/verified.jsonl``) records, for every file the engine
verified, its URI, size, SHA-256 and modification time. A later run trusts a file whose size and
mtime still match its record (and whose record matches the plan's expected size and checksum)
without any network request; anything else is fetched again. A file that merely exists is never
trusted: that is how half-written files used to look cached.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from mastkit.download.plan import DownloadItem
from mastkit.tables import ResultTable

__all__ = [
    "INDEX_PATH",
    "MANIFEST_NAME",
    "Outcome",
    "Status",
    "VerifiedIndex",
    "manifest_table",
]

INDEX_PATH = ".mastkit/verified.jsonl"
MANIFEST_NAME = "manifest.csv"


class Status(StrEnum):
    """The outcome of one item."""

    COMPLETE = "COMPLETE"
    SKIPPED = "SKIPPED"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item."""

    uri: str
    url: str
    path: str
    status: Status
    message: str = ""
    size: int | None = None
    sha256: str | None = None
    seconds: float = 0.0
    attempts: int = 0

    @classmethod
    def for_item(cls, item: DownloadItem, root: Path, status: Status, **kw: Any) -> Outcome:
        """An outcome of ``item`` with its absolute path under ``root``."""
        return cls(
            uri=item.uri, url=item.url, path=os.path.join(root, item.path), status=status, **kw
        )


_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("uri", pa.string()),
        ("url", pa.string()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("status", pa.string()),
        ("message", pa.string()),
        ("seconds", pa.float64()),
        ("attempts", pa.int64()),
    ]
)


def manifest_table(outcomes: list[Outcome], *, root: Path | None = None) -> ResultTable:
    """The manifest: one row per outcome, as a :class:`ResultTable`."""
    columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA.names}
    for o in outcomes:
        columns["path"].append(o.path)
        columns["uri"].append(o.uri)
        columns["url"].append(o.url)
        columns["size"].append(o.size)
        columns["sha256"].append(o.sha256)
        columns["status"].append(o.status.value)
        columns["message"].append(o.message)
        columns["seconds"].append(round(o.seconds, 6))
        columns["attempts"].append(o.attempts)
    counts = {s.value: sum(o.status is s for o in outcomes) for s in Status}
    meta: dict[str, Any] = {"counts": counts}
    if root is not None:
        meta["download_dir"] = str(root)
    return ResultTable(pa.table(columns, schema=_SCHEMA), service="download", metadata=meta)


class _Line(msgspec.Struct):
    """One line of the index file."""

    path: str
    uri: str
    size: int
    sha256: str
    mtime_ns: int


_LINE = msgspec.json.Decoder(_Line)


@dataclass(frozen=True, slots=True)
class _Record:
    uri: str
    size: int
    sha256: str
    mtime_ns: int


class VerifiedIndex:
    """The verified-file index of one download directory (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / INDEX_PATH
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()
        self._lines = 0  # lines in the file as loaded
        self._changed = False
        self._load()

    def _load(self) -> None:
        try:
            data = self.file.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:
            return  # unreadable index: trust nothing
        self._lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        try:
            lines = _LINE.decode_lines(data)
        except msgspec.DecodeError:  # a torn last line after a crash: keep the good ones
            lines = []
            for raw in data.splitlines():
                try:
                    lines.append(_LINE.decode(raw))
                except msgspec.DecodeError:
                    continue
        for line in lines:
            self._records[line.path] = _Record(line.uri, line.size, line.sha256, line.mtime_ns)

    def trusted(self, item: DownloadItem) -> _Record | None:
        """The record of ``item``'s file if the file on disk is still the one verified."""
        rec = self._records.get(item.path)
        if rec is None or rec.uri != item.uri:
            return None
        if item.size is not None and item.size != rec.size:
            return None
        if item.sha256 is not None and item.sha256 != rec.sha256:
            return None
        try:
            st = os.stat(os.path.join(self.root, item.path))
        except OSError:
            return None
        if st.st_size != rec.size or st.st_mtime_ns != rec.mtime_ns:
            return None
        return rec

    def record(self, item: DownloadItem, size: int, sha256: str) -> None:
        """Remember that ``item``'s file was verified as it is now on disk."""
        st = os.stat(os.path.join(self.root, item.path))
        rec = _Record(item.uri, size, sha256, st.st_mtime_ns)
        line = json.dumps(
            {
                "path": item.path,
                "uri": rec.uri,
                "size": rec.size,
                "sha256": rec.sha256,
                "mtime_ns": rec.mtime_ns,
            }
        )
        with self._lock:
            self._records[item.path] = rec
            self._changed = True
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                with open(self.file, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError:
                pass  # the file is fine; it will just be verified again next time

    def forget(self, item: DownloadItem) -> None:
        """Drop ``item``'s record (its file is about to change)."""
        with self._lock:
            if self._records.pop(item.path, None) is not None:
                self._changed = True

    def compact(self) -> None:
        """Rewrite the index with one line per file, atomically."""
        with self._lock:
            if not self._changed and self._lines == len(self._records):
                return  # already one line per file (a re-run that fetched nothing)
            lines = [
                json.dumps(
                    {
                        "path": p,
                        "uri": r.uri,
                        "size": r.size,
                        "sha256": r.sha256,
                        "mtime_ns": r.mtime_ns,
                    }
                )
                for p, r in sorted(self._records.items())
            ]
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.file.with_name(self.file.name + ".tmp")
                tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                os.replace(tmp, self.file)
            except OSError:
                pass


def write_manifest(table: ResultTable, root: Path) -> Path | None:
    """Write the manifest next to the files; None when the directory is not writable."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        return table.write(root / MANIFEST_NAME, overwrite=True)
    except OSError:
        return None
