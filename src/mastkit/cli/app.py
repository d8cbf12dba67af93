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
    "mastkit.cli.resolve",
    "mastkit.cli.observations",
    "mastkit.cli.products",
    "mastkit.cli.catalogs",
    "mastkit.cli.crossmatch",
    "mastkit.cli.download",
    "mastkit.cli.columns",
    "mastkit.cli.missions",
    "mastkit.cli.serve",
    "mastkit.cli.archive",
    "mastkit.cli.cache",
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

    from mastkit.cli._options import cache_option, offline_option
    from mastkit.cli.errors import EXIT_CODES_HELP

    @root.callback(
        epilog="Global options go before the command: mastkit --server local --json missions"
        "\n\nEvery command has --help, with examples.\n\n" + EXIT_CODES_HELP
    )
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
        server: str | None = typer.Option(
            None, "--server", envvar="MASTKIT_SERVER", metavar="URL|local",
            help="MAST server base URL, or 'local' for the embedded local archive (started "
            "for the command). Default: the real MAST, https://mast.stsci.edu.",
        ),
        token: str | None = typer.Option(
            None, "--token", metavar="TOKEN", show_default=False,
            help="MAST API token (default: MAST_API_TOKEN or MAST_TOKEN). Never printed.",
        ),
        timeout: float | None = typer.Option(
            None, "--timeout", min=0.001, metavar="SECONDS",
            help="Overall deadline of each query in seconds: polls, pages and retries "
            "included (default 600).",
        ),
        verbose: int = typer.Option(
            0, "--verbose", "-v", count=True,
            help="Log to stderr (-vv: debug) and show tracebacks of errors.",
        ),
        json_output: bool = typer.Option(
            False, "--json", help="Machine-readable output: JSON on stdout."
        ),
        cache: bool | None = cache_option(),
        offline: bool = offline_option(),
    ) -> None:
        from mastkit.cli._context import CliState, GlobalOptions

        state = ctx.ensure_object(CliState)  # tests may pass obj=CliState(connect=...)
        state.options = GlobalOptions(
            server=server, token=token, timeout=timeout, verbose=verbose, json=json_output,
            cache=cache, offline=offline,
        )
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
