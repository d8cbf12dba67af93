"""``mastkit serve`` and ``mastkit archive``."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from mastkit.cli.app import app
from mastkit.server import archive as archive_module

from ..server.conftest import small_archive

runner = CliRunner()


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = small_archive(tmp_path_factory)
    return path


def invoke_url(request: dict[str, Any]) -> str:
    return "/api/v0/invoke?request=" + quote(json.dumps(request), safe="")


def test_serve_get_answers_one_request(archive_path: Path) -> None:
    target = invoke_url(
        {"service": "Mast.Caom.Filtered", "params": {"columns": "COUNT_BIG(*)", "filters": []}}
    )
    result = runner.invoke(app, ["serve", "--archive", str(archive_path), "--get", target])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert reply["status"] == "COMPLETE" and reply["data"] == [{"Column1": 3000}]


def test_serve_get_accepts_raw_json_and_reports_http_errors(archive_path: Path) -> None:
    raw = runner.invoke(
        app,
        [
            "serve",
            "--archive",
            str(archive_path),
            "--get",
            '/api/v0/invoke?request={"service":"Mast.Missions.List"}',
        ],
    )
    assert raw.exit_code == 0 and json.loads(raw.stdout)["status"] == "COMPLETE"
    missing = runner.invoke(
        app, ["serve", "--archive", str(archive_path), "--get", "/no/such/path"]
    )
    assert missing.exit_code == 1 and "HTTP 404" in missing.stderr
    error = runner.invoke(
        app,
        ["serve", "--archive", str(archive_path), "--get", invoke_url({"service": "Nope.Nope"})],
    )
    assert (
        error.exit_code == 0 and json.loads(error.stdout)["status"] == "ERROR"
    )  # MAST errors are HTTP 200


def test_serve_get_over_the_row_limit(archive_path: Path) -> None:
    target = invoke_url(
        {"service": "Mast.Caom.Filtered", "params": {"columns": "*", "filters": []}}
    )
    reset = runner.invoke(
        app, ["serve", "--archive", str(archive_path), "--row-limit", "10", "--get", target]
    )
    assert reset.exit_code == 1 and "connection reset" in reset.stdout
    error = runner.invoke(
        app,
        [
            "serve",
            "--archive",
            str(archive_path),
            "--row-limit",
            "10",
            "--limit-error",
            "--get",
            target,
        ],
    )
    assert error.exit_code == 0 and json.loads(error.stdout)["status"] == "ERROR"


def test_serve_runs_uvicorn_on_loopback(archive_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = "from mastkit.cli import main; main()"
    command = [
        sys.executable,
        "-c",
        code,
        "serve",
        "--port",
        str(port),
        "--archive",
        str(archive_path),
    ]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    reply = httpx.get(f"http://127.0.0.1:{port}/whoami", timeout=1)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.communicate()[1]
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            assert reply.json()["ezid"] == "anonymous"
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=15)
    assert b"local MAST server on http://127.0.0.1" in stderr


def test_archive_build_and_info(
    archive_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, int, int]] = []

    def fake_build(path: Any, *, observations: int, seed: int) -> Path:
        calls.append((Path(path), observations, seed))  # the real build is tested with the archive
        shutil.copy(archive_path, path)
        return Path(path)

    monkeypatch.setattr(archive_module, "build_archive", fake_build)
    target = tmp_path / "mine.duckdb"
    built = runner.invoke(
        app, ["archive", "build", "--observations", "1234", "--seed", "7", "--path", str(target)]
    )
    assert built.exit_code == 0, built.output
    assert calls == [(target, 1234, 7)] and built.stdout.strip() == str(target)
    info = runner.invoke(app, ["archive", "info", "--path", str(target)])
    assert info.exit_code == 0, info.output
    assert "rows in observations" in info.stdout and "3,000" in info.stdout
    missing = runner.invoke(app, ["archive", "info", "--path", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1


def test_root_help_and_version() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "serve" in result.stdout and "archive" in result.stdout
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("mastkit ")
