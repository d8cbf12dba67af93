"""The mastkit demo: the MAST workflow against the embedded local archive, no network needed.

Run by ``make demo``. It starts the local MAST-compatible server (building its archive on first
use), then walks MAST's own tutorial through the mastkit client: resolve a target, find its
observations, narrow them with filters, count, list and filter their products, and save the
results. The local archive's observations are synthetic (labelled so); its catalogues are real.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mastkit import Client, criterion
from mastkit.protocol.filters import COUNT, filters_to_json, position_string
from mastkit.server import LocalArchive

console = Console()
OUT = Path("demo-output")


def show(title: str, rows: list[dict[str, object]], columns: list[str], limit: int = 8) -> None:
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name)
    for row in rows[:limit]:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "M101"
    console.rule("[bold]mastkit demo: the MAST workflow on the local archive")
    started = time.monotonic()
    with LocalArchive() as url:
        console.print(f"local MAST server at [cyan]{url}[/] (ready in {time.monotonic() - started:.1f} s)")
        with Client(url) as mast:
            # 1. Resolve the target name.
            reply = mast.invoke("Mast.Name.Lookup", {"input": target, "format": "json"})
            found = reply.extra.get("resolvedCoordinate") or []
            if not found:
                console.print(f"[red]Could not resolve {target!r}[/]")
                return 1
            ra, dec = found[0]["ra"], found[0]["decl"]
            console.print(f"1. {target} resolves to [bold]{found[0]['canonicalName']}[/] at RA {ra:.5f}, Dec {dec:.5f}")

            # 2. Every observation within 0.2 degrees (MAST's default radius), all pages.
            cone = mast.query("Mast.Caom.Cone", {"ra": ra, "dec": dec, "radius": 0.2})
            missions = Counter(cone["obs_collection"].to_pylist())
            console.print(f"2. {len(cone)} observations within 0.2 deg: {dict(missions.most_common())}")

            # 3. Narrow: science images, calibration level 2 or more, exposures over 100 s.
            filters = filters_to_json(
                [
                    criterion("dataproduct_type", "image"),
                    criterion("calib_level", "2..4"),
                    criterion("t_exptime", ">=100", continuous=True),
                    criterion("intentType", "science"),
                ]
            )
            params = {"columns": "*", "filters": filters, "position": position_string(ra, dec, 0.2)}
            narrow = mast.query("Mast.Caom.Filtered.Position", params)
            count = mast.query("Mast.Caom.Filtered.Position", {**params, "columns": COUNT})
            console.print(
                f"3. {len(narrow)} science images with calib_level >= 2 and t_exptime >= 100 s "
                f"(server count: {count['Column1'].to_pylist()[0]})"
            )
            show(
                "narrowed observations",
                narrow.to_pylist(),
                ["obs_collection", "instrument_name", "filters", "obs_id", "t_exptime", "distance"],
            )

            # 4. Products of those observations, then only the science files.
            obsids = [str(o) for o in narrow["obsid"].to_pylist()[:20]]
            products = mast.query("Mast.Caom.Products", {"obsid": ",".join(obsids)})
            science = [p for p in products.to_pylist() if p["productType"] == "SCIENCE"]
            total = sum(int(p["size"] or 0) for p in science)
            console.print(
                f"4. {len(products)} products for {len(obsids)} observations; "
                f"{len(science)} science files, {total / 1e6:.1f} MB"
            )
            show("science products", science, ["obs_id", "productSubGroupDescription", "productFilename", "size"])

            # 5. Save the results.
            OUT.mkdir(exist_ok=True)
            narrow.write(OUT / "observations.parquet", overwrite=True)
            products.write(OUT / "products.ecsv", overwrite=True)
            console.print(f"5. wrote {OUT / 'observations.parquet'} and {OUT / 'products.ecsv'}")
    console.rule(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
