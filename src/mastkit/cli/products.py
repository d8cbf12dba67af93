"""``mastkit products``: list, filter and size up the data products of observations.

The product filters are an option group (:data:`TypeOption` ... :data:`UniqueOption`) and a
value (:class:`ProductFilters`), and the listing is one function (:func:`select_products`), so
the ``download`` command of the download issue takes the very same flags and selection:
``mastkit products ... -o list.parquet`` writes the list it will read with ``--from``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    from mastkit.cli.render import Output
    from mastkit.services import Observations, ProductSummary
    from mastkit.tables import ResultTable

__all__ = ["PRODUCT_COLUMNS", "ProductFilters", "products", "register", "select_products",
           "summary_line"]

#: What a terminal shows of a product row unless --columns says otherwise.
PRODUCT_COLUMNS = (
    "obsID", "productFilename", "productType", "size", "productSubGroupDescription",
    "calib_level", "obs_collection",
)

_EPILOG = epilog(
    [
        "mastkit products 2003738726 2003738727",
        "mastkit observations --object M101 -o m101.parquet",
        "mastkit products --from m101.parquet --type SCIENCE --extension fits --unique",
        "mastkit observations --object M101 --where obs_collection=HST "
        "| mastkit products --from - --mrp-only --summary",
        "mastkit products --from obsids.txt --subgroup DRZ --subgroup FLT "
        "--calib-level '>=2' --filename '*_drz.fits' -o science.csv",
    ],
    "Every filter takes negation with a leading '!' (--type '!PREVIEW'); a filter given "
    "twice means any of its values. A size summary (files, bytes, duplicate rows) goes to "
    "stderr.",
    "Downloading the files comes with 'mastkit download' (the download issue), which will "
    "take these filters and the -o FILE written here.",
)

TypeOption = Annotated[
    list[str] | None,
    typer.Option("--type", "-t", metavar="TYPE",
                 help="productType: SCIENCE, PREVIEW, AUXILIARY, INFO, ... (any case)."),
]
SubgroupOption = Annotated[
    list[str] | None,
    typer.Option("--subgroup", "-s", metavar="NAME",
                 help="productSubGroupDescription: DRZ, FLT, CAL, I2D, ... (wildcards allowed)."),
]
ExtensionOption = Annotated[
    list[str] | None,
    typer.Option("--extension", "-e", metavar="EXT",
                 help="File name ending: fits, fits.gz, _drz.fits, ..."),
]
CalibLevelOption = Annotated[
    list[str] | None,
    typer.Option("--calib-level", metavar="LEVEL",
                 help="Calibration level: 3, 2..3, '>=2'."),
]
MrpOption = Annotated[
    bool, typer.Option("--mrp-only", help="Only the Minimum Recommended Products.")
]
FilenameOption = Annotated[
    list[str] | None,
    typer.Option("--filename", "-f", metavar="GLOB",
                 help="A glob on productFilename ('*_cal.fits'), ignoring case."),
]
UniqueOption = Annotated[
    bool, typer.Option("--unique", help="List each file once (the same file may belong to "
                       "several observations).")
]


def register(app: typer.Typer) -> None:
    """Add the ``products`` command to ``app``."""
    app.command("products", epilog=_EPILOG)(products)


def _one_or_many(values: list[str]) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True, slots=True)
class ProductFilters:
    """The product filters of the command line, as :func:`~mastkit.services.filter_products`
    arguments. Lists mean "any of"; a leading ``!`` excludes.

    Examples
    --------
    >>> ProductFilters(product_type=["SCIENCE"], extension=["fits", "!_raw.fits"]).kwargs()
    {'product_type': 'SCIENCE', 'extension': ['fits', '!_raw.fits']}
    """

    product_type: list[str] = field(default_factory=list)
    subgroup: list[str] = field(default_factory=list)
    extension: list[str] = field(default_factory=list)
    calib_level: list[str] = field(default_factory=list)
    mrp_only: bool = False
    filename: list[str] = field(default_factory=list)

    @classmethod
    def from_options(
        cls, *, product_type: list[str] | None, subgroup: list[str] | None,
        extension: list[str] | None, calib_level: list[str] | None, mrp_only: bool,
        filename: list[str] | None,
    ) -> ProductFilters:
        """From repeated options; values may also be comma-separated (not file globs)."""
        def values(given: list[str] | None) -> list[str]:
            return [v for item in given or [] for v in split_list(item)]

        return cls(values(product_type), values(subgroup), values(extension),
                   values(calib_level), mrp_only, [f for f in filename or [] if f])

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``filter_products`` (only the filters given)."""
        given = {
            "product_type": _one_or_many(self.product_type),
            "subgroup": _one_or_many(self.subgroup),
            "extension": _one_or_many(self.extension),
            "calib_level": _one_or_many(self.calib_level),
            "filename": _one_or_many(self.filename),
        }
        chosen: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if self.mrp_only:
            chosen["mrp_only"] = True
        return chosen


def select_products(
    obs: Observations, obsids: list[Any], filters: ProductFilters, *, unique: bool
) -> tuple[ResultTable, ResultTable]:
    """List the products of ``obsids`` and apply ``filters``.

    Returns
    -------
    (ResultTable, ResultTable)
        Every product listed, and those the filters keep.
    """
    listed = obs.products(obsids, unique=unique)
    chosen = filters.kwargs()
    return listed, (obs.filter_products(listed, **chosen) if chosen else listed)


def summary_line(listed: ResultTable, selected: ResultTable, summary: ProductSummary) -> str:
    """One line: how many products were listed and kept, in files, bytes and duplicates."""
    from mastkit.cli.render import counted, format_bytes

    kept = "" if len(selected) == len(listed) else f", {len(selected):,} kept by the filters"
    unknown = f", {summary.unknown_sizes:,} of unknown size" if summary.unknown_sizes else ""
    return (f"{counted(len(listed), 'products')} listed{kept}: "
            f"{counted(summary.files, 'files')}, {format_bytes(summary.total_bytes)}{unknown}, "
            f"{counted(summary.duplicates, 'duplicate rows')}")


def _print_summary(out: Output, summary: ProductSummary) -> None:
    import pyarrow as pa

    if out.mode == "json":
        out.document(summary.as_dict())
        return
    if out.mode == "table":
        out.lines(str(summary).removeprefix("ProductSummary: ").splitlines())
        return
    types = list(summary.by_type)
    out.table(pa.table({
        "productType": pa.array(types, pa.string()),
        "files": pa.array([summary.by_type[t].files for t in types], pa.int64()),
        "bytes": pa.array([summary.by_type[t].bytes for t in types], pa.int64()),
    }))


def _obsids(arguments: list[str] | None, source: str | None) -> list[Any]:
    from mastkit.cli._inputs import read_obsids

    obsids: list[Any] = list(arguments or [])
    if source is not None:
        from_file = read_obsids(source)
        if not from_file:
            where = "stdin" if source == "-" else source
            raise BadInputError(f"{where} lists no obsids (did the observations query match "
                                "nothing?).")
        obsids.extend(from_file)
    if not obsids:
        raise BadInputError("Give obsids (mastkit products 2003738726 ...) or --from FILE.")
    return obsids


@guarded
def products(
    ctx: typer.Context,
    obsids: Annotated[
        list[str] | None,
        typer.Argument(metavar="[OBSID]...",
                       help="obsids: the numeric ids in the obsid column of observations."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--from", metavar="FILE",
                     help="Read obsids from FILE ('-' for stdin): a table written by "
                     "'observations -o' or piped from it, or a plain list of obsids."),
    ] = None,
    product_type: TypeOption = None,
    subgroup: SubgroupOption = None,
    extension: ExtensionOption = None,
    calib_level: CalibLevelOption = None,
    mrp_only: MrpOption = False,
    filename: FilenameOption = None,
    unique: UniqueOption = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print the size summary by product type "
                           "instead of the products.")
    ] = False,
    columns: ColumnsOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """List the data products of observations, filter them, and size them up.

    MAST cannot filter product lists, so the filters run here, in memory, before anything is
    downloaded.
    """
    from mastkit.cli._context import get_state, open_observations
    from mastkit.cli.render import Output

    if summary and (columns or limit or output):
        raise BadInputError("--summary prints totals; it does not combine with --columns, "
                            "--limit or -o.")
    filters = ProductFilters.from_options(
        product_type=product_type, subgroup=subgroup, extension=extension,
        calib_level=calib_level, mrp_only=mrp_only, filename=filename,
    )
    check_output(output, overwrite)
    wanted_obsids = _obsids(obsids, source)
    state = get_state(ctx)
    out = Output(json_output=state.options.json)
    from mastkit.cli.render import counted

    activity = f"Listing the products of {counted(len(wanted_obsids), 'observations')}"
    with open_observations(ctx, activity) as obs:
        wanted = split_list(columns)
        if wanted:
            known = obs.columns("products")["name"].to_pylist()
            wanted = match_columns(wanted, known, service="CAOM products")
        listed, selected = select_products(obs, wanted_obsids, filters, unique=unique)
    sized = obs.summarize(selected)
    note(summary_line(listed, selected, sized))
    if summary:
        _print_summary(out, sized)
        return
    from mastkit.cli.render import format_bytes

    deliver(out, selected, what="products", columns=wanted, limit=limit, path=output,
            overwrite=overwrite, preferred=PRODUCT_COLUMNS, formatters={"size": format_bytes})
