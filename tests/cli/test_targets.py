"""``mastkit observations --targets FILE``: many targets in one table, failures on stderr."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from mastkit.services import Observations

from .conftest import Cli, csv_rows


def test_text_file_of_names_and_positions(cli: Cli, lib: Observations, tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("# names and positions\nM101\n\n10.6847 +41.26875\nno such object 7\n")
    result = cli(
        "observations",
        "--targets",
        str(targets),
        "--radius",
        "0.3",
        "--where",
        "obs_collection=HST,HLA",
    )
    assert result.exit_code == 0, result.output
    expected = lib.query_targets(
        ["M101", (10.6847, 41.26875), "no such object 7"], 0.3, obs_collection=["HST", "HLA"]
    )
    rows = csv_rows(result.stdout)
    assert len(rows) == len(expected) > 0
    assert list(rows[0])[:2] == ["input_index", "input_target"]
    assert [int(r["obsid"]) for r in rows] == expected["obsid"].to_pylist()
    assert [r["input_target"] for r in rows] == expected["input_target"].to_pylist()
    assert "M101" in {r["input_target"] for r in rows}
    assert "1 of 3 targets failed: 'no such object 7'" in result.stderr


def test_csv_with_columns_to_parquet(cli: Cli, lib: Observations, tmp_path: Path) -> None:
    targets = tmp_path / "targets.csv"
    targets.write_text("name,ra,dec\nM101,,\nAndromeda,10.6847,41.26875\n")
    out = tmp_path / "found.parquet"
    result = cli("observations", "--targets", str(targets), "-o", str(out))
    assert result.exit_code == 0, result.output
    written = pq.read_table(out)
    expected = lib.query_targets(["M101", (10.6847, 41.26875)])
    assert written.column("obsid").to_pylist() == expected["obsid"].to_pylist()
    assert set(written.column("input_index").to_pylist()) == {0, 1}


def test_bad_targets_files(cli: Cli, tmp_path: Path) -> None:
    missing = cli("observations", "--targets", str(tmp_path / "nope.txt"))
    assert missing.exit_code != 0 and "Cannot read the targets file" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    assert "holds no target" in cli("observations", "--targets", str(empty)).stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ra,dec\n,,\n")
    assert "line 2: no name and no ra/dec" in cli("observations", "--targets", str(bad)).stderr
    both = cli("observations", "--targets", str(bad), "--object", "M101")
    assert both.exit_code != 0 and "does not combine" in both.stderr


def test_targets_from_stdin(cli: Cli) -> None:
    result = cli(
        "observations", "--targets", "-", "--columns", "input_target,obsid", input="M101\n"
    )
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert rows and list(rows[0]) == ["input_target", "obsid"]
