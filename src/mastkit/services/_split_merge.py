"""The merge of a split query's parts: one table, no repeated obsid, checked, in order.

Kept apart from :mod:`mastkit.services._split` (which decides how to split and fetches the
parts) because its concern is memory: a split result can hold millions of rows, so the merge
makes at most one copy of them (see :func:`merge_parts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import DecodeError
from mastkit.tables import ResultTable, concat_pages

__all__ = ["merge_consuming", "merge_parts", "release_unused"]


def merge_parts(
    tables: Sequence[ResultTable],
    order: Sequence[tuple[str, str]],
    expected: int | None,
    service: str,
) -> pa.Table:
    """The parts' rows as one table: without repeated obsids, checked, in the server's order.

    Raises
    ------
    DecodeError
        When the rows do not add up to ``expected``.
    """
    return merge_consuming(list(tables), order, expected, service)


def release_unused() -> None:
    """Hand the memory Arrow's allocator holds unused back to the system.

    Parts are decoded on worker threads, and memory they free stays with the allocator's
    per-thread heaps, which the next allocation elsewhere does not reuse: without collecting it
    after each part and each merged column, a split holds about twice the result (measured).
    """
    pa.default_memory_pool().release_unused()


def _first_of_each(ids: pa.ChunkedArray) -> np.ndarray[Any, Any] | None:
    """The rows to keep, the first of each obsid, in order; None when no obsid repeats."""
    n = len(ids)
    if pc.count_distinct(ids).as_py() + ids.null_count >= n:
        return None
    first = (
        pa.table({"k": ids, "i": pa.array(np.arange(n))})
        .group_by("k", use_threads=False)
        .aggregate([("i", "min")])
    )
    return np.sort(first.column("i_min").to_numpy())


def merge_consuming(
    tables: list[ResultTable],
    order: Sequence[tuple[str, str]],
    expected: int | None,
    service: str,
) -> pa.Table:
    """:func:`merge_parts`, emptying ``tables`` so that the parts go as the result is built.

    One copy of the rows at most: duplicates and order are settled on the key columns alone,
    into one array of row indices, and the columns are then taken one at a time, each part's
    column released as soon as its rows are in the result (so the peak is the result plus one
    column, not two tables).
    """
    kept = [t.arrow for t in tables if len(t)] or [t.arrow for t in tables[:1]]
    tables.clear()
    table = concat_pages(kept) if kept else pa.table({})
    del kept
    release_unused()
    rows: np.ndarray[Any, Any] | None = None  # the rows of the result, in order (None: all)
    if "obsid" in table.column_names and table.num_rows:
        rows = _first_of_each(table.column("obsid"))
        release_unused()  # the hashing's scratch memory, on Arrow's threads
    count = table.num_rows if rows is None else len(rows)
    if expected is not None and count != expected:
        raise DecodeError(
            f"{service}: the parts of the split query hold {count} rows but the query "
            f"counts {expected}; the archive changed while it ran. Run it again.",
            service=service,
        )
    keys = [(name, how) for name, how in order if name in table.column_names]
    if keys and count > 1:
        keyed = pa.table({f"k{i}": table.column(name) for i, (name, _) in enumerate(keys)})
        if rows is not None:
            keyed = keyed.take(pa.array(rows))
        sort_keys = [(f"k{i}", how) for i, (_, how) in enumerate(keys)]
        ranks = pc.sort_indices(keyed, sort_keys=sort_keys).to_numpy()
        del keyed
        release_unused()
        if rows is not None:
            rows = rows[ranks]
        elif not np.array_equal(ranks, np.arange(count)):
            rows = ranks
    if rows is None:
        return table
    indices = pa.array(rows)
    schema = table.schema
    columns = table.columns[::-1]
    del table
    taken = []
    while columns:  # each column of the parts goes as soon as its rows are taken
        # One array first (Arrow's take would otherwise join the chunks alongside the parts).
        flat = columns.pop().combine_chunks()
        release_unused()
        taken.append(flat.take(indices))
        del flat
        release_unused()
    return pa.Table.from_arrays(taken, schema=schema)
