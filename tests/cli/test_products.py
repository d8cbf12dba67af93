"""``mastkit products``: obsids in (arguments, files, stdin), filtered product lists out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mastkit.cli.render import format_bytes
from mastkit.services import Observations
from mastkit.tables import ResultTable

from .conftest import Cli, csv_rows


@pytest.fixture(scope="module")
def m101(lib: Observations) -> ResultTable:
    """Observations around M101 that have products."""
    return lib.query_object("M101", obs_collection=["HST", "HLA", "JWST"])


def uris(rows: list[dict[str, str]]) -> list[str]:
    return [r["dataURI"] for r in rows]


def test_obsid_arguments(cli: Cli, lib: Observations, m101: ResultTable) -> None:
    ids = [str(o) for o in m101["obsid"].to_pylist()[:3]]
    result = cli("products", *ids)
    assert result.exit_code == 0, result.output
    expected = lib.products(ids)
    rows = csv_rows(result.stdout)
    assert uris(rows) == expected["dataURI"].to_pylist() and rows
    summary = lib.summarize(expected)
    [line] = result.stderr.splitlines()
    assert line == (f"mastkit: note: {len(expected)} products listed: {summary.files} files, "
                    f"{format_bytes(summary.total_bytes)}, {summary.duplicates} duplicate rows")


def test_from_a_file_written_by_observations(
    cli: Cli, lib: Observations, m101: ResultTable, tmp_path: Path
) -> None:
    saved = tmp_path / "m101.parquet"
    written = cli("observations", "--object", "M101", "--where", "obs_collection=HST,HLA,JWST",
                  "-o", str(saved))
    assert written.exit_code == 0, written.output
    result = cli("products", "--from", str(saved), "--type", "SCIENCE", "--extension", "fits",
                 "--unique")
    assert result.exit_code == 0, result.output
    expected = lib.filter_products(lib.products(m101, unique=True), product_type="SCIENCE",
                                   extension="fits")
    assert uris(csv_rows(result.stdout)) == expected["dataURI"].to_pylist()
    assert "kept by the filters" in result.stderr


def test_from_stdin_piped_from_observations(
    cli: Cli, lib: Observations, m101: ResultTable
) -> None:
    piped = cli("observations", "--object", "M101", "--where", "obs_collection=HST,HLA,JWST")
    result = cli("products", "--from", "-", "--mrp-only", "--type", "!PREVIEW",
                 input=piped.stdout)
    assert result.exit_code == 0, result.output
    expected = lib.filter_products(lib.products(m101), mrp_only=True, product_type="!PREVIEW")
    assert uris(csv_rows(result.stdout)) == expected["dataURI"].to_pylist()


def test_from_a_plain_list(
    cli: Cli, lib: Observations, m101: ResultTable, tmp_path: Path
) -> None:
    ids = m101["obsid"].to_pylist()[:4]
    listing = tmp_path / "obsids.txt"
    listing.write_text(f"# four obsids\n{ids[0]}, {ids[1]}\n{ids[2]} {ids[3]}\n")
    result = cli("products", "--from", str(listing), "--calib-level", "2..3",
                 "--filename", "*.fits", "--subgroup", "!FLT")
    assert result.exit_code == 0, result.output
    expected = lib.filter_products(lib.products(ids), calib_level="2..3", filename="*.fits",
                                   subgroup="!FLT")
    assert uris(csv_rows(result.stdout)) == expected["dataURI"].to_pylist()


def test_summary_json(cli: Cli, lib: Observations, m101: ResultTable) -> None:
    ids = [str(o) for o in m101["obsid"].to_pylist()]
    result = cli("products", *ids, "--type", "SCIENCE", "--summary", globals=["--json"])
    assert result.exit_code == 0, result.output
    expected = lib.summarize(lib.filter_products(lib.products(ids), product_type="SCIENCE"))
    assert json.loads(result.stdout) == json.loads(json.dumps(expected.as_dict()))


def test_summary_piped_and_on_a_terminal(cli: Cli, lib: Observations, m101: ResultTable) -> None:
    ids = [str(o) for o in m101["obsid"].to_pylist()]
    expected = lib.summarize(lib.products(ids))
    piped = cli("products", *ids, "--summary")
    rows = csv_rows(piped.stdout)
    assert {r["productType"]: int(r["bytes"]) for r in rows} == {
        t: v.bytes for t, v in expected.by_type.items()
    }
    shown = cli("products", *ids, "--summary", env={"TTY_COMPATIBLE": "1"})
    assert shown.stdout.splitlines()[0] == str(expected).splitlines()[0].split(": ", 1)[1]


def test_columns_limit_and_output(
    cli: Cli, lib: Observations, m101: ResultTable, tmp_path: Path
) -> None:
    ids = [str(o) for o in m101["obsid"].to_pylist()]
    target = tmp_path / "products.csv"
    result = cli("products", *ids, "--columns", "productFilename,size", "--limit", "5",
                 "-o", str(target))
    assert result.exit_code == 0, result.output
    rows = csv_rows(target.read_text())
    expected = lib.products(ids)[["productFilename", "size"]][:5]
    assert rows == [{k: str(v) for k, v in row.items()} for row in expected]
    assert "wrote 5 products × 2 columns" in result.stderr


def test_terminal_sizes_are_human(cli: Cli, m101: ResultTable) -> None:
    ids = [str(o) for o in m101["obsid"].to_pylist()[:2]]
    result = cli("products", *ids, env={"TTY_COMPATIBLE": "1", "COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+\.\d (kB|MB|GB)", result.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give obsids"),
        (["u9o40504m"], "'u9o40504m' is not an obsid"),
        (["--from", "no-such-file.csv"], "No such file: no-such-file.csv"),
        (["1", "--summary", "--limit", "3"], "--summary prints totals"),
        (["1", "--columns", "productFilenam"], "Did you mean 'productFilename'"),
    ],
)
def test_bad_input_exits_2(cli: Cli, args: list[str], message: str) -> None:
    result = cli("products", *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("mastkit: error: ") and message in line


def test_from_a_table_without_obsids(cli: Cli, tmp_path: Path) -> None:
    table = tmp_path / "names.csv"
    table.write_text("name,ra\nM101,210.8\n")
    result = cli("products", "--from", str(table))
    assert result.exit_code == 2
    assert "has no obsid column (it has: name, ra)" in result.stderr
    empty = cli("products", "--from", "-", input="obsid\n")
    assert empty.exit_code == 2 and "stdin lists no obsids" in empty.stderr
