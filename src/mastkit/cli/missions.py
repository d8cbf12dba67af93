"""``mastkit missions``: the CAOM missions (collections) and their observation counts."""

from __future__ import annotations

import typer

from mastkit.cli.errors import epilog, guarded

__all__ = ["missions", "register"]

_EPILOG = epilog(
    [
        "mastkit missions",
        "mastkit --server local --json missions",
    ],
    "A mission is an obs_collection value: mastkit observations --where obs_collection=TESS",
)


def register(app: typer.Typer) -> None:
    """Add the ``missions`` command to ``app``."""
    app.command("missions", epilog=_EPILOG)(missions)


@guarded
def missions(ctx: typer.Context) -> None:
    """List the missions (obs_collection values) with their observation counts."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output

    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    with open_observations(ctx, "Listing the missions") as obs:
        table = obs.missions()
    out.table(table, title=f"{len(table)} missions", every_column=True)
