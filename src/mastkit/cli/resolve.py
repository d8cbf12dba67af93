"""``mastkit resolve``: object names to sky positions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mastkit.cli.errors import EXIT_NOT_FOUND, epilog, guarded

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.services import Observations, Resolution

__all__ = ["register", "resolve"]

_EPILOG = epilog(
    [
        "mastkit resolve M101",
        "mastkit --json resolve M101 'NGC 5194' 'HIP 32349'",
        "mastkit --server local resolve M31 M33 > positions.csv",
    ],
    "Catalogue identifiers (TIC, HIP, Gaia, 2MASS, ...) are matched exactly. When some names "
    "cannot be resolved, the others are still printed, each failure is reported on stderr, "
    "and the exit code is 3.",
)


def register(app: typer.Typer) -> None:
    """Add the ``resolve`` command to ``app``."""
    app.command("resolve", epilog=_EPILOG)(resolve)


def _resolve_all(obs: Observations, names: list[str]) -> list[Resolution]:
    """Resolve concurrently; a failure of the service itself (not an unknown name) raises.

    ``resolve_many`` reports per-name failures in its results and keeps each one's exception,
    so an unreachable server exits with the network code rather than "not found".
    """
    from mastkit.errors import ResolverError

    found = obs.resolve_many(names)
    for resolution in found:
        if resolution.exception is not None and not isinstance(resolution.exception, ResolverError):
            raise resolution.exception
    return found


@guarded
def resolve(
    ctx: typer.Context,
    names: Annotated[
        list[str], typer.Argument(metavar="NAME...", help="Object names or catalogue ids.")
    ],
) -> None:
    """Resolve object names to coordinates (ICRS degrees) with MAST's name resolver."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.errors import error_line
    from mastkit.cli.render import Output
    from mastkit.services import resolutions_table

    state = get_state(ctx)
    output = Output(json_output=state.options.json)
    activity = f"Resolving {len(names)} name{'s' if len(names) != 1 else ''}"
    with open_observations(ctx, activity) as obs:
        found = _resolve_all(obs, names)
    failed = [r for r in found if not r.ok]
    table = resolutions_table(found)
    if output.mode == "table":
        # People read the resolved names; failures are said once, on stderr, below.
        table = resolutions_table([r for r in found if r.ok])
        table = table[[c for c in table.columns if c != "error"]]
    if len(table):
        title = f"{len(found) - len(failed)} of {len(found)} resolved" if failed else None
        output.table(table, title=title, every_column=True)
    for failure in failed:
        error_line(failure.error or f"Could not resolve {failure.name!r}.")
    if failed:
        raise typer.Exit(EXIT_NOT_FOUND)
