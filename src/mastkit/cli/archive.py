"""``mastkit archive``: build and describe the local archive (a DuckDB file), add catalogues.

``add-catalog`` loads a user's table (Parquet, CSV, FITS, VOTable) as a catalogue the local
server answers for (``Mast.Catalogs.NAME.Cone``, ``Mast.NAME.Crossmatch``, ...); it never
modifies the archive file (see :mod:`mastkit.server.user_catalogs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mastkit.cli.errors import guarded

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
    from mastkit.server.product_index import index_path
    from mastkit.server.row_texts import texts_path

    sides = [("product index", index_path(target))] + [
        (f"rendered {s.name}", texts_path(target, s.name)) for s in archive.RENDERED
    ]
    for label, side in sides:
        if side.exists():
            table.add_row(label, f"{side.name}, {side.stat().st_size / 1e6:,.1f} MB")
    for key, value in sorted(meta.items()):
        table.add_row(key, value)
    with archive.Archive.open(target) as db:
        for name in db.tables():
            count = db.execute(f'SELECT count(*) FROM "{name}"').column(0)[0].as_py()
            table.add_row(f"rows in {name}", f"{count:,}")
        for catalog in db.catalogs().values():
            kind = "user catalogue" if catalog.user else "catalogue"
            table.add_row(f"{kind} {catalog.name}", catalog.title)
    Console().print(table)


@archive_app.command("add-catalog")
@guarded
def add_catalog(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Catalogue name, used in service names (Mast.Catalogs.NAME.Cone).")
    ],
    file: Annotated[Path, typer.Argument(help="A Parquet, CSV, FITS or VOTable file.")],
    ra: Annotated[
        str | None,
        typer.Option(
            "--ra", help="RA column (decimal degrees; default: found by name, e.g. ra, RAJ2000)."
        ),
    ] = None,
    dec: Annotated[str | None, typer.Option("--dec", help="Dec column (decimal degrees).")] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="parquet, csv, fits or votable (default: from the file name)."
        ),
    ] = None,
    path: PathOption = None,
) -> None:
    """Load a table as a catalogue of the local archive (the archive file is not modified)."""
    from mastkit.server import archive
    from mastkit.server.user_catalogs import add_catalog as add

    target = path if path is not None else archive.default_archive_path()
    catalog = add(target, name, file, ra=ra, dec=dec, fmt=fmt)
    schema = catalog.schema
    typer.echo(
        f"Added catalogue {catalog.name}: {catalog.rows:,} rows, "
        f"{len(schema.columns)} columns, positions from {schema.ra}/{schema.dec}",
        err=True,
    )
    typer.echo(
        f"Services: Mast.Catalogs.{catalog.name}.Cone, "
        f"Mast.Catalogs.Filtered.{catalog.name}[.Position], "
        f"Mast.{catalog.name}.Crossmatch (restart a running server to see it)",
        err=True,
    )
    typer.echo(catalog.name)


@archive_app.command("remove-catalog")
@guarded
def remove_catalog(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user catalogue to remove.")],
    path: PathOption = None,
) -> None:
    """Remove a catalogue added with add-catalog."""
    from mastkit.server import archive
    from mastkit.server.user_catalogs import remove_catalog as remove

    remove(path if path is not None else archive.default_archive_path(), name)
    typer.echo(f"Removed catalogue {name}", err=True)
