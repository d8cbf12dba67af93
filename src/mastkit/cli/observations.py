"""``mastkit observations``: find CAOM observations by object, position and criteria."""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path
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
from mastkit.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.services import Observations, Resolution
    from mastkit.tables import ResultTable

__all__ = ["OBSERVATION_COLUMNS", "observations", "parse_where", "read_targets", "register"]

#: What a terminal shows of a CAOM row (about 40 columns wide) unless --columns says otherwise.
OBSERVATION_COLUMNS = (
    "obsid", "obs_collection", "instrument_name", "filters", "dataproduct_type",
    "calib_level", "t_exptime", "distance", "target_name", "obs_id",
)

_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$")

_EPILOG = epilog(
    [
        "mastkit observations --object M101 --radius 3arcmin",
        "mastkit observations --object M101 --count",
        "mastkit observations --coords '210.80225 54.34894' --radius 0.1 "
        "--where obs_collection=HST --where 'instrument_name=WFC3*'",
        "mastkit observations --object M101 --where dataproduct_type=image "
        "--where calib_level=2..3 --where 't_exptime>=300' --where obs_collection!=HLA "
        "-o m101.parquet",
        "mastkit observations --where obs_collection=JWST --where calib_level=3 --count",
        "mastkit observations --object M101 --columns obsid,obs_collection,filters --limit 5",
        "mastkit observations --targets targets.txt --radius 2arcmin --where obs_collection=HST "
        "-o found.parquet",
    ],
    "--where forms: col=value (any case); col=a,b (any of them); col=WFC3* (wildcard); "
    "col=lo..hi, col>=x, col<x "
    "(ranges; t_min, t_max and t_obs_release take ISO dates or MJD); col!=value or "
    "col=!value (exclude). A column given twice means any of its values.",
    "--targets FILE: one target per line, a name (M101) or a position ('210.8 54.35', "
    "sexagesimal too; a line that reads as a position is one), '#' comments; or a CSV file "
    "with a header naming name and/or ra,dec columns; '-' reads stdin. The rows carry "
    "input_index and input_target; targets that fail are reported on stderr, the others kept.",
)


def register(app: typer.Typer) -> None:
    """Add the ``observations`` command to ``app``."""
    app.command("observations", epilog=_EPILOG)(observations)


def parse_where(items: list[str] | None) -> dict[str, Any]:
    """``--where`` texts -> query criteria (a column given twice gets a list of values).

    Raises
    ------
    BadInputError
        For a text that is not ``COLUMN<op>VALUE``.

    Examples
    --------
    >>> parse_where(["obs_collection=HST", "obs_collection!=HLA", "t_exptime>=300"])
    {'obs_collection': ['HST', '!HLA'], 't_exptime': '>=300'}
    >>> parse_where(["filters=F555W,F814W"])
    {'filters': ['F555W', 'F814W']}
    """
    criteria: dict[str, Any] = {}
    for item in items or []:
        match = _WHERE.match(item)
        if match is None or not match.group(3):
            raise BadInputError(
                f"--where takes COLUMN=VALUE (or COLUMN!=VALUE, COLUMN>=X, COLUMN=LO..HI), "
                f"not {item!r}."
            )
        column, operator, text = match.groups()
        values = [v.strip() for v in text.split(",") if v.strip()] if operator == "=" else [text]
        if operator == "!=":
            values = ["!" + v for v in values]
        elif operator != "=":
            values = [operator + text]
        for value in values:
            previous = criteria.get(column)
            if previous is None:
                criteria[column] = value
            else:
                listed = previous if isinstance(previous, list) else [previous]
                criteria[column] = [*listed, value]
    return criteria


_NAME_COLUMNS = ("name", "target", "target_name", "object", "objectname")


def _csv_targets(text: str, source: str) -> list[Any] | None:
    """Targets of a CSV text whose header names name and/or ra/dec columns (else None)."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if "," not in first:
        return None
    reader = csv.DictReader(io.StringIO(text.lstrip()))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    name_col = next((header[n] for n in _NAME_COLUMNS if n in header), None)
    ra_col, dec_col = header.get("ra"), header.get("dec")
    if name_col is None and (ra_col is None or dec_col is None):
        return None
    targets: list[Any] = []
    for line, row in enumerate(reader, start=2):
        ra = (row.get(ra_col) or "").strip() if ra_col else ""
        dec = (row.get(dec_col) or "").strip() if dec_col else ""
        name = (row.get(name_col) or "").strip() if name_col else ""
        if ra and dec:
            targets.append(_position(f"{ra} {dec}", f"{source}, line {line}"))
        elif name:
            targets.append(name)
        else:
            raise BadInputError(f"{source}, line {line}: no name and no ra/dec.")
    return targets


def _position(text: str, where: str) -> tuple[float, float]:
    from mastkit.services import parse_coordinates

    try:
        return parse_coordinates(text)
    except BadInputError as exc:
        raise BadInputError(f"{where}: {exc}") from None


def read_targets(source: str) -> list[Any]:
    """The targets of a ``--targets`` file (``-``: stdin): names and ``(ra, dec)`` pairs.

    Raises
    ------
    BadInputError
        For a file that cannot be read, holds no target, or has a CSV row with neither a name
        nor a position.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = path.write_text("# my targets;M101;210.8 54.35;;NGC 4594".replace(";", chr(10)))
    >>> read_targets(str(path))
    ['M101', (210.8, 54.35), 'NGC 4594']
    """
    from mastkit.services import parse_coordinates

    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"Cannot read the targets file {source}: {exc}.") from None
    targets = _csv_targets(text, source)
    if targets is None:
        targets = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                targets.append(parse_coordinates(line))
            except BadInputError:
                targets.append(line)
    if not targets:
        raise BadInputError(f"The targets file {source} holds no target.")
    return targets


def _query_targets(
    ctx: typer.Context, targets: list[Any], radius: str | None, criteria: dict[str, Any]
) -> ResultTable:
    """The batch query, with ``done/total targets`` on the status line."""
    from mastkit.cli._context import get_state
    from mastkit.cli._status import StatusLine
    from mastkit.services import Observations

    state = get_state(ctx)
    activity = f"Finding observations around {len(targets)} targets"
    with StatusLine(activity) as status, state.connect(state.options, status.say) as client:
        obs = Observations(client)

        def progress(done: int, total: int) -> None:
            status.show(f"{done}/{total} targets")

        table = obs.query_targets(targets, radius, progress=progress, **criteria)
        failed: list[dict[str, Any]] = table.metadata.get("failures") or []
    if failed:
        shown = "; ".join(f"{f['input_target']!r}: {f['error']}" for f in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        note(f"{len(failed)} of {len(targets)} targets failed: {shown}{more}")
    return table


def _describe(resolution: Resolution) -> str:
    by = f" ({resolution.resolver})" if resolution.resolver else ""
    return (f"{resolution.name!r} is {resolution.canonical_name or resolution.name!r} at RA "
            f"{resolution.ra:.5f}, Dec {resolution.dec:+.5f}{by}")


def _run_query(
    obs: Observations, name: str | None, coords: str | None, radius: str | None,
    criteria: dict[str, Any], count: bool,
) -> ResultTable | int:
    if name is not None:
        if count:
            return obs.query_object_count(name, radius, **criteria)
        return obs.query_object(name, radius, **criteria)
    if coords is not None:
        if count:
            return obs.query_region_count(coords, radius, **criteria)
        return obs.query_region(coords, radius, **criteria)
    if count:
        return obs.query_criteria_count(radius=radius, **criteria)
    if not criteria:
        raise BadInputError(
            "Say which observations: --object NAME, --coords 'RA DEC', or --where criteria."
        )
    return obs.query_criteria(radius=radius, **criteria)


@guarded
def observations(
    ctx: typer.Context,
    object_name: Annotated[
        str | None,
        typer.Option("--object", metavar="NAME", help="Around this object (resolved first)."),
    ] = None,
    coords: Annotated[
        str | None,
        typer.Option("--coords", metavar="'RA DEC'",
                     help="Around this position: degrees or sexagesimal, ICRS."),
    ] = None,
    radius: Annotated[
        str | None,
        typer.Option("--radius", "-r",
                     help="Search radius: degrees (0.2) or with a unit (3arcmin, 30arcsec); "
                     "default 0.2 deg, as MAST."),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", metavar="COL=VALUE",
                     help="A criterion on a CAOM column; repeat for more (see below)."),
    ] = None,
    targets: Annotated[
        str | None,
        typer.Option("--targets", metavar="FILE",
                     help="Around each target of FILE (names or 'RA DEC', one per line, or a "
                     "CSV with name/ra/dec columns; '-' for stdin), as one table."),
    ] = None,
    count: Annotated[
        bool, typer.Option("--count", help="Print how many observations match, and stop.")
    ] = False,
    columns: ColumnsOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Find CAOM observations around an object or a position, and/or by column criteria.

    Criteria are checked against MAST's column metadata before anything is sent, so a typo
    fails at once, with suggestions.
    """
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output

    if object_name is not None and coords is not None:
        raise BadInputError("Give --object or --coords, not both.")
    if targets is not None and (object_name is not None or coords is not None or count):
        raise BadInputError("--targets does not combine with --object, --coords or --count.")
    if count and (columns or limit or output):
        raise BadInputError("--count prints a number; it does not combine with --columns, "
                            "--limit or -o.")
    criteria = parse_where(where)
    check_output(output, overwrite)
    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    if targets is not None:
        found = _query_targets(ctx, read_targets(targets), radius, criteria)
        wanted = split_list(columns)
        if wanted:
            wanted = match_columns(wanted, found.columns, service="CAOM observations")
        deliver(out, found, what="observations", columns=wanted, limit=limit,
                path=output, overwrite=overwrite,
                preferred=("input_index", "input_target", *OBSERVATION_COLUMNS))
        return
    activity = "Counting observations" if count else "Finding observations"
    with open_observations(ctx, activity) as obs:
        wanted = split_list(columns)
        if wanted:
            known = [*obs.columns("observations")["name"].to_pylist(), "distance"]
            wanted = match_columns(wanted, known, service="CAOM observations")
        result = _run_query(obs, object_name, coords, radius, criteria, count)
        # Resolutions are cached per client: this asks nothing new.
        resolved = obs.resolve(object_name) if object_name is not None else None
    if resolved is not None:
        note(_describe(resolved))
    if isinstance(result, int):
        out.value("count", result)
        return
    deliver(out, result, what="observations", columns=wanted, limit=limit, path=output,
            overwrite=overwrite, preferred=OBSERVATION_COLUMNS)
