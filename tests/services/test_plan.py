"""The two plan drivers behave alike: order, bounded concurrency, errors thrown into plans."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pyarrow as pa
import pytest

from mastkit.client import AsyncClient
from mastkit.errors import ServiceError
from mastkit.services import AsyncObservations
from mastkit.services._plan import (
    ColumnsConfig,
    Gather,
    Invoke,
    Plan,
    Query,
    run_async,
    run_sync,
    session_for,
)
from mastkit.tables import ResultTable

pytestmark = pytest.mark.anyio


class FakeClient:
    """Answers queries with a one-row table naming the service; fails on ``Bad.*``."""

    def __init__(self) -> None:
        self.settings = SimpleNamespace(concurrency=3)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def _enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def _leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def _answer(self, service: str) -> ResultTable:
        if service.startswith("Bad."):
            raise ServiceError(f"{service} failed", service=service)
        return ResultTable(pa.table({"service": [service]}))

    def query(self, service: str, params: Any) -> ResultTable:
        self._enter()
        try:
            time.sleep(0.02)
            return self._answer(service)
        finally:
            self._leave()

    def invoke(self, service: str, params: Any, format: str = "json") -> Any:
        return SimpleNamespace(service=service, format=format)

    def columns_config(self, config_id: str) -> dict[str, Any]:
        return {"id": {"config": config_id}}


class FakeAsyncClient(FakeClient):
    async def query(self, service: str, params: Any) -> ResultTable:  # type: ignore[override]
        self._enter()
        try:
            await asyncio.sleep(0.02)
            return self._answer(service)
        finally:
            self._leave()

    async def invoke(self, service: str, params: Any, format: str = "json") -> Any:
        return SimpleNamespace(service=service, format=format)

    async def columns_config(self, config_id: str) -> dict[str, Any]:  # type: ignore[override]
        return {"id": {"config": config_id}}


def one(service: str) -> Plan[str]:
    table = yield Query(service, {})
    value: str = table["service"][0].as_py()
    return value


def workflow(n: int, bad: int | None = None) -> Plan[dict[str, Any]]:
    config = yield ColumnsConfig("Cfg")
    reply = yield Invoke("Svc.Raw", {}, format="extjs")
    names = [f"Bad.{i}" if i == bad else f"Svc.{i}" for i in range(n)]
    try:
        found = yield Gather(tuple(one(s) for s in names), limit=3)
    except ServiceError as error:
        return {"error": str(error)}
    return {"config": config, "reply": (reply.service, reply.format), "found": found}


def test_sync_driver() -> None:
    client = FakeClient()
    result = run_sync(client, workflow(10))  # type: ignore[arg-type]
    assert result == {"config": {"id": {"config": "Cfg"}}, "reply": ("Svc.Raw", "extjs"),
                      "found": [f"Svc.{i}" for i in range(10)]}
    assert 1 < client.peak <= 3
    assert run_sync(client, workflow(10, bad=4)) == {"error": "Bad.4 failed"}  # type: ignore[arg-type]


async def test_async_driver() -> None:
    client = FakeAsyncClient()
    result = await run_async(client, workflow(10))  # type: ignore[arg-type]
    assert result["found"] == [f"Svc.{i}" for i in range(10)]
    assert result["reply"] == ("Svc.Raw", "extjs")
    assert 1 < client.peak <= 3
    assert await run_async(client, workflow(10, bad=7)) == {"error": "Bad.7 failed"}  # type: ignore[arg-type]


def test_an_error_nobody_catches_reaches_the_caller() -> None:
    def plan() -> Plan[None]:
        yield Query("Bad.x", {})

    with pytest.raises(ServiceError, match=r"Bad\.x failed"):
        run_sync(FakeClient(), plan())  # type: ignore[arg-type]


def test_sessions_belong_to_clients() -> None:
    a, b = FakeClient(), FakeClient()
    assert session_for(a) is session_for(a) and session_for(a) is not session_for(b)  # type: ignore[arg-type]
    assert session_for(a).concurrency == 3  # type: ignore[arg-type]


async def test_missions_fall_back_to_the_missions_list(db: Any) -> None:
    # A server without Mast.Caom.All: missions() uses Mast.Missions.List instead.
    from mastkit.server import handlers
    from mastkit.server.app import ServerSettings, create_app

    registry = handlers.Registry({"Mast.Missions.List": handlers.missions_list})
    app = create_app(db, ServerSettings(), registry=registry)
    async with AsyncClient("http://testserver", transport=httpx.ASGITransport(app=app)) as client:
        missions = await AsyncObservations(client).missions()
    expected = db.execute("SELECT DISTINCT obs_collection FROM observations ORDER BY 1")
    assert missions.service == "Mast.Missions.List"
    assert missions["mission"].to_pylist() == expected.column(0).to_pylist()
    assert missions["count"].null_count == len(missions)


async def test_a_failing_batch_fails_the_product_list(db: Any) -> None:
    from mastkit.server import handlers
    from mastkit.server.app import ServerSettings, create_app

    def products(request: Any, context: Any) -> Any:
        if "2000000041" in str(request.params.get("obsid")):
            raise handlers.ServiceFailure("Error converting data type varchar to bigint.")
        return handlers.caom_products(request, context)

    registry = handlers.Registry({"Mast.Caom.Products": products})
    app = create_app(db, ServerSettings(), registry=registry)
    ids = db.execute("SELECT obsid FROM observations ORDER BY obsid LIMIT 40").column(0).to_pylist()
    assert 2000000041 in ids
    async with AsyncClient("http://testserver", transport=httpx.ASGITransport(app=app)) as client:
        obs = AsyncObservations(client)
        with pytest.raises(ServiceError, match="varchar to bigint"):
            await obs.products(ids, batch_size=5)
        fine = await obs.products([i for i in ids if i != 2000000041], batch_size=5)
    assert len(fine) > 0
