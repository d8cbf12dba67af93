"""``mastkit columns``: the columns of CAOM observations or products, from MAST's metadata."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mastkit.cli.errors import epilog, guarded

__all__ = ["Which", "columns", "register"]

_EPILOG = epilog(
    [
        "mastkit columns observations",
        "mastkit --json columns products",
        "mastkit --server local columns observations | grep -i time",
    ],
    "These are the names that 'observations --where' and '--columns' take.",
)


class Which(StrEnum):
    """What to describe."""

    observations = "observations"
    products = "products"


def register(app: typer.Typer) -> None:
    """Add the ``columns`` command to ``app``."""
    app.command("columns", epilog=_EPILOG)(columns)


@guarded
def columns(
    ctx: typer.Context,
    which: Annotated[
        Which, typer.Argument(help="observations (CAOM rows) or products (their files).")
    ] = Which.observations,
) -> None:
    """List the columns of observations or products: name, type, unit and description."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output

    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    with open_observations(ctx, f"Reading the {which.value} column metadata") as obs:
        table = obs.columns(which.value)
    out.table(table, title=f"{len(table)} columns of {which.value}",
              preferred=("name", "type", "unit", "description"))
