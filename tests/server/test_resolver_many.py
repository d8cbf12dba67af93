"""resolve_many(): the batch name look-up equals resolve() name by name; SANTA uses it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit.server import resolver
from mastkit.server.handlers import santa
from mastkit.server.resolver import resolve, resolve_many


def _comparable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries without ``resolverTime`` (a clock reading, the one field allowed to differ)."""
    for entry in entries:
        assert isinstance(entry["resolverTime"], int) and entry["resolverTime"] >= 0
    return [{k: v for k, v in e.items() if k != "resolverTime"} for e in entries]


def _assert_same_as_single(source: Any, names: list[str]) -> list[list[dict[str, Any]]]:
    batch = resolve_many(source, names)
    assert len(batch) == len(names)
    for name, entries in zip(names, batch, strict=True):
        assert _comparable(entries) == _comparable(resolve(source, name)), name
    # Every entry is its own dict (SANTA rewrites searchString per name, repeats included).
    every = [entry for entries in batch for entry in entries]
    assert len({id(e) for e in every}) == len(every)
    return batch


@pytest.fixture(scope="module")
def displays(archive: Any) -> list[str]:
    """Every identifier of the archive, as OpenNGC writes it."""
    rows = archive.execute("SELECT DISTINCT display FROM identifiers ORDER BY display")
    return [str(v) for v in rows.column(0).to_pylist()]


@pytest.fixture(scope="module")
def shared_names(archive: Any) -> list[str]:
    """Names of several objects each (their entries must keep resolve()'s order)."""
    rows = archive.execute(
        "SELECT min(display) FROM identifiers GROUP BY key HAVING count(*) > 1 ORDER BY key"
    )
    return [str(v) for v in rows.column(0).to_pylist()]


@pytest.fixture(scope="module")
def hip_numbers(archive: Any) -> list[int]:
    rows = archive.execute("SELECT HIP FROM hipparcos WHERE HIP % 997 = 0 ORDER BY HIP")
    return [int(v) for v in rows.column(0).to_pylist()]


def _spellings(
    displays: list[str], shared: list[str], hip_numbers: list[int]
) -> st.SearchStrategy[str]:
    identifier = st.one_of(st.sampled_from(displays), st.sampled_from(shared)).flatmap(
        lambda d: st.sampled_from([d, d.lower(), d.upper(), d.replace(" ", ""), f"  {d} "])
    )
    hip = st.one_of(st.sampled_from(hip_numbers), st.integers(0, 10**9 - 1)).flatmap(
        lambda n: st.sampled_from([f"HIP {n}", f"hip{n:06d}", f"Hipparcos {n}"])
    )
    position = st.builds(
        lambda ra, dec, sep: f"{ra:.4f}{sep}{dec:+.4f}",
        st.floats(0, 359.99),
        st.floats(-90, 90),
        st.sampled_from([" ", ", ", "  "]),
    )
    junk = st.one_of(
        st.text(max_size=16),
        st.sampled_from(["", "   ", "NGC 99999", "M 0", "HIP", "TIC 12345", "Not An Object"]),
    )
    return st.one_of(identifier, identifier, hip, position, junk)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_resolve_many_equals_resolve(
    archive: Any,
    displays: list[str],
    shared_names: list[str],
    hip_numbers: list[int],
    data: st.DataObject,
) -> None:
    spellings = _spellings(displays, shared_names, hip_numbers)
    names = data.draw(st.lists(spellings, min_size=0, max_size=30))
    if names and data.draw(st.booleans()):
        names = names + names[: data.draw(st.integers(1, len(names)))]  # repeats
    _assert_same_as_single(archive, names)


def test_resolve_many_over_every_name_of_a_sample(
    archive: Any, shared_names: list[str], hip_numbers: list[int]
) -> None:
    # Every identifier of one object in 250 (some 300 names, many objects with several
    # names), names of several objects, Hipparcos numbers, positions, unknowns.
    rows = archive.execute(
        "SELECT i.display FROM identifiers i JOIN objects o USING (name) "
        "WHERE hash(o.name) % 250 = 0 ORDER BY i.key, i.name"
    )
    names = [str(v) for v in rows.column(0).to_pylist()]
    names += shared_names[:20]
    names += [f"HIP {n}" for n in hip_numbers[:40]] + ["HIP 999999999", "hip 0"]
    names += ["210.80 54.35", "14h03m12.6s +54d20m57s", "", "  ", "Nowhere", "NGC 99999"]
    batch = _assert_same_as_single(archive, names)
    found = sum(1 for entries in batch if entries)
    assert len(names) > 200 and found > 0.9 * len(names)
    assert any(len(entries) > 1 for entries in batch)  # a name shared by several objects


def test_resolve_many_splits_long_lists(archive: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [
        "M101",
        "NGC 224",
        "HIP 32349",
        "Whirlpool Galaxy",
        "IC 1613",
        "HIP 1",
        "M 42",
        "NGC 99999",
        "HIP 5",
        "M 1",
        "210.8 54.35",
        "M101",
    ]
    monkeypatch.setattr(resolver, "MAX_KEYS", 2)
    batch = _assert_same_as_single(archive, names)
    assert [e[0]["canonicalName"] for e in batch if e][:3] == ["M 101", "M 31", "HIP 32349"]
    assert batch[7] == [] and _comparable(batch[0]) == _comparable(batch[11])


def test_resolve_many_of_nothing_and_on_a_plain_connection(archive_path: Any) -> None:
    import duckdb

    con = duckdb.connect(str(archive_path), read_only=True)
    try:
        assert resolve_many(con, []) == []
        batch = _assert_same_as_single(con, ["M 42", "HIP 32349", "12:00:00 -00:30:00", "?"])
        assert [len(entries) for entries in batch] == [1, 1, 1, 0]
    finally:
        con.close()


# ----------------------------------------------------------------------------- SANTA


def _santa_by_name(
    archive: Any, names: list[str], *, resolve_all: bool, resolver: str | None
) -> list[dict[str, Any]]:
    """The SANTA reply as one resolve() per name would give it (the reference)."""
    found: list[dict[str, Any]] = []
    for name in names:
        entries = [e | {"searchString": name.lower()} for e in resolve(archive, name)]
        if resolver:
            entries = [e for e in entries if e["resolver"].lower() == resolver.lower()]
        found.extend(entries if resolve_all else entries[:1])
    return found


SANTA_NAMES = [
    "m  101",
    "HIP 16083",
    "Nowhere",
    "210.8 54.35",
    "NGC 224",
    "Andromeda Galaxy",
    "M 101",
    "hip 32349",
    "",
    "ESO 056-115",
    "UGC 08981",
    "M101",
]


@pytest.mark.parametrize("resolve_all", [False, True])
@pytest.mark.parametrize("which", [None, "OpenNGC", "hipparcos", "Coordinates", "NED"])
def test_santa_equals_one_resolve_per_name(
    archive: Any, resolve_all: bool, which: str | None
) -> None:
    reply = santa(archive, SANTA_NAMES, resolve_all=resolve_all, resolver=which)
    assert reply["status"] == ""
    expected = _santa_by_name(archive, SANTA_NAMES, resolve_all=resolve_all, resolver=which)
    assert _comparable(reply["resolvedCoordinate"]) == _comparable(expected)
    assert bool(expected) == (which != "NED")


@pytest.mark.anyio
async def test_santa_over_http_resolves_thirty_names_at_once(
    archive: Any, client: httpx.AsyncClient, displays: list[str]
) -> None:
    names = [*displays[:: max(1, len(displays) // 26)][:26], "HIP 32349", "1 2", "x", "M 1"]
    params = [("name", n) for n in names] + [("outputFormat", "json"), ("resolveAll", "true")]
    reply = (await client.get("/Santa-war/query", params=params)).json()
    expected = _santa_by_name(archive, names, resolve_all=True, resolver=None)
    assert len(names) == 30 and len(expected) >= 28
    assert _comparable(reply["resolvedCoordinate"]) == _comparable(expected)


class _Counting:
    """The real archive, counting the statements run through it."""

    def __init__(self, archive: Any) -> None:
        self.archive, self.statements = archive, 0

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.statements += 1
        return self.archive.execute(sql, params)


def test_santa_runs_one_statement_for_thirty_names(archive: Any, displays: list[str]) -> None:
    names = [*displays[7::500][:25], "HIP 1", "HIP 2", "0 0", "Nowhere", "M 42"]
    counting = _Counting(archive)
    reply = santa(counting, names, resolve_all=True)
    assert counting.statements == 1 and len(names) == 30
    expected = _santa_by_name(archive, names, resolve_all=True, resolver=None)
    assert _comparable(reply["resolvedCoordinate"]) == _comparable(expected)
    counting.statements = 0
    assert santa(counting, ["1 2", "", "3 4"])["resolvedCoordinate"][0]["resolver"] == "Coordinates"
    assert counting.statements == 0  # positions need no look-up
