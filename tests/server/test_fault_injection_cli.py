"""``mastkit serve --fault``: faults from the command line and the environment."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mastkit.cli.app import app

from .conftest import small_archive

runner = CliRunner()
MISSIONS = "/api/v0/invoke?request=" + quote(json.dumps({"service": "Mast.Missions.List"}))


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = small_archive(tmp_path_factory)
    return path


def serve(archive_path: Path, *args: str) -> Result:
    return runner.invoke(app, ["serve", "--archive", str(archive_path), *args])


def test_fault_option_applies_to_get(archive_path: Path) -> None:
    refused = serve(
        archive_path, "--get", MISSIONS, "--fault", "service=Mast.Missions.*:kind=503:retry_after=3"
    )
    assert refused.exit_code == 1 and "HTTP 503" in refused.stderr
    executing = serve(archive_path, "--get", MISSIONS, "--fault", "kind=executing")
    assert json.loads(executing.stdout)["status"] == "EXECUTING"
    other = serve(archive_path, "--get", MISSIONS, "--fault", "service=Mast.Caom.Cone:kind=500")
    assert other.exit_code == 0
    assert json.loads(other.stdout)["status"] == "COMPLETE"


def test_faults_from_the_environment(archive_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTKIT_SERVER_FAULTS", "kind=lost")
    lost = serve(archive_path, "--get", MISSIONS)
    assert json.loads(lost.stdout)["status"] == "ERROR"


def test_bad_fault_spec_is_a_usage_error(archive_path: Path) -> None:
    result = serve(archive_path, "--get", MISSIONS, "--fault", "kind=teapot")
    assert result.exit_code == 2
    assert "unknown fault kind" in result.output
