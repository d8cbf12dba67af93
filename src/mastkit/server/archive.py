"""The local archive: one DuckDB file holding real catalogues and the synthetic CAOM tables.

Tables: ``objects`` and ``identifiers`` (OpenNGC), ``hipparcos`` (Hipparcos 2), ``tic`` (the
TIC-shaped catalogue derived from it, :mod:`mastkit.server.loaders.tic`),
``observations`` and ``products`` (synthetic CAOM, see :mod:`mastkit.server.demo`),
``product_uris`` (products by a hash of their URI, see :data:`URI_KEY`) and ``meta`` (build
parameters, :data:`FORMAT_VERSION` and ``build_id``, a random id of the build).

Beside the file, the product index (``<stem>.products.arrow``, see
:mod:`mastkit.server.product_index`) answers product lists without a scan. It is written by the
build before the archive is renamed into place and names the archive's ``build_id``, so a file
that does not belong to the archive (a crash between the two renames, an older file) is never
used: :class:`Archive` then answers by SQL, and :func:`ensure_archive` writes the index again.
The rendered rows of ``observations`` and ``products`` (``<stem>.<table>.rows.arrow``, see
:mod:`mastkit.server.row_texts`) are written and checked the same way; without them json pages
are rendered from columns.

:func:`build_archive` writes a new file atomically (build in a temporary file next to the target,
then rename), so an interrupted build never leaves a partial archive; :func:`ensure_archive`
builds on first use and rebuilds when the format changed (and rewrites a missing or
stale product index). :class:`Archive` opens a file
read-only and gives each thread its own DuckDB cursor.

User catalogues live beside the archive file, never in it (:mod:`mastkit.server.user_catalogs`):
:class:`Archive` attaches them read-only when it opens, and a rebuild keeps them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mastkit.errors import MastError
from mastkit.server.catalogs import BUILTIN, Catalog
from mastkit.server.product_index import (
    IndexUnusable,
    ProductIndex,
    index_path,
    read_build_id,
    write_index,
)
from mastkit.server.row_texts import (
    RowTexts,
    TextsUnusable,
    read_texts_build_id,
    texts_path,
    write_row_texts,
)
from mastkit.server.schema import OBSERVATIONS, PRODUCTS, TABLES, TableSchema, get_schema

__all__ = [
    "DEFAULT_OBSERVATIONS",
    "FORMAT_VERSION",
    "URI_KEY",
    "Archive",
    "build_archive",
    "default_archive_path",
    "ensure_archive",
    "read_meta",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # bump whenever tables, columns or the generator change
DEFAULT_OBSERVATIONS = 50_000
#: Tables whose rows are kept rendered beside the archive (:mod:`mastkit.server.row_texts`).
RENDERED: tuple[TableSchema, ...] = (OBSERVATIONS, PRODUCTS)
_FILENAME = "mastkit-archive.duckdb"
_ROW_GROUP = 16_384
_BUILD_MEMORY = "2GB"
_PARSED = 256  # parsed statements kept per cursor
#: SQL of the lookup key of a product URI (``{}`` is the URI): 63 bits of its MD5, which any
#: DuckDB computes alike, so the keys stored at build match the ones computed at query time.
URI_KEY = "CAST(md5_number({}) >> 65 AS BIGINT)"


def _sql_text(value: object) -> str:
    """A string for a SQL literal (paths in ATTACH/SET, which take no parameters)."""
    return str(value).replace("'", "''")


def default_archive_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the local archive lives: ``<cache_dir>/archive/mastkit-archive.duckdb``.

    Parameters
    ----------
    cache_dir : path-like, optional
        mastkit's cache root; the settings' ``cache_dir`` (``MASTKIT_CACHE_DIR``) by default.
    """
    if cache_dir is None:
        from mastkit._settings import Settings

        cache_dir = Settings.from_env().cache_dir
    return Path(cache_dir) / "archive" / _FILENAME


def _load_catalogues(con: duckdb.DuckDBPyConnection) -> None:
    from mastkit.server.geometry import hpx_index
    from mastkit.server.loaders.hipparcos import read_hipparcos
    from mastkit.server.loaders.openngc import read_openngc
    from mastkit.server.loaders.tic import view_sql

    objects, identifiers = read_openngc()
    hip = read_hipparcos()
    hip = hip.append_column(
        "_hpx", pa.array(hpx_index(hip.column("ra").to_numpy(), hip.column("dec").to_numpy())))
    for name, table in (("objects", objects), ("identifiers", identifiers), ("hip", hip)):
        con.register(f"_{name}", table)
    con.execute("CREATE TABLE objects AS SELECT * FROM _objects ORDER BY name")
    # Sorted by key, so a lookup touches one row group.
    con.execute("CREATE TABLE identifiers AS SELECT * FROM _identifiers ORDER BY key, name")
    con.execute("CREATE TABLE hipparcos AS SELECT *, HIP - 1 AS _row FROM _hip ORDER BY _hpx")
    con.execute(view_sql("hipparcos", "tic"))
    for name in ("objects", "identifiers", "hip"):
        con.unregister(f"_{name}")


def build_archive(
    path: str | os.PathLike[str], *, observations: int = DEFAULT_OBSERVATIONS, seed: int = 0
) -> Path:
    """Build the archive file at ``path`` (replacing any file there) and return its path.

    Parameters
    ----------
    path : path-like
    observations : int
        Number of synthetic CAOM observations.
    seed : int
        Seed of the synthetic data: the same seed and size give the same archive.
    """
    from mastkit.server.demo import build_caom

    if observations <= 0:
        raise ValueError(f"observations must be > 0, got {observations}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    spill = tmp.with_name(tmp.name + ".spill")
    build_id = uuid.uuid4().hex
    started = time.perf_counter()
    try:
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            # Bounded memory, spilling next to the archive: the 1M build peaks near 3 GB
            # (half of it numpy's) instead of letting DuckDB take most of the machine.
            con.execute(f"SET memory_limit = '{_BUILD_MEMORY}'")
            con.execute(f"SET temp_directory = '{_sql_text(spill)}'")
            # Row groups of 16k rows (default 122k): finer zone maps, so a cone reads less.
            con.execute(f"ATTACH '{_sql_text(tmp)}' AS archive (ROW_GROUP_SIZE {_ROW_GROUP})")
            con.execute("USE archive")
            _load_catalogues(con)
            build_caom(con, observations, seed)
            # Product files are looked up by URI: keys sorted, so zone maps find one row group.
            con.execute(f"CREATE TABLE product_uris AS SELECT {URI_KEY.format('dataURI')} AS key, "
                        "_row FROM products ORDER BY key, _row")
            max_fp = con.sql("SELECT max(_fp_radius) FROM observations").fetchall()[0]
            meta = {
                "format_version": str(FORMAT_VERSION),
                "observations": str(observations),
                "seed": str(seed),
                "max_fp_radius.observations": repr(float(max_fp[0] if max_fp else 0.0)),
                "max_fp_radius.hipparcos": "0.0",
                "built_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "duckdb_version": duckdb.__version__,
                "build_id": build_id,
            }
            con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
            con.execute("CHECKPOINT")
            # Before the archive takes its name: a crash in between pairs the old archive with
            # the new index, whose build id then differs (ignored, and written again).
            if not write_index(con, index_path(path), build_id):
                log.warning("products are not stored by observation: no product index")
            for schema in RENDERED:
                if not write_row_texts(con, schema, texts_path(path, schema.name), build_id):
                    log.warning("%s rows are not numbered 0..n-1: no rendered rows", schema.name)
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        shutil.rmtree(spill, ignore_errors=True)
    log.info("built %s (%d observations) in %.1f s", path, observations,
             time.perf_counter() - started)
    return path


def read_meta(path: str | os.PathLike[str]) -> dict[str, str] | None:
    """The ``meta`` table of the archive at ``path``, or None if it is not a usable archive."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.Error, OSError):
        return None
    try:
        return dict(con.sql("SELECT key, value FROM meta").fetchall())
    except duckdb.Error:
        return None
    finally:
        con.close()


def ensure_archive(
    path: str | os.PathLike[str] | None = None,
    *,
    observations: int | None = None,
    seed: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The path of a ready archive: built on first use, reused after.

    It is rebuilt when the file's format version is not :data:`FORMAT_VERSION`, or when
    ``observations`` or ``seed`` are given and differ from the file's.

    Parameters
    ----------
    path : path-like, optional
        Defaults to :func:`default_archive_path` of ``cache_dir``.
    observations : int, optional
        Size of a new build (default :data:`DEFAULT_OBSERVATIONS`).
    seed : int, optional
        Seed of a new build (default 0).
    cache_dir : path-like, optional
    """
    target = Path(path) if path is not None else default_archive_path(cache_dir)
    meta = read_meta(target) if target.exists() else None
    if (
        meta is not None
        and meta.get("format_version") == str(FORMAT_VERSION)
        and (observations is None or meta.get("observations") == str(observations))
        and (seed is None or meta.get("seed") == str(seed))
    ):
        _ensure_index(target, meta)
        return target
    return build_archive(
        target,
        observations=DEFAULT_OBSERVATIONS if observations is None else observations,
        seed=0 if seed is None else seed,
    )


def _ensure_index(path: Path, meta: Mapping[str, str]) -> None:
    """Write the product index and rendered rows of the archive at ``path`` if missing or stale.

    A failure is logged, not raised: without them the archive still answers, more slowly.
    """
    build_id = meta.get("build_id")
    if not build_id:
        return
    index_stale = read_build_id(index_path(path)) != build_id
    stale = [s for s in RENDERED if read_texts_build_id(texts_path(path, s.name)) != build_id]
    if not index_stale and not stale:
        return
    log.info("writing the side files of %s", path)
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            con.execute("SET enable_progress_bar = false")
            if index_stale and not write_index(con, index_path(path), build_id):
                log.warning("products of %s are not stored by observation: no product index",
                            path)
            for schema in stale:
                if not write_row_texts(con, schema, texts_path(path, schema.name), build_id):
                    log.warning("%s rows of %s are not numbered 0..n-1: no rendered rows",
                                schema.name, path)
        finally:
            con.close()
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        log.warning("cannot write the side files of %s: %s", path, exc)


class _Cursor:
    """One thread's DuckDB cursor, with the parsed form of the statements it ran lately.

    The server sends the same few statement texts over and over (a cone's text varies only in
    its number of HEALPix ranges); parsing one again costs about a millisecond, a dictionary
    look-up nothing. A parsed statement is only reused on the cursor that parsed it.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self._parsed: dict[str, duckdb.Statement | str] = {}

    def _statement(self, sql: str) -> duckdb.Statement | str:
        statement = self._parsed.get(sql)
        if statement is None:
            statements = self.connection.extract_statements(sql)
            statement = statements[0] if len(statements) == 1 else sql
            if len(self._parsed) >= _PARSED:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[sql] = statement
        return statement

    def run(self, sql: str, params: Sequence[Any],
            tables: Mapping[str, pa.Table] | None = None) -> pa.Table:
        values = list(params) if params else None
        if not tables:
            relation = self.connection.sql(self._statement(sql), params=values)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        # Registered views belong to this thread's connection alone: no other query sees them.
        for name, table in tables.items():
            self.connection.register(name, table)
        try:
            relation = self.connection.sql(sql, params=values)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        finally:
            for name in tables:
                self.connection.unregister(name)


class Archive:
    """A read-only archive file; safe to query from many threads (one cursor per thread).

    Use :meth:`open`, then :meth:`execute`; :meth:`close` when done (or ``with``).
    """

    def __init__(self, path: Path, connection: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self._con: duckdb.DuckDBPyConnection | None = connection
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._index: ProductIndex | None = None
        self._index_checked = False
        self._texts: dict[str, RowTexts | None] = {}
        self.meta: dict[str, str] = dict(connection.sql("SELECT key, value FROM meta").fetchall())
        self._tables = {r[0] for r in connection.sql("SHOW TABLES").fetchall()}
        self._columns: dict[str, frozenset[str]] = {}
        for table, column in connection.sql(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = "
            "current_database() AND schema_name = 'main'"
        ).fetchall():
            self._columns[table] = self._columns.get(table, frozenset()) | {column}
        self._catalogs: dict[str, Catalog] = {
            c.key: c for c in BUILTIN if c.schema.name in self._tables
        }
        self._attach_user_catalogs(connection)

    def _attach_user_catalogs(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Attach the user catalogues registered beside the file (a bad one is skipped)."""
        from mastkit.server.user_catalogs import read_registry

        try:
            registered = read_registry(self.path)
        except MastError as exc:
            log.warning("%s", exc)
            return
        for user in registered:
            catalog = user.catalog
            if catalog.key in self._catalogs:
                log.warning("user catalogue %s hides nothing: a catalogue of that name exists",
                            catalog.name)
                continue
            alias = catalog.schema.name.split(".")[0]  # ucat_<name>, from a validated name
            try:
                connection.execute(f"ATTACH '{_sql_text(user.path)}' AS {alias} (READ_ONLY)")
            except duckdb.Error as exc:
                log.warning("cannot open user catalogue %s (%s): %s", catalog.name, user.path,
                            exc)
                continue
            self._catalogs[catalog.key] = catalog

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Archive:
        """Open the archive file at ``path`` read-only.

        Raises
        ------
        MastError
            If the file is missing, not an archive, or of another format version.
        """
        try:
            con = duckdb.connect(str(path), read_only=True)
        except (duckdb.Error, OSError) as exc:
            raise MastError(f"Cannot open the archive {path}: {exc}") from exc
        try:
            archive = cls(Path(path), con)
        except duckdb.Error as exc:
            con.close()
            raise MastError(f"{path} is not a mastkit archive: {exc}") from exc
        version = archive.meta.get("format_version")
        if version != str(FORMAT_VERSION):
            archive.close()
            raise MastError(f"{path} has archive format {version}, not {FORMAT_VERSION}: "
                            "rebuild it (ensure_archive does)")
        return archive

    def _cursor(self) -> _Cursor:
        cursor: _Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:
                if self._con is None:
                    raise MastError("The archive is closed")
                connection = self._con.cursor()
                # A long query must not draw a progress bar on a server's terminal.
                connection.execute("SET enable_progress_bar = false")
                cursor = _Cursor(connection)
                self._cursors.append(connection)
            self._local.cursor = cursor
        return cursor

    def execute(self, sql: str, params: Sequence[Any] = (), *,
                tables: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Run one parameterised statement on this thread's cursor.

        Parameters
        ----------
        sql : str
            SQL with ``?`` placeholders.
        params : sequence
            Their values.
        tables : mapping, optional
            Arrow tables the statement reads, by the (fixed, code-given) names it uses for
            them: visible to this statement only (crossmatch uploads).

        Returns
        -------
        pyarrow.Table
        """
        if self._con is None:
            raise MastError("The archive is closed")
        return self._cursor().run(sql, params, tables)

    def tables(self) -> list[str]:
        """Queryable tables of this archive (those with a schema)."""
        return [name for name in TABLES if name in self._tables]

    def catalogs(self) -> dict[str, Catalog]:
        """The catalogues served, by case-folded name: built-in ones, then users' ones."""
        return dict(self._catalogs)

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` stores ``column`` (internal ones too, such as ``_fp``)."""
        return column in self._columns.get(table, frozenset())

    def schema(self, table: str) -> TableSchema:
        """Column metadata of ``table`` (see :mod:`mastkit.server.schema`)."""
        return get_schema(table)

    def product_index(self) -> ProductIndex | None:
        """The memory-mapped product index, or None when the archive has none it can trust.

        Opened on first use (the file's footer and its ``obsID`` pages only) and checked
        against this archive: its build, columns, types and row count (see
        :meth:`mastkit.server.product_index.ProductIndex.open`). None means: answer by SQL.
        """
        if self._index_checked:
            return self._index
        with self._index_lock:
            if not self._index_checked:
                self._index = self._open_index()
                self._index_checked = True
        return self._index

    def _open_index(self) -> ProductIndex | None:
        from mastkit.server.schema import PRODUCTS

        build_id = self.meta.get("build_id")
        if not build_id or "products" not in self._tables:
            return None
        columns = ", ".join(f'"{n}"' for n in PRODUCTS.names)
        expected = self.execute(f"SELECT {columns} FROM products WHERE false").schema
        rows = self.execute("SELECT count(*) FROM products").column(0)[0].as_py()
        try:
            return ProductIndex.open(index_path(self.path), build_id, expected, rows)
        except IndexUnusable as exc:
            log.warning("product lists are answered by SQL (slower): %s", exc)
            return None

    def row_texts(self, table: str) -> RowTexts | None:
        """The rendered rows of ``table`` (``observations``, ``products``), or None.

        Mapped on first use and checked against this archive (build, columns, row count; see
        :meth:`mastkit.server.row_texts.RowTexts.open`). None means: render from columns.
        """
        if table in self._texts:
            return self._texts[table]
        with self._index_lock:
            if table not in self._texts:
                self._texts[table] = self._open_texts(table)
        return self._texts[table]

    def _open_texts(self, table: str) -> RowTexts | None:
        build_id = self.meta.get("build_id")
        schema = next((s for s in RENDERED if s.name == table), None)
        if not build_id or schema is None or table not in self._tables:
            return None
        rows = self.execute(f"SELECT count(*) FROM {schema.name}").column(0)[0].as_py()
        try:
            return RowTexts.open(texts_path(self.path, table), schema, build_id, rows)
        except TextsUnusable as exc:
            log.warning("%s pages are rendered from columns (slower): %s", table, exc)
            return None

    def max_footprint_radius(self, table: str) -> float:
        """Largest footprint radius (deg) in ``table``; cone searches widen by it."""
        return float(self.meta.get(f"max_fp_radius.{table}", "0.0"))

    def close(self) -> None:
        """Close every cursor and the connection; later calls fail with MastError."""
        with self._lock:
            for cursor in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self._cursors.clear()
            with self._index_lock:
                self._index, self._index_checked = None, True
                # Closed: no more look-ups (results still holding rows keep their mapping).
                self._texts = {schema.name: None for schema in RENDERED}
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
