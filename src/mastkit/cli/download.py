"""``mastkit download``: fetch product files, in parallel, resumable and verified.

Products come from obsids (arguments or ``--from FILE``, filtered with the very flags of
``mastkit products``) or from a products table (``--products FILE``, e.g. written by
``mastkit products -o``). The manifest lands in ``<dir>/manifest.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mastkit.cli.errors import epilog, guarded, note
from mastkit.cli.products import (
    CalibLevelOption,
    ExtensionOption,
    FilenameOption,
    MrpOption,
    ProductFilters,
    SubgroupOption,
    TypeOption,
    _obsids,
    select_products,
)
from mastkit.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.download import DownloadItem, Outcome

__all__ = ["download", "register"]

_EPILOG = epilog(
    [
        "mastkit --server local download 2003738726 --type SCIENCE -d data",
        "mastkit products --from m101.parquet --mrp-only -o list.parquet",
        "mastkit download --products list.parquet --flat -d data",
        "mastkit download --products list.parquet --dry-run",
        "mastkit download --products list.parquet --urls-only > urls.txt",
    ],
    "Files already verified by an earlier run are skipped without any request; --force "
    "fetches them again. Interrupted files resume from their .part.",
)


def register(app: typer.Typer) -> None:
    """Add the ``download`` command."""
    app.command("download", epilog=_EPILOG)(download)


def _read_products(source: str) -> Any:
    path = Path(source)
    if not path.is_file():
        raise BadInputError(f"No such file: {source}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    else:
        raise BadInputError("--products reads a .parquet or .csv products table.")
    if "dataURI" not in table.column_names:
        raise BadInputError(f"{source} has no dataURI column: is it a products table?")
    return table


class _RichProgress:
    """One aggregate bar: bytes, rate, ETA, files done/failed; the current file as detail."""

    def __init__(self, progress: Any) -> None:
        self.bar = progress
        self.task = progress.add_task("download", total=None, detail="")
        self.done = self.failed = self.files = 0

    def start(self, files: int, total_bytes: int) -> None:
        self.files = files
        self.bar.update(self.task, total=total_bytes or None, detail=f"0/{files} files")

    def advance(self, item: DownloadItem, nbytes: int) -> None:
        self.bar.update(self.task, advance=nbytes)

    def finished(self, outcome: Outcome) -> None:
        if outcome.status.value == "ERROR":
            self.failed += 1
        else:
            self.done += 1
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.update(self.task, detail=f"{self.done}/{self.files} files{failed} · "
                        f"{Path(outcome.path).name}")


@guarded
def download(
    ctx: typer.Context,
    obsids: Annotated[list[str] | None, typer.Argument(
        metavar="[OBSID]...", help="obsids whose products to fetch.")] = None,
    source: Annotated[str | None, typer.Option(
        "--from", metavar="FILE", help="Read obsids from FILE ('-' for stdin).")] = None,
    products_file: Annotated[str | None, typer.Option(
        "--products", metavar="FILE", help="A products table (.parquet/.csv) to download.")] = None,
    directory: Annotated[Path, typer.Option("--dir", "-d", help="Download directory.")] = Path(
        "mastDownload"),
    template: Annotated[str, typer.Option(
        "--template", help="Path template of product columns, e.g. "
        "'{obs_collection}/{obs_id}/{productFilename}' (default), or 'flat'.")] = "default",
    flat: Annotated[bool, typer.Option(
        "--flat", help="All files in the directory itself.")] = False,
    product_type: TypeOption = None,
    subgroup: SubgroupOption = None,
    extension: ExtensionOption = None,
    calib_level: CalibLevelOption = None,
    mrp_only: MrpOption = False,
    filename: FilenameOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print files, bytes and duplicates; "
                                          "download nothing.")] = False,
    urls_only: Annotated[bool, typer.Option("--urls-only", help="Print the URLs.")] = False,
    curl: Annotated[bool, typer.Option("--curl", help="Save the server's curl script instead "
                                       "of downloading.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Fetch verified files again.")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64,
                                             help="Files in flight at once.")] = 8,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Retries per file.")] = 5,
    durable: Annotated[bool, typer.Option("--durable", help="fsync each file before it gets "
                                          "its final name (slower; survives power loss).")] = False,
) -> None:
    """Download product files: parallel, resumable, verified, with a manifest."""
    from mastkit.cli._context import get_state
    from mastkit.download import DownloadOptions, curl_script, plan_downloads
    from mastkit.download import download as run_download

    state = get_state(ctx)
    filters = ProductFilters.from_options(
        product_type=product_type, subgroup=subgroup, extension=extension,
        calib_level=calib_level, mrp_only=mrp_only, filename=filename,
    )
    table = _read_products(products_file) if products_file else None
    wanted = None if table is not None else _obsids(obsids, source)
    with state.connect(state.options, note) as client:
        if table is None:
            from mastkit.services import Observations

            _, table = select_products(Observations(client), wanted or [], filters, unique=False)
        elif filters.kwargs():
            from mastkit.services import filter_products

            table = filter_products(table, **filters.kwargs())
        plan = plan_downloads(table, directory, server=client.server,
                              template="flat" if flat else template)
        s = plan.summary()
        if urls_only:
            for url in plan.urls():
                typer.echo(url)
            return
        if dry_run:
            from mastkit.cli.render import format_bytes

            unknown = f" (+{s.unknown_sizes} of unknown size)" if s.unknown_sizes else ""
            typer.echo(f"{s.files} files, {format_bytes(s.bytes)}{unknown}; "
                       f"{s.duplicates} duplicate(s) dropped; {s.rejected} unsafe name(s).")
            return
        if curl:
            typer.echo(str(curl_script(plan, client)))
            return
        options = DownloadOptions(concurrency=concurrency, per_host=concurrency,
                                  max_retries=retries, force=force, durable=durable)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = Console(stderr=True)
        with Progress(TextColumn("[bold]download"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(),
                      TextColumn("{task.fields[detail]}"), console=console,
                      disable=not console.is_terminal) as bar:
            manifest = run_download(plan, client=client, progress=_RichProgress(bar),
                                    options=options)
    statuses = manifest["status"].to_pylist()
    counts = {k: statuses.count(k) for k in ("COMPLETE", "SKIPPED", "ERROR")}
    note(f"{counts['COMPLETE']} downloaded, {counts['SKIPPED']} already verified, "
         f"{counts['ERROR']} failed; manifest: {manifest.metadata.get('manifest_file')}")
    for row in manifest:
        if row["status"] == "ERROR":
            note(f"  {row['uri']}: {row['message']}")
    if counts["ERROR"]:
        raise typer.Exit(1)
