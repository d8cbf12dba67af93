"""The fast path of the json decoder: a JSON array of row objects through Arrow's JSON reader.

Arrow reads newline-delimited JSON in parallel blocks, so the array has to become one object per
line. msgspec splits the array into raw row slices without building Python objects (and
validates the JSON on the way); then:

* when the array is compact (``[{...},{...}]``, what MAST and the local server send), the slice
  lengths give the exact offset of every separating comma, and the bytes are streamed to Arrow
  a block at a time with those commas turned into newlines: no second copy of the whole reply;
* otherwise (whitespace between rows) the slices are joined with newlines.

Declared ``int``/``float``/``boolean`` columns get an explicit Arrow type; ``string`` ones are
typed from the values (first guessed from a sample of rows, which spares Arrow the inference,
and inferred by Arrow when the guess is wrong). :func:`read_rows` returns ``None`` whenever the
data needs the careful path instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from mastkit.protocol.envelopes import Field
from mastkit.tables._values import finish_date, normalise_inferred
from mastkit.tables.schema import SELECTED_COLUMN, Kind, arrow_type, kind_of

__all__ = ["read_rows"]

# Blocks are parsed in parallel; a few MiB keeps both cores busy and the memory warm (2 MiB
# measured 3-5% less CPU than 8 MiB on a 50 MB page). A row longer than a block makes Arrow
# fail, and the careful path takes over.
_BLOCK_SIZE: Final = 2 << 20
_SAMPLE: Final = 64
_EXPLICIT: Final[dict[Kind, pa.DataType]] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}
_ANY: Final = msgspec.json.Decoder()
#: Where parsed tables are allocated: the C library's allocator. Arrow's default (mimalloc)
#: keeps a heap per thread; pages decoded on the client's long-lived worker threads left
#: 60-90 MB resident after a 2,000-observation product listing (and 100 MB more at the peak of
#: a 200,000-row query) that the C allocator returns. Same speed, measured on both.
_POOL: Final = pa.system_memory_pool()
_NEWLINE: Final = 10
_SPACE: Final = 32


class _Lines:
    """A read-only file over a compact JSON array, showing one row per line.

    Arrow pulls blocks through :meth:`read`; each block is copied, and the separating commas
    in it (known from the row lengths) become newlines and the brackets spaces.
    """

    def __init__(self, data: bytes | memoryview, separators: np.ndarray[Any, Any]) -> None:
        self._data = data
        self._separators = separators
        self._position = 0
        self.closed = False

    def read(self, size: int | None = -1) -> bytearray:
        start = self._position
        total = len(self._data)
        end = total if size is None or size < 0 else min(total, start + size)
        # A fresh buffer per block: Arrow keeps it while the block is parsed.
        chunk = bytearray(memoryview(self._data)[start:end])
        view = np.frombuffer(chunk, dtype=np.uint8)
        low, high = np.searchsorted(self._separators, (start, end))
        view[self._separators[low:high] - start] = _NEWLINE
        if start == 0 and end > 0:
            view[0] = _SPACE  # the opening bracket
        if end == total and end > start:
            view[-1] = _SPACE  # the closing bracket
        self._position = end
        return chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _source(data: bytes | memoryview, rows: list[msgspec.Raw]) -> Callable[[], Any]:
    """A factory of fresh Arrow inputs presenting ``rows`` one per line."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    # In a compact array row i starts at 1 + sum(len[:i]) + i (brackets and commas between).
    ends = np.cumsum(lengths + 1)
    compact = len(data) == int(ends[-1]) + 1 and data[:1] == b"["
    if compact:
        view = np.frombuffer(data, dtype=np.uint8)
        compact = bool(np.all(view[ends[:-1]] == ord(","))) and data[-1:] == b"]"
    if compact:
        separators = ends[:-1]
        return lambda: _Lines(data, separators)
    joined = pa.py_buffer(b"\n".join(rows))
    return lambda: pa.BufferReader(joined)


def _guess(fields: Sequence[Field], rows: list[msgspec.Raw]) -> dict[str, pa.DataType]:
    """Types for ``string``/``auto`` columns whose sampled values all agree (int64 or utf8)."""
    loose = {f.name for f in fields if kind_of(f.type) in ("string", "auto")}
    if not loose:
        return {}
    step = max(1, len(rows) // _SAMPLE)
    seen: dict[str, set[type]] = {name: set() for name in loose}
    for raw in rows[::step]:
        row = _ANY.decode(raw)
        if not isinstance(row, dict):
            return {}
        for name in loose:
            value = row.get(name)
            if value is not None:
                seen[name].add(type(value))
    guessed = {}
    for name, types in seen.items():
        if types == {str}:
            guessed[name] = pa.string()
        elif types == {int}:
            guessed[name] = pa.int64()
    return guessed


def _key_order(rows: list[msgspec.Raw]) -> list[str]:
    """The keys of the first row, in order (empty if it is not an object)."""
    first = _ANY.decode(rows[0])
    return list(first) if isinstance(first, dict) else []


def _schema(types: dict[str, pa.DataType], order: list[str]) -> pa.Schema:
    """``types`` as a schema in the rows' key order.

    Arrow's parser matches each key against the schema field expected next, so fields in the
    order the rows have them parse about 10% faster than in any other order.
    """
    ordered = {name: types[name] for name in order if name in types}
    ordered.update(types)
    return pa.schema(ordered)


def _parse(
    open_input: Callable[[], Any], schema: pa.Schema, *, threads: bool, complete: bool = False
) -> pa.Table | None:
    # A schema that names every declared column lets the reader skip the others unseen.
    options = pa_json.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="ignore" if complete else "infer"
    )
    try:
        return pa_json.read_json(
            open_input(),
            read_options=pa_json.ReadOptions(block_size=_BLOCK_SIZE, use_threads=threads),
            parse_options=options,
            memory_pool=_POOL,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def _covers(fields: Sequence[Field], types: dict[str, pa.DataType]) -> bool:
    """Whether ``types`` names every declared column (then no other key needs reading)."""
    return bool(fields) and all(f.name in types for f in fields)


def read_rows(
    fields: Sequence[Field],
    data: bytes | memoryview,
    rows: list[msgspec.Raw],
    threads: bool = True,
) -> pa.Table | None:
    """Decode the rows with Arrow, or return ``None`` if the careful path must.

    ``data`` is the whole JSON array and ``rows`` its elements as split by msgspec (non-empty).
    ``threads``: let Arrow parse blocks on its thread pool (False: on this thread only, which
    costs less CPU time in all, for callers that decode several replies side by side).
    """
    kinds = {f.name: kind_of(f.type) for f in fields}
    explicit = {n: _EXPLICIT[k] for n, k in kinds.items() if k in _EXPLICIT}
    open_input = _source(data, rows)
    guessed = _guess(fields, rows)
    order = _key_order(rows)
    typed = {**explicit, **guessed}
    parsed = (
        _parse(open_input, _schema(typed, order), threads=threads, complete=_covers(fields, typed))
        if guessed
        else None
    )
    if parsed is None:
        parsed = _parse(
            open_input,
            _schema(explicit, order),
            threads=threads,
            complete=_covers(fields, explicit),
        )
        if parsed is None:
            return None
        # Arrow infers ISO-looking strings as timestamps; a text column must keep its text, so
        # read those columns again as utf8 (rare: MAST sends times as MJD floats).
        stamped = {
            n: pa.string()
            for n in parsed.column_names
            if pa.types.is_timestamp(parsed.schema.field(n).type) and kinds.get(n, "auto") != "date"
        }
        if stamped:
            parsed = _parse(open_input, _schema({**explicit, **stamped}, order), threads=threads)
            if parsed is None:
                return None
    if parsed.num_rows != len(rows):
        return None
    n = parsed.num_rows
    names = [f.name for f in fields] or [c for c in parsed.column_names if c != SELECTED_COLUMN]
    columns: list[pa.ChunkedArray | pa.Array] = []
    for name in names:
        kind = kinds.get(name, "auto")
        if name not in parsed.column_names:
            columns.append(pa.nulls(n, arrow_type(kind)))
            continue
        column = parsed.column(name)
        if kind == "date":
            if not pa.types.is_timestamp(column.type):
                checked = normalise_inferred(column)
                if checked is None or pa.types.is_boolean(checked.type):
                    return None  # the careful path decides (and rejects booleans)
                column = checked
            column = finish_date(column)
        elif kind in ("string", "auto"):
            checked = normalise_inferred(column)
            if checked is None:
                return None
            column = checked
        columns.append(column)
    return pa.table(columns, names=names)
