"""``mastkit archive``: build and describe the local archive (a DuckDB file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["archive_app", "register"]

archive_app = typer.Typer(
    name="archive",
    help="Build and inspect the local archive the local server serves.",
    no_args_is_help=True,
)

PathOption = Annotated[
    Path | None,
    typer.Option(
        "--path", help="Archive file (default: <cache dir>/archive/mastkit-archive.duckdb)."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``archive`` command group to ``app``."""
    app.add_typer(archive_app, name="archive")


@archive_app.command("build")
def build(
    observations: Annotated[
        int | None,
        typer.Option(
            min=1, help="Synthetic CAOM observations (default: the archive's default size)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 0,
    path: PathOption = None,
) -> None:
    """Build the archive (replacing any there); the same seed and size give the same archive."""
    import time

    from mastkit.server import archive

    target = path if path is not None else archive.default_archive_path()
    size = observations if observations is not None else archive.DEFAULT_OBSERVATIONS
    typer.echo(f"Building {target} ({size:,} observations, seed {seed}) ...", err=True)
    started = time.perf_counter()
    built = archive.build_archive(target, observations=size, seed=seed)
    typer.echo(f"Built {built} in {time.perf_counter() - started:.1f} s", err=True)
    typer.echo(str(built))


@archive_app.command("info")
def info(path: PathOption = None) -> None:
    """Describe the archive: where it is, how it was built, and what it holds."""
    from rich.console import Console
    from rich.table import Table

    from mastkit.server import archive

    target = path if path is not None else archive.default_archive_path()
    meta = archive.read_meta(target) if target.exists() else None
    if meta is None:
        typer.echo(f"No archive at {target}; build one with: mastkit archive build", err=True)
        raise typer.Exit(1)
    table = Table(title=str(target), show_header=False)
    table.add_row("size on disk", f"{target.stat().st_size / 1e6:,.1f} MB")
    for key, value in sorted(meta.items()):
        table.add_row(key, value)
    with archive.Archive.open(target) as db:
        for name in db.tables():
            count = db.execute(f'SELECT count(*) FROM "{name}"').column(0)[0].as_py()
            table.add_row(f"rows in {name}", f"{count:,}")
    Console().print(table)
