"""``mastkit columns`` and ``mastkit missions``."""

from __future__ import annotations

import json

from mastkit.services import Observations

from .conftest import Cli, csv_rows


def test_columns_of_observations(cli: Cli, lib: Observations) -> None:
    result = cli("columns", "observations")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    expected = lib.columns("observations")
    assert [r["name"] for r in rows] == expected["name"].to_pylist()
    assert {"obsid", "obs_collection", "t_exptime"} <= {r["name"] for r in rows}
    assert list(rows[0]) == ["name", "type", "unit", "description", "example"]


def test_columns_of_products_as_json(cli: Cli, lib: Observations) -> None:
    result = cli("columns", "products", globals=["--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == lib.columns("products").to_pylist()


def test_columns_default_and_bad_choice(cli: Cli, lib: Observations) -> None:
    default = cli("columns")
    assert default.exit_code == 0
    assert len(csv_rows(default.stdout)) == len(lib.columns("observations"))
    bad = cli("columns", "catalogs")
    assert bad.exit_code == 2 and "catalogs" in bad.output


def test_missions(cli: Cli, lib: Observations) -> None:
    result = cli("missions")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    expected = lib.missions()
    assert [(r["mission"], int(r["count"])) for r in rows] == list(
        zip(expected["mission"].to_pylist(), expected["count"].to_pylist(), strict=True)
    )
    assert sum(int(r["count"]) for r in rows) == lib.query_criteria_count()


def test_missions_on_a_terminal(cli: Cli) -> None:
    result = cli("missions", env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "missions" in result.stdout.splitlines()[0] and "TESS" in result.stdout
