"""Writing tables to files: Parquet, CSV, ECSV, FITS and VOTable.

Files are written atomically: the data goes to a hidden temporary file beside the target, which
is renamed into place only when complete, so a failure never leaves a partial file under the
final name. An existing file is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from mastkit.errors import BadInputError
from mastkit.tables._csv import encode_csv
from mastkit.tables._votable import encode_votable
from mastkit.tables.convert import to_astropy

__all__ = ["FORMATS", "format_for", "with_field_info", "write_table"]

#: File formats :func:`write_table` knows, by the suffixes that select them.
FORMATS: Final[dict[str, tuple[str, ...]]] = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv",),
    "ecsv": (".ecsv",),
    "fits": (".fits", ".fit", ".fts"),
    "votable": (".xml", ".vot", ".votable"),
}
_BY_SUFFIX: Final = {suffix: name for name, suffixes in FORMATS.items() for suffix in suffixes}


def format_for(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` if given, else chosen by the suffix.

    Raises
    ------
    BadInputError
        For an unknown format or suffix.

    Examples
    --------
    >>> format_for("obs.fits"), format_for("obs.dat", "csv")
    ('fits', 'csv')
    """
    if format is not None:
        name = format.lower().lstrip(".")
        name = {"vot": "votable", "xml": "votable", "fit": "fits", "pq": "parquet"}.get(name, name)
        if name not in FORMATS:
            raise BadInputError(
                f"Unknown table format {format!r}; choose one of {', '.join(sorted(FORMATS))}."
            )
        return name
    suffix = Path(path).suffix.lower()
    if suffix not in _BY_SUFFIX:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise BadInputError(
            f"Cannot tell the table format of {os.fspath(path)!r} from its suffix "
            f"{suffix or '(none)'!r}; use one of {known}, or pass format=..."
        )
    return _BY_SUFFIX[suffix]


def with_field_info(
    table: pa.Table,
    units: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> pa.Table:
    """The table with units and descriptions stored in its Arrow field metadata."""
    if not units and not descriptions:
        return table
    fields = []
    for f in table.schema:
        metadata = dict(f.metadata or {})
        if units and f.name in units:
            metadata[b"unit"] = units[f.name].encode()
        if descriptions and f.name in descriptions:
            metadata[b"description"] = descriptions[f.name].encode()
        fields.append(f.with_metadata(metadata) if metadata else f)
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _temporary(target: Path) -> Path:
    """Create an empty hidden file beside ``target`` (mode from the umask, as a normal file)."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        return candidate


def _publish(temporary: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        # A hard link fails if the target appeared meanwhile: no check-then-replace race.
        os.link(temporary, target)
    except FileExistsError:
        raise BadInputError(
            f"{target} already exists; pass overwrite=True to replace it."
        ) from None
    except OSError:  # filesystems without hard links
        if target.exists():
            raise BadInputError(
                f"{target} already exists; pass overwrite=True to replace it."
            ) from None
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _astropy_writer(
    format: str,
    table: pa.Table,
    units: Mapping[str, str],
    descriptions: Mapping[str, str],
    meta: Mapping[str, Any],
) -> Callable[[Path], None]:
    astropy_format = {"ecsv": "ascii.ecsv", "fits": "fits"}[format]

    def write(path: Path) -> None:
        converted = to_astropy(
            table,
            units=units,
            descriptions=descriptions,
            meta=_fits_meta(meta) if format == "fits" else meta,
            times_as_text=True,
        )
        if format == "fits":
            for column in converted.itercols():
                if column.dtype.kind == "U" and not all(str(v).isascii() for v in column):
                    # FITS text is ASCII; store UTF-8 bytes rather than refuse the table.
                    converted[column.name] = _utf8_bytes(column)
        converted.write(path, format=astropy_format, overwrite=True)

    return write


def _utf8_bytes(column: Any) -> Any:
    import numpy as np

    encoded = np.char.encode(np.asarray(column, dtype=str), "utf-8")
    mask = getattr(column, "mask", None)
    if mask is not None and np.any(mask):
        from astropy.table import MaskedColumn

        return MaskedColumn(
            encoded, mask=mask, name=column.name, unit=column.unit, description=column.description
        )
    return encoded


def _fits_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """FITS headers take short scalar cards: keep the scalars, JSON-encode the rest."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        card = key.upper()[:8]
        if isinstance(value, bool | int | float) or (
            isinstance(value, str) and value.isascii() and len(value) < 60
        ):
            out[card] = value
    return out


def write_table(
    table: pa.Table,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    overwrite: bool = False,
    units: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a table to ``path`` atomically, in a format chosen by the suffix or ``format``.

    Parameters
    ----------
    table : pyarrow.Table
    path : str or path-like
    format : str, optional
        ``parquet``, ``csv``, ``ecsv``, ``fits`` or ``votable``; default from the suffix
        (``.parquet``, ``.csv``, ``.ecsv``, ``.fits``/``.fit``, ``.xml``/``.vot``/``.votable``).
    overwrite : bool
        Replace an existing file. Without it an existing file is an error.
    units, descriptions : mapping, optional
        Per-column units and descriptions, written where the format has a place for them.
    meta : mapping, optional
        Table-level provenance (service, params, paging), kept in the Parquet schema metadata,
        the ECSV header, or as FITS header cards when they are short scalars.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    BadInputError
        For an unknown format, an existing file without ``overwrite``, a missing directory, or
        a column the format cannot hold. Operating-system errors (permissions, a full disk)
        propagate as :class:`OSError`, and no partial file is left behind.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "obs.parquet"
    >>> write_table(pa.table({"obsid": [1, 2]}), target).name
    'obs.parquet'
    """
    target = Path(path)
    chosen = format_for(target, format)
    if not target.parent.is_dir():
        raise BadInputError(f"Cannot write {target}: the directory {target.parent} does not exist.")
    if target.exists() and not overwrite:
        raise BadInputError(f"{target} already exists; pass overwrite=True to replace it.")
    units = dict(units or {})
    descriptions = dict(descriptions or {})
    meta = dict(meta or {})
    writer: Callable[[Path], None]
    if chosen == "parquet":

        def writer(p: Path) -> None:
            annotated = with_field_info(table, units, descriptions)
            if meta:
                extra = {b"mastkit": json.dumps(meta, default=str).encode()}
                annotated = annotated.replace_schema_metadata(
                    {**(annotated.schema.metadata or {}), **extra}
                )
            pq.write_table(annotated, p)

    elif chosen == "csv":

        def writer(p: Path) -> None:
            p.write_bytes(encode_csv(table))

    elif chosen == "votable":

        def writer(p: Path) -> None:
            p.write_bytes(encode_votable(table, units=units, descriptions=descriptions))

    else:
        writer = _astropy_writer(chosen, table, units, descriptions, meta)
    temporary = _temporary(target)
    try:
        try:
            writer(temporary)
        except (BadInputError, OSError, MemoryError):
            raise
        except Exception as exc:  # the writers' many ways of saying "cannot hold this column"
            raise BadInputError(f"Cannot write this table as {chosen}: {exc}") from exc
        _publish(temporary, target, overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return target
