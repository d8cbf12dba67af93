"""Catalogues users add to the local archive (``mastkit archive add-catalog``).

Adding a catalogue never touches the archive file. Each catalogue is its own small DuckDB file
in a directory beside the archive (``<archive stem>.catalogs/``), listed in a registry file
there (``catalogs.json``); both are written to a temporary file first and renamed into place,
so a failed or interrupted addition leaves everything as it was. :class:`Archive` attaches the
registered files read-only when it opens, and an archive rebuild (which replaces only the
archive file) keeps them.

A catalogue is read from Parquet, CSV, FITS or VOTable; its RA/Dec columns (given, or found by
their usual names) must be numeric, in degrees. Each row gets a HEALPix index (``_hpx``) and the
rows are stored sorted by it, as the built-in catalogues are, so cones and crossmatches read few
row groups; ``_row`` keeps the file's row order, the canonical order of results.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: registry changes are not serialised
    fcntl = None  # type: ignore[assignment]

from mastkit.errors import BadInputError, MastError
from mastkit.server.catalogs import SEPARATION, Catalog, check_catalog_name
from mastkit.server.schema import Column, TableSchema

__all__ = [
    "FORMATS",
    "REGISTRY",
    "UserCatalog",
    "add_catalog",
    "catalogs_dir",
    "read_registry",
    "read_source",
    "remove_catalog",
]

log = logging.getLogger(__name__)

REGISTRY = "catalogs.json"
_REGISTRY_VERSION = 1
#: Held while the registry changes (see :func:`_registry_lock`).
_LOCK_FILE = ".lock"
#: File formats and the suffixes that imply them.
FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv",),
    "fits": (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz"),
    "votable": (".vot", ".votable", ".xml"),
}
_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_RA_NAMES = (
    "ra",
    "ra_deg",
    "radeg",
    "raj2000",
    "_raj2000",
    "ra_icrs",
    "ra_j2000",
    "s_ra",
    "alpha_j2000",
)
_DEC_NAMES = (
    "dec",
    "dec_deg",
    "dedeg",
    "decdeg",
    "dej2000",
    "_dej2000",
    "decj2000",
    "de_icrs",
    "dec_icrs",
    "dec_j2000",
    "s_dec",
    "delta_j2000",
)


@dataclass(frozen=True, slots=True)
class UserCatalog:
    """A registered user catalogue: its description and its file."""

    catalog: Catalog
    path: Path
    source: str


def catalogs_dir(archive_path: str | os.PathLike[str]) -> Path:
    """The directory holding the user catalogues of the archive at ``archive_path``."""
    path = Path(archive_path)
    return path.with_name(f"{path.stem}.catalogs")


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# ------------------------------------------------------------------------------ the registry


_TYPES = {
    ("int", "INTEGER"),
    ("int", "BIGINT"),
    ("float", "DOUBLE"),
    ("string", "VARCHAR"),
    ("boolean", "BOOLEAN"),
}


def _column_from(entry: dict[str, Any]) -> Column:
    # The registry is a file on disk: its names reach SQL, so they are checked again here.
    if not _COLUMN.match(str(entry["name"])):
        raise ValueError(f"bad column name {entry['name']!r}")
    if (entry["mast_type"], entry["duckdb_type"]) not in _TYPES:
        raise ValueError(f"bad column type {entry['mast_type']!r}/{entry['duckdb_type']!r}")
    return Column(
        str(entry["name"]),
        entry["mast_type"],
        str(entry["duckdb_type"]),
        str(entry.get("text") or entry["name"]),
        str(entry.get("description") or ""),
        entry.get("unit") or None,
    )


def _catalog_from(entry: dict[str, Any]) -> Catalog:
    name = str(entry["name"])
    schema = TableSchema(
        name=f"ucat_{name.lower()}.catalog",
        columns=tuple(_column_from(c) for c in entry["columns"]),
        order="the row order of the file it was loaded from",
        ra=str(entry["ra"]),
        dec=str(entry["dec"]),
    )
    if schema.ra not in schema.names or schema.dec not in schema.names:
        raise ValueError("the position columns are not among the columns")
    title = f"User catalogue from {entry.get('source', '?')}"
    return Catalog(
        name,
        schema,
        title,
        (f"Mast.Catalogs.{name}.Cone", f"Mast.Catalogs.Filtered.{name}"),
        user=True,
        rows=int(entry.get("rows", 0)),
    )


def _read_entries(directory: Path) -> list[dict[str, Any]]:
    path = directory / REGISTRY
    if not path.exists():
        return []
    try:
        payload = json.loads(path.read_text("utf-8"))
        entries = payload["catalogs"]
        if payload.get("version") != _REGISTRY_VERSION or not isinstance(entries, list):
            raise ValueError(f"unsupported registry version {payload.get('version')!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MastError(f"The catalogue registry {path} is unreadable: {exc}") from exc
    return [e for e in entries if isinstance(e, dict)]


def read_registry(archive_path: str | os.PathLike[str]) -> list[UserCatalog]:
    """The user catalogues registered beside the archive at ``archive_path``.

    Entries whose file is missing are skipped (with a warning in the log).

    Raises
    ------
    MastError
        If the registry file exists but cannot be read.
    """
    directory = catalogs_dir(archive_path)
    found = []
    for entry in _read_entries(directory):
        try:
            catalog = _catalog_from(entry)
            check_catalog_name(catalog.name)
            path = directory / str(entry["file"])
        except (KeyError, TypeError, ValueError, BadInputError) as exc:
            log.warning("skipping a malformed catalogue entry in %s: %s", directory, exc)
            continue
        if path.parent != directory or not path.exists():
            log.warning("catalogue %s: its file %s is missing", catalog.name, path)
            continue
        found.append(UserCatalog(catalog, path, str(entry.get("source", ""))))
    return found


@contextlib.contextmanager
def _registry_lock(directory: Path) -> Iterator[None]:
    """Hold the catalogue directory's lock: one change of the registry at a time.

    Two ``add-catalog`` runs at once would otherwise each write the registry as they read it,
    and the second would drop the first one's entry. An advisory ``flock`` on a lock file in
    the directory (released by the system if the process dies); on systems without ``fcntl``
    (Windows) changes are not serialised.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / _LOCK_FILE, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_entries(directory: Path, entries: list[dict[str, Any]]) -> None:
    payload = {"version": _REGISTRY_VERSION, "catalogs": entries}
    _atomic_write(directory / REGISTRY, json.dumps(payload, indent=1).encode("utf-8"))


# ------------------------------------------------------------------------------ reading files


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            raise BadInputError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
        return fmt.lower()
    name = path.name.lower()
    for kind, suffixes in FORMATS.items():
        if name.endswith(suffixes):
            return kind
    raise BadInputError(
        f"Cannot tell the format of {path.name!r} from its name; give it with --format "
        f"({', '.join(FORMATS)})."
    )


def _from_astropy(table: Any) -> tuple[pa.Table, dict[str, tuple[str | None, str | None]]]:
    """An astropy table as Arrow (masked values null), with each column's unit and description."""
    table.convert_bytestring_to_unicode()
    arrays = {}
    meta: dict[str, tuple[str | None, str | None]] = {}
    for name in table.colnames:
        col = table[name]
        if col.ndim > 1:
            raise BadInputError(
                f"Column {name!r} holds arrays ({col.shape[1:]} per row); only scalar "
                "columns can be loaded."
            )
        values = np.asarray(col)
        if values.dtype.byteorder not in ("=", "|"):  # FITS is big-endian; Arrow wants native
            values = values.astype(values.dtype.newbyteorder("="))
        mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)), dtype=bool)
        if values.dtype.kind == "U":
            arrays[name] = pa.array(values.tolist(), pa.string(), mask=mask if mask.any() else None)
        else:
            arrays[name] = pa.array(values, mask=mask if mask.any() else None)
        unit = str(col.unit) if getattr(col, "unit", None) is not None else None
        meta[name] = (unit, getattr(col, "description", None) or None)
    return pa.table(arrays), meta


def read_source(
    path: str | os.PathLike[str], fmt: str | None = None
) -> tuple[pa.Table, dict[str, tuple[str | None, str | None]]]:
    """Read a table file for :func:`add_catalog`.

    Parameters
    ----------
    path : path-like
    fmt : {"parquet", "csv", "fits", "votable"}, optional
        Inferred from the file name when not given.

    Returns
    -------
    table : pyarrow.Table
    meta : dict
        Column name -> (unit, description) where the file says them (FITS, VOTable).

    Raises
    ------
    BadInputError
        If the file is missing, of an unknown format, or cannot be read as that format.
    """
    source = Path(path)
    if not source.is_file():
        raise BadInputError(f"No such file: {source}")
    kind = _format_of(source, fmt)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(source), {}
        if kind == "csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(source), {}
        import warnings

        from astropy.table import Table

        with warnings.catch_warnings():
            # VOTable/FITS readers warn about harmless oddities (units, W-codes).
            warnings.simplefilter("ignore")
            return _from_astropy(Table.read(source, format="fits" if kind == "fits" else kind))
    except BadInputError:
        raise
    except Exception as exc:  # any reader failure is the file's fault
        raise BadInputError(
            f"Cannot read {source.name} as {kind}: {type(exc).__name__}: {exc}"
        ) from exc


# ------------------------------------------------------------------------------ columns


def _storage(name: str, dtype: pa.DataType) -> tuple[str, str, pa.DataType]:
    """(MAST type, DuckDB type, Arrow type to store) of a source column."""
    if pa.types.is_dictionary(dtype):
        return _storage(name, dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "boolean", "BOOLEAN", pa.bool_()
    if pa.types.is_integer(dtype):
        if dtype.bit_width < 32 or dtype in (pa.int32(),):
            return "int", "INTEGER", pa.int32()
        return "int", "BIGINT", pa.int64()
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "float", "DOUBLE", pa.float64()
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_temporal(dtype):
        return "string", "VARCHAR", pa.string()
    raise BadInputError(
        f"Column {name!r} has type {dtype}, which a catalogue cannot hold (numbers, text, "
        "booleans and dates only)."
    )


def _check_names(names: Sequence[str]) -> None:
    bad = [n for n in names if not _COLUMN.match(n)]
    if bad:
        raise BadInputError(
            f"Column names must be a letter followed by letters, digits or underscores; "
            f"rename {', '.join(repr(n) for n in bad[:10])}."
        )
    seen: dict[str, str] = {}
    for n in names:
        if n.lower() == SEPARATION.name.lower():
            raise BadInputError(
                f"Column {n!r} would hide the separation column services append; rename it."
            )
        if n.lower() in seen:
            raise BadInputError(f"Columns {seen[n.lower()]!r} and {n!r} differ only in case.")
        seen[n.lower()] = n


def _find(names: Sequence[str], given: str | None, usual: Sequence[str], what: str) -> str:
    by_lower = {n.lower(): n for n in names}
    if given is not None:
        found = by_lower.get(given.strip().lower())
        if found is None:
            raise BadInputError(
                f"No column {given!r} for {what} in the file; its columns are {', '.join(names)}."
            )
        return found
    for candidate in usual:
        if candidate in by_lower:
            return by_lower[candidate]
    option = "--ra" if what == "RA" else "--dec"
    raise BadInputError(
        f"Found no {what} column (looked for {', '.join(usual[:6])}, ...); name it with {option}."
    )


def _coordinates(table: pa.Table, ra: str, dec: str) -> tuple[np.ndarray, np.ndarray]:
    values = []
    for name, what in ((ra, "RA"), (dec, "Dec")):
        dtype = table.schema.field(name).type
        if not (
            pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
        ):
            raise BadInputError(
                f"The {what} column {name!r} is not numeric ({dtype}); "
                "positions must be decimal degrees."
            )
        values.append(pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False))
    ra_deg, dec_deg = values
    usable = np.isfinite(ra_deg) & np.isfinite(dec_deg)
    if not usable.any():
        raise BadInputError("No row has a usable position (RA and Dec are all null or NaN).")
    outside = usable & ((dec_deg < -90.0) | (dec_deg > 90.0))
    if outside.any():
        raise BadInputError(
            f"{int(outside.sum())} rows have a Dec outside [-90, 90] degrees "
            f"(column {dec!r}): are the positions in degrees?"
        )
    return ra_deg, dec_deg


def _prepare(
    table: pa.Table, meta: dict[str, tuple[str | None, str | None]], ra: str | None, dec: str | None
) -> tuple[pa.Table, list[dict[str, Any]], str, str]:
    if table.num_rows == 0:
        raise BadInputError("The file has no rows.")
    names = list(table.column_names)
    _check_names(names)
    ra_col = _find(names, ra, _RA_NAMES, "RA")
    dec_col = _find(names, dec, _DEC_NAMES, "Dec")
    if ra_col == dec_col:
        raise BadInputError(f"RA and Dec cannot be the same column ({ra_col!r}).")
    ra_deg, dec_deg = _coordinates(table, ra_col, dec_col)
    columns: list[dict[str, Any]] = []
    arrays: list[pa.Array] = []
    for name in names:
        mast, duck, arrow = _storage(name, table.schema.field(name).type)
        try:
            arrays.append(pc.cast(table.column(name), arrow))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise BadInputError(f"Column {name!r} cannot be stored as {duck}: {exc}") from exc
        unit, description = meta.get(name, (None, None))
        if name in (ra_col, dec_col):
            unit = unit or "deg"
        columns.append(
            {
                "name": name,
                "mast_type": mast,
                "duckdb_type": duck,
                "unit": unit,
                "description": description or "",
            }
        )
    from mastkit.server.geometry import hpx_index

    usable = np.isfinite(ra_deg) & np.isfinite(dec_deg)
    hpx = np.zeros(len(ra_deg), dtype=np.int64)
    hpx[usable] = hpx_index(ra_deg[usable] % 360.0, dec_deg[usable])
    arrays.append(pa.array(hpx, pa.int64(), mask=~usable))
    arrays.append(pa.array(np.arange(len(ra_deg), dtype=np.int64)))
    return pa.Table.from_arrays(arrays, names=[*names, "_hpx", "_row"]), columns, ra_col, dec_col


# ------------------------------------------------------------------------------ add / remove


def _write_catalog_file(target: Path, table: pa.Table) -> None:
    import duckdb

    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("SET enable_progress_bar = false")
            con.register("_source", table)
            con.execute(
                "CREATE TABLE catalog AS SELECT * FROM _source ORDER BY _hpx NULLS LAST, _row"
            )
            con.unregister("_source")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def add_catalog(
    archive_path: str | os.PathLike[str],
    name: str,
    source: str | os.PathLike[str],
    *,
    ra: str | None = None,
    dec: str | None = None,
    fmt: str | None = None,
) -> Catalog:
    """Add the table in ``source`` to the archive at ``archive_path`` as catalogue ``name``.

    Parameters
    ----------
    archive_path : path-like
        The archive file (it need not exist yet; it is never modified).
    name : str
        Catalogue name, used in service names (``Mast.Catalogs.NAME.Cone``).
    source : path-like
        A Parquet, CSV, FITS or VOTable file.
    ra, dec : str, optional
        Position columns (decimal degrees); found by their usual names when not given.
    fmt : str, optional
        The file's format, when its name does not say it.

    Returns
    -------
    Catalog

    Raises
    ------
    BadInputError
        For a bad name (malformed, reserved, taken), an unreadable file, missing or
        non-numeric coordinate columns, or columns a catalogue cannot hold. Nothing is
        written then.
    """
    from mastkit.server.catalogs import BUILTIN

    def checked_name(directory: Path) -> tuple[str, list[dict[str, Any]]]:
        entries = _read_entries(directory) if directory.exists() else []
        taken = {c.key: c for c in BUILTIN} | {str(e.get("name", "")).lower(): e for e in entries}
        return check_catalog_name(name, taken), entries

    directory = catalogs_dir(archive_path)
    checked_name(directory)  # a bad or taken name fails before the file is read
    table, meta = read_source(source, fmt)
    prepared, columns, ra_col, dec_col = _prepare(table, meta, ra, dec)
    with _registry_lock(directory):
        # Again under the lock: another run may have taken the name meanwhile.
        name, entries = checked_name(directory)
        target = directory / f"{name.lower()}.duckdb"
        _write_catalog_file(target, prepared)
        entry = {
            "name": name,
            "file": target.name,
            "source": Path(source).name,
            "rows": prepared.num_rows,
            "ra": ra_col,
            "dec": dec_col,
            "columns": columns,
            "added_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        try:
            _write_entries(directory, [*entries, entry])
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            raise
    log.info("added catalogue %s (%d rows) from %s", name, prepared.num_rows, source)
    return _catalog_from(entry)


def remove_catalog(archive_path: str | os.PathLike[str], name: str) -> None:
    """Remove user catalogue ``name`` from the archive at ``archive_path``.

    Raises
    ------
    BadInputError
        If there is no user catalogue of that name.
    """
    directory = catalogs_dir(archive_path)
    if not directory.exists():
        raise BadInputError(f"There is no user catalogue named {name!r}.")
    with _registry_lock(directory):
        entries = _read_entries(directory)
        keep = [e for e in entries if str(e.get("name", "")).lower() != name.strip().lower()]
        if len(keep) == len(entries):
            raise BadInputError(f"There is no user catalogue named {name!r}.")
        gone = [e for e in entries if e not in keep]
        _write_entries(directory, keep)
    for entry in gone:
        with contextlib.suppress(FileNotFoundError, OSError):
            (directory / Path(str(entry.get("file", ""))).name).unlink()
