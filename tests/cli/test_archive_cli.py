"""``mastkit archive add-catalog`` / ``remove-catalog`` / ``info`` on a copy of the archive."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from typer.testing import CliRunner

from mastkit.cli.app import app
from mastkit.cli.errors import EXIT_BAD_INPUT
from mastkit.protocol import MashupRequest
from mastkit.server.archive import Archive
from mastkit.server.handlers import Context, default_registry, execute
from mastkit.server.product_index import index_path
from mastkit.server.row_texts import texts_path
from mastkit.server.user_catalogs import catalogs_dir

runner = CliRunner()


@pytest.fixture
def target(tmp_path: Path, cli_archive: Path) -> Path:
    path = tmp_path / "a" / "archive.duckdb"
    path.parent.mkdir()
    shutil.copy(cli_archive, path)
    shutil.copy(index_path(cli_archive), index_path(path))  # the archive's product index
    for table in ("observations", "products"):  # and its rendered rows
        shutil.copy(texts_path(cli_archive, table), texts_path(path, table))
    return path


def _csv(tmp_path: Path, table: pa.Table, name: str = "cat.csv") -> Path:
    path = tmp_path / name
    pcsv.write_csv(table, path)
    return path


def test_add_serve_and_remove(target: Path, tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        pa.table(
            {
                "id": [1, 2, 3],
                "alpha": [10.0, 10.001, 200.0],
                "delta": [5.0, 5.0, -30.0],
                "kind": ["a", "b", "a"],
            }
        ),
    )
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    result = runner.invoke(
        app,
        [
            "archive",
            "add-catalog",
            "Mine",
            str(source),
            "--ra",
            "alpha",
            "--dec",
            "DELTA",
            "--path",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Mine"
    assert "3 rows" in result.stderr and "Mast.Catalogs.Mine.Cone" in result.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    with Archive.open(target) as db:
        _, handler = default_registry().resolve("Mast.Catalogs.Mine.Cone")
        found = execute(
            handler,
            MashupRequest("Mast.Catalogs.Mine.Cone", {"ra": 10, "dec": 5, "radius": 0.01}),
            Context(archive=db, row_limit=1000),
        )
        assert found.table.column("id").to_pylist() == [1, 2]
    info = runner.invoke(app, ["archive", "info", "--path", str(target)])
    assert info.exit_code == 0 and "user catalogue Mine" in info.stdout
    assert "product index" in info.stdout and ".products.arrow" in info.stdout
    assert "rendered observations" in info.stdout and ".observations.rows.arrow" in info.stdout
    again = runner.invoke(
        app,
        [
            "archive",
            "add-catalog",
            "mine",
            str(source),
            "--ra",
            "alpha",
            "--dec",
            "delta",
            "--path",
            str(target),
        ],
    )
    assert again.exit_code == EXIT_BAD_INPUT
    assert "already exists" in again.stderr and "Traceback" not in again.output
    removed = runner.invoke(app, ["archive", "remove-catalog", "MINE", "--path", str(target)])
    assert removed.exit_code == 0, removed.output
    assert not (catalogs_dir(target) / "mine.duckdb").exists()


@pytest.mark.parametrize(
    ("table", "options", "words"),
    [
        (pa.table({"x": [1.0], "y": [2.0]}), [], "--ra"),
        (pa.table({"ra": ["10h"], "dec": [2.0]}), [], "not numeric"),
        (pa.table({"ra": [1.0], "dec": [2.0]}), ["--format", "xls"], "Unknown format"),
        (pa.table({"ra": [1.0], "dec": [2.0]}), ["--dec", "nope"], "No column 'nope'"),
    ],
)
def test_bad_input_is_one_line(
    target: Path, tmp_path: Path, table: pa.Table, options: list[str], words: str
) -> None:
    source = _csv(tmp_path, table)
    result = runner.invoke(
        app, ["archive", "add-catalog", "Bad", str(source), *options, "--path", str(target)]
    )
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert words in result.stderr and "Traceback" not in result.output
    assert not catalogs_dir(target).exists() or not any(catalogs_dir(target).iterdir())


def test_bad_name_and_missing_file(target: Path, tmp_path: Path) -> None:
    for name, file, words in (
        ("1st", "cat.csv", "Invalid catalogue name"),
        ("Tic", "cat.csv", "reserved"),
        ("Fine", "missing.csv", "No such file"),
    ):
        if file == "cat.csv":
            _csv(tmp_path, pa.table({"ra": [1.0], "dec": [2.0]}))
        result = runner.invoke(
            app, ["archive", "add-catalog", name, str(tmp_path / file), "--path", str(target)]
        )
        assert result.exit_code == EXIT_BAD_INPUT and words in result.stderr
    gone = runner.invoke(app, ["archive", "remove-catalog", "Nope", "--path", str(target)])
    assert gone.exit_code == EXIT_BAD_INPUT and "no user catalogue" in gone.stderr
