"""Fixtures of the server tests: one small archive per session, apps, in-process clients."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pytest
from starlette.applications import Starlette

from mastkit.protocol import Field, MashupRequest, encode_form
from mastkit.server.app import ServerSettings, create_app
from mastkit.server.handlers import Context, Registry, ServiceFailure
from mastkit.server.responses import TableResult

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"}


class Counter:
    """A fake service over ``n`` rows that counts how often it ran."""

    def __init__(self, rows: int = 25) -> None:
        self.rows = rows
        self.runs = 0
        self.lock = threading.Lock()

    def __call__(self, request: MashupRequest, context: Context) -> TableResult:
        with self.lock:
            self.runs += 1
            run = self.runs
        n = int(request.params.get("rows", self.rows))
        if n < 0:
            raise ServiceFailure("rows must be >= 0")
        table = pa.table(
            {
                "obsid": pa.array(range(n), pa.int64()),
                "name": [f"row{i}" for i in range(n)],
                "run": pa.array([run] * n, pa.int64()),
            }
        )
        return TableResult(
            table, (Field("obsid", "string"), Field("name", "string"), Field("run", "int"))
        )


@pytest.fixture
def counter() -> Counter:
    return Counter()


def fake_app(counter: Counter, **settings: Any) -> Starlette:
    """An app whose only service is ``Test.Rows`` (the counter)."""
    registry = Registry({"Test.Rows": counter})
    return create_app(None, ServerSettings(**settings), registry=registry)


@pytest.fixture
async def fake_client(counter: Counter) -> AsyncIterator[httpx.AsyncClient]:
    app = fake_app(counter)
    async with client_for(app) as client:
        yield client


def client_for(app: Starlette) -> httpx.AsyncClient:
    """An httpx client talking to ``app`` in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def invoke(
    client: httpx.AsyncClient, request: MashupRequest | dict[str, Any]
) -> dict[str, Any]:
    """POST a request the way astroquery does and return the JSON reply (HTTP 200 checked)."""
    body = (
        encode_form(request)
        if isinstance(request, MashupRequest)
        else ("request=" + quote(json.dumps(request))).encode()
    )
    response = await client.post("/api/v0/invoke", content=body, headers=FORM)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


async def invoke_raw(client: httpx.AsyncClient, body: bytes | str, **kwargs: Any) -> httpx.Response:
    """POST ``body`` as is."""
    return await client.post("/api/v0/invoke", content=body, headers=FORM, **kwargs)


Request = Callable[..., MashupRequest]


# ----------------------------------------------------------------------------- the real archive

SMALL_OBSERVATIONS = 3000


def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's small archive, built once at a fixed place (shared with tests/compat)."""
    from mastkit.server.archive import build_archive

    path = tmp_path_factory.getbasetemp() / "mastkit-small-archive" / "small.duckdb"
    if not path.exists():
        build_archive(path, observations=SMALL_OBSERVATIONS, seed=0)
    return path


@pytest.fixture(scope="session")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One small archive per test session (about 5 s to build)."""
    return small_archive(tmp_path_factory)


@pytest.fixture(scope="session")
def archive(archive_path: Any) -> Any:
    from mastkit.server.archive import Archive

    db = Archive.open(archive_path)
    yield db
    db.close()


@pytest.fixture(scope="session")
def app(archive: Any) -> Starlette:
    """The real app over the small archive (shared: its job cache is part of what is tested)."""
    return create_app(archive, ServerSettings())


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


def scalar(archive: Any, sql: str, params: list[Any] | None = None) -> Any:
    """One value from the archive, by direct SQL (the independent check of a reply)."""
    return archive.execute(sql, params or []).column(0)[0].as_py()
