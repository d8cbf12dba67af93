"""``mastkit crossmatch FILE``: every input format, against the library on the same server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from astropy.table import Table

from mastkit.client import Client
from mastkit.services import Catalogs

from .conftest import Cli, csv_rows


@pytest.fixture(scope="module")
def catlib(server_url: str) -> Iterator[Catalogs]:
    with Client(server_url, timeout=60) as client:
        yield Catalogs(client)


@pytest.fixture(scope="module")
def stars(catlib: Catalogs) -> pa.Table:
    """Twelve Hipparcos stars near M45, under the names a user's file might have."""
    found = catlib.query_object("Hipparcos", "M45", "1 deg")[:12]
    return pa.table(
        {
            "name": [f"s{h}" for h in found["HIP"].to_pylist()],
            "RA_deg": found["ra"],
            "Dec_deg": found["dec"],
        }
    )


def write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        fmt = {".fits": "fits", ".ecsv": "ascii.ecsv", ".xml": "votable"}[path.suffix]
        Table(table.to_pydict()).write(path, format=fmt)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".fits", ".ecsv", ".xml"])
def test_formats(cli: Cli, catlib: Catalogs, stars: pa.Table, tmp_path: Path, suffix: str) -> None:
    source = write(stars, tmp_path / f"stars{suffix}")
    out = tmp_path / "matches.parquet"
    result = cli(
        "crossmatch",
        str(source),
        "--catalog",
        "hipparcos",
        "--radius",
        "1arcsec",
        "--ra",
        "ra_deg",
        "--dec",
        "dec_deg",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "12 of 12 input rows matched within 1 arcsec" in result.stderr
    written = pq.read_table(out)
    expected = catlib.crossmatch(
        stars, "Hipparcos", "1 arcsec", ra="RA_deg", dec="Dec_deg", keep_input=True
    )
    assert written.column_names == expected.columns
    assert written.column("HIP").to_pylist() == expected["HIP"].to_pylist()
    assert written.column("name").to_pylist() == [f"s{h}" for h in expected["HIP"].to_pylist()]


def test_stdin_and_no_input(cli: Cli, stars: pa.Table) -> None:
    text = "ra,dec\n" + "".join(
        f"{r},{d}\n"
        for r, d in zip(
            stars.column("RA_deg").to_pylist(), stars.column("Dec_deg").to_pylist(), strict=True
        )
    )
    result = cli("crossmatch", "-", "--catalog", "TIC", "-r", "1arcsec", "--no-input", input=text)
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert sorted({int(r["input_row"]) for r in rows}) == list(range(12))
    assert "name" not in rows[0] and float(rows[0]["separation"]) < 1


def _fails(cli: Cli, *args: str, code: int = 2, text: str, **kw: Any) -> None:
    result = cli("crossmatch", *args, **kw)
    assert result.exit_code == code, result.output
    assert text in result.stderr, result.stderr


def test_bad_inputs(cli: Cli, stars: pa.Table, tmp_path: Path) -> None:
    good = write(stars, tmp_path / "good.csv")
    _fails(cli, str(tmp_path / "missing.csv"), text="No such file")
    _fails(cli, str(tmp_path), text="directory")
    (tmp_path / "t.txt").write_text("ra,dec\n1,2\n")
    _fails(cli, str(tmp_path / "t.txt"), text="extension")
    (tmp_path / "broken.fits").write_bytes(b"not a fits file")
    _fails(cli, str(tmp_path / "broken.fits"), text="Cannot read")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 nope")
    _fails(cli, str(tmp_path / "broken.parquet"), text="Cannot read")
    (tmp_path / "xy.csv").write_text("x,y\n1,2\n")
    _fails(cli, str(tmp_path / "xy.csv"), text="No RA/Dec columns")
    _fails(cli, str(good), "--ra", "RA_deg", "--dec", "decl", text="decl")
    _fails(cli, str(good), "--ra", "name", "--dec", "Dec_deg", text="not a number")
    _fails(
        cli,
        str(good),
        "--ra",
        "RA_deg",
        "--dec",
        "Dec_deg",
        "-o",
        str(good),
        "--overwrite",
        text="input file",
    )
    _fails(cli, str(good), "--ra", "RA_deg", "--dec", "Dec_deg", "-o", str(good), text="exists")
    _fails(
        cli,
        str(good),
        "--ra",
        "RA_deg",
        "--dec",
        "Dec_deg",
        "--catalog",
        "Nowhere",
        code=4,
        text="Nowhere",
    )
    (tmp_path / "nulls.csv").write_text("ra,dec\n1,2\n3,\n")
    _fails(cli, str(tmp_path / "nulls.csv"), text="row 1")
    assert good.read_text().startswith('"name"')  # the input was left as it was
