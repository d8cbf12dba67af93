"""Rendered rows: each archive row's json text, written once, gathered for every page.

A json reply of observations or products is mostly the rows' text (some 1 kB an observation),
and rendering it from columns is the server's largest cost: about 0.17 CPU-s for a
50,000-row page of observations, paid again for every page of every query. The archive never
changes, so the text of each row is the same every time. This module keeps it.

The file
    ``<archive stem>.<table>.rows.arrow`` beside the archive (:func:`texts_path`): an Arrow IPC
    file with one utf8 column, ``json``, whose element ``i`` is the row with ``_row == i`` as the
    json format writes it (:func:`mastkit.tables.encode.encode_row_texts`: every public column
    of the table, in schema order) followed by a comma. Written with the archive (and again by
    :func:`mastkit.server.archive.ensure_archive` when missing or stale), all or nothing;
    nothing is written when the table's ``_row`` values are not exactly ``0 .. rows - 1``.

Serving
    A query that selects every public column of the table keeps the canonical positions of its
    rows (:class:`RowSelection`); a json page is then the texts of its rows, concatenated
    (:meth:`RowTexts.gather`): runs of consecutive rows are one slice of the mapped file each,
    copied once, into the reply. 2-4 ms instead of 170 for a page of 50,000 observations.

Never wrong rows
    The file's metadata names the archive build (``build_id``), the table, its columns and its
    row count; :meth:`RowTexts.open` refuses a file that differs in any of them (or of another
    format, or torn), and the server then renders from columns, as it does for any other
    selection. Tests check that both ways give the same rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from mastkit.errors import MastError
from mastkit.server._ipcfile import BUILD_KEY, read_build, write_ipc_file
from mastkit.server.schema import TableSchema
from mastkit.tables.encode import encode_row_texts

__all__ = [
    "TEXTS_FORMAT",
    "RowSelection",
    "RowTexts",
    "TextsUnusable",
    "read_texts_build_id",
    "texts_path",
    "write_row_texts",
]

#: Version of the file's layout (and of the text in it); a file of another version is not used.
TEXTS_FORMAT = "1"
#: Rows read from DuckDB at a time while writing (the memory the write takes).
_READ_ROWS = 1 << 16
_COLUMN = "json"
_FORMAT_KEY = b"mastkit.row_texts"
_TABLE_KEY = b"mastkit.table"
_NAMES_KEY = b"mastkit.columns"


class TextsUnusable(MastError):
    """The rendered rows cannot be trusted for this archive (the reason is the message)."""


def texts_path(archive_path: str | os.PathLike[str], table: str) -> Path:
    """Where the rendered rows of ``table`` of the archive at ``archive_path`` live."""
    path = Path(archive_path)
    return path.with_name(f"{path.stem}.{table}.rows.arrow")


def _file_schema(schema: TableSchema, build_id: str) -> pa.Schema:
    return pa.schema([(_COLUMN, pa.string())]).with_metadata(
        {
            _FORMAT_KEY: TEXTS_FORMAT.encode(),
            BUILD_KEY: build_id.encode(),
            _TABLE_KEY: schema.name.encode(),
            _NAMES_KEY: json.dumps(list(schema.names)).encode(),
        }
    )


def write_row_texts(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, target: Path, build_id: str
) -> bool:
    """Write the rendered rows of ``schema``'s table, open on ``con``, to ``target``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection whose current database is the archive (read-only is enough).
    schema : TableSchema
        The table (its public columns are rendered, in order).
    target : Path
        Destination (see :func:`texts_path`); replaced if present.
    build_id : str
        The archive's ``build_id``, recorded in the file.

    Returns
    -------
    bool
        False, with nothing written, when ``_row`` is not ``0 .. rows - 1`` (positions would not
        be row numbers); the server then renders every page from columns.
    """
    names = list(schema.names)
    columns = ", ".join(f'"{n}"' for n in names)  # from the schema, never from a request
    reader = con.sql(f"SELECT {columns}, _row FROM {schema.name} ORDER BY _row").to_arrow_reader(
        _READ_ROWS
    )
    file_schema = _file_schema(schema, build_id)
    return write_ipc_file(target, file_schema, _text_batches(reader, names, file_schema))


def _text_batches(
    reader: pa.RecordBatchReader, names: list[str], file_schema: pa.Schema
) -> Iterator[pa.RecordBatch | None]:
    expected = 0
    for batch in reader:
        rows = batch.column("_row")
        count = batch.num_rows
        if rows.null_count or not np.array_equal(
            rows.to_numpy(), np.arange(expected, expected + count)
        ):
            yield None
            return
        expected += count
        table = pa.Table.from_batches([batch]).select(names)
        for texts in encode_row_texts(table):
            yield pa.record_batch([texts], schema=file_schema)


def read_texts_build_id(path: Path) -> str | None:
    """The archive build recorded in the rendered rows at ``path`` (None if none is usable)."""
    return read_build(path, _FORMAT_KEY, TEXTS_FORMAT)


class RowTexts:
    """The memory-mapped rendered rows of one table of one archive build.

    Use :meth:`open`; :meth:`gather` from any thread (the mapping is read-only).
    """

    def __init__(self, arrays: Sequence[pa.Array], names: tuple[str, ...]) -> None:
        self.names = names
        lengths = [len(a) for a in arrays]
        #: Position of each array's first row, and the total at the end.
        self._starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self._offsets: list[np.ndarray] = []
        self._data: list[memoryview] = []
        for array in arrays:
            _, offsets, data = array.buffers()
            assert offsets is not None
            bounds = np.frombuffer(offsets, dtype=np.int32)
            self._offsets.append(bounds[array.offset : array.offset + len(array) + 1])
            self._data.append(memoryview(data) if data is not None else memoryview(b""))

    @property
    def num_rows(self) -> int:
        """Rows in the file."""
        return int(self._starts[-1])

    @classmethod
    def open(cls, path: Path, schema: TableSchema, build_id: str, rows: int) -> RowTexts:
        """Map the rendered rows at ``path`` if they belong to the archive described.

        Parameters
        ----------
        path : Path
        schema : TableSchema
            The table whose public columns the texts must hold.
        build_id : str
            The archive's ``build_id``.
        rows : int
            The table's row count in the archive.

        Raises
        ------
        TextsUnusable
            With the reason, when the file is missing, torn, of another build, format, table or
            columns, or holds another number of rows.
        """
        try:
            source = pa.memory_map(str(path), "r")
        except FileNotFoundError:
            raise TextsUnusable(f"{path} is missing") from None
        except (OSError, pa.ArrowException) as exc:
            raise TextsUnusable(f"{path} cannot be mapped: {exc}") from None
        try:
            try:
                reader = ipc.open_file(source)
                batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
                for batch in batches:
                    batch.validate()
            except (OSError, pa.ArrowException) as exc:
                raise TextsUnusable(f"{path} is not readable rendered rows: {exc}") from None
            expected = _file_schema(schema, build_id)
            metadata = reader.schema.metadata or {}
            if metadata.get(_FORMAT_KEY) != TEXTS_FORMAT.encode():
                raise TextsUnusable(f"{path} is of another format")
            if metadata.get(BUILD_KEY) != build_id.encode():
                raise TextsUnusable(f"{path} was made for another build of the archive")
            if metadata != expected.metadata or not reader.schema.equals(expected):
                raise TextsUnusable(f"{path} holds other columns than the archive's {schema.name}")
            if sum(b.num_rows for b in batches) != rows:
                raise TextsUnusable(f"{path} has another number of rows than the archive")
        except TextsUnusable:
            source.close()  # nothing refers to the mapping: release it
            raise
        return cls([b.column(0) for b in batches], tuple(schema.names))

    def gather(self, positions: np.ndarray) -> list[memoryview]:
        """The texts of the rows at ``positions`` as a JSON array's inside, in parts.

        Joined, the parts are the rows' objects separated by commas (no brackets, no trailing
        comma). Runs of consecutive rows come out as one slice of the mapping each.

        Raises
        ------
        IndexError
            For a position outside ``0 .. num_rows - 1``.
        """
        wanted = np.asarray(positions, dtype=np.int64)
        if not len(wanted):
            return []
        if int(wanted.min()) < 0 or int(wanted.max()) >= self.num_rows:
            raise IndexError("row position out of range")
        arrays = np.searchsorted(self._starts, wanted, side="right") - 1
        local = wanted - self._starts[arrays]
        # Segments of positions within one array (one per array when positions are sorted).
        cuts = np.flatnonzero(np.diff(arrays)) + 1
        parts: list[memoryview] = []
        for lo_at, hi_at in zip(
            np.concatenate([[0], cuts]), np.concatenate([cuts, [len(wanted)]]), strict=True
        ):
            index = int(arrays[lo_at])
            bounds, data = self._offsets[index], self._data[index]
            rows = local[lo_at:hi_at]
            starts, ends = bounds[rows], bounds[rows + 1]
            # A run continues while the next row's text starts where this one's ends.
            breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1
            first = np.concatenate([[0], breaks])
            last = np.concatenate([breaks, [len(rows)]]) - 1
            parts.extend(
                data[a:b] for a, b in zip(starts[first].tolist(), ends[last].tolist(), strict=True)
            )
        parts[-1] = parts[-1][:-1]  # the last row's comma
        return parts


@dataclass(frozen=True, slots=True)
class RowSelection:
    """Rows of an archive table, by canonical position, with the table's rendered rows.

    Attributes
    ----------
    texts : RowTexts
    positions : numpy.ndarray
        int64 canonical positions (``_row``) of the selected rows, in result order.
    """

    texts: RowTexts
    positions: np.ndarray

    def data_parts(self, start: int, stop: int) -> list[bytes | memoryview]:
        """The ``data`` array of a json reply holding result rows ``[start, stop)``, in parts."""
        inner = self.texts.gather(self.positions[start:stop])
        return [b"[", *inner, b"]"]

    @property
    def nbytes(self) -> int:
        """Memory the selection holds (the texts are the file's, shared)."""
        return int(self.positions.nbytes)
