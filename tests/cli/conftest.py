"""Fixtures of the command-line tests: the small archive, served once per session.

* ``server_url``: the local server (uvicorn on a loopback port) over the session's small
  archive (3,000 observations, shared with the server tests); most tests pass it as
  ``--server URL``, so each command runs for real over HTTP without restarting a server;
* ``local_cache``: ``MASTKIT_CACHE_DIR`` pointing at a copy of that archive, where
  ``--server local`` (``LocalArchive()``) looks for it, for the tests of ``--server local``;
* ``lib``: the library (:class:`~mastkit.services.Observations`) on the same server: the
  independent answer each command's output is compared with.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mastkit.cli.app import app
from mastkit.client import Client
from mastkit.services import Observations

from ..server.conftest import small_archive

runner = CliRunner()


@pytest.fixture(scope="session")
def cli_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = small_archive(tmp_path_factory)
    return path


@pytest.fixture(scope="session")
def server_url(cli_archive: Path) -> Iterator[str]:
    from mastkit.server.local import LocalArchive

    with LocalArchive(cli_archive) as url:
        yield url


@pytest.fixture(scope="session")
def lib(server_url: str) -> Iterator[Observations]:
    with Client(server_url, timeout=60) as client:
        yield Observations(client)


@pytest.fixture(scope="session")
def _local_cache_dir(cli_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cli-cache")
    target = cache / "archive" / "mastkit-archive.duckdb"
    target.parent.mkdir(parents=True)
    shutil.copy(cli_archive, target)  # where default_archive_path() looks under the cache dir
    return cache


@pytest.fixture
def local_cache(_local_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``--server local`` finds the small archive here instead of building the default one."""
    monkeypatch.setenv("MASTKIT_CACHE_DIR", str(_local_cache_dir))
    return _local_cache_dir


class Cli:
    """Runs ``mastkit --server URL ...`` through typer's CliRunner."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
        globals: Sequence[str] = (), obj: Any = None,
    ) -> Result:
        argv = ["--server", self.url, *globals, *args]
        return runner.invoke(app, argv, input=input, env=env, obj=obj)


@pytest.fixture
def cli(server_url: str) -> Cli:
    return Cli(server_url)


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def csv_rows(text: str) -> list[dict[str, str]]:
    """Rows of CSV output, as strings."""
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))
