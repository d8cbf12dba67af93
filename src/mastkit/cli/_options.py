"""Options shared by the table commands (``--columns``, ``--limit``, ``-o``), and their logic.

Everything that can be checked before a query is checked before it: an output file with an
unknown extension, or one that exists without ``--overwrite``, fails at once instead of after
a long query.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mastkit.cli.errors import note
from mastkit.errors import BadInputError, UnknownColumnError

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.cli.render import Output
    from mastkit.tables import ResultTable

__all__ = [
    "ColumnsOption",
    "LimitOption",
    "OutputOption",
    "OverwriteOption",
    "cache_option",
    "check_output",
    "deliver",
    "match_columns",
    "offline_option",
    "split_list",
]

ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns", "-c", metavar="A,B,C",
        help="Output only these columns, in this order (comma-separated; 'mastkit columns' "
        "lists them).",
    ),
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", "-n", min=1, metavar="N",
                 help="Keep the first N rows (a note on stderr says how many there were)."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", dir_okay=False,
        help="Write the table to FILE instead of stdout; the format follows the extension: "
        ".parquet .csv .ecsv .fits .xml/.vot",
    ),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace the -o FILE if it exists.")
]

# Global options (given before the command name), made fresh for each root app.


def cache_option() -> Any:
    """``--cache/--no-cache``: force the on-disk result cache on, or bypass it."""
    return typer.Option(
        None, "--cache/--no-cache", show_default=False,
        help="Use the on-disk result cache, or bypass it (neither read nor write). Default: "
        "cache results of the real MAST for a day (MASTKIT_CACHE, MASTKIT_NO_CACHE, "
        "MASTKIT_CACHE_TTL); 'mastkit cache' inspects and clears it.",
    )


def offline_option() -> Any:
    """``--offline``: answer only from the cache."""
    return typer.Option(
        False, "--offline",
        help="Answer only from the cache and never touch the network (MASTKIT_OFFLINE=1); a "
        "missing answer exits 3, naming the query.",
    )


def split_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``.

    Examples
    --------
    >>> split_list(" obsid, obs_collection ,"), split_list(None)
    (['obsid', 'obs_collection'], [])
    """
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def match_columns(wanted: Sequence[str], known: Sequence[str], *, service: str | None) -> list[str]:
    """The known spelling of each wanted column (matched ignoring case).

    Raises
    ------
    UnknownColumnError
        For a column not in ``known``, with "did you mean" suggestions.

    Examples
    --------
    >>> match_columns(["OBSID", "s_ra"], ["obsid", "s_ra", "s_dec"], service=None)
    ['obsid', 's_ra']
    """
    by_lower = {name.lower(): name for name in known}
    matched = []
    for name in wanted:
        found = by_lower.get(name.lower())
        if found is None:
            suggestions = difflib.get_close_matches(name, list(known), n=3)
            raise UnknownColumnError(name, suggestions, service=service, known=list(known))
        matched.append(found)
    return matched


def check_output(path: Path | None, overwrite: bool) -> None:
    """Fail early for an output file that cannot be written as asked.

    Raises
    ------
    BadInputError
        Unknown extension, an existing file without ``--overwrite``, a missing directory.
    """
    if path is None:
        return
    from mastkit.tables.io import FORMATS

    suffixes = [suffix for known in FORMATS.values() for suffix in known]
    if path.suffix.lower() not in suffixes:
        raise BadInputError(
            f"Cannot tell the format of {path} from its extension {path.suffix or '(none)'!r}; "
            "use .parquet, .csv, .ecsv, .fits, or .xml/.vot (VOTable)."
        )
    if path.exists() and not overwrite:
        raise BadInputError(f"{path} already exists; pass --overwrite to replace it.")
    if not path.parent.is_dir():
        raise BadInputError(f"Cannot write {path}: the directory {path.parent} does not exist.")


def deliver(
    output: Output,
    table: ResultTable,
    *,
    what: str,
    columns: Sequence[str] = (),
    limit: int | None = None,
    path: Path | None = None,
    overwrite: bool = False,
    preferred: Sequence[str] = (),
    formatters: Mapping[str, Callable[[Any], str]] | None = None,
) -> ResultTable:
    """Select columns, apply the row limit, then write ``path`` or print the table.

    Parameters
    ----------
    output : Output
        Where printed tables go.
    table : ResultTable
        The full result.
    what : str
        What the rows are (``"observations"``), for notes and titles.
    columns : sequence of str
        Output columns, already matched (empty: all).
    limit : int, optional
        Rows to keep.
    path : Path, optional
        Write here instead of printing.
    overwrite : bool
        Replace ``path`` if it exists.
    preferred, formatters
        Terminal presentation (see :meth:`Output.table`).

    Returns
    -------
    ResultTable
        What was written or printed.
    """
    from mastkit.cli.render import counted

    if columns:
        table = table[list(columns)]
    total = len(table)
    if limit is not None and total > limit:
        table = table[:limit]
        note(f"kept the first {limit:,} of {counted(total, what)} (--limit {limit})")
    if path is not None:
        written = table.write(path, overwrite=overwrite)
        note(f"wrote {counted(len(table), what)} × {len(table.columns)} columns to {written}")
        return table
    title = counted(len(table), what)
    output.table(table, title=title, preferred=preferred, formatters=formatters,
                 every_column=bool(columns))
    return table
