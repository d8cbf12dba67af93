"""Products by observation without a table scan: a memory-mapped Arrow copy of ``products``.

``Mast.Caom.Products`` asks for the products of a batch of observations (clients send hundreds
of ids at once, spread over the whole archive). DuckDB answers that with a scan whose cost is
the table's, not the result's: the matches lie in every row group, so it decompresses every
vector of every column (an ART index is not used for an ``IN`` list). This module makes the
look-up cost O(ids · log rows + result) instead.

The file
    ``<archive stem>.products.arrow`` beside the archive (:func:`index_path`): an Arrow IPC
    file, uncompressed, holding the public product columns (:data:`~mastkit.server.schema.
    PRODUCTS`) in canonical order (``_row``), which is also ``obsID`` order (the generator
    stores products by observation; :func:`write_index` checks both orders and writes nothing
    otherwise). It is written with the archive (:func:`mastkit.server.archive.build_archive`),
    streamed a batch (:data:`_BATCH_ROWS` rows) at a time, so the memory it takes does not grow
    with the table, and all or nothing (:func:`mastkit.server._ipcfile.write_ipc_file`).

Reading
    The file is memory-mapped (:class:`ProductIndex`): opening reads its footer and the
    ``obsID`` column's pages (to check they are sorted), nothing else; a look-up touches the
    pages of the rows it returns. Pages are the operating system's cache, shared by every
    process serving the same archive, and never more than the file. Arrays over the mapping
    are immutable, so any number of threads read them at once.

A look-up
    per batch of the file, ``numpy.searchsorted`` of the wanted ids (sorted, unique) in the
    batch's ``obsID`` (a zero-copy view of the mapping) gives one row range per id; the ranges,
    in id order, are row positions in canonical order; ``take`` gathers them.

Never wrong rows
    The file's schema metadata names the archive build it was made from (the archive's
    ``build_id``, a random id per build stored in its ``meta`` table). :meth:`ProductIndex.open`
    refuses a file of another build (an older file, or a crash between writing the file and
    renaming the archive), of another format, with other column types than the archive's SQL
    gives, with another row count, or unsorted or null keys; a truncated file has no footer and
    does not open. The caller then answers by SQL (correct, only slower), and
    :func:`mastkit.server.archive.ensure_archive` rewrites the file. Damage inside the column
    data of a whole file (bit rot) is not detected: that would mean reading the whole file at
    every start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from mastkit.errors import MastError
from mastkit.server._ipcfile import BUILD_KEY, read_build, write_ipc_file
from mastkit.server.schema import PRODUCTS

__all__ = [
    "INDEX_FORMAT",
    "IndexUnusable",
    "ProductIndex",
    "index_path",
    "read_build_id",
    "write_index",
]

#: Version of the file's layout; a file of another version is not used.
INDEX_FORMAT = "1"
#: Rows per batch of the file: few batches (a look-up pays ~0.2 ms per batch), each far
#: below 2 GB of text per column (int32 string offsets), and bounded memory while writing.
_BATCH_ROWS = 1 << 19
_KEY = "obsID"
_FORMAT_KEY = b"mastkit.product_index"


class IndexUnusable(MastError):
    """The index file cannot be trusted for this archive (the reason is the message)."""


def index_path(archive_path: str | os.PathLike[str]) -> Path:
    """Where the product index of the archive at ``archive_path`` lives."""
    path = Path(archive_path)
    return path.with_name(f"{path.stem}.products.arrow")


def _columns_sql(names: Sequence[str]) -> str:
    # Names come from the validated schema, never from a request.
    return ", ".join(f'"{n}"' for n in names)


def write_index(con: duckdb.DuckDBPyConnection, target: Path, build_id: str) -> bool:
    """Write the product index of the archive open on ``con`` to ``target``, atomically.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection whose current database is the archive (read-only is enough).
    target : Path
        Destination (see :func:`index_path`); replaced if present.
    build_id : str
        The archive's ``build_id``, recorded in the file.

    Returns
    -------
    bool
        False, with nothing written, when the products are not stored in canonical order with
        ``obsID`` non-decreasing and non-null (the look-up needs both); the server then uses SQL.
    """
    names = list(PRODUCTS.names)
    relation = con.sql(f"SELECT {_columns_sql(names)}, _row FROM products")
    # A plain scan keeps the stored order (DuckDB preserves insertion order) without a sort
    # of the whole table; :func:`_rebatched` checks the order as the batches pass.
    reader = relation.to_arrow_reader(_BATCH_ROWS)
    schema = pa.schema([reader.schema.field(n) for n in names]).with_metadata(
        {_FORMAT_KEY: INDEX_FORMAT.encode(), BUILD_KEY: build_id.encode()}
    )
    # Nothing is written when _rebatched finds the order broken (it yields None).
    return write_ipc_file(target, schema, _rebatched(reader, names, schema))


def _rebatched(
    reader: pa.RecordBatchReader, names: list[str], schema: pa.Schema
) -> Iterator[pa.RecordBatch | None]:
    """The scan's batches (one per row group) as batches of :data:`_BATCH_ROWS` rows.

    Few large batches keep a look-up's fixed cost per batch small. Yields None, and stops, at
    the first row out of canonical or ``obsID`` order, or a null ``_row`` or ``obsID``.
    """
    last_row, last_key = -(2**63), -(2**63)
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        if not batch.num_rows:
            continue
        rows, keys = batch.column("_row"), batch.column(_KEY)
        if rows.null_count or keys.null_count:
            yield None
            return
        row_values, key_values = rows.to_numpy(), keys.to_numpy()
        if (
            row_values[0] <= last_row
            or key_values[0] < last_key
            or np.any(np.diff(row_values) <= 0)
            or np.any(np.diff(key_values) < 0)
        ):
            yield None
            return
        last_row, last_key = int(row_values[-1]), int(key_values[-1])
        pending.append(pa.record_batch([batch.column(n) for n in names], schema=schema))
        count += batch.num_rows
        if count >= _BATCH_ROWS:
            yield from _joined(pending, schema)
            pending, count = [], 0
    if pending:
        yield from _joined(pending, schema)


def _joined(batches: list[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    yield from pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()


def read_build_id(path: Path) -> str | None:
    """The archive build id recorded in the index file at ``path`` (None if none is usable).

    Reads the file's footer only; :meth:`ProductIndex.open` checks the rest.
    """
    return read_build(path, _FORMAT_KEY, INDEX_FORMAT)


class ProductIndex:
    """The memory-mapped product index of one archive build (see the module documentation).

    Use :meth:`open`, then :meth:`lookup` from any thread.
    """

    def __init__(self, batches: list[pa.RecordBatch], schema: pa.Schema) -> None:
        self._batches = batches
        self._schema = schema
        # Zero-copy views of each batch's obsID over the mapping (no nulls: checked at open).
        self._keys = [b.column(_KEY).to_numpy(zero_copy_only=True) for b in batches]

    @property
    def num_rows(self) -> int:
        """Products in the index."""
        return sum(b.num_rows for b in self._batches)

    @classmethod
    def open(cls, path: Path, build_id: str, expected: pa.Schema, rows: int) -> ProductIndex:
        """Map the index file at ``path`` if it belongs to the archive described.

        Parameters
        ----------
        path : Path
        build_id : str
            The archive's ``build_id``.
        expected : pyarrow.Schema
            What the archive's SQL gives for the public product columns (names and types).
        rows : int
            The archive's number of products.

        Raises
        ------
        IndexUnusable
            With the reason, when the file is missing, torn, of another build or format, or
            does not match ``expected`` and ``rows``.
        """
        try:
            source = pa.memory_map(str(path), "r")
        except FileNotFoundError:
            raise IndexUnusable(f"{path} is missing") from None
        except (OSError, pa.ArrowException) as exc:
            raise IndexUnusable(f"{path} cannot be mapped: {exc}") from None
        try:
            return cls(_checked(path, source, build_id, expected, rows), expected)
        except IndexUnusable:
            source.close()  # nothing refers to the mapping: release it (Windows locks it)
            raise

    def lookup(self, ids: np.ndarray, names: Sequence[str]) -> pa.Table:
        """The rows whose ``obsID`` is in ``ids``, columns ``names``, in canonical order.

        Parameters
        ----------
        ids : numpy.ndarray
            Sorted, unique int64 observation ids.
        names : sequence of str
            Canonical public column names (validated by the caller).
        """
        return self.take(self.positions(ids), names)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions in the index (canonical order) of the rows whose ``obsID`` is in ``ids``.

        Parameters
        ----------
        ids : numpy.ndarray
            Sorted, unique int64 observation ids.

        Returns
        -------
        numpy.ndarray
            Sorted int64 positions: row ``i`` of the index is the ``i``-th product in ``_row``
            order.
        """
        found: list[np.ndarray] = []
        base = 0
        for keys in self._keys:
            size = len(keys)
            if size:
                # Only the ids within this batch's key range can match in it.
                first = np.searchsorted(ids, keys[0], side="left")
                stop = np.searchsorted(ids, keys[-1], side="right")
                wanted = ids[first:stop]
                if len(wanted):
                    lo = np.searchsorted(keys, wanted, side="left")
                    counts = np.searchsorted(keys, wanted, side="right") - lo
                    hit = counts > 0
                    lo, counts = lo[hit], counts[hit]
                    total = int(counts.sum())
                    if total:
                        # Each id's run of rows: start of its run plus the offset within it.
                        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
                        found.append(base + starts + np.arange(total))
            base += size
        return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)

    def take(self, positions: np.ndarray, names: Sequence[str]) -> pa.Table:
        """Columns ``names`` of the rows at sorted ``positions`` (see :meth:`positions`)."""
        schema = pa.schema([self._schema.field(n) for n in names])
        pieces: list[pa.RecordBatch] = []
        base = 0
        for batch in self._batches:
            size = batch.num_rows
            lo, hi = np.searchsorted(positions, [base, base + size])
            if hi > lo:
                local = pa.array(positions[lo:hi] - base, pa.int64())
                pieces.append(batch.select(list(names)).take(local))
            base += size
        if not pieces:
            return schema.empty_table()
        table = pa.Table.from_batches(
            [p.replace_schema_metadata(None) for p in pieces], schema=schema
        )
        return table.combine_chunks() if len(pieces) > 1 else table


def _checked(
    path: Path, source: pa.MemoryMappedFile, build_id: str, expected: pa.Schema, rows: int
) -> list[pa.RecordBatch]:
    """The batches of the mapped index file, if it belongs to the archive described."""
    try:
        reader = ipc.open_file(source)
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        for batch in batches:
            batch.validate()
    except (OSError, pa.ArrowException) as exc:
        raise IndexUnusable(f"{path} is not a readable index: {exc}") from None
    metadata = reader.schema.metadata or {}
    if metadata.get(_FORMAT_KEY) != INDEX_FORMAT.encode():
        raise IndexUnusable(f"{path} is of another index format")
    if metadata.get(BUILD_KEY) != build_id.encode():
        raise IndexUnusable(f"{path} was made for another build of the archive")
    if not reader.schema.remove_metadata().equals(expected):
        raise IndexUnusable(f"{path} has other columns than the archive")
    if sum(b.num_rows for b in batches) != rows:
        raise IndexUnusable(f"{path} has another number of products than the archive")
    last = -(2**63)
    for batch in batches:
        keys = batch.column(_KEY)
        if keys.null_count:
            raise IndexUnusable(f"{path} has null observation ids")
        values = keys.to_numpy(zero_copy_only=True)
        if len(values) and (values[0] < last or np.any(np.diff(values) < 0)):
            raise IndexUnusable(f"{path} is not sorted by observation")
        last = int(values[-1]) if len(values) else last
    return batches
