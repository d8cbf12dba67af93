"""Listing the data products of observations (``Mast.Caom.Products``).

:func:`products_plan` lists the products of many observations in batches of obsids (1,000 by
default, MAST's own batch for mission product lists; in increasing obsid order, the server's
order of a product list) fetched concurrently,
optionally without duplicate files (the same ``dataURI`` under several observations, common for
JWST). A batch the server refuses as too large (MAST resets the connection past about 500,000
rows) is halved until its halves fit, and later batches on the same client start at the size
that worked; the merged list is the one a server without a limit would return. Filtering the list is
:func:`mastkit.services.filter_products`; sizing it up, :func:`mastkit.services.summarize`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, MastError, ResultTooLargeError
from mastkit.protocol.services import CAOM_PRODUCTS
from mastkit.services._plan import ColumnsConfig, Gather, Plan, Query, Session
from mastkit.services._queries import PRODUCTS_CONFIG, finish
from mastkit.services._split import refusal
from mastkit.tables import ResultTable

__all__ = ["DEFAULT_BATCH_SIZE", "obsids_from", "products_plan", "unique_products"]

#: Obsids per ``Mast.Caom.Products`` request.
#: Obsids per request. Fewer, larger requests cost less per obsid on both sides (measured on the
#: local server: 2,000 obsids in 45 ms as 2 batches, 60 ms as 4, 59 ms as 1); astroquery 0.4.11
#: sends every obsid in one request, which cannot be fetched in parallel.
DEFAULT_BATCH_SIZE = 1000

_OBSID = re.compile(r"^\s*\d+\s*$")
logger = logging.getLogger("mastkit.services")


# ------------------------------------------------------------------------------ obsids


def _obsid(value: Any) -> int | None:
    """One obsid, or None for a null; BadInputError for anything that is not one."""
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, bool):
        raise BadInputError(f"{value!r} is not an obsid.")
    if isinstance(value, int | np.integer):
        if value < 0:
            raise BadInputError(f"{value!r} is not an obsid (they are positive).")
        return int(value)
    if isinstance(value, float | np.floating):
        if math.isfinite(value) and float(value).is_integer() and value >= 0:
            return int(value)
        if isinstance(value, float) and math.isnan(value):
            return None
        raise BadInputError(f"{value!r} is not an obsid.")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if not value.strip():
            return None
        if _OBSID.match(value):
            return int(value)
        raise BadInputError(
            f"{value!r} is not an obsid. Products are listed by obsid, the numeric "
            "'Product Group ID' of an observation (e.g. 2003738726), not by obs_id (the "
            "mission's identifier, e.g. 'u9o40504m'); pass the observations table itself."
        )
    raise BadInputError(f"Cannot read an obsid from a {type(value).__name__} ({value!r}).")


def _column_values(table: Any) -> list[Any] | None:
    """The obsid column of any table-like object (ResultTable, astropy, pandas, polars, Arrow)."""
    names: Sequence[str] | None = None
    for attribute in ("colnames", "column_names", "columns"):
        candidate = getattr(table, attribute, None)
        if candidate is not None and not callable(candidate):
            names = [str(c) for c in candidate]
            break
    if names is None:
        return None
    if "obsid" not in names:
        hint = (
            " This looks like a product list; its observations are in 'obsID'."
            if "obsID" in names else ""
        )
        raise BadInputError(f"The table has no 'obsid' column to list products for.{hint}")
    column = table["obsid"]
    if hasattr(column, "to_pylist"):
        values: list[Any] = column.to_pylist()
        return values
    if hasattr(column, "filled") and getattr(column, "mask", None) is not None:  # masked column
        mask = np.ma.getmaskarray(column)
        return [None if m else v for v, m in zip(list(np.asarray(column)), mask, strict=True)]
    if hasattr(column, "tolist"):
        values = column.tolist()
        return values
    return list(column)


def obsids_from(value: Any) -> list[int]:
    """The distinct obsids of observations, in order of first appearance.

    Parameters
    ----------
    value : table, row, sequence or scalar
        A :class:`~mastkit.tables.ResultTable` of observations (or an astropy, pandas, polars
        or Arrow table, or an astropy row or dict) with an ``obsid`` column; a sequence of
        obsids; or one obsid (int or numeric string). Nulls are skipped.

    Raises
    ------
    BadInputError
        For values that are not obsids (an ``obs_id`` string, say), or a table without
        ``obsid``.

    Examples
    --------
    >>> obsids_from(["2003738726", 2003738726, 3000007760])
    [2003738726, 3000007760]
    """
    if isinstance(value, ResultTable):
        values: list[Any] = _column_values(value.arrow) or []
    elif isinstance(value, Mapping) or type(value).__name__ == "Row":
        try:
            values = [value["obsid"]]
        except (KeyError, IndexError, ValueError):
            raise BadInputError("The row has no 'obsid' to list products for.") from None
    elif isinstance(value, str | bytes | int | np.integer | float | np.floating):
        values = [value]
    else:
        found = _column_values(value)
        if found is not None:
            values = found
        elif isinstance(value, Iterable):
            values = list(value)
        else:
            raise BadInputError(
                f"Cannot list products for a {type(value).__name__}; give observations (a "
                "table with 'obsid') or obsids."
            )
    if all(type(v) is int and v >= 0 for v in values):  # the common case, checked fast
        return list(dict.fromkeys(values))
    ids = (_obsid(v) for v in values)
    return list(dict.fromkeys(i for i in ids if i is not None))


# ------------------------------------------------------------------------------ listing


def unique_products(table: ResultTable) -> ResultTable:
    """Keep the first row of each ``dataURI`` (rows without a URI are all kept).

    Examples
    --------
    >>> t = ResultTable(pa.table({"dataURI": ["a", "b", "a", None, None]}))
    >>> unique_products(t)["dataURI"].to_pylist()
    ['a', 'b', None, None]
    """
    if "dataURI" not in table.columns or len(table) == 0:
        return table
    uris = table.arrow.column("dataURI")
    indexed = pa.table({"uri": uris, "i": pa.array(np.arange(len(table), dtype=np.int64))})
    first = indexed.group_by("uri", use_threads=False).aggregate([("i", "min")])
    keep = np.zeros(len(table), dtype=bool)
    keep[first.column("i_min").to_numpy()] = True
    keep |= pc.is_null(uris).to_numpy(zero_copy_only=False)
    return table[keep]


def _batch(ids: Sequence[int]) -> Plan[ResultTable | None]:
    """One batch's products, or None when the server refused it as too large."""
    try:
        table: ResultTable = yield Query(CAOM_PRODUCTS, {"obsid": ",".join(map(str, ids))})
    except MastError as exc:
        refused, _ = refusal(exc)
        if not refused:
            raise
        if len(ids) <= 1:
            raise ResultTooLargeError(
                f"{CAOM_PRODUCTS}: the product list of observation {ids[0]} alone is more than "
                "the server returns at once.",
                service=CAOM_PRODUCTS,
            ) from exc
        return None
    return table


def _fetch_batches(session: Session, batches: list[list[int]]) -> Plan[list[ResultTable]]:
    """Every batch's products in batch order, halving the batches the server refuses."""
    slots: list[list[int] | ResultTable] = list(batches)
    while True:
        todo = [s for s in slots if isinstance(s, list)]
        if not todo:
            return [s for s in slots if isinstance(s, ResultTable)]
        if len(todo) == 1:
            got: list[ResultTable | None] = [(yield from _batch(todo[0]))]
        else:
            got = yield Gather(tuple(_batch(b) for b in todo), limit=session.concurrency)
        answers = iter(got)
        refilled: list[list[int] | ResultTable] = []
        for slot in slots:
            if isinstance(slot, ResultTable):
                refilled.append(slot)
                continue
            table = next(answers)
            if table is not None:
                refilled.append(table)
                continue
            half = (len(slot) + 1) // 2
            session.learn_product_batch(half)
            logger.info("the server refused the products of %d observations; asking for %d "
                        "at a time", len(slot), half)
            refilled.extend([slot[:half], slot[half:]])
        slots = refilled


def products_plan(
    session: Session,
    observations: Any,
    *,
    unique: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Plan[ResultTable]:
    """The products of ``observations`` (see :func:`obsids_from`), batched and concurrent."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BadInputError(f"batch_size must be a positive integer, not {batch_size!r}.")
    ids = sorted(obsids_from(observations))
    config = yield ColumnsConfig(PRODUCTS_CONFIG)
    params = {"obsid": ",".join(map(str, ids))}
    if not ids:
        empty = ResultTable(pa.table({}), service=CAOM_PRODUCTS, params=params)
        return finish(empty, config, distance=False, metadata={"obsids": 0, "batches": 0})
    size = min(batch_size, session.product_batch or batch_size)
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    logger.debug("listing the products of %d observations in %d batch(es), %d at a time",
                 len(ids), len(batches), session.concurrency)
    parts = yield from _fetch_batches(session, batches)
    batches_used = len(parts)
    if len(parts) == 1:
        table = parts[0]
    else:
        with_columns = [p for p in parts if p.columns] or parts[:1]
        table = ResultTable.concat(with_columns)
        table = ResultTable(table.arrow, service=CAOM_PRODUCTS, params=params,
                            paging=None, pages=table.pages, metadata=table.metadata)
    rows = len(table)
    if unique:
        table = unique_products(table)
    return finish(
        table, config, distance=False,
        metadata={"obsids": len(ids), "batches": batches_used,
                  "duplicates_removed": rows - len(table)},
    )
