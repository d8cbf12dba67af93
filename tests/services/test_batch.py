"""Many targets at once: query_region_many / query_object_many / query_targets, sync and async."""

from __future__ import annotations

from typing import Any

import pytest

from mastkit.errors import BadInputError, ResolverError, UnknownColumnError

from .conftest import Api, Requests

pytestmark = pytest.mark.anyio

POSITIONS = ["210.80225 54.34894", (10.68470, 41.26875), "83.633 22.0145"]


def _services(seen: Requests) -> list[str]:
    from mastkit.protocol.codec import decode_request

    return [decode_request(b).service for b in seen.bodies if b.startswith(b"request=")]


async def test_region_many_equals_one_query_per_target(api: Api, requests_seen: Requests) -> None:
    targets = [*POSITIONS, POSITIONS[0], "not a position"]
    progress: list[tuple[int, int]] = []
    found = await api.call(
        "query_region_many",
        targets,
        radius="0.5 deg",
        progress=lambda done, total: progress.append((done, total)),
    )
    assert found.columns[:2] == ["input_index", "input_target"]
    assert found.metadata["targets"] == len(targets)
    failures = found.metadata["failures"]
    assert [(f["input_index"], f["error_type"]) for f in failures] == [(4, "BadInputError")]
    assert progress[-1] == (len(targets), len(targets))
    # A repeated position is asked once; the bad one never reaches the server.
    assert _services(requests_seen).count("Mast.Caom.Cone") == len(POSITIONS)
    indices = found["input_index"].to_pylist()
    assert indices == sorted(indices)  # targets in input order
    for i, target in enumerate(targets[:4]):
        alone = await api.call("query_region", target, radius="0.5 deg")
        mine = found.arrow.filter(found.arrow.column("input_index").to_numpy() == i)
        assert mine.num_rows == len(alone) > 0
        assert mine.drop_columns(["input_index", "input_target"]).equals(alone.arrow)
        assert set(mine.column("input_target").to_pylist()) == {found_label(target)}


def found_label(target: Any) -> str:
    if isinstance(target, str):
        return target
    return f"{target[0]:.6f} {target[1]:+.6f}"


async def test_object_many_reports_unknown_names_and_keeps_the_rest(api: Api) -> None:
    names = ["M101", "no such object 42", "M 31", "m101"]
    found = await api.call("query_object_many", names, radius="0.2 deg")
    failures = found.metadata["failures"]
    assert [f["input_target"] for f in failures] == ["no such object 42"]
    assert failures[0]["error_type"] == "ResolverError"
    assert set(found["input_index"].to_pylist()) == {0, 2, 3}
    assert set(found.metadata["resolved"]) >= {"M101", "M 31"}
    m101 = await api.call("query_object", "M101", radius="0.2 deg")
    first = found.arrow.filter(found.arrow.column("input_index").to_numpy() == 0)
    assert first.drop_columns(["input_index", "input_target"]).equals(m101.arrow)
    with pytest.raises(ResolverError):
        await api.call("query_object_many", names, errors="raise")


async def test_targets_mix_names_positions_and_criteria(api: Api) -> None:
    found = await api.call(
        "query_targets", ["M101", (210.80225, 54.34894)], radius=0.3, obs_collection="HST"
    )
    assert found.metadata["failures"] == []
    assert set(found["obs_collection"].to_pylist()) == {"HST"}
    by_target = [
        found.arrow.filter(found.arrow.column("input_index").to_numpy() == i)
        .column("obsid")
        .to_pylist()
        for i in (0, 1)
    ]
    assert by_target[0] and set(by_target[0]) == set(by_target[1])


async def test_bad_arguments_fail_at_once(api: Api, requests_seen: Requests) -> None:
    with pytest.raises(UnknownColumnError):
        await api.call("query_region_many", POSITIONS, obs_colection="HST")
    with pytest.raises(BadInputError, match="list of targets"):
        await api.call("query_object_many", "M101")
    with pytest.raises(BadInputError, match="errors must be"):
        await api.call("query_region_many", POSITIONS, errors="ignore")
    with pytest.raises(BadInputError, match="concurrency"):
        await api.call("query_region_many", POSITIONS, concurrency=0)
    assert _services(requests_seen) == []


async def test_empty_inputs_and_skycoord_arrays(api: Api) -> None:
    from astropy.coordinates import SkyCoord

    empty = await api.call("query_region_many", [])
    assert len(empty) == 0 and empty.columns[:2] == ["input_index", "input_target"]
    coords = SkyCoord([210.80225, 10.6847], [54.34894, 41.26875], unit="deg")
    found = await api.call("query_region_many", coords, radius=0.2, concurrency=1)
    assert set(found["input_index"].to_pylist()) == {0, 1}
    assert found["input_target"][0].as_py() == "210.802250 +54.348940"
