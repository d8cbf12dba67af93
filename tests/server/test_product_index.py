"""The product index: the same tables as SQL, and never trusted when it does not belong."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit.server import archive as archive_module
from mastkit.server import sql
from mastkit.server.archive import Archive, build_archive, ensure_archive
from mastkit.server.product_index import (
    IndexUnusable,
    ProductIndex,
    index_path,
    read_build_id,
    write_index,
)
from mastkit.server.row_texts import texts_path
from mastkit.server.schema import PRODUCTS
from mastkit.server.sql import compile_columns, products_for

# Every way the service's ``columns`` may name product columns.
SPELLINGS = [
    "*",
    "",
    "  *  ",
    "p.*",
    "c.*",
    "obsID",
    "OBSID, obsid",
    "dataURI, size",
    " productFilename ,obs_collection,Calib_Level",
    "p.obsID, p.size",
    ", ".join(reversed(PRODUCTS.names)),
    "filters, *",
]


def reference(archive: Archive, ids: list[int], columns: str) -> pa.Table:
    """What SQL answers (the path taken without an index)."""
    return sql._products_sql(archive, ids, compile_columns(PRODUCTS, columns).names)


def same(got: pa.Table, want: pa.Table) -> None:
    assert got.schema.equals(want.schema, check_metadata=True), (got.schema, want.schema)
    assert got.equals(want)


@pytest.fixture(scope="module")
def obsids(archive: Archive) -> list[int]:
    ids: list[int] = (
        archive.execute("SELECT DISTINCT obsID FROM products ORDER BY obsID").column(0).to_pylist()
    )
    return ids


@pytest.fixture
def copy(archive_path: Path, tmp_path: Path) -> Callable[[bool], Path]:
    """A copy of the session's archive, with or without its index."""

    def make(with_index: bool = True) -> Path:
        target = tmp_path / "copy.duckdb"
        shutil.copy(archive_path, target)
        if with_index:
            shutil.copy(index_path(archive_path), index_path(target))
        return target

    return make


@pytest.fixture
def opened() -> Iterator[Callable[[Path], Archive]]:
    archives: list[Archive] = []

    def open_(path: Path) -> Archive:
        archives.append(Archive.open(path))
        return archives[-1]

    yield open_
    for db in archives:
        db.close()


# ----------------------------------------------------------------------------- same answers


def test_the_build_writes_an_index_of_the_archive(archive: Archive, archive_path: Path) -> None:
    assert read_build_id(index_path(archive_path)) == archive.meta["build_id"]
    index = archive.product_index()
    assert index is not None and index is archive.product_index()
    rows = archive.execute("SELECT count(*) FROM products").column(0)[0].as_py()
    assert index.num_rows == rows > 0


@st.composite
def id_sets(draw: st.DrawFn, known: list[int]) -> list[int]:
    """Known ids (the table's ends often), unknown ones, repeats, in any order."""
    ends = [known[0], known[1], known[-2], known[-1]]
    pick = st.one_of(
        st.sampled_from(known),
        st.sampled_from(ends),
        st.integers(-(2**63), 2**63 - 1),
        st.integers(known[0] - 3, known[-1] + 3),
    )
    ids = draw(st.lists(pick, max_size=60))
    return ids + draw(st.lists(st.sampled_from(ids), max_size=5)) if ids else ids


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_index_answers_exactly_what_sql_answers(
    archive: Archive, obsids: list[int], data: st.DataObject
) -> None:
    assert archive.product_index() is not None
    ids = data.draw(id_sets(obsids))
    columns = data.draw(st.sampled_from(SPELLINGS))
    same(products_for(archive, ids, columns), reference(archive, ids, columns))


@pytest.fixture(scope="module")
def small_batches(
    archive: Archive, archive_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProductIndex]:
    """An index of the session's archive in batches of ~1,000 rows: observations straddle them."""
    from mastkit.server import product_index

    target = tmp_path_factory.mktemp("batches") / "small.products.arrow"
    mp = pytest.MonkeyPatch()
    mp.setattr(product_index, "_BATCH_ROWS", 1000)
    con = duckdb.connect(str(archive_path), read_only=True)
    try:
        assert write_index(con, target, archive.meta["build_id"])
    finally:
        con.close()
        mp.undo()
    expected = reference(archive, [], "*").schema
    rows = archive.execute("SELECT count(*) FROM products").column(0)[0].as_py()
    yield ProductIndex.open(target, archive.meta["build_id"], expected, rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_batches_of_the_file_split_nothing(
    archive: Archive, obsids: list[int], small_batches: ProductIndex, data: st.DataObject
) -> None:
    assert len(small_batches._batches) > 5
    ids = data.draw(id_sets(obsids))
    columns = data.draw(st.sampled_from(SPELLINGS))
    names = compile_columns(PRODUCTS, columns).names
    keys = np.unique(np.array([i for i in ids if -(2**63) <= i < 2**63], dtype=np.int64))
    same(small_batches.lookup(keys, names), reference(archive, ids, columns))


def test_observations_at_batch_edges(archive: Archive, small_batches: ProductIndex) -> None:
    edges = [int(k) for keys in small_batches._keys for k in (keys[0], keys[-1])]
    straddling = [k for k in edges if edges.count(k) > 1]
    assert straddling  # some observation's products lie in two batches
    keys = np.unique(np.array(edges, dtype=np.int64))
    same(small_batches.lookup(keys, PRODUCTS.names), reference(archive, edges, "*"))


@pytest.mark.parametrize("columns", SPELLINGS)
def test_every_spelling_on_many_ids(archive: Archive, obsids: list[int], columns: str) -> None:
    ids = [*obsids[::3], obsids[-1], -5, 2**63 - 1]
    got = products_for(archive, ids, columns)
    same(got, reference(archive, ids, columns))
    assert got.num_rows > len(obsids) // 3
    for edge in ([], [obsids[0]], [obsids[-1]], [obsids[0] - 1]):
        same(products_for(archive, edge, columns), reference(archive, edge, columns))


def test_the_service_answers_from_the_index(archive: Archive, obsids: list[int]) -> None:
    from mastkit.protocol import MashupRequest
    from mastkit.server import handlers

    ids = obsids[5:400:7]
    request = MashupRequest(
        "Mast.Caom.Products", {"obsid": ",".join(map(str, ids)), "columns": "obsID, dataURI, size"}
    )
    context = handlers.Context(archive=archive, row_limit=500_000)
    result = handlers.caom_products(request, context)
    same(result.table, reference(archive, ids, "obsID, dataURI, size"))


def test_threads_agree(
    archive_path: Path, obsids: list[int], opened: Callable[[Path], Archive]
) -> None:
    db = opened(archive_path)  # a fresh archive: the threads race to open its index, too
    rng = np.random.default_rng(7)
    batches = [rng.choice(obsids, 80).tolist() for _ in range(24)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda ids: products_for(db, ids), batches))
    assert db.product_index() is not None
    for ids, table in zip(batches, got, strict=True):
        same(table, reference(db, ids, "*"))


# ----------------------------------------------------------------------------- never wrong rows


def test_a_missing_index_falls_back_then_is_written_again(
    copy: Callable[[bool], Path],
    opened: Callable[[Path], Archive],
    obsids: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = copy(False)
    ids = obsids[10:60]
    with caplog.at_level(logging.WARNING, logger="mastkit.server.archive"):
        db = opened(path)
        assert db.product_index() is None
    assert "answered by SQL" in caplog.text and "missing" in caplog.text
    same(products_for(db, ids), reference(db, ids, "*"))
    assert ensure_archive(path) == path
    assert read_build_id(index_path(path)) == db.meta["build_id"]
    again = opened(path)
    assert again.product_index() is not None
    same(products_for(again, ids), reference(again, ids, "*"))
    # The side files are all written again, and nothing else is left beside the archive.
    side = [index_path(path), texts_path(path, "observations"), texts_path(path, "products")]
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, *(f.name for f in side)]
    )


def test_a_crash_between_the_renames_never_pairs_the_wrong_index(
    copy: Callable[[bool], Path],
    opened: Callable[[Path], Archive],
    obsids: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = copy(True)
    real = os.replace

    def crash(src: Any, dst: Any) -> None:
        if Path(dst) == path:  # the new index is in place; the archive's rename "crashes"
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(archive_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        build_archive(path, observations=40, seed=9)
    monkeypatch.undo()
    # The side files are all written again, and nothing else is left beside the archive.
    side = [index_path(path), texts_path(path, "observations"), texts_path(path, "products")]
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, *(f.name for f in side)]
    )
    db = opened(path)  # the old archive (3,000 observations) beside the new build's index
    assert read_build_id(index_path(path)) not in (None, db.meta["build_id"])
    assert db.product_index() is None
    ids = obsids[::50]
    same(products_for(db, ids), reference(db, ids, "*"))
    ensure_archive(path)
    fixed = opened(path)
    assert fixed.product_index() is not None
    same(products_for(fixed, ids), reference(fixed, ids, "*"))


def _rewrite(source: Path, target: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    with pa.memory_map(str(source)) as mapped:
        table = ipc.open_file(mapped).read_all()
    changed = change(table)
    with ipc.new_file(str(target), changed.schema) as writer:
        writer.write_table(changed)


CORRUPTIONS: dict[str, Callable[[Path, Path], None]] = {
    "truncated": lambda s, t: t.write_bytes(s.read_bytes()[: s.stat().st_size // 2]),
    "garbage": lambda s, t: t.write_bytes(b"ARROW1" + os.urandom(4096)),
    "empty": lambda s, t: t.write_bytes(b""),
    "other build": lambda s, t: _rewrite(
        s,
        t,
        lambda a: a.replace_schema_metadata({**a.schema.metadata, b"mastkit.build_id": b"0" * 32}),
    ),
    "other format": lambda s, t: _rewrite(
        s,
        t,
        lambda a: a.replace_schema_metadata({**a.schema.metadata, b"mastkit.product_index": b"0"}),
    ),
    "no metadata": lambda s, t: _rewrite(s, t, lambda a: a.replace_schema_metadata(None)),
    "a row short": lambda s, t: _rewrite(s, t, lambda a: a.slice(1)),
    "unsorted": lambda s, t: _rewrite(s, t, lambda a: a.take(np.arange(a.num_rows)[::-1])),
    "other types": lambda s, t: _rewrite(
        s,
        t,
        lambda a: a.set_column(
            a.schema.get_field_index("calib_level"),
            pa.field("calib_level", pa.int64()),
            a.column("calib_level").cast(pa.int64()),
        ),
    ),
    "a column short": lambda s, t: _rewrite(s, t, lambda a: a.drop_columns(["filters"])),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_damaged_index_is_refused(
    archive: Archive, archive_path: Path, tmp_path: Path, kind: str
) -> None:
    bad = tmp_path / "bad.products.arrow"
    CORRUPTIONS[kind](index_path(archive_path), bad)
    expected = reference(archive, [], "*").schema
    rows = archive.execute("SELECT count(*) FROM products").column(0)[0].as_py()
    ProductIndex.open(index_path(archive_path), archive.meta["build_id"], expected, rows)
    with pytest.raises(IndexUnusable):
        ProductIndex.open(bad, archive.meta["build_id"], expected, rows)


def test_a_damaged_index_beside_an_archive_falls_back_and_is_rewritten(
    copy: Callable[[bool], Path], opened: Callable[[Path], Archive], obsids: list[int]
) -> None:
    path = copy(True)
    index = index_path(path)
    index.write_bytes(index.read_bytes()[:-100])
    db = opened(path)
    assert db.product_index() is None
    ids = obsids[::20]
    same(products_for(db, ids, "obsID, size"), reference(db, ids, "obsID, size"))
    ensure_archive(path)
    assert opened(path).product_index() is not None


def test_products_out_of_order_get_no_index(archive_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.products.arrow"
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{archive_path}' AS a (READ_ONLY)")
        for order in ("_row DESC", "obsID DESC, _row", "hash(_row)"):
            con.execute(
                f"CREATE OR REPLACE TABLE products AS SELECT * FROM a.products ORDER BY {order}"
            )
            assert write_index(con, target, "b" * 32) is False
        con.execute(
            "CREATE OR REPLACE TABLE products AS SELECT * REPLACE "
            "(CASE WHEN _row = 7 THEN NULL ELSE obsID END AS obsID) FROM a.products "
            "ORDER BY _row"
        )
        assert write_index(con, target, "b" * 32) is False
        con.execute("CREATE OR REPLACE TABLE products AS SELECT * FROM a.products ORDER BY _row")
        assert write_index(con, target, "b" * 32) is True
    finally:
        con.close()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert read_build_id(target) == "b" * 32


def test_a_closed_archive_does_not_answer(archive_path: Path, obsids: list[int]) -> None:
    db = Archive.open(archive_path)
    assert products_for(db, obsids[:3]).num_rows > 0
    db.close()
    assert db.product_index() is None
    with pytest.raises(Exception, match="closed"):
        products_for(db, obsids[:3])
