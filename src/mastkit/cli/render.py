"""Showing results: rich tables on a terminal, CSV when piped, JSON with ``--json``.

Standard output carries results only; everything about them (notes, the status line, errors)
goes to stderr, so ``mastkit observations ... > obs.csv`` and ``| jq`` get clean data.

* **table** (stdout is a terminal): a rich table of a sensible subset of columns for the
  terminal's width, at most :data:`MAX_TERMINAL_ROWS` rows, with a note saying what was left
  out and how to get it all;
* **csv** (stdout is a pipe or a file): every column and row, MAST's CSV (header line, nulls
  empty);
* **json** (``--json``): one JSON document: an array of row objects (one row per line, so
  it also reads as JSON lines inside brackets), or an object for single values and summaries.

``TTY_COMPATIBLE=1`` (or ``0``) overrides the terminal detection, as for rich itself.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import typer

from mastkit.cli.errors import note

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from rich.console import Console
    from rich.table import Table

    from mastkit.tables import ResultTable

__all__ = [
    "MAX_CELL",
    "MAX_TERMINAL_ROWS",
    "Mode",
    "Output",
    "counted",
    "format_bytes",
    "json_text",
    "make_console",
    "output_mode",
    "stderr_is_terminal",
    "stdout_is_terminal",
]

Mode = Literal["table", "csv", "json"]
Formatter = Callable[[Any], str]

#: Rows a terminal table shows; the rest is announced (pipe, ``--json`` or ``-o`` for all).
MAX_TERMINAL_ROWS = 200
#: Widest cell of a terminal table (longer values end in an ellipsis).
MAX_CELL = 32


# ------------------------------------------------------------------------------ where to

def _is_terminal(stream: Any) -> bool:
    override = os.environ.get("TTY_COMPATIBLE", "")
    if override in ("0", "1"):
        return override == "1"
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def stdout_is_terminal() -> bool:
    """Whether results go to a terminal (else they are piped or redirected)."""
    return _is_terminal(sys.stdout)


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (a live status line is shown only there)."""
    return _is_terminal(sys.stderr)


def output_mode(json_output: bool) -> Mode:
    """``json`` when asked, else ``table`` on a terminal and ``csv`` otherwise."""
    if json_output:
        return "json"
    return "table" if stdout_is_terminal() else "csv"


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr), a terminal one only when the stream is a terminal."""
    from rich.console import Console

    # Built per use, never at import: CliRunner swaps sys.stdout between invocations.
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, force_terminal=_is_terminal(stream), highlight=False,
                   soft_wrap=False)


# ------------------------------------------------------------------------------ values

def format_bytes(size: Any) -> str:
    """A byte count for people: ``1.3 GB``, ``512 B`` (decimal units, as MAST's sizes).

    Examples
    --------
    >>> format_bytes(1_340_000_000), format_bytes(512), format_bytes(None)
    ('1.3 GB', '512 B', '')
    """
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} PB"  # pragma: no cover - the loop returns at TB


def counted(n: int, noun: str) -> str:
    """``n`` and the noun, singular for one (nouns here take an ``s``).

    Examples
    --------
    >>> counted(1, "observations"), counted(1234, "products")
    ('1 observation', '1,234 products')
    """
    word = noun[:-1] if n == 1 and noun.endswith("s") else noun
    return f"{n:,} {word}"


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-4):
        return f"{value:.6g}"
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, decimal.Decimal):
        return float(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_text(value: Any) -> str:
    """One value as compact JSON (NaN and infinities must already be None)."""
    return json.dumps(value, default=_json_default, allow_nan=False, ensure_ascii=False)


def _finite(table: pa.Table) -> pa.Table:
    """The table with NaN and infinities as nulls: JSON has no spelling for them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            column = table.column(index)
            finite = pc.is_finite(column)
            cleaned = pc.if_else(finite, column, pa.scalar(None, field.type))
            table = table.set_column(index, field, cleaned)
    return table


def _json_rows(table: pa.Table) -> str:
    rows = _finite(table).to_pylist()
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(json_text(row) for row in rows) + "\n]\n"


# ------------------------------------------------------------------------------ terminal tables

def _numeric(dtype: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
                or pa.types.is_decimal(dtype))


def _cell_width(table: pa.Table, name: str, formatters: Mapping[str, Formatter]) -> int:
    """How wide a column wants to be: its header or its widest value among the first rows."""
    fmt = formatters.get(name, _cell)
    values = [fmt(v) for v in table.slice(0, 50).column(name).to_pylist() if v is not None]
    return max([len(name), *(len(v) for v in values)])


def _shown_columns(
    table: pa.Table, preferred: Sequence[str], width: int, formatters: Mapping[str, Formatter]
) -> list[str]:
    """The columns a terminal of ``width`` can show: the preferred ones that exist, in order
    (all columns when none is preferred), as many as fit."""
    names = table.column_names
    candidates = [c for c in preferred if c in names] or list(names)
    chosen: list[str] = []
    used = 0
    for name in candidates:
        cell = min(MAX_CELL, _cell_width(table, name, formatters))
        if chosen and used + cell + 3 > width:
            continue  # a narrower column further on may still fit
        chosen.append(name)
        used += cell + 3
    return chosen


def _rich_table(
    table: pa.Table, columns: Sequence[str], title: str | None,
    formatters: Mapping[str, Formatter], width: int,
) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    view = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 header_style="bold cyan", pad_edge=False)
    wanted = [min(MAX_CELL, _cell_width(table, name, formatters)) for name in columns]
    # Room the capped columns leave goes to the last one (often a description or a title).
    spare = max(0, width - sum(w + 3 for w in wanted))
    for index, name in enumerate(columns):
        numeric = _numeric(table.schema.field(name).type)
        limit = MAX_CELL + spare if index == len(columns) - 1 else MAX_CELL
        view.add_column(name, justify="right" if numeric else "left", no_wrap=True,
                        overflow="ellipsis", max_width=limit)
    data = [table.column(name).to_pylist() for name in columns]
    fmts = [formatters.get(name, _cell) for name in columns]
    for row in zip(*data, strict=True):
        view.add_row(*(
            Text("—", style="dim") if value is None else Text(fmt(value))
            for value, fmt in zip(row, fmts, strict=True)
        ))
    return view


# ------------------------------------------------------------------------------ the output

class Output:
    """Where a command's results go, in the mode chosen for this invocation.

    Parameters
    ----------
    json_output : bool
        ``--json`` was given.
    mode : {"table", "csv", "json"}, optional
        Force a mode (default: :func:`output_mode`).
    """

    def __init__(self, *, json_output: bool = False, mode: Mode | None = None) -> None:
        self.mode: Mode = mode or output_mode(json_output)

    def _write(self, text: str) -> None:
        typer.echo(text, nl=False)

    def table(
        self,
        result: ResultTable | pa.Table,
        *,
        title: str | None = None,
        preferred: Sequence[str] = (),
        formatters: Mapping[str, Formatter] | None = None,
        every_column: bool = False,
    ) -> None:
        """Print a table in this output's mode.

        Parameters
        ----------
        result : ResultTable or pyarrow.Table
        title : str, optional
            Shown above a terminal table.
        preferred : sequence of str
            Columns a terminal shows first (the others are left out, with a note), for wide
            tables such as CAOM rows. Ignored for CSV and JSON, which carry every column.
        formatters : mapping, optional
            Column -> function giving the terminal text of a value (``size`` -> ``1.3 GB``).
        every_column : bool
            Show every column on a terminal, however wide (the user chose them).
        """
        arrow: pa.Table = getattr(result, "arrow", result)
        if self.mode == "json":
            self._write(_json_rows(arrow))
        elif self.mode == "csv":
            from mastkit.tables import encode_csv

            typer.echo(encode_csv(arrow), nl=False)
        else:
            self._terminal(arrow, title, preferred, formatters or {}, every_column)

    def _terminal(
        self, arrow: pa.Table, title: str | None, preferred: Sequence[str],
        formatters: Mapping[str, Formatter], every_column: bool,
    ) -> None:
        console = make_console()
        if every_column:
            columns = list(arrow.column_names)
        else:
            columns = _shown_columns(arrow, preferred, console.width, formatters)
        shown = arrow.slice(0, MAX_TERMINAL_ROWS)
        console.print(_rich_table(shown, columns, title, formatters, console.width))
        if len(columns) < arrow.num_columns:
            note(f"showing {len(columns)} of {arrow.num_columns} columns; choose them with "
                 "--columns, or pipe, --json or -o FILE for every column")
        if arrow.num_rows > MAX_TERMINAL_ROWS:
            note(f"showing the first {MAX_TERMINAL_ROWS:,} of {arrow.num_rows:,} rows; pipe, "
                 "--json or -o FILE for all of them")

    def value(self, name: str, value: Any) -> None:
        """Print one value: bare on a terminal or a pipe, ``{"name": value}`` with --json."""
        if self.mode == "json":
            self._write(json_text({name: value}) + "\n")
        else:
            self._write(f"{value}\n")

    def document(self, data: Mapping[str, Any]) -> None:
        """Print a JSON object (for ``--json`` renderings of summaries)."""
        self._write(json.dumps(data, default=_json_default, allow_nan=False,
                               ensure_ascii=False, indent=2) + "\n")

    def lines(self, texts: Sequence[str]) -> None:
        """Print plain lines (a terminal summary)."""
        self._write("".join(f"{t}\n" for t in texts))
