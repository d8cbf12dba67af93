"""Sizing up a product list before any download: files, bytes, duplicates, per type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError
from mastkit.services.products import unique_products
from mastkit.tables import ResultTable

__all__ = ["ProductSummary", "TypeTotals", "summarize"]


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return column.cast(pa.string())


class TypeTotals(NamedTuple):
    """Files and bytes of one product type."""

    files: int
    bytes: int


def _human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} PB"  # pragma: no cover


@dataclass(frozen=True, slots=True)
class ProductSummary:
    """How much a product list amounts to, duplicates counted once.

    Attributes
    ----------
    rows : int
        Rows of the product list.
    files : int
        Distinct files (distinct ``dataURI``; rows without a URI count one each).
    total_bytes : int
        Bytes of the distinct files whose size is known.
    duplicates : int
        Rows naming a file an earlier row already named (``rows - files``).
    unknown_sizes : int
        Distinct files without a size.
    by_type : dict
        ``productType`` -> :class:`TypeTotals` (files, bytes), largest first.

    Examples
    --------
    >>> t = ResultTable(pa.table({"dataURI": ["a", "b", "a"], "size": [10, 5, 10],
    ...                           "productType": ["SCIENCE", "PREVIEW", "SCIENCE"]}))
    >>> s = summarize(t)
    >>> s.files, s.total_bytes, s.duplicates
    (2, 15, 1)
    >>> s
    ProductSummary: 2 files, 15 B (1 duplicate row not counted)
      SCIENCE  1 file        10 B
      PREVIEW  1 file         5 B
    """

    rows: int
    files: int
    total_bytes: int
    duplicates: int
    unknown_sizes: int = 0
    by_type: dict[str, TypeTotals] = field(default_factory=dict)

    def __repr__(self) -> str:
        plural = "" if self.files == 1 else "s"
        head = f"ProductSummary: {self.files:,} file{plural}, {_human(self.total_bytes)}"
        notes = []
        if self.duplicates:
            notes.append(
                f"{self.duplicates:,} duplicate row{'' if self.duplicates == 1 else 's'} "
                "not counted"
            )
        if self.unknown_sizes:
            notes.append(f"{self.unknown_sizes:,} of unknown size")
        if notes:
            head += " (" + "; ".join(notes) + ")"
        if not self.by_type:
            return head
        width = max(len(t) for t in self.by_type)
        counts = max(len(f"{v.files:,}") for v in self.by_type.values())
        lines = [head]
        for name, totals in self.by_type.items():
            noun = "file " if totals.files == 1 else "files"
            lines.append(
                f"  {name:<{width}}  {totals.files:>{counts},} {noun}  {_human(totals.bytes):>9}"
            )
        return "\n".join(lines)

    __str__ = __repr__

    def as_dict(self) -> dict[str, Any]:
        """The numbers as a plain dict (JSON-friendly)."""
        return {
            "rows": self.rows,
            "files": self.files,
            "total_bytes": self.total_bytes,
            "duplicates": self.duplicates,
            "unknown_sizes": self.unknown_sizes,
            "by_type": {k: v._asdict() for k, v in self.by_type.items()},
        }


def summarize(products: ResultTable) -> ProductSummary:
    """Count the files and bytes of a product list, each distinct file once.

    Parameters
    ----------
    products : ResultTable
        A product list (``dataURI``, ``size`` and ``productType`` are used when present).

    Returns
    -------
    ProductSummary
    """
    if isinstance(products, pa.Table):
        products = ResultTable(products)
    if not isinstance(products, ResultTable):
        raise BadInputError(
            f"summarize takes a ResultTable of products, not {type(products).__name__}."
        )
    distinct = unique_products(products)
    arrow = distinct.arrow
    n = len(distinct)
    if "size" in arrow.column_names:
        sizes = arrow.column("size").cast(pa.int64())
    else:
        sizes = pa.chunked_array([pa.nulls(n, pa.int64())])
    total = pc.sum(sizes).as_py() or 0
    unknown = sizes.null_count
    by_type: dict[str, TypeTotals] = {}
    if "productType" in arrow.column_names and n:
        grouped = pa.table(
            {"type": pc.fill_null(_strings(arrow.column("productType")), "(none)"), "size": sizes}
        ).group_by("type", use_threads=False).aggregate(
            [("size", "count", pc.CountOptions(mode="all")), ("size", "sum")]
        )
        rows = sorted(
            zip(grouped.column("type").to_pylist(), grouped.column("size_count").to_pylist(),
                grouped.column("size_sum").to_pylist(), strict=True),
            key=lambda r: (-(r[2] or 0), r[0]),
        )
        by_type = {t: TypeTotals(int(c), int(s or 0)) for t, c, s in rows}
    return ProductSummary(
        rows=len(products),
        files=n,
        total_bytes=int(total),
        duplicates=len(products) - n,
        unknown_sizes=int(unknown),
        by_type=by_type,
    )
