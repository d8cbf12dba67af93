"""The root ``mastkit`` typer app: a registry of command modules.

Each command module exposes ``register(app)``, which adds its commands or command group. To add
one, write the module and list it in :data:`COMMAND_MODULES`; nothing else changes here. Modules
import their heavy dependencies inside the commands, so ``mastkit --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["COMMAND_MODULES", "app", "build_app"]

#: Modules that register commands on the root app, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "mastkit.cli.serve",
    "mastkit.cli.archive",
)


def build_app() -> typer.Typer:
    """A fresh root app with every command module registered."""
    root = typer.Typer(
        name="mastkit",
        help="A toolkit for the MAST archive API, with a local MAST-compatible server.",
        no_args_is_help=True,
        invoke_without_command=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
    )

    @root.callback()
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version:
            from mastkit import __version__

            typer.echo(f"mastkit {__version__}")
            raise typer.Exit()
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit()

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(root)
    return root


app = build_app()
