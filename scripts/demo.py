"""The mastkit demo: MAST's workflow from the command line, on the embedded local archive.

Run by ``make demo``; no network needed. It builds the local archive on first use, starts the
local MAST-compatible server once, points every command at it through ``MASTKIT_SERVER`` (the
same as ``--server local`` on each command, without starting a server per command), and runs
MAST's own tutorial as ``mastkit`` commands: resolve a target, count and find its observations,
narrow them and save them, list their products, size them up, filter them, and save the
selection for the download step. The local archive's observations are synthetic (labelled
so); its catalogues are real.

Every command is printed before it runs, so the demo doubles as a copy-and-paste tutorial;
against the real MAST, leave out ``MASTKIT_SERVER``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

OUT = Path("demo-output")
IMAGES = OUT / "m101_images.parquet"
SCIENCE = OUT / "m101_science.csv"
FEW = OUT / "m101_few.csv"
FILES = OUT / "mastDownload"

console = Console(highlight=False)

#: (what the step does, the mastkit arguments)
STEPS: list[tuple[str, list[str]]] = [
    ("Resolve the target", ["resolve", "M101"]),
    ("How many observations within 3 arcmin?",
     ["observations", "--object", "M101", "--radius", "3arcmin", "--count"]),
    ("Find them (the first ten, a few columns; -o FILE keeps everything)",
     ["observations", "--object", "M101", "--radius", "3arcmin", "--limit", "10", "--columns",
      "obsid,obs_collection,instrument_name,filters,calib_level,t_exptime,distance"]),
    ("Narrow to calibrated HST and JWST images of 100 s or more within 0.2 deg, and save them",
     ["observations", "--object", "M101", "--where", "obs_collection=HST,JWST",
      "--where", "dataproduct_type=image", "--where", "calib_level=2..3",
      "--where", "t_exptime>=100", "-o", str(IMAGES), "--overwrite"]),
    ("List their products and size them up before any download",
     ["products", "--from", str(IMAGES), "--summary"]),
    ("Filter: calibrated science FITS files, each file once",
     ["products", "--from", str(IMAGES), "--type", "SCIENCE", "--extension", "fits",
      "--calib-level", "2..3", "--unique", "--limit", "12", "--columns",
      "obsID,productFilename,productSubGroupDescription,calib_level,size"]),
    ("Save the selection; how big would downloading all of it be?",
     ["products", "--from", str(IMAGES), "--type", "SCIENCE", "--extension", "fits",
      "--calib-level", "2..3", "--unique", "-o", str(SCIENCE), "--overwrite"]),
    ("Keep a few small ones to fetch now",
     ["products", "--from", str(IMAGES), "--type", "SCIENCE", "--extension", "fits",
      "--unique", "--filename", "*_drz.fits", "--limit", "6", "-o", str(FEW), "--overwrite"]),
    ("Dry run: files, bytes and duplicates, nothing fetched",
     ["download", "--products", str(FEW), "-d", str(FILES), "--dry-run"]),
    ("Download them: in parallel, resumable, verified by size and SHA-256",
     ["download", "--products", str(FEW), "-d", str(FILES)]),
    ("Again: verified files are skipped without touching the network",
     ["download", "--products", str(FEW), "-d", str(FILES)]),
]


def mastkit_command() -> list[str]:
    """The ``mastkit`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("mastkit")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from mastkit.cli import main; main()"]


def run_step(number: int, title: str, args: list[str], env: dict[str, str]) -> bool:
    """Print and run one command; True if it succeeded."""
    console.print(f"\n[bold cyan]{number}. {title}[/]")
    console.print(f"[bold]$ mastkit {shlex.join(args)}[/]", soft_wrap=True)
    sys.stdout.flush()
    done = subprocess.run([*mastkit_command(), *args], env=env, check=False)
    if done.returncode != 0:
        console.print(f"[red]step {number} failed with exit code {done.returncode}[/]")
    return done.returncode == 0


def main() -> int:
    from mastkit.server import LocalArchive, archive

    console.rule("[bold]mastkit demo: the MAST workflow on the command line, offline")
    started = time.monotonic()
    path = archive.default_archive_path()
    meta = archive.read_meta(path) if path.exists() else None
    if meta is None or meta.get("format_version") != str(archive.FORMAT_VERSION):
        console.print(f"Building the local archive at {path} (first run only; under a minute)")
    OUT.mkdir(exist_ok=True)
    with LocalArchive() as url:
        console.print(f"Local MAST server at [cyan]{url}[/] "
                      f"(ready in {time.monotonic() - started:.1f} s); "
                      f"[bold]export MASTKIT_SERVER={url}[/]")
        env = {**os.environ, "MASTKIT_SERVER": url}
        for number, (title, args) in enumerate(STEPS, start=1):
            if not run_step(number, title, args, env):
                return 1
    console.rule(f"done in {time.monotonic() - started:.1f} s; results in {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
