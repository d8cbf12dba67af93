"""``mastkit crossmatch FILE``: match every row of a table against a catalogue, on the server.

FILE is a table of positions: Parquet (``.parquet``/``.pq``), CSV (``.csv``, or ``-`` for CSV
on stdin), ECSV (``.ecsv``), FITS (``.fits``/``.fit``/``.fts``) or VOTable
(``.xml``/``.vot``/``.votable``), read by its extension.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mastkit.cli._options import (
    LimitOption,
    OutputOption,
    OverwriteOption,
    check_output,
    deliver,
)
from mastkit.cli.errors import epilog, guarded, note
from mastkit.errors import BadInputError

__all__ = ["INPUT_FORMATS", "crossmatch", "read_positions_file", "register"]

#: Input extensions and the reader of each.
INPUT_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".ecsv": "ascii.ecsv",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".xml": "votable",
    ".vot": "votable",
    ".votable": "votable",
}

_EPILOG = epilog(
    [
        "mastkit crossmatch targets.csv --catalog TIC --radius 5arcsec -o matches.parquet",
        "mastkit crossmatch stars.fits --catalog caom --radius 0.01 --ra RA_DEG --dec DEC_DEG "
        "-o observed.csv",
        "mastkit --server local crossmatch targets.parquet --catalog Hipparcos -r 10arcsec",
        "mastkit catalogs query TIC --where Tmag=5..6 | mastkit crossmatch - --catalog caom",
    ],
    "Positions are decimal degrees (ICRS); the RA/Dec columns are found by name (ra/dec, "
    "s_ra/s_dec, RAJ2000/DEJ2000, ra_deg/dec_deg, ...) unless --ra/--dec name them. Only the "
    "positions and row numbers are sent. The output has input_row (0-based row of FILE), the "
    "input's columns (--no-input drops them), the catalogue's columns and separation (arcsec).",
)


def register(app: typer.Typer) -> None:
    """Add the ``crossmatch`` command to ``app``."""
    app.command("crossmatch", epilog=_EPILOG)(crossmatch)


def _read_csv(data: bytes, source: str) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(pa.BufferReader(data))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise BadInputError(f"Cannot read {source} as CSV: {exc}") from exc


def read_positions_file(source: str) -> Any:
    """The table in ``source`` (a path, or ``-`` for CSV on stdin) as a pyarrow Table.

    Raises
    ------
    BadInputError
        A missing file, an unknown extension, or a file that is not the table it says.
    """
    import pyarrow as pa

    if source == "-":
        return _read_csv(sys.stdin.buffer.read(), "stdin")
    path = Path(source)
    if not path.exists():
        raise BadInputError(f"No such file: {source}")
    if path.is_dir():
        raise BadInputError(f"{source} is a directory, not a table file.")
    kind = INPUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BadInputError(
            f"Cannot tell the format of {source} from its extension "
            f"{path.suffix or '(none)'!r}; use .parquet, .csv, .ecsv, .fits or .xml/.vot."
        )
    if kind == "csv":
        return _read_csv(path.read_bytes(), source)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import warnings

        from astropy.table import Table

        from mastkit.services._table_input import as_arrow

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit and VOTable-version chatter from astropy
            table = Table.read(path, format=kind)
        return as_arrow(table)
    except BadInputError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise BadInputError(f"Cannot read {source} as a {kind} table: {exc}") from exc


@guarded
def crossmatch(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="Table of positions (- for CSV on stdin).")
    ],
    catalog: Annotated[
        str,
        typer.Option(
            "--catalog",
            metavar="NAME",
            help="TIC, Hipparcos, GaiaDR3, ..., or caom for observations.",
        ),
    ] = "TIC",
    radius: Annotated[
        str | None,
        typer.Option(
            "--radius",
            "-r",
            help="Match radius: degrees or with a unit (5arcsec); default 7.2 arcsec "
            "(0.002 deg, MAST's).",
        ),
    ] = None,
    ra: Annotated[
        str | None, typer.Option("--ra", metavar="COL", help="The RA column (degrees).")
    ] = None,
    dec: Annotated[
        str | None, typer.Option("--dec", metavar="COL", help="The Dec column (degrees).")
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size",
            min=1,
            max=100_000,
            metavar="N",
            help="Rows per request (requests run concurrently).",
        ),
    ] = 5000,
    keep_input: Annotated[
        bool,
        typer.Option(
            "--input/--no-input", help="Copy the input's columns into the output (default: yes)."
        ),
    ] = True,
    limit: LimitOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Match every row of FILE against a catalogue (or CAOM observations), on the server."""
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output, counted
    from mastkit.services import Catalogs

    check_output(output, overwrite)
    if output is not None and file != "-" and Path(file).resolve() == output.resolve():
        raise BadInputError("The output file is the input file; choose another -o.")
    table = read_positions_file(file)
    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    with open_observations(ctx, f"Crossmatching {table.num_rows:,} rows with {catalog}") as obs:
        result = Catalogs(obs.client).crossmatch(
            table, catalog, radius, ra=ra, dec=dec, chunk_size=chunk_size, keep_input=keep_input
        )
    summary = result.metadata.get("crossmatch", {})
    note(
        f"{summary.get('matched_input_rows', 0):,} of {counted(table.num_rows, 'input rows')} "
        f"matched within {summary.get('radius_arcsec', 0):g} arcsec "
        f"(positions from {summary.get('ra_column')}/{summary.get('dec_column')})"
    )
    deliver(
        out,
        result,
        what="matches",
        limit=limit,
        path=output,
        overwrite=overwrite,
        preferred=("input_row", "ID", "HIP", "obsid", "ra", "dec", "Tmag", "separation"),
    )
