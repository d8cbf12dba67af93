"""Previews of a table for a terminal (``repr``) and a notebook (``_repr_html_``).

Only the rows shown are converted to Python values, so previewing a million-row table costs
the same as previewing ten.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any, Final

import pyarrow as pa

__all__ = ["render_html", "render_text", "type_name"]

_NULL: Final = "--"
_CELL: Final = 24  # widest cell, in characters
_HEAD_ROWS: Final = 5
_TAIL_ROWS: Final = 3
_HTML_HEAD_ROWS: Final = 10
_HTML_TAIL_ROWS: Final = 5


def type_name(t: pa.DataType) -> str:
    """A short, readable name for an Arrow type."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "str"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_dictionary(t):
        return type_name(t.value_type)
    return str(t)


def _cell(value: Any, width: int = _CELL) -> str:
    if value is None:
        return _NULL
    if isinstance(value, float):
        text = "nan" if math.isnan(value) else f"{value:.10g}"
        if text.lstrip("-").isdigit():
            text += ".0"  # a float should look like one
    elif isinstance(value, bool):
        text = str(value)
    else:
        text = str(value)
    text = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _row_window(n: int, head: int, tail: int) -> tuple[list[int], bool]:
    """Indices of the rows to show, and whether rows are elided between head and tail."""
    if n <= head + tail + 1:
        return list(range(n)), False
    return list(range(head)) + list(range(n - tail, n)), True


def _values(table: pa.Table, rows: Sequence[int]) -> list[list[Any]]:
    """The shown rows of every column, as Python values (only those rows are converted)."""
    picked = table.take(pa.array(rows, pa.int64())) if rows else table.slice(0, 0)
    return [picked.column(i).to_pylist() for i in range(table.num_columns)]


def render_text(table: pa.Table, title: str, width: int = 110) -> str:
    """A compact aligned preview: the title, then the columns that fit, head and tail rows."""
    rows, elided = _row_window(table.num_rows, _HEAD_ROWS, _TAIL_ROWS)
    values = _values(table, rows)
    columns = []
    for index, name in enumerate(table.column_names):
        cells = [_cell(v) for v in values[index]]
        kind = type_name(table.schema.field(index).type)
        shown_name = _cell(name)
        col_width = max([len(shown_name), len(kind), *map(len, cells)])
        columns.append((shown_name, kind, cells, col_width))
    # Fill the width from the left, keeping the last column visible when some must go.
    chosen: list[int] = []
    used = 0
    last = len(columns) - 1
    reserve = columns[last][3] + 5 if columns else 0
    for index, column in enumerate(columns):
        need = column[3] + 2
        room = width - used - (reserve if index != last else 0)
        if need > room and chosen:
            break
        chosen.append(index)
        used += need
    hidden = len(columns) - len(chosen)
    if hidden and last not in chosen:
        chosen.append(last)
        hidden -= 1

    def line(parts: list[str]) -> str:
        out = []
        for position, index in enumerate(chosen):
            if hidden and index == last and position == len(chosen) - 1:
                out.append("…")
            out.append(parts[index].ljust(columns[index][3]))
        return "  ".join(out).rstrip()

    lines = [title]
    if columns:
        lines.append(line([c[0] for c in columns]))
        lines.append(line([c[1] for c in columns]))
        lines.append(line(["-" * c[3] for c in columns]))
        for position in range(len(rows)):
            if elided and position == _HEAD_ROWS:
                lines.append(line(["…".ljust(1) for _ in columns]))
            lines.append(line([c[2][position] for c in columns]))
    if hidden:
        lines.append(f"({hidden} more column{'s' if hidden != 1 else ''} not shown)")
    return "\n".join(lines)


def render_html(table: pa.Table, title: str) -> str:
    """An HTML preview: the title, a header with types, head and tail rows."""
    rows, elided = _row_window(table.num_rows, _HTML_HEAD_ROWS, _HTML_TAIL_ROWS)
    values = _values(table, rows)
    esc = html.escape
    head = "".join(
        f"<th>{esc(f.name)}<br><small>{esc(type_name(f.type))}</small></th>" for f in table.schema
    )
    body = []
    for position in range(len(rows)):
        if elided and position == _HTML_HEAD_ROWS:
            body.append("<tr>" + "<td>…</td>" * table.num_columns + "</tr>")
        cells = "".join(
            f"<td>{esc(_cell(values[i][position], 60))}</td>" for i in range(table.num_columns)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="mastkit-result"><p>{esc(title)}</p>'
        f'<table class="dataframe"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
