"""``mastkit catalogs query|columns|list``, compared with the library on the same server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mastkit.client import Client
from mastkit.services import Catalogs

from .conftest import Cli, csv_rows

M101 = "210.80227 54.34895"


@pytest.fixture(scope="module")
def catlib(server_url: str) -> Iterator[Catalogs]:
    with Client(server_url, timeout=60) as client:
        yield Catalogs(client)


def test_query_region(cli: Cli, catlib: Catalogs) -> None:
    result = cli("catalogs", "query", "tic", "--coords", M101, "--radius", "40arcmin")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    expected = catlib.query_region("TIC", M101, "40 arcmin")
    assert [int(r["ID"]) for r in rows] == expected["ID"].to_pylist() and rows
    assert "dstArcSec" in rows[0]


def test_count_and_criteria(cli: Cli, catlib: Catalogs) -> None:
    result = cli(
        "catalogs", "query", "TIC", "--where", "Tmag=5..6", "--where", "objType=STAR", "--count"
    )
    assert result.exit_code == 0, result.output
    assert int(result.stdout) == catlib.query_criteria_count("TIC", Tmag="5..6", objType="STAR") > 0
    listed = cli(
        "catalogs",
        "query",
        "TIC",
        "--where",
        "Tmag=5..6",
        "--where",
        "lumclass!=DWARF",
        "--columns",
        "id,tmag",
        "--limit",
        "3",
    )
    assert listed.exit_code == 0, listed.output
    rows = csv_rows(listed.stdout)
    assert list(rows[0]) == ["ID", "Tmag"] and len(rows) == 3
    assert all(5 <= float(r["Tmag"]) <= 6 for r in rows)


def test_object_to_a_file(cli: Cli, catlib: Catalogs, tmp_path: Path) -> None:
    out = tmp_path / "pleiades.parquet"
    result = cli("catalogs", "query", "Hipparcos", "--object", "M45", "-r", "1deg", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "M45" in result.stderr and "wrote" in result.stderr
    written = pq.read_table(out)
    assert sorted(written.column("HIP").to_pylist()) == sorted(
        catlib.query_object("Hipparcos", "M45", "1 deg")["HIP"].to_pylist()
    )


def test_bad_queries_exit_2(cli: Cli) -> None:
    typo = cli("catalogs", "query", "TIC", "--where", "Tmagg<5")
    assert typo.exit_code == 2 and "Tmag" in typo.stderr
    for args in (
        ["--coords", M101, "--object", "M45"],
        [],
        ["--radius", "1"],
        ["--where", "nonsense"],
        ["--count", "--limit", "2", "--where", "Tmag<3"],
    ):
        result = cli("catalogs", "query", "TIC", *args)
        assert result.exit_code == 2, (args, result.output)
    bad_name = cli("catalogs", "query", "no such", "--coords", M101)
    assert bad_name.exit_code == 2 and "catalogue name" in bad_name.stderr
    unknown = cli("catalogs", "query", "Nowhere", "--coords", M101)
    assert unknown.exit_code == 4 and "no catalogue 'Nowhere'" in unknown.stderr


def test_columns(cli: Cli, catlib: Catalogs) -> None:
    result = cli("catalogs", "columns", "TIC", globals=["--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == catlib.columns("TIC").to_pylist()
    missing = cli("catalogs", "columns", "GaiaDR3")
    assert missing.exit_code == 2 and "no column metadata" in missing.stderr


def test_list(cli: Cli) -> None:
    result = cli("catalogs", "list", "--also", "MyStars")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in csv_rows(result.stdout)}
    assert rows["TIC"]["available"].lower() == "true"
    assert rows["MyStars"]["available"].lower() == "false"
    available = cli("catalogs", "list", "--available")
    assert {r["name"] for r in csv_rows(available.stdout)} == {"TIC", "Hipparcos"}
