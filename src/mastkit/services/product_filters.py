"""Filtering product lists in memory: MAST cannot filter products on the server.

:func:`filter_products` narrows a product list by product type, subgroup, file extension,
calibration level, the "Minimum Recommended Products" group, a glob or regular expression on
file names, or any column, each with negation (a ``"!"`` prefix or
:class:`~mastkit.services.Not`). Nothing is sent; the matching follows MAST's filter rules
(text ignores case, ``*`` is a wildcard, ranges are inclusive).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastkit.errors import BadInputError, UnknownColumnError
from mastkit.protocol.filters import Filter, Range, criterion
from mastkit.services.criteria import split_negation
from mastkit.tables import ResultTable

__all__ = ["MRP", "filter_products"]

#: The ``productGroupDescription`` of MAST's minimum recommended products.
MRP = "Minimum Recommended Products"


def _glob_regex(glob: str) -> str:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob]
    return "^" + "".join(parts) + "$"


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) \
        else column.cast(pa.string())


def _as_bool(array: Any) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _numeric(column: pa.ChunkedArray) -> bool:
    t = column.type
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _filter_mask(column: pa.ChunkedArray, name: str, f: Filter) -> np.ndarray:
    """Rows of ``column`` matching filter ``f`` (MAST semantics: values OR pattern)."""
    mask = np.zeros(len(column), dtype=bool)
    exact = [v for v in f.values if not isinstance(v, Range)]
    for r in (v for v in f.values if isinstance(v, Range)):
        if not _numeric(column):
            raise BadInputError(f"{name!r} is a text column; ranges apply to number columns.")
        lo = pc.greater_equal(column, pa.scalar(r.min, pa.float64()))
        hi = pc.less_equal(column, pa.scalar(r.max, pa.float64()))
        mask |= _as_bool(pc.and_(lo, hi))
    if exact:
        if _numeric(column):
            try:
                numbers = [float(v) for v in exact]
            except ValueError:
                raise BadInputError(
                    f"{name!r} is a number column; {exact!r} are not all numbers."
                ) from None
            mask |= _as_bool(pc.is_in(column.cast(pa.float64()), value_set=pa.array(numbers)))
        elif pa.types.is_boolean(column.type):
            wanted = {str(v).lower() in ("true", "1") for v in exact}
            mask |= _as_bool(pc.is_in(column, value_set=pa.array(sorted(wanted), pa.bool_())))
        else:
            lowered = pa.array([str(v).lower() for v in exact], pa.string())
            mask |= _as_bool(pc.is_in(pc.utf8_lower(_strings(column)), value_set=lowered))
    if f.free_text is not None:
        mask |= _as_bool(pc.match_like(_strings(column), f.free_text, ignore_case=True))
    return mask


def _values(value: Any) -> list[Any]:
    if isinstance(value, str | bytes | re.Pattern) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _extension_mask(column: pa.ChunkedArray, value: Any) -> np.ndarray:
    mask = np.zeros(len(column), dtype=bool)
    lowered = pc.utf8_lower(_strings(column))
    for ext in _values(value):
        if not isinstance(ext, str) or not ext.strip():
            raise BadInputError(f"An extension must be a non-empty string, not {ext!r}.")
        mask |= _as_bool(pc.ends_with(lowered, ext.strip().lower()))
    return mask


def _filename_mask(column: pa.ChunkedArray, value: Any) -> np.ndarray:
    mask = np.zeros(len(column), dtype=bool)
    for pattern in _values(value):
        if isinstance(pattern, re.Pattern):
            names = column.to_pylist()
            mask |= np.fromiter(
                (n is not None and pattern.search(str(n)) is not None for n in names),
                dtype=bool, count=len(names),
            )
        elif isinstance(pattern, str) and pattern:
            regex = _glob_regex(pattern)
            mask |= _as_bool(pc.match_substring_regex(_strings(column), regex, ignore_case=True))
        else:
            raise BadInputError(
                f"filename takes glob strings or compiled regular expressions, not {pattern!r}."
            )
    return mask


def _criterion_mask(column: pa.ChunkedArray, name: str, value: Any) -> np.ndarray:
    continuous = pa.types.is_floating(column.type)
    return _filter_mask(column, name, criterion(name, value, continuous=continuous))


def _apply(mask: np.ndarray, column: pa.ChunkedArray, value: Any, matcher: Any) -> None:
    positive, negated = split_negation(value)
    if positive is None and not negated:
        raise BadInputError("A product filter has no values.")
    if positive is not None:
        mask &= matcher(column, positive)
    for item in negated:
        mask &= ~matcher(column, item)


def _split_filename(value: Any) -> tuple[Any, list[Any]]:
    if isinstance(value, re.Pattern):
        return value, []
    return split_negation(value)


_NAMED = {
    "product_type": "productType",
    "subgroup": "productSubGroupDescription",
    "calib_level": "calib_level",
}


def filter_products(
    products: ResultTable,
    *,
    product_type: Any = None,
    subgroup: Any = None,
    extension: Any = None,
    calib_level: Any = None,
    mrp_only: bool = False,
    filename: Any = None,
    **columns: Any,
) -> ResultTable:
    """Narrow a product list in memory (nothing is sent).

    Every argument given must hold (AND); a list means any of its values (OR). Each takes
    negation: a ``"!"``-prefixed string or a :class:`~mastkit.services.Not` excludes the rows
    it matches (``product_type="!PREVIEW"``, ``extension=["fits", "!_raw.fits"]``).

    Parameters
    ----------
    products : ResultTable
        A product list (from ``products()``).
    product_type : str or list, optional
        ``productType`` (``SCIENCE``, ``PREVIEW``, ``AUXILIARY``, ...), ignoring case.
    subgroup : str or list, optional
        ``productSubGroupDescription`` (``DRZ``, ``FLT``, ``CAL``, ``I2D``, ``LC``, ...);
        wildcards (``"*RAW*"``) allowed.
    extension : str or list, optional
        File name endings (``"fits"``, ``".fits.gz"``, ``"_drz.fits"``), ignoring case.
    calib_level : int, list or range, optional
        ``calib_level``: ``3``, ``[2, 3]``, ``(2, 3)``, ``">=2"``.
    mrp_only : bool
        Keep only the Minimum Recommended Products.
    filename : str, re.Pattern or list, optional
        A glob on ``productFilename`` (``"*_cal.fits"``, ignoring case) or a compiled regular
        expression (``re.compile(r"_(flt|flc)\\.fits$")``, searched).
    **columns
        Any other product column, with the criterion forms of query_criteria (exact values,
        lists, ``*`` wildcards, ranges on number columns, negation).

    Returns
    -------
    ResultTable
        The matching rows, columns unchanged (possibly none: no warning here; an empty
        selection is a legitimate outcome of filtering).

    Raises
    ------
    UnknownColumnError
        For a column the product list does not have.
    BadInputError
        For values of the wrong kind.

    Examples
    --------
    >>> t = ResultTable(pa.table({"productType": ["SCIENCE", "PREVIEW", "SCIENCE"],
    ...                           "productFilename": ["a_drz.fits", "a.jpg", "a_raw.fits"],
    ...                           "calib_level": [3, 3, 1]}))
    >>> filter_products(t, product_type="science", calib_level=">=2")["productFilename"].to_pylist()
    ['a_drz.fits']
    >>> filter_products(t, filename=["*.fits", "!*_raw*"])["productFilename"].to_pylist()
    ['a_drz.fits']
    """
    if not isinstance(products, ResultTable):
        if isinstance(products, pa.Table):
            products = ResultTable(products)
        else:
            raise BadInputError(
                f"filter_products takes a ResultTable of products, not {type(products).__name__}."
            )
    mask = np.ones(len(products), dtype=bool)

    def column(name: str) -> pa.ChunkedArray:
        if name in products.columns:
            return products.arrow.column(name)
        lowered = {c.lower(): c for c in products.columns}
        if name.lower() in lowered:
            return products.arrow.column(lowered[name.lower()])
        import difflib

        close = difflib.get_close_matches(name, products.columns, n=3)
        raise UnknownColumnError(name, close, service=products.service, known=products.columns)

    for argument, value in (("product_type", product_type), ("subgroup", subgroup),
                            ("calib_level", calib_level)):
        if value is not None:
            name = _NAMED[argument]
            _apply(mask, column(name), value,
                   lambda col, v, name=name: _criterion_mask(col, name, v))
    if extension is not None:
        _apply(mask, column("productFilename"), extension, _extension_mask)
    if filename is not None:
        positive, negated = _split_filename(filename)
        names = column("productFilename")
        if positive is not None:
            mask &= _filename_mask(names, positive)
        for item in negated:
            mask &= ~_filename_mask(names, item)
    if mrp_only:
        mask &= _as_bool(pc.equal(_strings(column("productGroupDescription")), MRP))
    for name, value in columns.items():
        if value is not None:
            col = column(name)
            _apply(mask, col, value, lambda c, v, name=name: _criterion_mask(c, name, v))
    return products[mask]
