"""``ResultTable``: a query result as an Arrow table, with where it came from."""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pyarrow as pa

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol.envelopes import Field, MashupResponse, Paging
from mastkit.tables._render import render_html, render_text
from mastkit.tables.concat import concat_pages
from mastkit.tables.convert import field_info, to_astropy
from mastkit.tables.decode import decode_reply
from mastkit.tables.io import write_table
from mastkit.tables.schema import column_metadata, declared_schema, ignore_values_from_config

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars
    from astropy.table import Table as AstropyTable

__all__ = ["ResultTable"]

_ITER_BATCH = 4096


class ResultTable:
    """A MAST query result: a :class:`pyarrow.Table` plus its provenance.

    Parameters
    ----------
    table : pyarrow.Table
        The data. Long ids are int64, nulls are Arrow nulls. Any object with the Arrow
        PyCapsule stream interface (a polars DataFrame, a RecordBatchReader) is accepted too.
    service : str, optional
        The MAST service that produced it.
    params : mapping, optional
        The service parameters of the query.
    paging : Paging, optional
        The paging block of the (last) reply: ``rows_total`` is the size of the full result.
    pages : int
        How many replies were concatenated.
    truncated : bool
        Whether fewer rows than the query matched were fetched (a row limit was asked for).
    metadata : mapping, optional
        ``{"units": {col: unit}, "descriptions": {col: text}, "labels": {col: text}}`` when
        known (see :func:`~mastkit.tables.schema.column_metadata`), and any other notes.

    Notes
    -----
    ``table["col"]`` returns the column as a :class:`pyarrow.ChunkedArray`: no copy, nulls
    kept. Use ``.to_numpy()`` or ``.to_pylist()`` on it, or :meth:`to_astropy` for masked
    columns with units. ``table[i]`` is row ``i`` as a dict, ``table[a:b]`` and
    ``table[["c1", "c2"]]`` are ResultTables, and iterating yields rows as dicts.

    Examples
    --------
    >>> rt = ResultTable(pa.table({"obsid": [2003585980, 2003585981], "s_ra": [23.1, None]}),
    ...                  service="Mast.Caom.Cone")
    >>> len(rt), rt.columns
    (2, ['obsid', 's_ra'])
    >>> rt[1]
    {'obsid': 2003585981, 's_ra': None}
    >>> rt["s_ra"].null_count
    1
    """

    __slots__ = ("_table", "metadata", "pages", "paging", "params", "service", "truncated")

    def __init__(
        self,
        table: pa.Table,
        *,
        service: str | None = None,
        params: Mapping[str, Any] | None = None,
        paging: Paging | None = None,
        pages: int = 1,
        truncated: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(table, pa.Table):
            if not hasattr(table, "__arrow_c_stream__"):
                raise BadInputError(
                    f"ResultTable wraps a pyarrow.Table (or an Arrow stream), "
                    f"not {type(table).__name__}."
                )
            table = pa.table(table)  # polars, pandas-on-Arrow, record batch readers, ...
        self._table = table
        self.service = service
        self.params: dict[str, Any] = dict(params or {})
        self.paging = paging
        self.pages = pages
        self.truncated = truncated
        self.metadata: dict[str, Any] = dict(metadata or {})

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_reply(
        cls,
        response: MashupResponse,
        *,
        service: str | None = None,
        params: Mapping[str, Any] | None = None,
        columns_config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ResultTable:
        """Decode one reply; a columns config adds ignoreValues, units and descriptions.

        Examples
        --------
        >>> from mastkit.protocol import decode_response
        >>> reply = decode_response(b'{"status": "COMPLETE", "msg": "", "data": [{"Column1": 599}],'
        ...                         b' "fields": [{"name": "Column1", "type": "string"}]}')
        >>> ResultTable.from_reply(reply)["Column1"].to_pylist()
        [599]
        """
        config = columns_config or {}
        table = decode_reply(response, ignore_values=ignore_values_from_config(config))
        return cls(
            table,
            service=service,
            params=params,
            paging=response.paging,
            metadata=column_metadata(config) if config else None,
        )

    @classmethod
    def empty(cls, fields: Sequence[Field], **provenance: Any) -> ResultTable:
        """An empty result with the declared columns and their declared types.

        Examples
        --------
        >>> ResultTable.empty([Field("obsid", "string"), Field("s_ra", "float")]).arrow.schema.types
        [DataType(string), DataType(double)]
        """
        return cls(declared_schema(fields).empty_table(), **provenance)

    @classmethod
    def concat(cls, tables: Iterable[ResultTable]) -> ResultTable:
        """Concatenate results (the pages of one query, typically), unifying column types.

        Provenance comes from the first table, the paging from the last; ``pages`` adds up and
        ``truncated`` is true if any part was.

        Examples
        --------
        >>> a = ResultTable(pa.table({"n": [1]}), service="S")
        >>> b = ResultTable(pa.table({"n": [2.5]}), service="S")
        >>> ResultTable.concat([a, b])["n"].to_pylist(), ResultTable.concat([a, b]).pages
        ([1.0, 2.5], 2)
        """
        parts = list(tables)
        if not parts:
            raise BadInputError("ResultTable.concat needs at least one table.")
        first, last = parts[0], parts[-1]
        metadata: dict[str, Any] = {}
        for part in parts:
            for key, value in part.metadata.items():
                if isinstance(value, dict) and isinstance(metadata.get(key), dict):
                    metadata[key] = {**value, **metadata[key]}
                else:
                    metadata.setdefault(key, value)
        return cls(
            concat_pages([p.arrow for p in parts]),
            service=first.service,
            params=first.params,
            paging=last.paging,
            pages=sum(p.pages for p in parts),
            truncated=any(p.truncated for p in parts),
            metadata=metadata,
        )

    def _derive(self, table: pa.Table) -> ResultTable:
        return ResultTable(
            table,
            service=self.service,
            params=self.params,
            paging=self.paging,
            pages=self.pages,
            truncated=self.truncated,
            metadata=self.metadata,
        )

    # ---------------------------------------------------------------- shape and access

    @property
    def arrow(self) -> pa.Table:
        """The underlying :class:`pyarrow.Table` (not a copy)."""
        return self._table

    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        names: list[str] = self._table.column_names
        return names

    colnames = columns

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema."""
        return self._table.schema

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return self._table.num_rows, self._table.num_columns

    @property
    def rows_total(self) -> int:
        """Rows in the full result on the server (``paging.rowsTotal``), else rows held."""
        if self.paging is not None and self.paging.rows_total:
            return self.paging.rows_total
        rows: int = self._table.num_rows
        return rows

    @property
    def units(self) -> dict[str, str]:
        """Column units known from the columns config or the file the table came from."""
        return {**field_info(self._table, "unit"), **self.metadata.get("units", {})}

    @property
    def descriptions(self) -> dict[str, str]:
        """Column descriptions known from the columns config or the file."""
        return {**field_info(self._table, "description"), **self.metadata.get("descriptions", {})}

    def __len__(self) -> int:
        rows: int = self._table.num_rows
        return rows

    def __contains__(self, name: object) -> bool:
        """Whether a column of that name exists (``"obsid" in table``)."""
        return isinstance(name, str) and name in self._table.column_names

    def _column(self, name: str) -> pa.ChunkedArray:
        if name not in self._table.column_names:
            suggestions = difflib.get_close_matches(name, self.columns, n=3)
            raise UnknownColumnError(name, suggestions, service=self.service, known=self.columns)
        return self._table.column(name)

    @overload
    def __getitem__(self, key: str) -> pa.ChunkedArray: ...
    @overload
    def __getitem__(self, key: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(
        self, key: slice | Sequence[str] | Sequence[int] | np.ndarray[Any, Any]
    ) -> ResultTable: ...

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._column(key)
        if isinstance(key, int | np.integer) and not isinstance(key, bool):
            index = int(key)
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"row {index} is out of range for a table of {n} rows")
            row = self._table.slice(index % n, 1).to_pylist()
            return row[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._derive(self._table.slice(start, max(0, stop - start)))
            return self._derive(self._table.take(pa.array(range(start, stop, step), pa.int64())))
        if isinstance(key, list | tuple) and key and all(isinstance(k, str) for k in key):
            for name in key:
                self._column(name)
            return self._derive(self._table.select(list(key)))
        if isinstance(key, pa.Array | pa.ChunkedArray):
            # Masks and indices as compute kernels return them: rt[pc.greater(rt["s_ra"], 20)]
            if pa.types.is_boolean(key.type):
                if len(key) != len(self):
                    raise IndexError(
                        f"a boolean mask of {len(key)} for a table of {len(self)} rows"
                    )
                return self._derive(self._table.filter(key))
            key = key.to_numpy(zero_copy_only=False)
        selector = np.asarray(key)
        if selector.dtype == bool:
            if len(selector) != len(self):
                raise IndexError(
                    f"a boolean mask of {len(selector)} for a table of {len(self)} rows"
                )
            return self._derive(self._table.filter(pa.array(selector)))
        if selector.dtype.kind in "iu" and selector.ndim == 1:
            indices = np.where(selector < 0, selector + len(self), selector)
            if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
                raise IndexError("row index out of range")
            return self._derive(self._table.take(pa.array(indices, pa.int64())))
        raise TypeError(f"cannot index a ResultTable with {type(key).__name__}")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Rows as dicts (converted a batch at a time)."""
        for batch in self._table.to_batches(max_chunksize=_ITER_BATCH):
            yield from batch.to_pylist()

    def to_pylist(self) -> list[dict[str, Any]]:
        """All rows as a list of dicts."""
        rows: list[dict[str, Any]] = self._table.to_pylist()
        return rows

    # ---------------------------------------------------------------- display

    def _title(self) -> str:
        n, m = self.shape
        parts = [
            f"ResultTable: {n:,} row{'s' if n != 1 else ''} × {m} column{'s' if m != 1 else ''}"
        ]
        origin = []
        if self.service:
            origin.append(self.service)
        if self.pages != 1:
            origin.append(f"{self.pages} pages")
        if self.paging is not None and self.paging.rows_total:
            origin.append(f"{self.paging.rows_total:,} rows on the server")
        if self.truncated:
            origin.append("truncated")
        if origin:
            parts.append("(" + ", ".join(origin) + ")")
        return " ".join(parts)

    def __repr__(self) -> str:
        width = shutil.get_terminal_size((110, 24)).columns
        return render_text(self._table, self._title(), width=max(60, min(width, 200)))

    def _repr_html_(self) -> str:
        return render_html(self._table, self._title())

    # ---------------------------------------------------------------- conversions

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule stream interface: ``pyarrow.table(rt)``, ``polars.DataFrame(rt)``."""
        return self._table.__arrow_c_stream__(requested_schema)

    def _provenance(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if self.service:
            meta["service"] = self.service
        if self.params:
            meta["params"] = self.params
        if self.paging is not None:
            meta["paging"] = self.paging.to_json()
        meta["pages"] = self.pages
        meta["truncated"] = self.truncated
        return meta

    def to_astropy(self) -> AstropyTable:
        """An :class:`astropy.table.Table`: nulls masked, units and descriptions where known.

        Provenance goes to ``meta`` (``service``, ``params``, ``paging``...).

        Examples
        --------
        >>> t = ResultTable(pa.table({"s_ra": [1.0, None]}), metadata={"units": {"s_ra": "deg"}})
        >>> at = t.to_astropy()
        >>> str(at["s_ra"].unit), at["s_ra"].mask.tolist()
        ('deg', [False, True])
        """
        return to_astropy(
            self._table, units=self.units, descriptions=self.descriptions, meta=self._provenance()
        )

    def to_pandas(self, **kwargs: Any) -> pandas.DataFrame:
        """A :class:`pandas.DataFrame` (keyword arguments go to ``pyarrow.Table.to_pandas``).

        With the defaults, integer columns holding nulls become float64 with NaN, as pandas
        does; pass ``types_mapper=pandas.ArrowDtype`` to keep exact Arrow types.
        """
        return self._table.to_pandas(**kwargs)

    def to_polars(self) -> polars.DataFrame:
        """A :class:`polars.DataFrame` sharing the Arrow buffers where possible."""
        import polars as pl

        frame = pl.from_arrow(self._table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def write(
        self, path: str | os.PathLike[str], format: str | None = None, *, overwrite: bool = False
    ) -> Path:
        """Write to a file, atomically; the format comes from the suffix unless given.

        ``.parquet``, ``.csv``, ``.ecsv``, ``.fits``/``.fit``, ``.xml``/``.vot``/``.votable``.
        Units, descriptions and provenance are written where the format has room for them.
        See :func:`mastkit.tables.io.write_table` for the details and errors.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "result.csv"
        >>> ResultTable(pa.table({"n": [1]})).write(path).read_text()
        'n\\n1\\n'
        """
        return write_table(
            self._table,
            path,
            format,
            overwrite=overwrite,
            units=self.units,
            descriptions=self.descriptions,
            meta=self._provenance(),
        )
