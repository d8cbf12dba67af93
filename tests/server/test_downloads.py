"""Download endpoints over a small fake file source (the archive-backed source is tested in
test_local/test_app with the real archive)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from mastkit.server.app import ServerSettings, create_app
from mastkit.server.downloads import Product, parse_range, valid_uri
from mastkit.server.handlers import Registry

from .conftest import FORM, client_for

pytestmark = pytest.mark.anyio

SIZE = 700_001  # several stream chunks, and odd
DATA = (bytes(range(256)) * (SIZE // 256 + 1))[:SIZE]


class Blob:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        self.reads += 1
        return self.data[offset : offset + length]

    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class Source:
    def __init__(self) -> None:
        data = DATA
        self.products = {
            "mast:HST/product/u9o40504m_c3m.fits": (
                Product(
                    "mast:HST/product/u9o40504m_c3m.fits",
                    "u9o40504m_c3m.fits",
                    SIZE,
                    "HST",
                    "U9O40504M",
                ),
                Blob(data),
            ),
            "mast:TESS/product/tiny.txt": (
                Product("mast:TESS/product/tiny.txt", "tiny.txt", 5, "TESS", "tess-s1"),
                Blob(b"hello"),
            ),
        }

    def product(self, uri: str) -> Product | None:
        found = self.products.get(uri)
        return found[0] if found else None

    def blob(self, product: Product) -> Blob:
        return self.products[product.uri][1]


URI = "mast:HST/product/u9o40504m_c3m.fits"
URL = "/api/v0.1/Download/file?uri=" + quote(URI, safe=":/")


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
async def client(source: Source) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(None, ServerSettings(), registry=Registry(), files=source)
    async with client_for(app) as c:
        yield c


def data(source: Source, uri: str = URI) -> bytes:
    return source.products[uri][1].data


async def test_head_describes_the_file_without_a_body(
    client: httpx.AsyncClient, source: Source
) -> None:
    response = await client.head(URL)
    assert response.status_code == 200 and response.content == b""
    digest = hashlib.sha256(data(source)).digest()
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-checksum-sha256"] == digest.hex()
    assert response.headers["digest"] == "sha-256=" + base64.b64encode(digest).decode()
    assert response.headers["content-type"] == "application/fits"
    assert "u9o40504m_c3m.fits" in response.headers["content-disposition"]


async def test_get_streams_the_whole_file(client: httpx.AsyncClient, source: Source) -> None:
    response = await client.get(URL)
    assert response.status_code == 200
    assert response.content == data(source)
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-checksum-sha256"]
    assert source.products[URI][1].reads >= 3  # streamed in chunks


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-2879", 0, 2880),
        ("bytes=100-", 100, SIZE),
        ("bytes=-50", SIZE - 50, SIZE),
        (f"bytes=5-{SIZE + 100}", 5, SIZE),
        ("bytes=700000-700000", 700000, 700001),
    ],
)
async def test_ranges(
    client: httpx.AsyncClient, source: Source, header: str, start: int, stop: int
) -> None:
    response = await client.get(URL, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{SIZE}"
    assert response.headers["content-length"] == str(stop - start)
    assert response.content == data(source)[start:stop]


async def test_unsatisfiable_and_ignored_ranges(client: httpx.AsyncClient, source: Source) -> None:
    past = await client.get(URL, headers={"Range": f"bytes={SIZE}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{SIZE}"
    several = await client.get(URL, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and len(several.content) == SIZE
    junk = await client.get(URL, headers={"Range": "pages=1-2"})
    assert junk.status_code == 200
    stale = await client.get(URL, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200


async def test_head_of_a_range(client: httpx.AsyncClient) -> None:
    response = await client.head(URL, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.headers["content-length"] == "10"


@pytest.mark.parametrize(
    "uri",
    [
        "mast:HST/product/nothere.fits",
        "mast:HST/../../etc/passwd",
        "mast:HST/product/../u9o40504m_c3m.fits",
        "mast:/etc/passwd",
        "/etc/passwd",
        "file:///etc/passwd",
        "mast:HST/product/%2e%2e/%2e%2e/etc/passwd",
        "mast:HST\\..\\..\\x",
        "mast:HST/product/u9o40504m_c3m.fits\x00.txt",
        "x" * 5000,
    ],
)
async def test_only_archive_uris_are_served(client: httpx.AsyncClient, uri: str) -> None:
    response = await client.get("/api/v0.1/Download/file", params={"uri": uri})
    assert response.status_code == 404


async def test_missing_uri_is_a_bad_request(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v0.1/Download/file")).status_code == 400
    assert (await client.post(URL)).status_code == 405


async def test_bundle_script(client: httpx.AsyncClient) -> None:
    body = "&".join(
        "uri=" + quote(u, safe="")
        for u in [URI, "mast:TESS/product/tiny.txt", "mast:X/none'; rm -rf ~; echo '"]
    )
    response = await client.post("/api/v0.1/Download/bundle.sh", content=body, headers=FORM)
    assert response.status_code == 200
    script = response.text
    assert script.startswith("#!/bin/sh")
    assert script.count("curl ") == 2
    assert (
        "http://testserver/api/v0.1/Download/file?uri=mast:HST/product/u9o40504m_c3m.fits" in script
    )
    assert "HST/U9O40504M/u9o40504m_c3m.fits" in script
    assert "# not found: 'mast:X/none'\"'\"'; rm -rf ~; echo '\"'\"''" in script
    assert "mastDownload_" in response.headers["content-disposition"]


async def test_path_lookup(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v0.1/path_lookup/", params=[("uri", URI), ("uri", "mast:HST/product/none.fits")]
    )
    assert response.json() == {
        URI: {"status_code": 200, "path": "/hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits"},
        "mast:HST/product/none.fits": {"status_code": 404, "path": None},
    }


def test_valid_uri_and_parse_range_units() -> None:
    assert valid_uri("mast:JWST/product/jw01234-o001_t001_nircam_clear-f200w_i2d.fits")
    assert not valid_uri("mast:JWST/product/./x.fits")
    assert not valid_uri("MAST:")
    assert parse_range(None, 10) is None
    assert parse_range("bytes=-0", 10) is False
    assert parse_range("bytes=5-2", 10) is None
    assert parse_range("bytes=0-0", 0) is False
