"""The download benchmark's pieces work (``python -m benchmarks download`` runs it for real)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks import available
from benchmarks.bench_download import (
    FITS_BLOCK,
    MAX_SIZE,
    MIN_SIZE,
    _timed_child,
    big_size,
    prepare,
    serve,
    warm,
    worker,
)

from ..server.conftest import small_archive


def test_big_size_is_whole_fits_blocks():
    assert big_size(500) % FITS_BLOCK == 0 and 500_000_000 <= big_size(500) < 500_002_880
    assert big_size(0.001) == 2 * FITS_BLOCK  # the smallest valid FITS file


@pytest.fixture(scope="module")
def bench_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's small archive (the benchmark resizes a row of its archive)."""
    copy = tmp_path_factory.mktemp("bench") / "archive.duckdb"
    shutil.copy(small_archive(tmp_path_factory), copy)
    return copy


def test_prepare_picks_distinct_small_products_and_resizes_the_big_one(bench_archive):
    small, big = prepare(bench_archive, 4, big_size(0.2))
    assert len(small) == 4 and len({r["dataURI"] for r in small}) == 4
    assert all(MIN_SIZE <= r["size"] <= MAX_SIZE for r in small)
    assert not any(k.startswith("_") for k in small[0])  # MAST's columns only
    assert big["size"] == big_size(0.2) and big["dataURI"] not in {r["dataURI"] for r in small}
    again, big_again = prepare(bench_archive, 4, big_size(0.3))  # the same rows, resized
    assert [r["dataURI"] for r in again] == [r["dataURI"] for r in small]
    assert big_again["dataURI"] == big["dataURI"] and big_again["size"] == big_size(0.3)


def test_mastkit_worker_downloads_then_reruns_without_requests(bench_archive, tmp_path):
    small, big = prepare(bench_archive, 3, big_size(0.2))
    rows = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([*small, big]), rows)
    where = tmp_path / "d"
    with serve(bench_archive) as (url, counter):
        warm(url, [*small, big])
        assert counter.take() == {"HEAD": 4}
        first = worker("mastkit", "many", url, rows, where, 1)
        assert first["statuses"] == {"COMPLETE": 4} and first["peak_mb"] > 0
        assert counter.take() == {"GET": 4}
        rerun = worker("mastkit", "rerun", url, rows, where, 2)
        assert rerun["statuses"] == {"SKIPPED": 4} and len(rerun["times"]) == 2
        assert counter.take() == {}  # not a single request
    sizes = sorted(p.stat().st_size for p in where.rglob("*.fits"))
    assert sizes == sorted(r["size"] for r in [*small, big])


def test_child_timing_reports_its_own_peak_memory():
    # The child lives long enough to be sampled however busy the machine is.
    result = _timed_child([sys.executable, "-c", "import time; time.sleep(0.5); print(12)"])
    assert result["stdout"].strip() == "12" and 0 < result["peak_mb"] < 200
    assert "skipped" in _timed_child([sys.executable, "-c", "raise SystemExit(3)"])


def test_listed_among_the_benchmarks():
    assert "download" in available()
