"""``mastkit resolve``: names to positions, the same as the library's."""

from __future__ import annotations

import json

import pytest

from mastkit.services import Observations

from .conftest import Cli, csv_rows


def test_resolves_like_the_library(cli: Cli, lib: Observations) -> None:
    result = cli("resolve", "M101", "NGC 5194", "HIP 32349")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    expected = lib.resolve_many(["M101", "NGC 5194", "HIP 32349"])
    assert [r["name"] for r in rows] == ["M101", "NGC 5194", "HIP 32349"]
    for row, want in zip(rows, expected, strict=True):
        assert row["canonical_name"] == want.canonical_name
        assert float(row["ra"]) == pytest.approx(want.ra)
        assert float(row["dec"]) == pytest.approx(want.dec)
        assert row["resolver"] == want.resolver and row["error"] == ""
    assert result.stderr == ""


def test_json_output(cli: Cli, lib: Observations) -> None:
    result = cli("resolve", "M101", globals=["--json"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    want = lib.resolve("M101")
    assert entry == want.as_dict()


def test_unresolvable_names_exit_3_and_keep_the_others(cli: Cli) -> None:
    result = cli("resolve", "M101", "Planet Nine")
    assert result.exit_code == 3
    rows = csv_rows(result.stdout)
    assert [r["name"] for r in rows] == ["M101", "Planet Nine"]
    assert rows[0]["error"] == "" and "Could not resolve" in rows[1]["error"]
    [line] = result.stderr.splitlines()
    assert line.startswith("mastkit: error: Could not resolve 'Planet Nine'")


def test_terminal_shows_only_resolved_rows(cli: Cli) -> None:
    result = cli("resolve", "M101", "Planet Nine", env={"TTY_COMPATIBLE": "1", "COLUMNS": "120"})
    assert result.exit_code == 3
    assert "M 101" in result.stdout and "Planet Nine" not in result.stdout
    assert "1 of 2 resolved" in result.stdout
    assert "mastkit: error: Could not resolve 'Planet Nine'" in result.stderr
    assert "Traceback" not in result.output
