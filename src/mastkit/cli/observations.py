"""``mastkit observations``: find CAOM observations by object, position and criteria."""

from __future__ import annotations

import re
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

__all__ = ["OBSERVATION_COLUMNS", "observations", "parse_where", "register"]

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
    ],
    "--where forms: col=value (any case); col=a,b (any of them); col=WFC3* (wildcard); "
    "col=lo..hi, col>=x, col<x "
    "(ranges; t_min, t_max and t_obs_release take ISO dates or MJD); col!=value or "
    "col=!value (exclude). A column given twice means any of its values.",
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
    if count and (columns or limit or output):
        raise BadInputError("--count prints a number; it does not combine with --columns, "
                            "--limit or -o.")
    criteria = parse_where(where)
    check_output(output, overwrite)
    state = get_state(ctx)
    out = Output(json_output=state.options.json)
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
