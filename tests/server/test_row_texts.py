"""Rendered rows: the pages they give are the pages rendered from columns, byte for byte.

Every check compares the server's two ways of answering: with the archive's rendered rows
(the default) and without them (a copy of the archive whose side files were removed, which the
server must then answer from columns, as it does any other selection).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastkit.errors import MastError
from mastkit.protocol import MashupRequest
from mastkit.server import sql
from mastkit.server.archive import Archive, ensure_archive
from mastkit.server.handlers import Context, caom_filtered, caom_products
from mastkit.server.responses import TableResult, render
from mastkit.server.row_texts import (
    RowTexts,
    TextsUnusable,
    read_texts_build_id,
    texts_path,
    write_row_texts,
)
from mastkit.server.schema import OBSERVATIONS, PRODUCTS
from mastkit.tables.encode import encode_row_texts, encode_rows

FORMATS = ("json", "csv", "extjs", "votable")


@pytest.fixture(scope="module")
def bare(archive_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """The session's archive without its rendered rows (pages rendered from columns)."""
    target = tmp_path_factory.mktemp("bare") / "bare.duckdb"
    shutil.copy(archive_path, target)
    db = Archive.open(target)
    assert db.row_texts("observations") is None and db.row_texts("products") is None
    yield db
    db.close()


def context(archive: Archive, row_limit: int = 500_000) -> Context:
    return Context(archive=archive, row_limit=row_limit, delay=0.0, closing=threading.Event())


def canonical(archive: Archive, schema: Any) -> pa.Table:
    cols = ", ".join(f'"{n}"' for n in schema.names)
    return archive.execute(f"SELECT {cols} FROM {schema.name} ORDER BY _row")


# ------------------------------------------------------------------------------ the file


def test_the_build_writes_the_rendered_rows_of_both_tables(
    archive: Archive, archive_path: Path
) -> None:
    for schema in (OBSERVATIONS, PRODUCTS):
        assert read_texts_build_id(texts_path(archive_path, schema.name)) == archive.meta[
            "build_id"
        ]
        texts = archive.row_texts(schema.name)
        assert texts is not None and texts is archive.row_texts(schema.name)
        table = canonical(archive, schema)
        assert texts.num_rows == table.num_rows > 0
        assert texts.names == tuple(schema.names)
        # All rows, gathered: exactly the json rows of the table in canonical order.
        whole = b"[" + b"".join(texts.gather(np.arange(table.num_rows))) + b"]"
        assert whole == encode_rows(table)


def reference_rows(texts: list[str], positions: list[int]) -> bytes:
    """What gather must give: the selected row texts, comma-joined (each text ends in one)."""
    return ",".join(texts[p][:-1] for p in positions).encode()


@pytest.fixture(scope="module")
def every_text(archive: Archive) -> list[str]:
    """Each observation's text, rendered anew from its columns."""
    arrays = encode_row_texts(canonical(archive, OBSERVATIONS))
    return [text for array in arrays for text in array.to_pylist()]


def test_gather_handles_ends_repeats_and_reversals(
    archive: Archive, every_text: list[str]
) -> None:
    texts = archive.row_texts("observations")
    assert texts is not None
    n = texts.num_rows
    for positions in ([0], [n - 1], [n - 1, 0], [5, 5, 5], list(range(n)),
                      list(range(n - 1, -1, -1))):
        got = b"".join(texts.gather(np.array(positions, dtype=np.int64)))
        assert got == reference_rows(every_text, positions)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_gather_is_the_selected_rows_in_the_order_asked(
    archive: Archive, every_text: list[str], data: st.DataObject
) -> None:
    texts = archive.row_texts("observations")
    assert texts is not None
    n = texts.num_rows
    # Runs (one slice of the file each), repeats, single rows, jumps back and forth.
    position = st.integers(0, n - 1)
    run = st.builds(lambda a, k: list(range(a, min(n, a + k))), position, st.integers(1, 40))
    pieces = data.draw(st.lists(st.one_of(run, st.lists(position, max_size=5)), max_size=8))
    positions = [p for piece in pieces for p in piece]
    got = b"".join(texts.gather(np.array(positions, dtype=np.int64)))
    assert got == reference_rows(every_text, positions)


def test_gather_refuses_positions_outside_the_file(archive: Archive) -> None:
    texts = archive.row_texts("products")
    assert texts is not None
    assert texts.gather(np.empty(0, np.int64)) == []
    for bad in ([-1], [texts.num_rows], [0, texts.num_rows + 5]):
        with pytest.raises(IndexError):
            texts.gather(np.array(bad, dtype=np.int64))


def test_encode_row_texts_matches_encode_rows_on_every_kind_of_value() -> None:
    table = pa.table(
        {
            "i": pa.array([1, None, -(2**62), 0], pa.int64()),
            "f": [1.0, float("nan"), 1e300, -0.25],
            "s": ['a"b\\c', None, "é\n\t", ""],
            "b": [True, False, None, True],
            "n": pa.nulls(4),
        }
    )
    big = pa.concat_tables([table] * 5000)  # past the msgspec path and over a block boundary
    texts = [x for a in encode_row_texts(big) for x in a.to_pylist()]
    assert ("[" + ",".join(x[:-1] for x in texts) + "]").encode() == encode_rows(big)
    # Small tables are encoded by msgspec, which may spell a float otherwise (1e300, 1e+300).
    small = [x for a in encode_row_texts(table) for x in a.to_pylist()]
    assert json.loads("[" + ",".join(x[:-1] for x in small) + "]") == json.loads(
        encode_rows(table)
    )
    assert json.loads(encode_row_texts(table)[0][2].as_py()[:-1]) == {
        "i": -(2**62), "f": 1e300, "s": "é\n\t", "b": None, "n": None
    }


# ------------------------------------------------------------------------------ the same pages


FILTERS: list[list[dict[str, Any]]] = [
    [],
    [{"paramName": "intentType", "values": ["science"]}],
    [{"paramName": "obs_collection", "values": ["HST", "TESS"]},
     {"paramName": "t_exptime", "values": [{"min": 100, "max": 2000}]}],
    [{"paramName": "obs_collection", "values": ["NO-SUCH-MISSION"]}],
]


@pytest.mark.parametrize("filters", FILTERS)
def test_filtered_pages_are_the_pages_rendered_from_columns(
    archive: Archive, bare: Archive, filters: list[dict[str, Any]]
) -> None:
    params = {"columns": "*", "filters": filters}
    fast = caom_filtered(MashupRequest("Mast.Caom.Filtered", params), context(archive))
    slow = caom_filtered(MashupRequest("Mast.Caom.Filtered", params), context(bare))
    assert fast.rows is not None and slow.rows is None
    assert fast.num_rows == slow.num_rows
    for fmt in FORMATS:
        for page, size in ((1, 50_000), (1, 700), (2, 700), (3, 1000), (9999, 10), (None, None)):
            request = MashupRequest("Mast.Caom.Filtered", params, format=fmt, page=page,
                                    pagesize=size)
            assert render(fast, request).body == render(slow, request).body, (fmt, page, size)
    # The whole table, read when asked for, is the one the columns path read.
    assert fast.table.equals(slow.table)


def test_a_selection_of_columns_is_rendered_from_columns(archive: Archive) -> None:
    for columns in ("obsid, s_ra", "COUNT_BIG(*)", ", ".join(reversed(OBSERVATIONS.names))):
        result = caom_filtered(
            MashupRequest("Mast.Caom.Filtered", {"columns": columns, "filters": []}),
            context(archive),
        )
        assert result.rows is None


def test_the_row_limit_is_still_enforced_on_positions(archive: Archive) -> None:
    from mastkit.server.handlers import RowLimitExceeded

    request = MashupRequest("Mast.Caom.Filtered", {"columns": "*", "filters": []})
    with pytest.raises(RowLimitExceeded) as raised:
        caom_filtered(request, context(archive, row_limit=100))
    total = archive.execute("SELECT count(*) FROM observations").column(0)[0].as_py()
    assert raised.value.rows == total


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picks=st.lists(st.integers(0, 10**6), min_size=0, max_size=300), fmt=st.sampled_from(FORMATS))
def test_product_pages_are_the_pages_rendered_from_columns(
    archive: Archive, bare: Archive, picks: list[int], fmt: str
) -> None:
    obsids = archive.execute("SELECT DISTINCT obsID FROM products ORDER BY 1").column(0)
    ids = [obsids[p % len(obsids)].as_py() for p in picks] + [-5]
    params = {"obsid": ",".join(map(str, ids))}
    fast = caom_products(MashupRequest("Mast.Caom.Products", params), context(archive))
    slow = caom_products(MashupRequest("Mast.Caom.Products", params), context(bare))
    assert (fast.rows is not None) and slow.rows is None
    for page, size in ((1, 50_000), (2, 97)):
        request = MashupRequest("Mast.Caom.Products", params, format=fmt, page=page,
                                pagesize=size)
        assert render(fast, request).body == render(slow, request).body
    assert fast.table.equals(slow.table)


# ------------------------------------------------------------------------------ reading columns


def test_rows_at_reads_rows_in_the_order_asked(archive: Archive) -> None:
    table = canonical(archive, OBSERVATIONS)
    names = ["obsid", "s_ra", "target_name"]
    for positions in ([3, 1, 2], [7, 7, 0], list(range(table.num_rows - 1, -1, -50)), []):
        got = sql.rows_at(archive, "observations", names, np.array(positions, dtype=np.int64))
        assert got.equals(table.select(names).take(pa.array(positions, pa.int64())))
    with pytest.raises(MastError, match="no row"):
        sql.rows_at(archive, "observations", names, np.array([table.num_rows + 3]))


def test_a_result_kept_as_rows_needs_rows_and_a_loader(archive: Archive) -> None:
    texts = archive.row_texts("observations")
    assert texts is not None
    result = caom_filtered(
        MashupRequest("Mast.Caom.Filtered", {"columns": "*", "filters": []}), context(archive)
    )
    with pytest.raises(ValueError):
        TableResult(None, result.fields)
    with pytest.raises(ValueError, match="fields"):
        TableResult(result.table, result.fields[:-1], rows=result.rows)
    # Before its table is read, a result kept as rows holds only their positions.
    fresh = caom_filtered(
        MashupRequest("Mast.Caom.Filtered", {"columns": "*", "filters": []}), context(archive)
    )
    assert fresh.nbytes < 64 * len(fresh.fields) + 8 * fresh.num_rows + 1


# ------------------------------------------------------------------------------ never wrong rows


@pytest.fixture
def copy(archive_path: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.duckdb"
    shutil.copy(archive_path, target)
    for table in ("observations", "products"):
        shutil.copy(texts_path(archive_path, table), texts_path(target, table))
    return target


def opened_texts(path: Path, table: str, caplog: pytest.LogCaptureFixture) -> RowTexts | None:
    with caplog.at_level(logging.WARNING, logger="mastkit.server.archive"):
        db = Archive.open(path)
        try:
            return db.row_texts(table)
        finally:
            db.close()


def test_a_file_of_another_build_is_refused_then_written_again(
    copy: Path, caplog: pytest.LogCaptureFixture, archive: Archive
) -> None:
    other = copy.with_name("other.duckdb")
    shutil.copy(copy, other)
    con = duckdb.connect(str(other))
    con.execute("UPDATE meta SET value = 'another-build' WHERE key = 'build_id'")
    con.close()
    shutil.copy(texts_path(copy, "observations"), texts_path(other, "observations"))
    assert opened_texts(other, "observations", caplog) is None
    assert "another build" in caplog.text
    ensure_archive(other)
    assert read_texts_build_id(texts_path(other, "observations")) == "another-build"
    assert opened_texts(other, "observations", caplog) is not None


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "other table"])
def test_a_damaged_file_is_refused(
    copy: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    path = texts_path(copy, "products")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"ARROW1" + bytes(range(256)) * 40)
    else:
        shutil.copy(texts_path(copy, "observations"), path)
    assert opened_texts(copy, "products", caplog) is None
    assert "rendered from columns" in caplog.text


def test_a_file_with_another_row_count_is_refused(copy: Path) -> None:
    con = duckdb.connect(str(copy), read_only=True)
    build = dict(con.sql("SELECT key, value FROM meta").fetchall())["build_id"]
    con.close()
    path = texts_path(copy, "observations")
    rows = RowTexts.open(path, OBSERVATIONS, build, _count(copy, "observations")).num_rows
    with pytest.raises(TextsUnusable, match="number of rows"):
        RowTexts.open(path, OBSERVATIONS, build, rows - 1)
    with pytest.raises(TextsUnusable, match="another build"):
        RowTexts.open(path, OBSERVATIONS, "x" + build, rows)
    with pytest.raises(TextsUnusable, match="missing"):
        RowTexts.open(path.with_name("nothing.arrow"), OBSERVATIONS, build, rows)


def _count(path: Path, table: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    finally:
        con.close()


def test_rows_not_numbered_from_zero_are_not_rendered(tmp_path: Path) -> None:
    con = duckdb.connect()
    cols = ", ".join(f'NULL::VARCHAR AS "{n}"' for n in PRODUCTS.names)
    for rows, written in (("range(1, 6)", False), ("[0, 1, 3]", False), ("range(0, 4)", True)):
        con.execute(f"CREATE OR REPLACE TABLE products AS SELECT {cols}, r AS _row "
                    f"FROM unnest({rows}) AS t(r)")
        target = tmp_path / "p.rows.arrow"
        assert write_row_texts(con, PRODUCTS, target, "b") is written
        assert target.exists() is written
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    con.close()


def test_writing_is_all_or_nothing(tmp_path: Path) -> None:
    """A write that fails part way (a gap in ``_row`` after the first batches) leaves the old
    file whole, and no temporary file."""
    con = duckdb.connect()
    cols = ", ".join(f'\'x\'::VARCHAR AS "{n}"' for n in PRODUCTS.names)
    con.execute(f"CREATE TABLE products AS SELECT {cols}, r AS _row FROM range(0, 50) t(r)")
    target = tmp_path / "p.rows.arrow"
    assert write_row_texts(con, PRODUCTS, target, "first")
    before = target.read_bytes()
    # 70,000 rows (more than one batch read) numbered 0.. with the last one out of line.
    con.execute(f"CREATE OR REPLACE TABLE products AS SELECT {cols}, "
                "CASE WHEN r = 69999 THEN 70005 ELSE r END AS _row FROM range(0, 70000) t(r)")
    assert not write_row_texts(con, PRODUCTS, target, "second")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.rows.arrow"]
    con.close()
