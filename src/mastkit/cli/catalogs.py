"""``mastkit catalogs``: query catalogues (TIC, Gaia, Hipparcos, ...) and describe them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mastkit.cli._options import (
    ColumnsOption,
    LimitOption,
    OutputOption,
    OverwriteOption,
    check_output,
    deliver,
    match_columns,
    split_list,
)
from mastkit.cli.errors import epilog, guarded, note
from mastkit.cli.observations import parse_where
from mastkit.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.services import Catalogs
    from mastkit.tables import ResultTable

__all__ = ["CATALOG_COLUMNS", "catalogs_app", "register"]

#: What a terminal shows first of a catalogue row (others are left out, with a note).
CATALOG_COLUMNS = (
    "ID",
    "HIP",
    "ra",
    "dec",
    "RAdeg",
    "DEdeg",
    "Tmag",
    "Vmag",
    "Hpmag",
    "GAIAmag",
    "Jmag",
    "objType",
    "plx",
    "Plx",
    "pmRA",
    "pmDEC",
    "dstArcSec",
)

catalogs_app = typer.Typer(
    name="catalogs",
    help="Query MAST catalogues (TIC, Gaia, Hipparcos, ...) and list their columns.",
    no_args_is_help=True,
)

_QUERY_EPILOG = epilog(
    [
        "mastkit catalogs query TIC --object M67 --radius 5arcmin",
        "mastkit catalogs query tic --coords '132.825 11.8' --radius 0.1 --where 'Tmag<10' --count",
        "mastkit catalogs query TIC --where Tmag=5..6 --where objType=STAR -o bright.parquet",
        "mastkit --server local catalogs query Hipparcos --object M45 --radius 1deg --limit 20",
    ],
    "--where forms: col=value; col=a,b (any of them); col=pattern* (wildcard); col=lo..hi, "
    "col>=x, col<x (ranges); col!=value (exclude). Column names are checked against the "
    "catalogue's columns ('mastkit catalogs columns CATALOG'). Catalogue names ignore case.",
)


def register(app: typer.Typer) -> None:
    """Add the ``catalogs`` command group to ``app``."""
    app.add_typer(catalogs_app, name="catalogs")


def _run_query(
    cat: Catalogs,
    catalog: str,
    name: str | None,
    coords: str | None,
    radius: str | None,
    criteria: dict[str, Any],
    count: bool,
) -> ResultTable | int:
    if name is not None:
        if count:
            return cat.query_object_count(catalog, name, radius, **criteria)
        return cat.query_object(catalog, name, radius, **criteria)
    if coords is not None:
        if count:
            return cat.query_region_count(catalog, coords, radius, **criteria)
        return cat.query_region(catalog, coords, radius, **criteria)
    if radius is not None:
        raise BadInputError("--radius needs --object or --coords.")
    if count:
        return cat.query_criteria_count(catalog, **criteria)
    if not criteria:
        raise BadInputError(
            "Say which rows: --object NAME, --coords 'RA DEC', or --where criteria (a whole "
            "catalogue is too much to fetch; --count counts it)."
        )
    return cat.query_criteria(catalog, **criteria)


@catalogs_app.command("query", epilog=_QUERY_EPILOG)
@guarded
def query(
    ctx: typer.Context,
    catalog: Annotated[str, typer.Argument(help="The catalogue: TIC, GaiaDR3, Hipparcos, ...")],
    object_name: Annotated[
        str | None,
        typer.Option("--object", metavar="NAME", help="Around this object (resolved first)."),
    ] = None,
    coords: Annotated[
        str | None,
        typer.Option(
            "--coords",
            metavar="'RA DEC'",
            help="Around this position: degrees or sexagesimal, ICRS.",
        ),
    ] = None,
    radius: Annotated[
        str | None,
        typer.Option(
            "--radius",
            "-r",
            help="Search radius: degrees (0.2) or with a unit (3arcmin, 30arcsec); "
            "default 0.2 deg.",
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            metavar="COL=VALUE",
            help="A criterion on a catalogue column; repeat for more (see below).",
        ),
    ] = None,
    count: Annotated[
        bool, typer.Option("--count", help="Print how many rows match, and stop.")
    ] = False,
    columns: ColumnsOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Find catalogue rows around an object or a position, and/or by column criteria."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output
    from mastkit.services import Catalogs

    if object_name is not None and coords is not None:
        raise BadInputError("Give --object or --coords, not both.")
    if count and (columns or limit or output):
        raise BadInputError(
            "--count prints a number; it does not combine with --columns, --limit or -o."
        )
    criteria = parse_where(where)
    check_output(output, overwrite)
    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    activity = f"Counting {catalog} rows" if count else f"Querying {catalog}"
    with open_observations(ctx, activity) as obs:
        cat = Catalogs(obs.client)
        wanted = split_list(columns)
        if wanted:
            known = [*cat.columns(catalog)["name"].to_pylist(), "dstArcSec"]
            wanted = match_columns(wanted, known, service=catalog)
        result = _run_query(cat, catalog, object_name, coords, radius, criteria, count)
        resolved = obs.resolve(object_name) if object_name is not None else None
    if resolved is not None:
        note(f"{resolved.name!r} is at RA {resolved.ra:.5f}, Dec {resolved.dec:+.5f}")
    if isinstance(result, int):
        out.value("count", result)
        return
    deliver(
        out,
        result,
        what=f"{catalog} rows",
        columns=wanted,
        limit=limit,
        path=output,
        overwrite=overwrite,
        preferred=CATALOG_COLUMNS,
    )


@catalogs_app.command(
    "columns",
    epilog=epilog(
        [
            "mastkit catalogs columns TIC",
            "mastkit --server local --json catalogs columns Hipparcos",
        ],
        "These are the names 'catalogs query --where' and '--columns' take.",
    ),
)
@guarded
def columns_command(
    ctx: typer.Context,
    catalog: Annotated[str, typer.Argument(help="The catalogue: TIC, GaiaDR3, Hipparcos, ...")],
) -> None:
    """List a catalogue's columns: name, type, unit and description."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output
    from mastkit.services import Catalogs

    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    with open_observations(ctx, f"Reading the columns of {catalog}") as obs:
        table = Catalogs(obs.client).columns(catalog)
    out.table(
        table,
        title=f"{len(table)} columns of {table.metadata.get('catalog', catalog)}",
        preferred=("name", "type", "unit", "description"),
    )


@catalogs_app.command(
    "list",
    epilog=epilog(
        ["mastkit catalogs list", "mastkit --server local catalogs list --also MyStars"],
        "MAST has no service listing its catalogues: the list is mastkit's own, and each is "
        "looked up in the server's column metadata ('available'). Name catalogues added to a "
        "local archive with --also.",
    ),
)
@guarded
def list_command(
    ctx: typer.Context,
    also: Annotated[
        list[str] | None,
        typer.Option("--also", metavar="NAME", help="Look up this catalogue too (repeatable)."),
    ] = None,
    available_only: Annotated[
        bool, typer.Option("--available", help="Only the catalogues the server has.")
    ] = False,
) -> None:
    """List the catalogues mastkit knows, and which ones the server offers."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output
    from mastkit.services import Catalogs

    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    with open_observations(ctx, "Looking up catalogues") as obs:
        table = Catalogs(obs.client).catalogs(also or ())
    if available_only:
        table = table[table["available"].to_numpy(zero_copy_only=False).astype(bool)]
    out.table(
        table,
        title=f"{len(table)} catalogues",
        preferred=("name", "available", "columns", "criteria", "crossmatch", "description"),
    )
