"""Over HTTPS, as the real MAST serves: bodies read off the TLS socket, and whole queries.

The sync client reads large replies straight from httpcore's socket into one buffer
(:func:`mastkit.client._rawbody.read_body`); over TLS that socket is an ``ssl.SSLSocket``, which
decrypts as it is read. A server with a self-signed certificate checks that those reads give
httpx's bytes, that the connection still goes back to the pool, and that queries over HTTPS
equal queries over plain HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit.client import Client
from mastkit.client._rawbody import DIRECT_MIN, DIRECT_READ
from mastkit.server.app import create_app
from tests.client.test_rawbody import BodyApp, check_read_body
from tests.server.conftest import small_archive
from tests.support.live import serve
from tests.support.tls import Certificate, self_signed


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def bodies(certificate: Certificate) -> Iterator[tuple[str, BodyApp]]:
    app = BodyApp()
    with serve(app, **certificate.server_options()) as url:
        yield url, app


@pytest.mark.parametrize("size", [1000, DIRECT_MIN, 3_000_007, 2 * DIRECT_READ + 17])
def test_bodies_read_off_the_tls_socket_are_exact(
    bodies: tuple[str, BodyApp], certificate: Certificate, size: int
) -> None:
    url, app = bodies
    assert url.startswith("https://")
    with httpx.Client(verify=certificate.client_context()) as http:
        check_read_body(http, url, app, size)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mastkit.server.archive import Archive

    db = Archive.open(small_archive(tmp_path_factory))
    yield db
    db.close()


def test_queries_over_https_equal_queries_over_http(
    archive: Any, certificate: Certificate
) -> None:
    app = create_app(archive)
    criteria = {"columns": "*", "filters": [{"paramName": "intentType", "values": ["science"]}]}

    def run(url: str, **options: Any) -> Any:
        # Pages of 1,000 observations (about 1 MB): read off the socket, and several of them.
        with Client(url, pagesize=1000, cache=False, **options) as client:
            table = client.query("Mast.Caom.Filtered", criteria)
            obsids = table.arrow.column("obsid").to_pylist()[:300]
            products = client.query("Mast.Caom.Products", {"obsid": ",".join(map(str, obsids))})
        return table, products

    with serve(app) as plain:
        table, products = run(plain)
    with serve(app, **certificate.server_options()) as secure:
        assert secure.startswith("https://")
        transport = httpx.HTTPTransport(verify=certificate.client_context())
        secure_table, secure_products = run(secure, transport=transport)
    assert table.pages > 1 and len(table) > 1000
    assert secure_table.arrow.equals(table.arrow)
    assert secure_products.arrow.equals(products.arrow) and len(products) > 0


def test_a_certificate_not_trusted_is_refused(
    bodies: tuple[str, BodyApp], tmp_path: Path
) -> None:
    """The client checks the server's certificate (the read path changes nothing there)."""
    url, _ = bodies
    other = self_signed(tmp_path)
    with httpx.Client(verify=other.client_context()) as http, pytest.raises(httpx.ConnectError):
        http.get(f"{url}/bytes?n=10")


def test_async_queries_over_https(archive: Any, certificate: Certificate) -> None:
    import asyncio

    from mastkit.client import AsyncClient

    app = create_app(archive)
    criteria = {"columns": "*", "filters": [{"paramName": "obs_collection", "values": ["IUE", "K2"]}]}

    async def run(url: str, **options: Any) -> Any:
        async with AsyncClient(url, pagesize=150, cache=False, **options) as client:
            return await client.query("Mast.Caom.Filtered", criteria)

    with serve(app) as plain:
        expected = asyncio.run(run(plain))
    with serve(app, **certificate.server_options()) as secure:
        transport = httpx.AsyncHTTPTransport(verify=certificate.client_context())
        got = asyncio.run(run(secure, transport=transport))
    # Pages of 150 observations, some 150 kB: large enough to be read off the connection.
    assert expected.pages > 1 and got.arrow.equals(expected.arrow)
