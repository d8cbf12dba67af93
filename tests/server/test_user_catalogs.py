"""User catalogues: loading each format, serving them, bad files, and the archive left alone."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mastkit.errors import BadInputError
from mastkit.protocol import MashupRequest
from mastkit.server.archive import Archive
from mastkit.server.handlers import Context, columns_config, default_registry, execute
from mastkit.server.user_catalogs import (
    REGISTRY,
    add_catalog,
    catalogs_dir,
    read_registry,
    remove_catalog,
)

RNG = np.random.default_rng(11)
N = 500


@pytest.fixture
def target(tmp_path: Path, archive_path: Path) -> Path:
    """A private copy of the session's archive, to add catalogues to."""
    path = tmp_path / "archive" / "copy.duckdb"
    path.parent.mkdir()
    shutil.copy(archive_path, path)
    return path


def _stars() -> pa.Table:
    ra = RNG.uniform(100, 102, N)
    dec = RNG.uniform(-17, -15, N)
    return pa.table(
        {
            "name": [f"s{i}" for i in range(N)],
            "RAJ2000": ra,
            "DEJ2000": dec,
            "mag": RNG.uniform(5, 15, N).astype(np.float32),
            "flag": RNG.integers(0, 3, N).astype(np.int16),
            "big": RNG.integers(0, 2**40, N),
            "ok": RNG.integers(0, 2, N).astype(bool),
        }
    )


def _write(table: pa.Table, path: Path) -> Path:
    kind = path.suffix
    if kind == ".parquet":
        pq.write_table(table, path)
    elif kind == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        from astropy.table import Table

        t = Table(table.to_pydict())
        t["mag"].unit = "mag"
        t["mag"].description = "Brightness"
        t.write(path, format="fits" if kind == ".fits" else "votable")
    return path


def _run(db: Archive, service: str, data: Any = None, **params: Any) -> Any:
    _, handler = default_registry().resolve(service)
    return execute(
        handler, MashupRequest(service, params, data=data), Context(archive=db, row_limit=100_000)
    )


def _state(target: Path) -> tuple[str, list[str], str | None]:
    """The archive file's digest, the catalogue directory's files and the registry text."""
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    folder = catalogs_dir(target)
    files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    registry = (folder / REGISTRY).read_text() if (folder / REGISTRY).exists() else None
    return digest, files, registry


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".fits", ".vot"])
def test_each_format_is_served(target: Path, tmp_path: Path, suffix: str) -> None:
    source = _stars()
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    catalog = add_catalog(target, "Mine", _write(source, tmp_path / f"stars{suffix}"))
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before  # archive untouched
    assert (catalog.name, catalog.rows, catalog.schema.ra, catalog.schema.dec) == (
        "Mine",
        N,
        "RAJ2000",
        "DEJ2000",
    )
    with Archive.open(target) as db:
        assert db.catalogs()["mine"].user
        cone = _run(db, "Mast.Catalogs.mine.Cone", ra=101, dec=-16, radius=0.3)
        dist = np.hypot(
            (source["RAJ2000"].to_numpy() - 101) * np.cos(np.radians(16)),
            source["DEJ2000"].to_numpy() + 16,
        )
        want = {f"s{i}" for i in np.flatnonzero(dist < 0.299)}
        got = set(cone.table.column("name").to_pylist())
        assert want <= got and len(got) <= len(want) + 5
        assert cone.table.column_names[-1] == "dstArcSec"
        rows = _run(
            db,
            "Mast.Catalogs.Filtered.Mine.Rows",
            columns="name, mag, flag, ok",
            filters=[
                {"paramName": "flag", "values": ["2"]},
                {"paramName": "mag", "values": [{"min": 5, "max": 10}]},
            ],
        )
        flags, mags = source["flag"].to_numpy(), source["mag"].to_numpy()
        expected = [f"s{i}" for i in range(N) if flags[i] == 2 and 5 <= mags[i] <= 10]
        assert rows.table.column("name").to_pylist() == expected  # the file's row order
        declared = {f.name: f.type for f in rows.fields}
        assert declared == {"name": "string", "mag": "float", "flag": "int", "ok": "boolean"}
        match = _run(
            db,
            "Mast.Mine.Crossmatch",
            data={
                "fields": [{"name": "ra", "type": "float"}, {"name": "dec", "type": "float"}],
                "data": [
                    {
                        "ra": float(source["RAJ2000"][7].as_py()),
                        "dec": float(source["DEJ2000"][7].as_py()),
                    }
                ],
            },
            radius=1e-5,
        )
        assert match.table.column("name").to_pylist() == ["s7"]
        assert match.table.column("MatchID").to_pylist() == [7]
        assert match.table.column("big").to_pylist() == [source["big"][7].as_py()]
        config = columns_config(db, "Mast.Catalogs.Mine.Cone")
        assert list(config)[:3] == ["name", "RAJ2000", "DEJ2000"]
        assert config["RAJ2000"]["vot.unit"] == "deg"
        if suffix in (".fits", ".vot"):
            assert config["mag"]["vot.unit"] == "mag"
        histograms = _run(db, "Mast.Catalogs.All.Mine").table_properties
        assert (
            sum(b["count"] for b in histograms["continuousHistogram"]["mag"]["hist"]["hist"]) == N
        )


def test_null_positions_are_kept_but_never_match(target: Path, tmp_path: Path) -> None:
    table = pa.table({"ra": [10.0, None, 10.0], "dec": [5.0, 5.0, float("nan")], "id": [1, 2, 3]})
    add_catalog(target, "Holes", _write(table, tmp_path / "holes.parquet"))
    with Archive.open(target) as db:
        assert _run(db, "Mast.Catalogs.Filtered.Holes.Count").table.to_pylist() == [{"Column1": 3}]
        cone = _run(db, "Mast.Catalogs.Holes.Cone", ra=10, dec=5, radius=1)
        assert cone.table.column("id").to_pylist() == [1]


def _bad(
    target: Path,
    tmp_path: Path,
    make: Callable[[Path], Path],
    words: str,
    name: str = "Bad",
    **options: Any,
) -> None:
    before = _state(target)
    with pytest.raises(BadInputError, match=words):
        add_catalog(target, name, make(tmp_path), **options)
    assert _state(target) == before  # nothing written, nothing half-written


def _parquet(table: pa.Table, name: str = "t.parquet") -> Callable[[Path], Path]:
    return lambda folder: _write(table, folder / name)


def test_bad_files_leave_everything_unchanged(target: Path, tmp_path: Path) -> None:
    good = _parquet(_stars())
    add_catalog(target, "First", good(tmp_path))
    _bad(target, tmp_path, good, "already exists", name="FIRST")
    _bad(target, tmp_path, good, "reserved", name="Tic")
    _bad(target, tmp_path, good, "Invalid catalogue name", name="no good")

    def garbage(folder: Path) -> Path:
        (folder / "junk.parquet").write_bytes(b"PAR1 this is not parquet")
        return folder / "junk.parquet"

    _bad(target, tmp_path, garbage, "Cannot read junk.parquet as parquet")
    _bad(target, tmp_path, lambda folder: folder / "missing.csv", "No such file")

    def unknown(folder: Path) -> Path:
        (folder / "t.dat").write_text("ra,dec\n1,2\n")
        return folder / "t.dat"

    _bad(target, tmp_path, unknown, "--format")
    _bad(target, tmp_path, unknown, "Unknown format", fmt="excel")
    positions = pa.table({"x": [1.0], "y": [2.0]})
    _bad(target, tmp_path, _parquet(positions), "Found no RA column")
    _bad(target, tmp_path, _parquet(positions), "No column 'alpha'", ra="alpha", dec="y")
    _bad(target, tmp_path, _parquet(pa.table({"ra": ["1h"], "dec": [2.0]})), "not numeric")
    _bad(target, tmp_path, _parquet(pa.table({"ra": [1.0], "dec": [200.0]})), r"\[-90, 90\]")
    _bad(
        target,
        tmp_path,
        _parquet(
            pa.table(
                {"ra": [None, 1.0], "dec": [1.0, None]},
                pa.schema([("ra", pa.float64()), ("dec", pa.float64())]),
            )
        ),
        "usable position",
    )
    _bad(
        target,
        tmp_path,
        _parquet(pa.table({"ra": pa.array([], pa.float64()), "dec": pa.array([], pa.float64())})),
        "no rows",
    )
    _bad(
        target,
        tmp_path,
        _parquet(pa.table({"ra": [1.0], "dec": [1.0], "B-V": [0.5]})),
        "rename 'B-V'",
    )
    _bad(
        target,
        tmp_path,
        _parquet(pa.table({"ra": [1.0], "dec": [1.0], "Mag": [1], "mag": [2]})),
        "differ only in case",
    )
    _bad(
        target,
        tmp_path,
        _parquet(pa.table({"ra": [1.0], "dec": [1.0], "dstArcSec": [1.0]})),
        "separation",
    )
    _bad(
        target,
        tmp_path,
        _parquet(pa.table({"ra": [1.0], "dec": [1.0], "v": [[1, 2]]})),
        "cannot hold",
    )
    _bad(
        target,
        tmp_path,
        _parquet(pa.table({"ra": [1.0], "dec": [1.0]})),
        "same column",
        ra="ra",
        dec="RA",
    )

    def vector_fits(folder: Path) -> Path:
        from astropy.table import Table

        Table({"ra": [1.0], "dec": [2.0], "spec": [[1.0, 2.0, 3.0]]}).write(folder / "v.fits")
        return folder / "v.fits"

    _bad(target, tmp_path, vector_fits, "holds arrays")
    assert [u.catalog.name for u in read_registry(target)] == ["First"]


def test_remove_and_broken_files(
    target: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_catalog(target, "Alpha", _parquet(_stars())(tmp_path))
    add_catalog(target, "Beta", _parquet(_stars(), "b.parquet")(tmp_path))
    (catalogs_dir(target) / "beta.duckdb").write_bytes(b"not a database")
    with caplog.at_level(logging.WARNING), Archive.open(target) as db:
        assert "alpha" in db.catalogs() and "beta" not in db.catalogs()
    assert "Beta" in caplog.text
    remove_catalog(target, "ALPHA")
    assert not (catalogs_dir(target) / "alpha.duckdb").exists()
    with pytest.raises(BadInputError, match="no user catalogue"):
        remove_catalog(target, "Alpha")
    (catalogs_dir(target) / REGISTRY).write_text("{broken")
    with caplog.at_level(logging.WARNING), Archive.open(target) as db:
        assert set(db.catalogs()) == {"tic", "hipparcos"}
    assert "unreadable" in caplog.text


def test_rebuild_keeps_user_catalogues(target: Path, tmp_path: Path) -> None:
    from mastkit.server.archive import build_archive

    add_catalog(target, "Kept", _parquet(_stars())(tmp_path))
    build_archive(target, observations=50, seed=3)
    with Archive.open(target) as db:
        assert db.meta["observations"] == "50"
        assert _run(db, "Mast.Catalogs.Filtered.Kept.Count").table.to_pylist() == [{"Column1": N}]


def test_tampered_registry_entries_are_skipped(
    target: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    add_catalog(target, "Good", _parquet(_stars())(tmp_path))
    add_catalog(target, "Evil", _parquet(_stars(), "e.parquet")(tmp_path))
    path = catalogs_dir(target) / REGISTRY
    payload = json.loads(path.read_text())
    evil = next(e for e in payload["catalogs"] if e["name"] == "Evil")
    evil["columns"][0]["name"] = 'name" FROM x; --'
    escape = dict(payload["catalogs"][0], name="Escape", file="../copy.duckdb")
    payload["catalogs"].append(escape)
    path.write_text(json.dumps(payload))
    with caplog.at_level(logging.WARNING):
        found = [u.catalog.name for u in read_registry(target)]
    assert found == ["Good"]
    assert "malformed" in caplog.text and "missing" in caplog.text


def test_concurrent_additions_all_register(target: Path, tmp_path: Path) -> None:
    """Runs at once each read and rewrite the registry: the lock keeps every entry."""
    from concurrent.futures import ThreadPoolExecutor

    source = _write(_stars(), tmp_path / "stars.parquet")
    names = [f"Cat{i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: add_catalog(target, n, source), names))
    registered = sorted(entry.catalog.name for entry in read_registry(target))
    assert registered == sorted(names)
    files = sorted(p.name for p in catalogs_dir(target).glob("*.duckdb"))
    assert files == sorted(f"{n.lower()}.duckdb" for n in names)


def test_one_name_added_twice_at_once_registers_once(target: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    source = _write(_stars(), tmp_path / "stars.parquet")

    def attempt(_: int) -> str:
        try:
            add_catalog(target, "Twin", source)
        except BadInputError as exc:
            return str(exc)
        return "added"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes.count("added") == 1
    assert all("Twin" in o or "twin" in o for o in outcomes if o != "added")
    assert [entry.catalog.name for entry in read_registry(target)] == ["Twin"]
