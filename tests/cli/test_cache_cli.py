"""``mastkit cache info|list|clear`` and the global ``--cache/--no-cache`` and ``--offline``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest

from mastkit.client import ResultCache
from mastkit.client._cache_keys import Kind, request_key
from mastkit.protocol import MashupRequest
from mastkit.tables import ResultTable

from .conftest import Cli, csv_rows, runner

M101 = ("observations", "--object", "M101", "--radius", "3arcmin")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASTKIT_CACHE_DIR", str(tmp_path))
    for name in ("MASTKIT_CACHE", "MASTKIT_NO_CACHE", "MASTKIT_OFFLINE", "MASTKIT_CACHE_TTL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def put(cache: ResultCache, service: str, params: dict, rows: int = 3) -> None:
    table = ResultTable(pa.table({"n": list(range(rows))}), service=service, params=params)
    key = request_key("https://mast.example", MashupRequest(service, params), Kind.TABLE, None)
    assert cache.put(key, table)


def test_cache_then_offline_gives_the_same_output(cli: Cli, cache_dir: Path) -> None:
    from mastkit.cli.app import app

    online = cli(*M101, globals=["--cache"])
    assert online.exit_code == 0, online.output
    assert len(csv_rows(online.stdout)) > 0
    kinds = {e.kind for e in ResultCache(cache_dir / "queries").entries()}
    assert kinds == {"table", "reply", "columnsconfig"}  # query, name look-up, columns
    offline = cli(*M101, globals=["--offline"])
    assert offline.exit_code == 0, offline.output
    assert offline.stdout == online.stdout
    missing = cli("observations", "--object", "M51", globals=["--offline"])
    assert missing.exit_code == 3
    [line] = missing.stderr.splitlines()
    assert line.startswith("mastkit: error: Offline mode") and "M51" in line
    unreachable = runner.invoke(
        app, ["--server", "http://127.0.0.1:9", "--offline", *M101]
    )  # another server: its answers are not cached, and nothing is sent
    assert unreachable.exit_code == 3 and "not in the cache" in unreachable.stderr


def test_no_cache_writes_nothing(
    cli: Cli, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTKIT_CACHE", "1")
    result = cli("resolve", "M101", globals=["--no-cache"])
    assert result.exit_code == 0, result.output
    assert not (cache_dir / "queries").exists()
    result = cli("resolve", "M101")  # MASTKIT_CACHE=1 turns it on for any server
    assert result.exit_code == 0, result.output
    assert ResultCache(cache_dir / "queries").info().entries == 1


def test_offline_with_the_local_archive_is_refused(cache_dir: Path) -> None:
    from mastkit.cli.app import app

    result = runner.invoke(app, ["--server", "local", "--offline", "missions"])
    assert result.exit_code == 2
    assert "--server local needs no network" in result.stderr


def test_info(cache_dir: Path) -> None:
    from mastkit.cli.app import app

    cache = ResultCache(cache_dir / "queries")
    put(cache, "Mast.Caom.Cone", {"ra": 1})
    put(cache, "Mast.Caom.Cone", {"ra": 2})
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 0, result.output
    assert f"location   {cache_dir / 'queries'}" in result.stdout
    assert "entries    2 (0 expired)" in result.stdout
    assert "on for the real MAST only" in result.stdout
    doc = json.loads(runner.invoke(app, ["--json", "cache", "info"]).stdout)
    assert doc["entries"] == 2 and doc["bytes"] == cache.info().size > 0
    assert doc["ttl_seconds"] == 86_400 and doc["offline"] is False


def test_list(cache_dir: Path) -> None:
    from mastkit.cli.app import app

    cache = ResultCache(cache_dir / "queries")
    put(cache, "Mast.Caom.Cone", {"ra": 1, "dec": 2}, rows=5)
    put(cache, "Mast.Caom.Filtered", {"filters": []}, rows=7)
    result = runner.invoke(app, ["cache", "list"])  # piped: CSV, every field
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    by_service = {r["service"]: r for r in rows}
    assert set(by_service) == {"Mast.Caom.Cone", "Mast.Caom.Filtered"}
    assert json.loads(by_service["Mast.Caom.Cone"]["params"]) == {"ra": 1, "dec": 2}
    assert by_service["Mast.Caom.Cone"]["rows"] == "5"
    assert {e.digest for e in cache.entries()} == {r["key"] for r in rows}
    only = runner.invoke(app, ["--json", "cache", "list", "--service", "mast.caom.cone"])
    [entry] = json.loads(only.stdout)
    assert entry["service"] == "Mast.Caom.Cone" and entry["rows"] == 5
    assert abs(entry["created"] - time.time()) < 600 and entry["bytes"] > 0
    terminal = runner.invoke(app, ["cache", "list"], env={"TTY_COMPATIBLE": "1", "COLUMNS": "200"})
    assert "2 cached answers" in terminal.stdout and "Mast.Caom.Filtered" in terminal.stdout
    empty = runner.invoke(app, ["--json", "cache", "list", "--service", "Nope"])
    assert json.loads(empty.stdout) == []


def test_clear(cache_dir: Path) -> None:
    from mastkit.cli.app import app

    two_days_ago = time.time() - 2 * 86_400
    old = ResultCache(cache_dir / "queries", ttl=None, clock=lambda: two_days_ago)
    put(old, "Mast.Caom.Cone", {"ra": 1})
    put(old, "Mast.Caom.Cone", {"ra": 2})
    put(ResultCache(cache_dir / "queries"), "Mast.Caom.Cone", {"ra": 3})
    archive = cache_dir / "archive" / "mastkit-archive.duckdb"  # a sibling that must survive
    archive.parent.mkdir()
    archive.write_bytes(b"db")
    result = runner.invoke(app, ["cache", "clear", "--older-than", "1d"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("removed 2 cached answers")
    assert [e.params for e in ResultCache(cache_dir / "queries").entries()] == [{"ra": 3}]
    bad = runner.invoke(app, ["cache", "clear", "--older-than", "soon"])
    assert bad.exit_code == 2 and "--older-than" in bad.stderr
    doc = json.loads(runner.invoke(app, ["--json", "cache", "clear"]).stdout)
    assert doc["removed"] == 1 and doc["bytes"] > 0
    assert ResultCache(cache_dir / "queries").info().entries == 0
    assert archive.read_bytes() == b"db"


def test_clear_expired(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mastkit.cli.app import app

    monkeypatch.setenv("MASTKIT_CACHE_TTL", "1h")
    put(ResultCache(cache_dir / "queries", clock=lambda: time.time() - 7200), "S.A", {"a": 1})
    put(ResultCache(cache_dir / "queries"), "S.B", {"b": 1})
    result = runner.invoke(app, ["cache", "clear", "--expired"])
    assert result.stdout.startswith("removed 1 cached answer ")
    assert [e.service for e in ResultCache(cache_dir / "queries").entries()] == ["S.B"]
