"""The cache under the observation workflow, on the small local archive.

A workflow call is several requests (a name look-up, a columns config, a cone query, product
lists): the second run of each must send nothing, and an offline client must give the same
answers without a network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mastkit import AsyncClient, Client
from mastkit.client import ResultCache
from mastkit.errors import CacheMissError
from mastkit.services import AsyncObservations, Observations
from tests.server.conftest import small_archive


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mastkit.server.archive import Archive

    archive = Archive.open(small_archive(tmp_path_factory))
    yield archive
    archive.close()


@pytest.fixture(scope="module")
def url(db: Any) -> Iterator[str]:
    from mastkit.server.local import LocalArchive

    with LocalArchive(archive=db) as base:
        yield base


class Refuse(httpx.BaseTransport):
    def __init__(self) -> None:
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise AssertionError(f"network used offline: {request.url}")


def workflow(obs: Observations) -> dict[str, Any]:
    found = obs.query_object("M101", radius="0.3 deg")
    return {
        "resolved": obs.resolve("M101"),
        "observations": found,
        "missions": obs.missions(),
        "products": obs.products(found[:3]),
    }


def test_workflow_second_run_and_offline(url: str, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    sent: list[httpx.Request] = []
    with Client(url, cache=cache) as client:
        client.http.event_hooks["request"].append(sent.append)
        first = workflow(Observations(client))
    assert len(first["observations"]) > 0 and len(first["products"]) > 0
    n = len(sent)
    assert n >= 4
    with Client(url, cache=ResultCache(tmp_path)) as client:  # fresh in-memory caches
        client.http.event_hooks["request"].append(sent.append)
        second = workflow(Observations(client))
    assert len(sent) == n  # nothing sent the second time
    refuse = Refuse()
    with Client(url, cache=ResultCache(tmp_path), offline=True, transport=refuse) as client:
        offline = workflow(Observations(client))
        with pytest.raises(CacheMissError, match="M51"):
            Observations(client).query_object("M51")
    assert refuse.calls == 0
    for got in (second, offline):
        assert got["resolved"] == first["resolved"]
        for name in ("observations", "missions", "products"):
            assert got[name].arrow.equals(first[name].arrow), name
            assert got[name].columns == first[name].columns


@pytest.mark.anyio
async def test_async_workflow_offline(db: Any, tmp_path: Path) -> None:
    from mastkit.server.app import ServerSettings, create_app

    app = create_app(db, ServerSettings())
    cache = ResultCache(tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://testserver", cache=cache, transport=transport) as client:
        online = await AsyncObservations(client).query_object("M101", radius="0.3 deg")
    async with AsyncClient("http://testserver", cache=cache, offline=True) as client:
        offline = await AsyncObservations(client).query_object("M101", radius="0.3 deg")
        with pytest.raises(CacheMissError):
            await AsyncObservations(client).query_criteria(obs_collection="HST")
    assert offline.arrow.equals(online.arrow)
