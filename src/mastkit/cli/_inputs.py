"""Reading obsids for ``mastkit products --from FILE``.

FILE is either a table (any format ``observations -o`` writes, or CSV piped from
``mastkit observations``) with an ``obsid`` column, or a plain list of obsids (one or more per
line, separated by spaces or commas; ``#`` starts a comment). ``-`` reads stdin, so commands
chain: ``mastkit observations --object M101 | mastkit products --from -``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mastkit.errors import BadInputError

__all__ = ["read_obsids"]

_SEPARATORS = re.compile(r"[\s,;]+")
_DIGITS = re.compile(r"^\d+$")
_ASTROPY_FORMATS = {
    ".fits": "fits", ".fit": "fits", ".fts": "fits",
    ".ecsv": "ascii.ecsv",
    ".xml": "votable", ".vot": "votable", ".votable": "votable",
}


def _obsid_column(names: Sequence[str], source: str) -> str:
    if "obsid" in names:
        return "obsid"
    for name in names:
        if name.lower() == "obsid":  # product lists spell it obsID
            return name
    shown = ", ".join(list(names)[:12]) + (", ..." if len(names) > 12 else "")
    raise BadInputError(
        f"{source} has no obsid column (it has: {shown or 'no columns'}); give a table written "
        "by 'mastkit observations -o' or a plain list of obsids."
    )


def _from_text(text: str, source: str) -> list[Any]:
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return []
    first = [t for t in _SEPARATORS.split(lines[0]) if t]
    if all(_DIGITS.match(token) for token in first):
        tokens = [t for line in lines for t in _SEPARATORS.split(line) if t]
        bad = [t for t in tokens if not _DIGITS.match(t)]
        if bad:
            raise BadInputError(f"{source}: {bad[0]!r} is not an obsid (a plain list holds "
                                "only obsids).")
        return [int(t) for t in tokens]
    from mastkit.tables import decode_csv

    try:
        table = decode_csv(text.encode())
    except Exception as exc:  # the decoder's many ways of saying "not CSV"
        raise BadInputError(f"Cannot read {source} as CSV: {exc}") from exc
    column = _obsid_column(table.column_names, source)
    values: list[Any] = table.column(column).to_pylist()
    return values


def _from_table_file(path: Path, source: str) -> list[Any]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            arrow = pq.read_table(path)
            column = _obsid_column(arrow.column_names, source)
            values: list[Any] = arrow.column(column).to_pylist()
            return values
        from astropy.table import Table

        table = Table.read(path, format=_ASTROPY_FORMATS[suffix])
    except (BadInputError, OSError):
        raise
    except Exception as exc:  # readers raise many types for a file that is not what it says
        raise BadInputError(f"Cannot read {source} as a table: {exc}") from exc
    column = _obsid_column(list(table.colnames), source)
    return list(table[column])


def read_obsids(source: str) -> list[Any]:
    """The obsids listed in ``source`` (a path, or ``-`` for stdin), in order.

    Raises
    ------
    BadInputError
        A missing file, a table without an ``obsid`` column, or a list holding non-obsids.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ids.txt"
    >>> _ = path.write_text("# from the archive\\n2003738726, 2003738727\\n2003738728\\n")
    >>> read_obsids(str(path))
    [2003738726, 2003738727, 2003738728]
    """
    if source == "-":
        return _from_text(sys.stdin.read(), "stdin")
    path = Path(source)
    if not path.exists():
        raise BadInputError(f"No such file: {source}")
    if path.is_dir():
        raise BadInputError(f"{source} is a directory; --from takes a file.")
    if path.suffix.lower() in (".parquet", ".pq", *_ASTROPY_FORMATS):
        return _from_table_file(path, source)
    return _from_text(path.read_text(encoding="utf-8", errors="replace"), source)
