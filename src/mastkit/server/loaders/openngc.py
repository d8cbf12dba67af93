"""The OpenNGC catalogue (NGC, IC and addendum objects) from the ``pyongc`` package.

``pyongc`` ships OpenNGC as a SQLite file (``pyongc.DBPATH``) with an ``objects`` table
(positions in radians, dimensions in arcmin) and an ``objIdentifiers`` table. It is read with the
standard library's sqlite3, without pandas.

Two Arrow tables come out:

* ``objects``: one row per real object with a position. ``Dup`` records (an NGC/IC number that
  is another entry's duplicate) and ``NonEx`` records are not objects; their names become
  identifiers of the object they duplicate.
* ``identifiers``: every name of every object, normalized by
  :func:`mastkit.server.resolver.normalize_name` into ``key``, with its display form: the
  OpenNGC name, Messier number, other NGC/IC numbers, all cross-identifications (UGC, PGC, MCG,
  ESO, IRAS, 2MASX, SDSS, LBN, MWSC, Caldwell, ...), the compact ``objIdentifiers`` entries and
  the common names.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

import pyarrow as pa

from mastkit.server.resolver import display_name, normalize_name

__all__ = ["read_openngc"]

_COLUMNS = (
    "name, type, ra, dec, const, majax, minax, pa, bmag, vmag, jmag, hmag, kmag, sbrightn, "
    "hubble, parallax, pmra, pmdec, radvel, redshift, messier, ngc, ic, identifiers, "
    "commonnames, notngc"
)
_NOT_OBJECTS = ("Dup", "NonEx")

OBJECT_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("display_name", pa.string()),
        ("type", pa.string()),
        ("type_desc", pa.string()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("const", pa.string()),
        ("majax", pa.float64()),
        ("minax", pa.float64()),
        ("pa", pa.int32()),
        ("bmag", pa.float64()),
        ("vmag", pa.float64()),
        ("jmag", pa.float64()),
        ("hmag", pa.float64()),
        ("kmag", pa.float64()),
        ("sbrightn", pa.float64()),
        ("hubble", pa.string()),
        ("parallax", pa.float64()),
        ("pmra", pa.float64()),
        ("pmdec", pa.float64()),
        ("radvel", pa.int32()),
        ("redshift", pa.float64()),
        ("messier", pa.int32()),
        ("common_names", pa.string()),
        ("notngc", pa.bool_()),
    ]
)
IDENTIFIER_SCHEMA = pa.schema(
    [("key", pa.string()), ("name", pa.string()), ("display", pa.string())]
)


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _blank(value: Any) -> Any:
    return None if value == "" else value


def read_openngc(db_path: str | None = None) -> tuple[pa.Table, pa.Table]:
    """Read OpenNGC into the ``objects`` and ``identifiers`` tables.

    Parameters
    ----------
    db_path : str, optional
        An OpenNGC SQLite file; ``pyongc.DBPATH`` by default.

    Returns
    -------
    objects : pyarrow.Table
        :data:`OBJECT_SCHEMA`: name (``NGC5457``), display_name (``M 101`` for Messier
        objects, else ``NGC 5457``), type code and description, ra/dec in degrees, magnitudes,
        axes in arcmin, Messier number, comma-separated common names.
    identifiers : pyarrow.Table
        :data:`IDENTIFIER_SCHEMA`: normalized key, object name, display form; unique per
        (key, name).
    """
    if db_path is None:
        import pyongc

        db_path = str(pyongc.DBPATH)
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        types = dict(con.execute("SELECT type, typedesc FROM objTypes").fetchall())
        cur = con.execute(f"SELECT {_COLUMNS} FROM objects ORDER BY name")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        compact = con.execute("SELECT name, identifier FROM objIdentifiers").fetchall()
    finally:
        con.close()

    main = {r["name"]: r for r in rows if r["type"] not in _NOT_OBJECTS and r["ra"] is not None}
    by_messier = {int(r["messier"]): n for n, r in main.items() if r["messier"]}

    def target_of(row: dict[str, Any]) -> str | None:
        """The main object a record stands for (itself, or what a Dup duplicates)."""
        if row["name"] in main:
            return str(row["name"])
        if row["type"] != "Dup":
            return None
        for cat in ("ngc", "ic"):
            if row[cat]:
                first = _split(row[cat])[0]
                candidate = f"{cat.upper()}{first:0>4}"
                if candidate in main:
                    return candidate
        if row["messier"]:  # M102 is recorded as a duplicate of M101
            return by_messier.get(int(row["messier"]))
        return None

    seen: set[tuple[str, str]] = set()
    ids: dict[str, list[str]] = {"key": [], "name": [], "display": []}

    def add(name: str, display: str) -> None:
        key = normalize_name(display)
        if key and (key, name) not in seen:
            seen.add((key, name))
            ids["key"].append(key)
            ids["name"].append(name)
            ids["display"].append(display)

    for row in rows:
        target = target_of(row)
        if target is None:
            continue
        add(target, display_name(row["name"]))
        if row["messier"]:
            add(target, f"M {int(row['messier'])}")
        for cat in ("ngc", "ic"):
            for number in _split(row[cat]):
                add(target, f"{cat.upper()} {number.lstrip('0') or '0'}")
        for ident in _split(row["identifiers"]) + _split(row["commonnames"]):
            add(target, ident)
    records = {r["name"]: r for r in rows}
    for name, ident in compact:
        target = target_of(records[name]) if name in records else None
        if target is not None:
            add(target, display_name(ident))

    objects: dict[str, list[Any]] = {f.name: [] for f in OBJECT_SCHEMA}
    for name, r in main.items():
        messier = int(r["messier"]) if r["messier"] else None
        values = dict(r)
        values.update(
            display_name=f"M {messier}" if messier else display_name(name),
            type_desc=types.get(r["type"]),
            ra=math.degrees(r["ra"]),
            dec=math.degrees(r["dec"]),
            messier=messier,
            common_names=_blank(r["commonnames"]),
            notngc=bool(r["notngc"]),
        )
        for field in OBJECT_SCHEMA:
            objects[field.name].append(_blank(values.get(field.name)))
    return (
        pa.table(objects, schema=OBJECT_SCHEMA),
        pa.table(ids, schema=IDENTIFIER_SCHEMA),
    )

