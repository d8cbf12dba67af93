"""``mastkit observations``: the rows the library returns for the same query, in every form."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mastkit.services import Observations

from .conftest import Cli, csv_rows

M101 = ("--object", "M101", "--radius", "3arcmin")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def obsids(rows: list[dict[str, str]]) -> list[int]:
    return [int(r["obsid"]) for r in rows]


def test_object_query_equals_the_library(cli: Cli, lib: Observations) -> None:
    result = cli("observations", *M101)
    assert result.exit_code == 0, result.output
    expected = lib.query_object("M101", radius="3arcmin")
    rows = csv_rows(result.stdout)
    assert len(rows) == len(expected) > 0
    assert obsids(rows) == expected["obsid"].to_pylist()
    assert list(rows[0]) == expected.columns  # piped: every column
    assert "'M101' is 'M 101' at RA 210.80225" in result.stderr


def test_count_with_criteria(cli: Cli, lib: Observations) -> None:
    result = cli("observations", "--object", "M101", "--where", "obs_collection=HST,HLA",
                 "--where", "dataproduct_type=image", "--count")
    assert result.exit_code == 0, result.output
    expected = lib.query_object_count("M101", obs_collection=["HST", "HLA"],
                                      dataproduct_type="image")
    assert int(result.stdout) == expected > 0
    as_json = cli("observations", "--where", "obs_collection=JWST", "--where",
                  "calib_level=3", "--count", globals=["--json"])
    assert json.loads(as_json.stdout) == {
        "count": lib.query_criteria_count(obs_collection="JWST", calib_level=3)
    }


def test_region_with_every_where_form(cli: Cli, lib: Observations) -> None:
    result = cli(
        "observations", "--coords", "210.80225 54.34894", "--radius", "0.2",
        "--where", "dataproduct_type=image", "--where", "t_exptime>=100",
        "--where", "obs_collection!=HLA", "--where", "calib_level=2..3",
        "--where", "instrument_name=*",
    )
    assert result.exit_code == 0, result.output
    expected = lib.query_region("210.80225 54.34894", radius=0.2, dataproduct_type="image",
                                t_exptime=">=100", obs_collection="!HLA", calib_level="2..3",
                                instrument_name="*")
    rows = csv_rows(result.stdout)
    assert obsids(rows) == expected["obsid"].to_pylist() and rows
    assert all(r["obs_collection"] != "HLA" and float(r["t_exptime"]) >= 100 for r in rows)


def test_criteria_only_with_dates(cli: Cli, lib: Observations) -> None:
    result = cli("observations", "--where", "obs_collection=TESS",
                 "--where", "t_min=2019-01-01..2020-01-01")
    assert result.exit_code == 0, result.output
    expected = lib.query_criteria(obs_collection="TESS", t_min="2019-01-01..2020-01-01")
    assert obsids(csv_rows(result.stdout)) == expected["obsid"].to_pylist()


def test_columns_and_limit(cli: Cli, lib: Observations) -> None:
    result = cli("observations", *M101, "--columns", "OBSID, obs_collection,distance",
                 "--limit", "3")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert list(rows[0]) == ["obsid", "obs_collection", "distance"] and len(rows) == 3
    total = lib.query_object_count("M101", radius="3arcmin")
    assert f"kept the first 3 of {total} observations (--limit 3)" in result.stderr
    assert obsids(rows) == lib.query_object("M101", radius="3arcmin")["obsid"].to_pylist()[:3]


def test_json_rows(cli: Cli, lib: Observations) -> None:
    result = cli("observations", *M101, "--columns", "obsid,srcDen,s_ra", globals=["--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = lib.query_object("M101", radius="3arcmin")[["obsid", "srcDen", "s_ra"]]
    assert rows == expected.to_pylist()  # nulls are null, numbers numbers


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".ecsv", ".fits", ".xml", ".vot"])
def test_output_files(cli: Cli, lib: Observations, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"m101{suffix}"
    result = cli("observations", *M101, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    expected = lib.query_object("M101", radius="3arcmin")
    assert f"wrote {len(expected)} observations × {len(expected.columns)} columns" in result.stderr
    if suffix == ".parquet":
        written = pq.read_table(target)["obsid"].to_pylist()
    else:
        from astropy.table import Table

        fmt = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".xml": "votable",
               ".vot": "votable"}[suffix]
        written = [int(v) for v in Table.read(target, format=fmt)["obsid"]]
    assert written == expected["obsid"].to_pylist()


def test_output_file_is_not_overwritten(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "m101.csv"
    target.write_text("keep me\n")
    refused = cli("observations", *M101, "-o", str(target))
    assert refused.exit_code == 2
    assert refused.stderr == f"mastkit: error: {target} already exists; pass --overwrite to " \
                             "replace it.\n"
    assert target.read_text() == "keep me\n"
    replaced = cli("observations", *M101, "-o", str(target), "--overwrite")
    assert replaced.exit_code == 0 and target.read_text().startswith("intentType,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "instrument=WFC3"], "Unknown column 'instrument' of Mast.Caom.Filtered. "
                                         "Did you mean 'instrument_name'"),
        ([*M101, "--columns", "obsid,instrumnt"], "Unknown column 'instrumnt' of CAOM "
                                                  "observations. Did you mean 'instrument_name'?"),
        (["--where", "calib_level"], "--where takes COLUMN=VALUE"),
        (["--where", "calib_level=abc"], "'calib_level' is a number column"),
        ([], "Say which observations"),
        (["--object", "M101", "--coords", "1 2"], "Give --object or --coords, not both."),
        ([*M101, "--count", "-o", "x.csv"], "--count prints a number"),
        ([*M101, "-o", "out.txt"], "Cannot tell the format of out.txt from its extension '.txt'"),
        (["--coords", "abc def"], "Could not read 'abc def' as coordinates"),
        ([*M101[:2], "--radius", "3parsec"], "Unknown angle unit 'parsec'"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli: Cli, args: list[str], message: str) -> None:
    result = cli("observations", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("mastkit: error: ") and message in line


def test_unresolvable_object_exits_3(cli: Cli) -> None:
    result = cli("observations", "--object", "Planet Nine")
    assert result.exit_code == 3
    assert result.stderr == ("mastkit: error: Could not resolve 'Planet Nine': the resolver "
                             "knows no object of that name.\n")


def test_nothing_found_is_not_an_error(cli: Cli) -> None:
    result = cli("observations", *M101, "--where", "obs_collection=NoSuchMission")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("intentType,") and len(result.stdout.splitlines()) == 1
    assert "matched nothing" in result.stderr


def test_terminal_table_is_a_readable_subset(cli: Cli, lib: Observations) -> None:
    result = cli("observations", *M101, env={"TTY_COMPATIBLE": "1", "COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    expected = lib.query_object("M101", radius="3arcmin")
    lines = [ANSI.sub("", line) for line in result.stdout.splitlines()]
    header = next(line for line in lines if "obsid" in line)
    assert "obs_collection" in header and "s_region" not in header
    assert all(len(line) <= 100 for line in lines)
    assert all(str(o) in result.stdout for o in expected["obsid"].to_pylist())
    assert f"of {len(expected.columns)} columns; choose them with --columns" in result.stderr
    assert "Finding observations" in result.stderr  # the live status line
