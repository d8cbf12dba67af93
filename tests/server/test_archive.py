"""The archive file: building, reuse, tables and their content, concurrency, column metadata."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from mastkit.errors import BadInputError, MastError
from mastkit.server import archive as archive_module
from mastkit.server.archive import (
    FORMAT_VERSION,
    Archive,
    build_archive,
    default_archive_path,
    ensure_archive,
    read_meta,
)
from mastkit.server.demo import SYNTHETIC_MARKER, build_caom
from mastkit.server.schema import HIPPARCOS, OBSERVATIONS, PRODUCTS, columns_config

FIXTURES = Path(__file__).parents[1] / "fixtures"
MISSIONS = {"HST", "HLA", "JWST", "TESS", "Kepler", "K2", "GALEX", "PS1", "SWIFT", "IUE"}


def rows(archive: Archive, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = archive.execute(sql, params or []).to_pylist()
    return found


# ----------------------------------------------------------------------------- tables


@pytest.mark.parametrize("schema", [OBSERVATIONS, PRODUCTS, HIPPARCOS])
def test_tables_follow_their_schema(archive: Archive, schema: Any) -> None:
    described = rows(archive, f"DESCRIBE {schema.name}")
    public = [r for r in described if not r["column_name"].startswith("_")]
    assert [r["column_name"] for r in public] == schema.names
    assert [r["column_type"] for r in public] == [c.duckdb_type for c in schema.columns]
    internal = {r["column_name"] for r in described} - set(schema.names)
    assert "_row" in internal and all(name.startswith("_") for name in internal)


def test_observation_columns_are_mast_s() -> None:
    assert len(OBSERVATIONS.names) == 36 and len(PRODUCTS.names) == 20
    assert OBSERVATIONS.names[:3] == ["intentType", "obs_collection", "provenance_name"]
    assert OBSERVATIONS.names[-4:] == ["obsid", "objID", "wave_min", "wave_max"]
    ids = {c.name: c for c in (*OBSERVATIONS.columns, *PRODUCTS.columns)}
    for name in ("obsid", "objID", "obsID", "parent_obsid"):
        assert (ids[name].mast_type, ids[name].duckdb_type) == ("string", "BIGINT")
    separated = {c.name for c in OBSERVATIONS.columns if c.separator == ";"}
    assert {"obs_collection", "project", "filters", "wavelength_region",
            "target_classification"} <= separated


def test_tables_and_meta(archive: Archive) -> None:
    assert archive.tables() == ["observations", "products", "hipparcos"]
    assert archive.meta["format_version"] == str(FORMAT_VERSION)
    assert int(archive.meta["observations"]) == rows(
        archive, "SELECT count(*) AS n FROM observations")[0]["n"]
    assert archive.max_footprint_radius("observations") == pytest.approx(0.625, abs=1e-6)
    assert archive.schema("products") is PRODUCTS
    assert rows(archive, "SELECT count(*) AS n FROM hipparcos")[0]["n"] == 117_955


def test_observations_look_like_caom(archive: Archive) -> None:
    stats = rows(archive, """
        SELECT count(*) AS n, count(DISTINCT obsid) AS obsids, count(DISTINCT objID) AS objids,
               count(DISTINCT obs_id) AS obs_ids, min(obsid) AS lo,
               bool_and(obs_title LIKE '%' || ? ) AS marked,
               bool_and(t_min <= t_max AND t_max < t_obs_release) AS times,
               bool_and(em_min < em_max AND em_min = wave_min) AS bands,
               bool_and(calib_level BETWEEN 1 AND 4) AS levels,
               bool_and(s_ra >= 0 AND s_ra < 360 AND s_dec BETWEEN -90 AND 90) AS positions
        FROM observations""", [SYNTHETIC_MARKER])[0]
    assert stats["n"] == stats["obsids"] == stats["objids"] == stats["obs_ids"]
    assert stats["lo"] > 2_000_000_000
    assert stats["marked"] and stats["times"] and stats["bands"] and stats["levels"]
    assert stats["positions"]
    assert {r["obs_collection"] for r in rows(
        archive, "SELECT DISTINCT obs_collection FROM observations")} == MISSIONS
    by_instrument = {(r["obs_collection"], r["instrument_name"]) for r in rows(
        archive, "SELECT DISTINCT obs_collection, instrument_name FROM observations")}
    for pair in [("HST", "WFC3/UVIS"), ("HST", "ACS/WFC"), ("JWST", "NIRCAM/IMAGE"),
                 ("JWST", "MIRI/IMAGE"), ("TESS", "Photometer"), ("GALEX", "GALEX"),
                 ("SWIFT", "UVOT"), ("IUE", "SWP")]:
        assert pair in by_instrument
    shapes: dict[str, set[str]] = {}
    for r in rows(archive, "SELECT DISTINCT obs_collection AS c, split_part(s_region, ' ', 1) "
                           "|| ' ' || split_part(s_region, ' ', 2) AS k FROM observations"):
        shapes.setdefault(r["c"], set()).add(r["k"])
    for collection, kinds in shapes.items():
        allowed = {"GALEX": {"CIRCLE ICRS"}, "SWIFT": {"CIRCLE ICRS"}, "IUE": {"CIRCLE ICRS"},
                   "HST": {"POLYGON ICRS", "CIRCLE ICRS"}}.get(collection, {"POLYGON ICRS"})
        assert kinds <= allowed, collection
    galex = rows(archive, "SELECT DISTINCT regexp_extract(s_region, '\\S+$') AS r FROM "
                          "observations WHERE obs_collection = 'GALEX'")
    assert galex == [{"r": "0.625"}]
    famous = rows(archive, "SELECT count(*) AS n FROM observations WHERE target_name IN "
                           "('M101', 'NGC5457', 'M31', 'NGC224', 'M42', 'NGC1976')")[0]["n"]
    assert famous >= 20  # demos find things on the famous targets


def test_canonical_order_and_physical_order(archive: Archive) -> None:
    table = archive.execute("SELECT obs_collection, obsid, _row, _hpx FROM observations")
    hpx = table.column("_hpx").to_pylist()
    assert hpx == sorted(hpx)  # stored by HEALPix index: cones prune row groups
    ordered = sorted(table.to_pylist(), key=lambda r: r["_row"])
    assert [r["_row"] for r in ordered] == list(range(table.num_rows))
    keys = [(r["obs_collection"], r["obsid"]) for r in ordered]
    expected = rows(archive, "SELECT obs_collection, obsid FROM observations "
                             "ORDER BY obs_collection DESC, obsid")
    assert keys == [(r["obs_collection"], r["obsid"]) for r in expected]


def test_products_look_like_mast_s(archive: Archive) -> None:
    per_obs = rows(archive, """
        SELECT min(n) AS lo, max(n) AS hi, count(*) AS obs FROM
        (SELECT obsID, count(*) AS n FROM products GROUP BY 1)""")[0]
    assert per_obs["lo"] >= 2 and per_obs["hi"] <= 9
    assert per_obs["obs"] == rows(archive, "SELECT count(*) AS n FROM observations")[0]["n"]
    fits = rows(archive, """
        SELECT bool_and(size % 2880 = 0) AS blocks, min(size) AS lo, max(size) AS hi,
               bool_and(dataURI = 'mast:' || upper(obs_collection) || '/product/'
                        || productFilename) AS uris
        FROM products WHERE productFilename LIKE '%.fits'""")[0]
    assert fits["blocks"] and fits["uris"]
    assert fits["lo"] < 100_000 and fits["hi"] > 50_000_000
    # One file per URI: a URI shared by observations is the same file (JWST associations).
    files = rows(archive, """
        SELECT dataURI, count(DISTINCT obsID) AS owners, count(DISTINCT size) AS sizes,
               count(DISTINCT _seed) AS seeds FROM products GROUP BY 1""")
    assert all(f["sizes"] == f["seeds"] == 1 for f in files)
    shared = [f for f in files if f["owners"] > 1]
    assert shared and len(shared) < 0.01 * len(files)
    assert all(f["dataURI"].startswith("mast:JWST/") for f in shared)
    kinds = {r["productType"] for r in rows(archive, "SELECT DISTINCT productType FROM products")}
    assert {"SCIENCE", "AUXILIARY", "PREVIEW", "INFO"} <= kinds
    mrp = rows(archive, "SELECT count(*) AS n FROM products WHERE productGroupDescription = "
                        "'Minimum Recommended Products'")[0]["n"]
    assert mrp > 0
    links = rows(archive, """
        SELECT bool_and(o.dataURL IN (SELECT dataURI FROM products p WHERE p.obsID = o.obsid))
               AS data_ok
        FROM observations o""")[0]
    assert links["data_ok"]


# ----------------------------------------------------------------------------- building


@pytest.fixture(scope="module")
def catalogues(archive_path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding the session archive's real catalogues."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{archive_path}' AS src (READ_ONLY)")
    return con


def _generate(catalogues: duckdb.DuckDBPyConnection, n: int, seed: int) -> tuple[Any, Any]:
    con = duckdb.connect()
    for table in ("objects", "hipparcos"):
        con.register("t", catalogues.sql(f"SELECT * FROM src.{table}").to_arrow_table())
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM t")
        con.unregister("t")
    build_caom(con, n, seed)
    out = (con.sql("SELECT * FROM observations ORDER BY _row").to_arrow_table(),
           con.sql("SELECT * FROM products ORDER BY _row").to_arrow_table())
    con.close()
    return out


def test_generation_is_deterministic(catalogues: duckdb.DuckDBPyConnection) -> None:
    first = _generate(catalogues, 800, 5)
    again = _generate(catalogues, 800, 5)
    other = _generate(catalogues, 800, 6)
    assert first[0].equals(again[0]) and first[1].equals(again[1])
    assert not first[0].equals(other[0])
    assert first[0].num_rows == 800


def test_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "_load_catalogues", lambda con: None)

    def fail(con: Any, n: int, seed: int) -> None:
        con.execute("CREATE TABLE observations (x INTEGER)")
        raise KeyboardInterrupt

    monkeypatch.setattr("mastkit.server.demo.build_caom", fail)
    target = tmp_path / "a.duckdb"
    with pytest.raises(KeyboardInterrupt):
        build_archive(target, observations=10)
    assert list(tmp_path.iterdir()) == []


def _fake_build(calls: list[tuple[Path, int, int]]) -> Any:
    def build(path: Path, *, observations: int, seed: int) -> Path:
        calls.append((Path(path), observations, seed))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).unlink(missing_ok=True)
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
        con.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("format_version", str(FORMAT_VERSION)), ("observations", str(observations)),
            ("seed", str(seed))])
        con.close()
        return Path(path)
    return build


def test_ensure_archive_builds_once_then_reuses(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, int, int]] = []
    monkeypatch.setattr(archive_module, "build_archive", _fake_build(calls))
    path = ensure_archive(cache_dir=tmp_path)
    assert path == default_archive_path(tmp_path) == tmp_path / "archive" / path.name
    assert calls == [(path, 50_000, 0)]
    assert ensure_archive(cache_dir=tmp_path) == path and len(calls) == 1
    assert ensure_archive(path, observations=50_000, seed=0) == path and len(calls) == 1
    ensure_archive(path, observations=1000)  # another size: rebuilt
    assert calls[-1] == (path, 1000, 0)
    ensure_archive(path)  # no wish: whatever is there
    assert len(calls) == 2
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'format_version'")
    con.close()
    ensure_archive(path)  # an old format: rebuilt with its size
    assert calls[-1] == (path, 50_000, 0) and len(calls) == 3
    path.write_bytes(b"not a database")
    assert read_meta(path) is None
    ensure_archive(path, seed=3)
    assert calls[-1] == (path, 50_000, 3)


def test_default_path_follows_the_settings(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("MASTKIT_CACHE_DIR", str(tmp_path))
    assert default_archive_path() == tmp_path / "archive" / "mastkit-archive.duckdb"


# ----------------------------------------------------------------------------- the Archive


def test_archive_is_read_only_and_closes(archive_path: Path) -> None:
    db = Archive.open(archive_path)
    with pytest.raises(duckdb.Error):
        db.execute("DELETE FROM observations")
    db.close()
    with pytest.raises(MastError):
        db.execute("SELECT 1")
    db.close()  # twice is fine
    with pytest.raises(MastError):
        Archive.open(archive_path.parent / "missing" / "nothing.duckdb")


def test_archive_refuses_another_format(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta AS SELECT 'format_version' AS key, '0' AS value")
    con.close()
    with pytest.raises(MastError, match="format 0"):
        Archive.open(path)


def test_archive_serves_many_threads(archive: Archive) -> None:
    expected = {n: rows(archive, "SELECT count(*) AS c FROM observations WHERE calib_level = ?",
                        [n])[0]["c"] for n in (1, 2, 3, 4)}
    errors: list[BaseException] = []
    results: list[tuple[int, int]] = []

    def work(level: int) -> None:
        try:
            for _ in range(20):
                got = archive.execute("SELECT count(*) AS c FROM observations WHERE "
                                      "calib_level = ?", [level]).column(0)[0].as_py()
                results.append((level, got))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(1 + i % 4,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 160 and all(expected[level] == got for level, got in results)


def test_execute_returns_arrow(archive: Archive) -> None:
    table = archive.execute("SELECT ? AS a, ? AS b", [1, "x"])
    assert isinstance(table, pa.Table) and table.to_pylist() == [{"a": 1, "b": "x"}]


# ----------------------------------------------------------------------------- columns config


def test_columns_config_speaks_mast_s_vocabulary() -> None:
    sample = json.loads((FIXTURES / "columnsconfig.json").read_text())
    config = columns_config("Mast.Caom.Cone")
    assert list(config) == [*OBSERVATIONS.names, "distance"]
    assert [e["order"] for e in config.values()] == list(range(len(config)))
    for name, entry in config.items():
        assert {"text", "order", "vot.datatype", "vot.description"} <= set(entry)
        theirs = sample.get(name, {})
        if "vot.datatype" in theirs and theirs["vot.datatype"] != "string":
            assert entry["vot.datatype"] == theirs["vot.datatype"], name
        if "separator" in theirs:
            assert entry["separator"] == theirs["separator"]
        if "vot.unit" in theirs:
            assert entry["vot.unit"] == theirs["vot.unit"], name
    assert config["obs_collection"]["sort"] == "DESC"
    assert config["t_min"]["isMjd"] is True
    products = columns_config("mast.caom.products")
    assert list(products) == PRODUCTS.names and products["size"]["vot.unit"] == "byte"
    assert "distance" not in columns_config("Mast.Caom.Filtered")
    with pytest.raises(BadInputError):
        columns_config("Mast.Nothing")


def test_schema_column_lookup() -> None:
    assert OBSERVATIONS.column("OBS_COLLECTION").name == "obs_collection"
    assert "s_ra" in OBSERVATIONS and "_hpx" not in OBSERVATIONS
    with pytest.raises(BadInputError) as info:
        OBSERVATIONS.column("s_raa")
    assert "s_ra" in info.value.suggestions  # type: ignore[attr-defined]
    assert re.fullmatch(r"Invalid column name 's_raa'\.", str(info.value))
