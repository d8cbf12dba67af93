"""``mastkit resolve``: object names to sky positions."""

from __future__ import annotations

import contextlib
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
    """Resolve concurrently, but let failures of the service itself raise.

    ``resolve_many`` reports every failure as text in its results, so an unreachable server
    would look like unknown names (exit 3 instead of 5). The first name is asked alone first,
    so such failures surface at once with their own exit code; names that fail in the batch are
    asked again alone, and only :class:`~mastkit.errors.ResolverError` (unknown name) is
    reported as a result. Successes are cached per client, so nothing is asked twice.
    """
    from mastkit.errors import ResolverError

    with contextlib.suppress(ResolverError):
        obs.resolve(names[0])
    found = obs.resolve_many(names)
    for index, resolution in enumerate(found):
        if not resolution.ok:
            with contextlib.suppress(ResolverError):
                found[index] = obs.resolve(resolution.name)  # a transient failure, gone now
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
