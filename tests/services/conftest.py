"""Fixtures of the services tests: one small local archive per session, served two ways.

* in-process: an :class:`~mastkit.client.AsyncClient` over ``httpx.ASGITransport`` of the app;
* over a real loopback socket: a :class:`~mastkit.client.Client` talking to the app run by
  uvicorn on a background thread (:class:`mastkit.server.local.LocalArchive`).

``api`` runs every workflow test on both: it calls a method of :class:`Observations` or
:class:`AsyncObservations` and awaits it when needed, so one test body checks both facades.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from mastkit.client import AsyncClient, Client
from mastkit.services import AsyncObservations, Observations

SMALL_OBSERVATIONS = 3000


@pytest.fixture(scope="session")
def archive_file(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The small synthetic archive (3,000 observations, seed 0), built once per session."""
    from mastkit.server.archive import build_archive

    return build_archive(tmp_path_factory.mktemp("services") / "small.duckdb",
                         observations=SMALL_OBSERVATIONS, seed=0)


@pytest.fixture(scope="session")
def db(archive_file: Any) -> Iterator[Any]:
    """The archive, open, for independent checks by SQL."""
    from mastkit.server.archive import Archive

    archive = Archive.open(archive_file)
    yield archive
    archive.close()


@pytest.fixture(scope="session")
def app(db: Any) -> Any:
    from mastkit.server.app import ServerSettings, create_app

    return create_app(db, ServerSettings())


@pytest.fixture(scope="session")
def server_url(db: Any) -> Iterator[str]:
    """The local server on a loopback port (shares the open archive)."""
    from mastkit.server.local import LocalArchive

    with LocalArchive(archive=db) as url:
        yield url


class Requests:
    """Records the invoke services and columns-config ids a client sends."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def record(self, request: httpx.Request) -> None:
        self.bodies.append(request.content)

    async def arecord(self, request: httpx.Request) -> None:
        self.record(request)

    def count(self, needle: str) -> int:
        """Requests whose body mentions ``needle`` (service names survive percent-encoding)."""
        return sum(needle.encode() in body for body in self.bodies)

    def clear(self) -> None:
        self.bodies.clear()


@pytest.fixture
def requests_seen() -> Requests:
    return Requests()


@pytest.fixture
def client(server_url: str, requests_seen: Requests) -> Iterator[Client]:
    """A sync client over the loopback socket (a fresh one per test: fresh caches)."""
    with Client(server_url, timeout=60) as c:
        c.http.event_hooks["request"].append(requests_seen.record)
        yield c


@pytest.fixture
async def aclient(app: Any, requests_seen: Requests) -> AsyncIterator[AsyncClient]:
    """An async client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://testserver", transport=transport, timeout=60) as c:
        c.http.event_hooks["request"].append(requests_seen.arecord)
        yield c


@pytest.fixture
def obs(client: Client) -> Observations:
    return Observations(client)


class Api:
    """One facade, sync or async, called the same way: ``await api.call("method", ...)``."""

    def __init__(self, facade: Observations | AsyncObservations, flavour: str) -> None:
        self.facade = facade
        self.flavour = flavour

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.facade, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def __repr__(self) -> str:
        return f"Api({self.flavour})"


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Api:
    """The workflow API, over a socket (sync) and in-process (async)."""
    if request.param == "sync":
        return Api(Observations(request.getfixturevalue("client")), "sync")
    return Api(AsyncObservations(request.getfixturevalue("aclient")), "async")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
