"""End to end against the local MAST-compatible server: library and ``mastkit download``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mastkit.client import Client
from mastkit.download import download, plan_downloads


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    from mastkit.server.archive import Archive, build_archive
    from mastkit.server.local import LocalArchive

    path = build_archive(tmp_path_factory.mktemp("dl") / "a.duckdb", observations=40, seed=1)
    archive = Archive.open(path)
    with LocalArchive(archive=archive) as url:
        with Client(url) as client:
            rows = client.query("Mast.Caom.Cone", {"ra": 0, "dec": 0, "radius": 180}).to_pylist()
            obsids = [r["obsid"] for r in rows[:4]]
            from mastkit.services import Observations

            products = Observations(client).products(obsids)
        small = [p for p in products.to_pylist() if (p.get("size") or 0) < 3_000_000][:6]
        yield url, small
    archive.close()


def test_download_skip_and_no_network_on_rerun(local, tmp_path):
    url, products = local
    with Client(url) as client:
        plan = plan_downloads(products, tmp_path, server=client.server)
        m = download(plan, client=client)
    assert set(m["status"].to_pylist()) == {"COMPLETE"}
    for row in m:
        data = Path(row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"] and len(data) == row["size"]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"network used: {request.url}")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as offline:
        again = download(plan, client=offline)
    assert set(again["status"].to_pylist()) == {"SKIPPED"}
    assert (tmp_path / "manifest.csv").exists()


def test_cli_dry_run_urls_and_download(local, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mastkit.cli.app import build_app
    from mastkit.cli.download import register

    url, products = local
    listing = tmp_path / "list.parquet"
    pq.write_table(pa.Table.from_pylist(products + products[:1]), listing)
    app = build_app()
    if not any(c.name == "download" for c in app.registered_commands):
        register(app)
    runner = CliRunner()
    base = ["--server", url, "download", "--products", str(listing), "-d", str(tmp_path / "d")]
    dry = runner.invoke(app, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{len(products)} files" in dry.output and "1 duplicate" in dry.output
    urls = runner.invoke(app, [*base, "--urls-only"])
    assert urls.output.count("/api/v0.1/Download/file?uri=") == len(products)
    got = runner.invoke(app, [*base, "--durable"])
    assert got.exit_code == 0, got.output
    files = [p for p in (tmp_path / "d").rglob("*") if p.is_file() and p.suffix != ".jsonl"]
    assert len(files) == len(products) + 1  # + manifest.csv
    curl = runner.invoke(app, [*base, "--curl"])
    assert curl.exit_code == 0, curl.output
    assert Path(curl.output.strip().splitlines()[-1]).read_text().startswith("#!")


def test_server_looks_a_file_up_once_and_serves_it_the_same(local, monkeypatch):
    from mastkit.server import sql

    url, products = local
    calls: list[str] = []
    real = sql.find_product

    def counted(archive: Any, uri: str) -> Any:
        calls.append(uri)
        return real(archive, uri)

    monkeypatch.setattr(sql, "find_product", counted)
    uri = products[-1]["dataURI"]  # not fetched by the other tests' servers' caches
    target = f"{url}/api/v0.1/Download/file?uri={uri}"
    with httpx.Client() as http:
        head = http.head(target)
        first, second = http.get(target), http.get(target, headers={"Range": "bytes=10-"})
        missing = [http.get(target + "-nope") for _ in range(2)]
    assert head.status_code == first.status_code == 200 and second.status_code == 206
    assert first.content[10:] == second.content and len(first.content) == products[-1]["size"]
    assert head.headers["x-checksum-sha256"] == hashlib.sha256(first.content).hexdigest()
    assert [m.status_code for m in missing] == [404, 404]
    assert calls.count(uri) <= 1 and len(calls) <= 2  # a HEAD, two GETs: one lookup


@pytest.mark.parametrize("direct", [False, True])
def test_large_bodies_are_read_straight_from_the_connection(local, monkeypatch, direct):
    import asyncio

    from mastkit.client import _rawbody as _body

    monkeypatch.setattr(_body, "DIRECT_MIN", 0 if direct else 1 << 62)
    url, products = local
    target = f"{url}/api/v0.1/Download/file?uri={products[0]['dataURI']}"

    def check(response: httpx.Response, data: bytes) -> None:
        assert len(data) == products[0]["size"]
        assert hashlib.sha256(data).hexdigest() == response.headers["x-checksum-sha256"]
        through_httpx = response.num_bytes_downloaded  # httpx counts only what it parsed
        assert through_httpx < len(data) if direct else through_httpx == len(data)

    with httpx.Client() as http, http.stream("GET", target) as response:
        check(response, b"".join(_body.iter_body(response, None, 10.0)))

    async def fetch() -> None:
        async with httpx.AsyncClient() as http, http.stream("GET", target) as response:
            check(response, b"".join([c async for c in _body.aiter_body(response, None, 10.0)]))

    asyncio.run(fetch())
