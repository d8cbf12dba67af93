"""Damaged, partial and concurrently written cache entries, and the canonical keys.

A damaged entry must be detected and dropped, never returned: each case below damages a real
entry file and checks that the next call goes back to the server, gets the right rows, and
leaves an intact entry behind.
"""

from __future__ import annotations

import doctest
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit import Client
from mastkit.client import ResultCache
from mastkit.client._cache_keys import Kind, columns_config_key, request_key
from mastkit.client._cache_store import PREFIX_SIZE
from mastkit.protocol import MashupRequest, Paging
from mastkit.tables import ResultTable
from tests.server.conftest import Counter, fake_app
from tests.support.live import serve

ROWS = {"rows": 20}
SERVER = "https://mast.example"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(fake_app(Counter())) as base:
        yield base


def the_entry(cache: ResultCache) -> Path:
    [path] = cache.directory.glob("*.mkc")
    return path


def truncate_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def truncate_last_byte(data: bytes) -> bytes:
    return data[:-1]


def empty(data: bytes) -> bytes:
    return b""


def prefix_only(data: bytes) -> bytes:
    return data[:PREFIX_SIZE]


def flip(position: Callable[[bytes], int]) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        i = position(data)
        return data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1 :]

    return damage


def garbage(data: bytes) -> bytes:
    return os.urandom(len(data))


def no_metadata(data: bytes) -> bytes:
    # Only the Arrow payload left: the magic, lengths, checksums and header are gone.
    header_len = int.from_bytes(data[8:16], "big")
    return data[PREFIX_SIZE + header_len :]


def extended(data: bytes) -> bytes:
    return data + b"\0" * 64


def swapped_lengths(data: bytes) -> bytes:
    return data[:8] + data[16:24] + data[8:16] + data[24:]


DAMAGE = {
    "truncated-half": truncate_half,
    "truncated-last-byte": truncate_last_byte,
    "empty": empty,
    "prefix-only": prefix_only,
    "flip-magic": flip(lambda d: 0),
    "flip-length": flip(lambda d: 12),
    "flip-checksum": flip(lambda d: 40),
    "flip-header": flip(lambda d: PREFIX_SIZE + 10),
    "flip-payload": flip(lambda d: len(d) - 100),
    "flip-last-byte": flip(lambda d: len(d) - 1),
    "garbage": garbage,
    "no-metadata": no_metadata,
    "extended": extended,
    "swapped-lengths": swapped_lengths,
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=list(DAMAGE))
def test_damaged_entries_are_dropped_and_refetched(
    url: str, tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    cache = ResultCache(tmp_path)
    sent: list[httpx.Request] = []
    with Client(url, cache=cache, pagesize=7) as c:
        c.http.event_hooks["request"].append(sent.append)
        first = c.query("Test.Rows", ROWS)
        path = the_entry(cache)
        path.write_bytes(damage(path.read_bytes()))
        again = c.query("Test.Rows", ROWS)
    assert len(sent) == 6  # asked the server again
    assert again["obsid"].to_pylist() == first["obsid"].to_pylist() == list(range(20))
    assert again["run"][0].as_py() == first["run"][0].as_py() + 1
    assert cache.stats.dropped == 1 and cache.stats.stores == 2
    # ...and an intact entry replaced the damaged one.
    assert (
        ResultCache(tmp_path).get(
            request_key(url, MashupRequest("Test.Rows", ROWS), Kind.TABLE, None)
        )
        is not None
    )


def test_a_damaged_entry_offline_is_a_miss(url: str, tmp_path: Path) -> None:
    from mastkit.errors import CacheMissError

    cache = ResultCache(tmp_path)
    with Client(url, cache=cache) as c:
        c.query("Test.Rows", ROWS)
    path = the_entry(cache)
    path.write_bytes(truncate_half(path.read_bytes()))
    with Client(url, cache=cache, offline=True) as c, pytest.raises(CacheMissError):
        c.query("Test.Rows", ROWS)
    assert not path.exists()


def test_an_entry_copied_under_another_key_is_rejected(url: str, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    with Client(url, cache=cache) as c:
        c.query("Test.Rows", {"rows": 3})
        assert cache.info().entries == 1
        other = request_key(url, MashupRequest("Test.Rows", {"rows": 4}), Kind.TABLE, None)
        (tmp_path / f"{other.digest}.mkc").write_bytes(the_entry(cache).read_bytes())
        assert len(c.query("Test.Rows", {"rows": 4})) == 4  # not the 3 rows of the copy
    assert cache.stats.dropped == 1


def test_listing_drops_entries_with_damaged_headers(url: str, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    with Client(url, cache=cache) as c:
        c.query("Test.Rows", {"rows": 3})
        c.query("Test.Rows", {"rows": 4})
    first, second = sorted(tmp_path.glob("*.mkc"))
    first.write_bytes(flip(lambda d: PREFIX_SIZE + 3)(first.read_bytes()))
    second.write_bytes(flip(lambda d: len(d) - 1)(second.read_bytes()))  # payload: found by verify
    assert len(cache.entries()) == 1 and not first.exists()
    assert cache.verify() == 1 and not second.exists()
    (tmp_path / "notes.txt").write_text("not an entry")  # foreign files are left alone
    assert cache.info().entries == 0 and (tmp_path / "notes.txt").exists()


# -- byte-level properties ---------------------------------------------------------------------


def sample_table(n: int = 50) -> ResultTable:
    table = pa.table({"obsid": pa.array(range(n), pa.int64()), "s_ra": [i / 7 for i in range(n)]})
    return ResultTable(
        table, service="Mast.Caom.Cone", params={"ra": 1.5}, paging=Paging(1, 50, 1, n, n, n)
    )


KEY = request_key(SERVER, MashupRequest("Mast.Caom.Cone", {"ra": 1.5}), Kind.TABLE, None)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    cache = ResultCache(tmp_path_factory.mktemp("pristine"))
    assert cache.put(KEY, sample_table())
    return the_entry(cache).read_bytes()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_is_detected(pristine: bytes, tmp_path: Path, data: Any) -> None:
    position = data.draw(st.integers(0, len(pristine) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != pristine[position]), label="value")
    cache = ResultCache(tmp_path / "one")
    cache.directory.mkdir(parents=True, exist_ok=True)
    damaged = pristine[:position] + bytes([value]) + pristine[position + 1 :]
    (cache.directory / f"{KEY.digest}.mkc").write_bytes(damaged)
    assert cache.get(KEY) is None
    assert cache.stats.dropped == 1


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_truncation_is_detected(pristine: bytes, tmp_path: Path, data: Any) -> None:
    cut = data.draw(st.integers(0, len(pristine) - 1), label="length")
    cache = ResultCache(tmp_path / "one")
    cache.directory.mkdir(parents=True, exist_ok=True)
    (cache.directory / f"{KEY.digest}.mkc").write_bytes(pristine[:cut])
    assert cache.get(KEY) is None


def test_a_cached_table_looks_fresh(tmp_path: Path) -> None:
    table = sample_table()
    table.metadata["units"] = {"s_ra": "deg"}
    cache = ResultCache(tmp_path)
    assert cache.put(KEY, table)
    back = cache.get(KEY)
    assert isinstance(back, ResultTable)
    assert back.arrow.equals(table.arrow) and back.arrow.schema == table.arrow.schema
    assert (back.service, back.params, back.paging, back.pages, back.metadata) == (
        table.service,
        table.params,
        table.paging,
        table.pages,
        table.metadata,
    )


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_writers_and_readers_never_see_a_partial_entry(tmp_path: Path) -> None:
    writers, rounds = 6, 15
    tables = [
        ResultTable(
            pa.table({"writer": pa.array([w] * (500 + 37 * w), pa.int64())}),
            service="Mast.Caom.Cone",
            params={"ra": 1.5},
        )
        for w in range(writers)
    ]
    cache = ResultCache(tmp_path)
    assert cache.put(KEY, tables[0])  # from now on the key always has a complete entry
    seen: list[int | None] = []
    failures: list[BaseException] = []
    start = threading.Barrier(writers + 2)

    def write(w: int) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                assert cache.put(KEY, tables[w])
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read() -> None:
        try:
            start.wait()
            for _ in range(rounds * 3):
                got = cache.get(KEY)
                if got is None:
                    seen.append(None)
                    continue
                assert isinstance(got, ResultTable)
                w = got["writer"][0].as_py()
                assert got.arrow.equals(tables[w].arrow)  # whole, and one writer's
                seen.append(w)
        except BaseException as exc:  # pragma: no cover
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert cache.stats.dropped == 0  # nothing damaged was ever seen
    assert len(seen) == 2 * rounds * 3 and None not in seen  # renames never leave a gap
    final = cache.get(KEY)
    assert isinstance(final, ResultTable)
    assert final.arrow.equals(tables[final["writer"][0].as_py()].arrow)
    assert [p.name for p in tmp_path.iterdir()] == [f"{KEY.digest}.mkc"]  # no temp files left


def test_concurrent_processes_write_one_entry(tmp_path: Path) -> None:
    # The entry format module alone (it imports only the standard library), loaded from its
    # file without the mastkit.client package, so the processes start fast.
    import subprocess
    import sys

    from mastkit.client import _cache_store
    from mastkit.client._cache_store import read_entry

    code = (
        "import sys, pathlib, importlib.util as u;"
        "spec = u.spec_from_file_location('store', sys.argv[3]); m = u.module_from_spec(spec);"
        "spec.loader.exec_module(m); w = int(sys.argv[2]); path = pathlib.Path(sys.argv[1]);"
        "[m.write_entry(path, {'writer': w}, bytes([w]) * (100_000 + w)) for _ in range(40)]"
    )
    path = tmp_path / "entry.mkc"
    module = str(_cache_store.__file__)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), str(w), module]) for w in range(3)
    ]
    reads = 0
    while any(p.poll() is None for p in procs):
        try:
            header, payload = read_entry(path)
        except FileNotFoundError:
            continue
        w = header["writer"]
        assert payload == bytes([w]) * (100_000 + w)  # complete, and one writer's
        reads += 1
    assert all(p.wait(timeout=60) == 0 for p in procs)
    header, payload = read_entry(path)
    assert payload == bytes([header["writer"]]) * (100_000 + header["writer"])
    assert [p.name for p in tmp_path.iterdir()] == ["entry.mkc"]


# -- keys -------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
params_st = st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1, max_size=5)


def reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse insertion order."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(
    params=params_st,
    pagesize=st.none() | st.integers(1, 10**6),
    page=st.none() | st.integers(1, 100),
    breaker=st.none() | st.text(min_size=1, max_size=10),
    hold=st.none() | st.floats(0.1, 100),
)
def test_equivalent_requests_have_one_key(
    params: dict[str, Any],
    pagesize: int | None,
    page: int | None,
    breaker: str | None,
    hold: float | None,
) -> None:
    plain = MashupRequest("Mast.Caom.Filtered", params)
    noisy = MashupRequest(
        "Mast.Caom.Filtered",
        reordered(params),
        pagesize=pagesize,
        page=page,
        cachebreaker=breaker,
        timeout=hold,
        clearcache=True,
    )
    assert request_key(SERVER, plain, Kind.TABLE, None) == request_key(
        SERVER, noisy, Kind.TABLE, None
    )
    assert (
        request_key(SERVER, plain, Kind.TABLE, "tok").digest
        == request_key(SERVER, noisy, Kind.TABLE, "tok").digest
    )
    # A single page, or a raw reply, is another question than the whole result.
    paged = MashupRequest("Mast.Caom.Filtered", params, pagesize=pagesize, page=page)
    assert (
        request_key(SERVER, paged, Kind.PAGE, None).digest
        != request_key(SERVER, plain, Kind.TABLE, None).digest
    )


@settings(max_examples=40, deadline=None)
@given(params=params_st, other=params_st)
def test_different_requests_have_different_keys(
    params: dict[str, Any], other: dict[str, Any]
) -> None:
    def key(**kw: Any) -> str:
        base: dict[str, Any] = {
            "server": SERVER,
            "params": params,
            "service": "Mast.Caom.Cone",
            "format": "json",
            "token": None,
            "kind": Kind.TABLE,
        }
        base.update(kw)
        request = MashupRequest(base["service"], base["params"], format=base["format"])
        return request_key(base["server"], request, base["kind"], base["token"]).digest

    reference = key()
    if reordered(other) != params and other != params:
        assert key(params=other) != reference
    assert key(server="https://other.example") != reference
    assert key(service="Mast.Caom.Filtered") != reference
    assert key(format="csv") != reference
    assert key(token="t1") != reference and key(token="t1") != key(token="t2")
    assert key(kind=Kind.REPLY) != reference
    assert key(params={**params, "__extra__": 1}) != reference


def test_pages_keep_their_number_in_the_key() -> None:
    one = MashupRequest("S", {"a": 1}, page=1, pagesize=10)
    assert request_key(SERVER, one, Kind.PAGE, None) != request_key(
        SERVER, one.with_page(2), Kind.PAGE, None
    )
    assert request_key(SERVER, one, Kind.PAGE, None) != request_key(
        SERVER, one.replace(pagesize=11), Kind.PAGE, None
    )
    assert columns_config_key(SERVER, "a", None) != columns_config_key(SERVER, "b", None)


def test_the_token_is_never_stored(tmp_path: Path) -> None:
    key = request_key(SERVER, MashupRequest("S", {"a": 1}), Kind.TABLE, "s3cret-token")
    cache = ResultCache(tmp_path)
    assert cache.put(key, sample_table())
    assert b"s3cret-token" not in the_entry(cache).read_bytes()
    [entry] = cache.entries()
    assert entry.authenticated


@pytest.mark.parametrize(
    "name",
    [
        "mastkit.client.cache",
        "mastkit.client._cache_keys",
        "mastkit._settings",
        "mastkit.cli.cache",
        "mastkit.cli._context",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
