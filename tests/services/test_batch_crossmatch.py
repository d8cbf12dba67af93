"""The batch's two methods give the same table: one cone per target, or crossmatch chunks.

Every comparison runs both methods against the same local archive and requires the same
columns, types, targets, rows and row order, with ``distance`` equal to within float rounding.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit._settings import Settings
from mastkit.client import AsyncClient, Client
from mastkit.errors import BadInputError
from mastkit.services import AsyncObservations, Observations
from mastkit.services._cone_batch import CROSSMATCH_MIN_TARGETS

from .conftest import Api, Requests

pytestmark = pytest.mark.anyio


async def call(api: Api, name: str, *args: Any, **kwargs: Any) -> Any:
    """``api.call``, for methods taking ``method=`` (which ``Api.call`` names its own first)."""
    result = getattr(api.facade, name)(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def _services(seen: Requests) -> list[str]:
    from mastkit.protocol.codec import decode_request

    return [decode_request(b).service for b in seen.bodies if b.startswith(b"request=")]


def assert_same(fast: Any, slow: Any) -> None:
    """The crossmatch table equals the cones table (distance to float rounding)."""
    assert fast.columns == slow.columns
    assert fast.arrow.schema.types == slow.arrow.schema.types
    assert len(fast) == len(slow)
    for name in fast.columns:
        if name == "distance":
            np.testing.assert_allclose(
                fast[name].to_numpy(), slow[name].to_numpy(), rtol=1e-9, atol=1e-9
            )
        else:
            assert fast.arrow.column(name).equals(slow.arrow.column(name)), name
    assert fast.metadata["failures"] == slow.metadata["failures"]
    assert fast.metadata["resolved"] == slow.metadata["resolved"]
    assert fast.metadata["targets"] == slow.metadata["targets"]
    assert fast.metadata["method"] == "crossmatch" and slow.metadata["method"] == "cones"


def edge_targets(db: Any) -> list[Any]:
    """Positions with many, few and no matches, by RA 0 and the poles, repeated, and bad."""
    rows = db.execute(
        "SELECT s_ra, s_dec FROM observations ORDER BY hash(obsid) LIMIT 12"
    ).to_pylist()
    near = [(r["s_ra"] + 0.03, r["s_dec"] - 0.02) for r in rows]
    zero = db.execute(
        "SELECT s_ra, s_dec FROM observations ORDER BY least(s_ra, 360 - s_ra) LIMIT 2"
    ).to_pylist()
    poles = db.execute(
        "SELECT s_ra, s_dec FROM observations ORDER BY abs(s_dec) DESC LIMIT 2"
    ).to_pylist()
    return [
        *near,
        *((r["s_ra"], r["s_dec"]) for r in zero),
        (0.0, 0.0),
        (359.9999, 0.0),
        (0.0001, -30.0),
        *((r["s_ra"], r["s_dec"]) for r in poles),
        (45.0, 90.0),
        (200.0, -90.0),
        (123.0, -4.0),  # an empty patch of sky (checked below)
        near[0],  # a repeat
        f"{near[1][0]} {near[1][1]}",  # the same position spelled another way
        "not a position",
    ]


async def test_region_many_same_table_both_ways(api: Api, db: Any, requests_seen: Requests) -> None:
    targets = edge_targets(db)
    fast = await call(api, "query_region_many", targets, radius="0.4 deg", method="crossmatch")
    crossmatch_services = _services(requests_seen)
    slow = await call(api, "query_region_many", targets, radius="0.4 deg", method="cones")
    assert_same(fast, slow)
    # The crossmatch ran once, with no cone at all; the cones method sent one per position.
    assert crossmatch_services.count("Mast.Caom.Crossmatch") == 1
    assert "Mast.Caom.Cone" not in crossmatch_services
    # 25 inputs: a repeat, a respelling and a bad one are not sent.
    assert _services(requests_seen).count("Mast.Caom.Cone") == len(targets) - 3
    hits = {
        i: n
        for i, n in zip(*np.unique(fast["input_index"].to_numpy(), return_counts=True), strict=True)
    }
    assert 0 not in (hits.get(i, 0) for i in range(12))  # the near-observation positions match
    assert hits.get(targets.index((123.0, -4.0)), 0) == 0
    assert hits[len(targets) - 3] == hits[0]  # the repeat has the first one's rows
    assert hits[len(targets) - 2] == hits[1]  # and so has the respelling
    assert [f["input_index"] for f in fast.metadata["failures"]] == [len(targets) - 1]
    # RA-0 and pole positions found observations on both sides of the seam / all around.
    for k in (12, 13, 17, 18):
        assert hits.get(k, 0) > 0


async def test_auto_picks_the_crossmatch_for_many_targets_only(
    api: Api, db: Any, requests_seen: Requests
) -> None:
    targets = edge_targets(db)[:CROSSMATCH_MIN_TARGETS]
    many = await call(api, "query_region_many", targets, radius=0.2)
    assert many.metadata["method"] == "crossmatch"
    few = await call(api, "query_region_many", targets[:3], radius=0.2)
    assert few.metadata["method"] == "cones"
    filtered = await call(api, "query_region_many", targets, radius=0.2, obs_collection="HST")
    assert filtered.metadata["method"] == "cones"
    assert set(filtered["obs_collection"].to_pylist()) <= {"HST"}
    wide = await call(api, "query_region_many", targets, radius=1.5)
    assert wide.metadata["method"] == "cones"
    with pytest.raises(BadInputError, match="criteria"):
        await call(api, "query_region_many", targets, method="crossmatch", obs_collection="HST")
    with pytest.raises(BadInputError, match="method must be"):
        await call(api, "query_region_many", targets, method="tiles")


async def test_object_many_same_table_both_ways(api: Api, db: Any, requests_seen: Requests) -> None:
    names = (
        db.execute("SELECT name FROM objects ORDER BY hash(name) LIMIT 40").column(0).to_pylist()
    )
    names += ["no such object 42", "HIP 999999999", names[0].upper(), names[1], "M 101"]
    fast = await call(api, "query_object_many", names, radius=0.25, method="crossmatch")
    seen = _services(requests_seen)
    slow = await call(api, "query_object_many", names, radius=0.25, method="cones")
    assert_same(fast, slow)
    assert len(fast) > 0
    assert [f["input_target"] for f in fast.metadata["failures"]] == [
        "no such object 42",
        "HIP 999999999",
    ]
    assert {f["error_type"] for f in fast.metadata["failures"]} == {"ResolverError"}
    # Names went to the batch resolver: no single-name lookups, one crossmatch.
    assert "Mast.Name.Lookup" not in seen
    assert seen.count("Mast.Caom.Crossmatch") == 1


async def test_targets_mix_and_small_chunks(
    api: Api, db: Any, requests_seen: Requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mastkit.services import _cone_batch

    names = db.execute("SELECT name FROM objects ORDER BY name LIMIT 9").column(0).to_pylist()
    mixed: list[Any] = [*names, *edge_targets(db)[:9]]
    monkeypatch.setattr(_cone_batch, "CONE_CHUNK", 4)  # read when a batch starts
    fast = await call(api, "query_targets", mixed, radius=0.3, method="crossmatch")
    monkeypatch.undo()
    slow = await call(api, "query_targets", mixed, radius=0.3, method="cones")
    assert_same(fast, slow)
    assert _services(requests_seen).count("Mast.Caom.Crossmatch") == 5  # 18 positions, 4 each


# ------------------------------------------------------------------------------ faults


@pytest.fixture
def limited_app(db: Any) -> Any:
    """The server with a 40-row limit (ERROR over it): crossmatch chunks get refused."""
    from mastkit.server.app import ServerSettings, create_app

    return create_app(db, ServerSettings(row_limit=40, reset_over_limit=False))


async def test_refused_chunks_are_halved_then_coned(limited_app: Any, app: Any, db: Any) -> None:
    targets = edge_targets(db)[:16]
    async with AsyncClient(
        "http://testserver", transport=httpx.ASGITransport(app=limited_app), timeout=60
    ) as client:
        fast = await AsyncObservations(client).query_region_many(
            targets, radius=0.5, method="crossmatch"
        )
    async with AsyncClient(
        "http://testserver", transport=httpx.ASGITransport(app=app), timeout=60
    ) as client:
        slow = await AsyncObservations(client).query_region_many(
            targets, radius=0.5, method="cones"
        )
    assert fast.metadata["failures"] == []
    assert len(fast) > 40  # more than one refused request's worth, all there
    assert_same(fast, slow)


async def test_server_without_crossmatch_or_santa_falls_back(db: Any, app: Any) -> None:
    from mastkit.server.app import ServerSettings, create_app
    from mastkit.server.fault_injection import FaultPlan

    broken = create_app(
        db,
        ServerSettings(faults=FaultPlan.parse(["service=Mast.Caom.Crossmatch:kind=lost"])),
    )
    names = db.execute("SELECT name FROM objects ORDER BY name LIMIT 10").column(0).to_pylist()
    seen = Requests()
    # The resolver URL points nowhere on this server (404): names go one by one.
    async with AsyncClient(
        "http://testserver",
        transport=httpx.ASGITransport(app=broken),
        settings=Settings(server="http://testserver", resolver="http://testserver/none"),
        timeout=60,
    ) as client:
        client.http.event_hooks["request"].append(seen.arecord)
        fast = await AsyncObservations(client).query_object_many(names, radius=0.3)
    async with AsyncClient(
        "http://testserver", transport=httpx.ASGITransport(app=app), timeout=60
    ) as client:
        slow = await AsyncObservations(client).query_object_many(names, radius=0.3, method="cones")
    assert _services(seen).count("Mast.Name.Lookup") == len(names)
    assert _services(seen).count("Mast.Caom.Cone") == len(names)
    assert fast.metadata["failures"] == [] and len(fast) > 0
    assert_same(fast, slow)


# ------------------------------------------------------------------------------ many positions


@pytest.fixture(scope="module")
def sync_obs(server_url: str) -> Iterator[Observations]:
    with Client(server_url, timeout=60) as client:
        yield Observations(client)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    picks=st.lists(st.integers(0, 2999), min_size=CROSSMATCH_MIN_TARGETS, max_size=14),
    offsets=st.lists(
        st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)), min_size=14, max_size=14
    ),
    radius=st.floats(0.001, 0.8),
)
def test_random_positions_same_table(
    sync_obs: Observations,
    db: Any,
    picks: list[int],
    offsets: list[tuple[float, float]],
    radius: float,
) -> None:
    centres = db.execute("SELECT s_ra, s_dec FROM observations ORDER BY obsid").to_pylist()
    targets = []
    for k, (dra, ddec) in zip(picks, offsets, strict=False):
        ra = (centres[k]["s_ra"] + dra) % 360.0
        dec = float(np.clip(centres[k]["s_dec"] + ddec, -90.0, 90.0))
        targets.append((ra, dec))
    fast = sync_obs.query_region_many(targets, radius=radius, method="crossmatch")
    slow = sync_obs.query_region_many(targets, radius=radius, method="cones")
    assert_same(fast, slow)


def test_an_all_empty_batch_has_the_cone_columns(sync_obs: Observations) -> None:
    targets = [(123.0 + k / 100, -4.0) for k in range(CROSSMATCH_MIN_TARGETS)]
    fast = sync_obs.query_region_many(targets, radius=0.001, method="crossmatch")
    slow = sync_obs.query_region_many(targets, radius=0.001, method="cones")
    assert len(fast) == 0
    assert_same(fast, slow)
    assert isinstance(fast.arrow, pa.Table) and "distance" in fast.columns
