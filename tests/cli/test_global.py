"""Global options, the injection point, exit codes and messages, help texts."""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from typer.testing import CliRunner

import mastkit.errors as errors_module
from mastkit.cli._context import CliState, GlobalOptions, default_connect
from mastkit.cli._progress import RequestTracker
from mastkit.cli.app import app
from mastkit.cli.errors import exit_code_for
from mastkit.client import Client
from mastkit.protocol import MashupRequest, encode_form
from mastkit.services import Observations

from .conftest import Cli, csv_rows, free_port

runner = CliRunner()
COMMANDS = ["resolve", "observations", "products", "columns", "missions"]


# ----------------------------------------------------------------------------- --server local

def test_server_local_uses_the_cached_archive(local_cache: object, lib: Observations) -> None:
    result = runner.invoke(app, ["--server", "local", "missions"])
    assert result.exit_code == 0, result.output
    assert [r["mission"] for r in csv_rows(result.stdout)] == lib.missions()["mission"].to_pylist()


def test_mastkit_server_environment_variable(local_cache: object, lib: Observations) -> None:
    result = runner.invoke(app, ["observations", "--object", "M101", "--count"],
                           env={"MASTKIT_SERVER": "local"})
    assert result.exit_code == 0, result.output
    assert int(result.stdout) == lib.query_object_count("M101")


# ----------------------------------------------------------------------------- failures

def test_unreachable_server_exits_5_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["--server", url, "--timeout", "1", "resolve", "M101"])
    assert result.exit_code == 5
    [line] = result.stderr.splitlines()
    assert line.startswith("mastkit: error: ") and "Connection refused" in line
    assert result.stdout == ""


def test_verbose_shows_the_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["--server", url, "--timeout", "0.5", "-v", "missions"])
    assert result.exit_code == 5
    assert "Traceback (most recent call last)" in result.stderr
    assert "mastkit.errors.QueryTimeout" in result.stderr or "TransportError" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("mastkit: error: ")


def test_bad_server_url_exits_2() -> None:
    result = runner.invoke(app, ["--server", "ftp://example.org", "missions"])
    assert result.exit_code == 2
    assert result.stderr == ("mastkit: error: The server must be an http(s) URL, not "
                             "'ftp://example.org'.\n")


def scripted(handler: Callable[[httpx.Request], httpx.Response]) -> CliState:
    """A CliState whose client answers with ``handler`` (the injection point)."""
    @contextmanager
    def connect(options: GlobalOptions, say: Callable[[str], None]) -> Iterator[Client]:
        transport = httpx.MockTransport(handler)
        with Client("http://mast.test", transport=transport, timeout=5, max_retries=0) as c:
            yield c

    return CliState(connect=connect)


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (httpx.Response(200, json={"status": "ERROR", "msg": "the database is down"}), 4,
         "the database is down"),
        (httpx.Response(500, text="Internal Server Error"), 6, "500"),
        (httpx.Response(429, headers={"Retry-After": "30"}, text="slow down"), 6,
         "the server asks to wait 30 s"),
        (httpx.Response(200, text="<html>maintenance</html>"), 7, ""),
    ],
)
def test_server_failures_map_to_exit_codes(reply: httpx.Response, code: int, message: str) -> None:
    result = runner.invoke(app, ["resolve", "M101"], obj=scripted(lambda request: reply))
    assert result.exit_code == code, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("mastkit: error: ") and message in line
    assert "Traceback" not in result.output


def test_injected_client_is_used() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        entry = {"resolver": "TEST", "canonicalName": "Thing 1", "ra": 10.0, "decl": -5.0,
                 "searchString": "thing 1"}
        return httpx.Response(200, json={"status": "", "resolvedCoordinate": [entry]})

    result = runner.invoke(app, ["--json", "resolve", "Thing 1"], obj=scripted(handler))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["canonical_name"] == "Thing 1"
    assert seen == ["mast.test"]


def test_exit_code_of_every_error_family() -> None:
    classes = [getattr(errors_module, name) for name in errors_module.__all__]
    mast_errors = [c for c in classes if inspect.isclass(c) and issubclass(c, errors_module.MastError)]
    families = {c.__name__: exit_code_for(c.__new__(c)) for c in mast_errors}
    assert families == {
        "MastError": 1, "BadInputError": 2, "UnknownColumnError": 2, "ResolverError": 3,
        "CacheMissError": 3, "ServiceError": 4, "ResultTooLargeError": 4, "TransportError": 5,
        "QueryTimeout": 5, "HTTPStatusError": 6, "RateLimitError": 6, "DecodeError": 7,
        "RequestDecodeError": 7, "DownloadError": 9,
    }
    assert exit_code_for(PermissionError(13, "Permission denied")) == 8
    assert exit_code_for(KeyboardInterrupt()) == 130


# ----------------------------------------------------------------------------- the token

def test_token_is_never_printed(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-t0ken-value"
    given = cli("missions", globals=["--token", secret, "-vv"])
    assert given.exit_code == 0, given.output
    assert secret not in given.output and "INFO" in given.stderr
    monkeypatch.setenv("MAST_API_TOKEN", secret)
    failing = runner.invoke(app, ["--server", f"http://127.0.0.1:{free_port()}", "--timeout",
                                  "0.5", "-vv", "missions"])
    assert failing.exit_code == 5 and secret not in failing.output
    helped = runner.invoke(app, ["--help"])
    assert secret not in helped.output


def test_default_connect_passes_the_options(server_url: str) -> None:
    options = GlobalOptions(server=server_url, token="abc", timeout=7.5)
    with default_connect(options, lambda text: None) as client:
        assert client.server == server_url
        assert client.settings.token == "abc" and client.settings.timeout == 7.5
    assert "abc" not in repr(options)


# ----------------------------------------------------------------------------- help

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout and f"mastkit {command}" in result.stdout
    assert "Exit codes:" in result.stdout


def test_root_help_lists_commands_options_and_exit_codes() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in [*COMMANDS, "--server", "--token", "--timeout", "--verbose", "--json",
                 "Exit codes:"]:
        assert word in result.stdout


# ----------------------------------------------------------------------------- pieces

def test_request_tracker_sees_pages_and_polls() -> None:
    shown: list[str] = []
    tracker = RequestTracker(shown.append)
    request = MashupRequest("Mast.Caom.Filtered", {"columns": "*"}, page=2, pagesize=10)
    body = encode_form(request.with_cachebreaker())
    for _ in range(3):
        tracker.on_request(httpx.Request("POST", "http://x/api/v0/invoke", content=body))
    tracker.on_request(httpx.Request("POST", "http://x/portal/Mashup/Mashup.asmx/columnsconfig",
                                     content=b"colConfigId=Mast.Caom.Cone"))
    assert shown == [
        "Mast.Caom.Filtered · page 2",
        "Mast.Caom.Filtered · page 2 · waiting for the server, poll 1",
        "Mast.Caom.Filtered · page 2 · waiting for the server, poll 2",
        "column metadata",
    ]


MODULES = ["mastkit.cli.errors", "mastkit.cli.render", "mastkit.cli._options",
           "mastkit.cli._progress", "mastkit.cli._inputs", "mastkit.cli.observations",
           "mastkit.cli.products"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_resolve_against_an_unreachable_server_is_a_network_error() -> None:
    # Not "not found": the failure is the server's, and the exit code says so.
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--server", url, "--timeout", "5", "resolve", "M101", "M31"])
    assert result.exit_code == 5
