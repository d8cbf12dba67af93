"""Name resolution for the local archive, answering in the shape of MAST's resolver (SANTA).

Names resolve against the real catalogues loaded into the archive: OpenNGC (every identifier
the catalogue knows, Messier numbers and common names included) and Hipparcos (``HIP n``).
Coordinate strings resolve to themselves. Each entry is a ``resolvedCoordinate`` element as
MAST's ``/api/v0.1/name/lookup`` sends it (see ``resolver.json``), with ``resolver`` naming the
real source: ``"OpenNGC"``, ``"Hipparcos"`` or, for coordinate strings, ``"Coordinates"``.

Matching goes through :func:`normalize_name`, a pure function shared with the loader that
builds the ``identifiers`` table, so the two always agree.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

__all__ = ["display_name", "normalize_name", "parse_coordinates", "resolve", "resolve_many"]

# Catalogue spellings that mean the same catalogue.
_ALIASES = {"MESSIER": "M", "LEDA": "PGC", "HIPPARCOS": "HIP"}
_ALIAS = re.compile(r"^(MESSIER|LEDA|HIPPARCOS)(?=[\s\d_-])")
# A catalogue prefix joined to its number by a dash or underscore ("NGC-5457", HST style).
# MCG is excluded: its dash is the sign of the declination zone ("MCG -02-01-031").
_PREFIX_JOIN = re.compile(r"^(?!MCG)([A-Z]+)\s*[-_]+\s*(?=\d)")
_DROP = re.compile(r"[^A-Z0-9+\-.]")
# Leading zeros of a number, but not of a decimal fraction ("06.08" keeps its "08").
_ZEROS = re.compile(r"(?<![0-9.])0+(?=[0-9])")
_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2010": "-", "\u2011": "-"})


def normalize_name(text: str) -> str:
    """The matching key of an object name: case, spacing and zero-padding insensitive.

    ``"M 101"``, ``"m101"``, ``"Messier 101"`` and ``"M0101"`` give ``"M101"``; ``"NGC 0224"``
    and ``"ngc224"`` give ``"NGC224"``; ``"MCG +09-23-028"`` gives ``"MCG+9-23-28"``;
    ``"LEDA 50063"`` and ``"PGC 050063"`` give ``"PGC50063"``; ``"Bode's Galaxy"`` gives
    ``"BODESGALAXY"``.

    Parameters
    ----------
    text : str
        A name as typed.

    Returns
    -------
    str
        Upper case, with catalogue aliases unified, separators other than ``+ - .`` removed,
        and leading zeros of numbers dropped. Empty for a blank name. Idempotent.
    """
    s = unicodedata.normalize("NFKC", text).translate(_DASHES).upper().strip()
    # Dropping a character can bring an alias, prefix or padded number together, so the steps
    # run until nothing changes (twice for every real name).
    while True:
        before = s
        s = _ALIAS.sub(lambda m: _ALIASES[m.group(1)], s)
        s = _PREFIX_JOIN.sub(r"\1", s)
        s = _DROP.sub("", s)
        s = _ZEROS.sub("", s)
        if s == before:
            return s


_SPACED = re.compile(r"^([A-Za-z]+)\s*([+-]?)(\d+)(.*)$")
_UNPADDED = {
    "NGC",
    "IC",
    "M",
    "MEL",
    "C",
    "B",
    "H",
    "HCG",
    "CL",
    "UGC",
    "UGCA",
    "PGC",
    "LBN",
    "MWSC",
    "HIP",
}


def display_name(name: str) -> str:
    """The display form of a compact catalogue name.

    Parameters
    ----------
    name : str
        A name as OpenNGC writes it.

    Returns
    -------
    str
        ``"NGC5457"`` gives ``"NGC 5457"``, ``"IC0011"`` gives ``"IC 11"``,
        ``"MCG+09-23-028"`` gives ``"MCG +09-23-028"``; names that are not
        ``<letters><number>`` come back as given.
    """
    m = _SPACED.match(name.strip())
    if not m:
        return name.strip()
    prefix, sign, number, rest = m.groups()
    if prefix.upper() in _UNPADDED:
        number = number.lstrip("0") or "0"
    return f"{prefix} {sign}{number}{rest}"


_NUM = r"(\d+(?:\.\d*)?|\.\d+)"
_DEG = re.compile(
    rf"^\s*\+?{_NUM}\s*(?:d|deg|°)?\s*(?:,\s*|\s+)([+-]?)\s*{_NUM}\s*(?:d|deg|°)?\s*$",
    re.IGNORECASE,
)
_SEXAGESIMAL = re.compile(
    r"^\s*(\d{1,2})\s*[h:\s]\s*(\d{1,2})\s*[m:\s]\s*(\d{1,2}(?:\.\d*)?)\s*s?\s*,?\s*"
    r"([+-]?)\s*(\d{1,2})\s*[d°:\s]\s*(\d{1,2})\s*[m'′:\s]\s*(\d{1,2}(?:\.\d*)?)\s*"
    r"(?:s|\"|″|'')?\s*$",
    re.IGNORECASE,
)


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """Parse an ICRS position string.

    Accepted: decimal degrees (``"210.80 54.35"``, ``"210.8, +54.35"``, ``"210.8d 54.35d"``)
    and sexagesimal hours/degrees (``"14h03m12.6s +54d20m57s"``, ``"14:03:12.6 +54:20:57"``,
    ``"14 03 12.6 +54 20 57"``).

    Parameters
    ----------
    text : str

    Returns
    -------
    tuple of float or None
        ``(ra, dec)`` in degrees with ra in [0, 360), or None when ``text`` is not a position
        (including out-of-range values).
    """
    m = _DEG.match(text)
    if m:
        ra, sign, dec = float(m.group(1)), m.group(2), float(m.group(3))
        dec = -dec if sign == "-" else dec
    else:
        m = _SEXAGESIMAL.match(text)
        if not m:
            return None
        h, mi, s, sign, d, dm, ds = m.groups()
        if int(mi) >= 60 or float(s) >= 60 or int(dm) >= 60 or float(ds) >= 60 or int(h) >= 24:
            return None
        ra = 15.0 * (int(h) + int(mi) / 60 + float(s) / 3600)
        dec = int(d) + int(dm) / 60 + float(ds) / 3600
        dec = -dec if sign == "-" else dec
    if not (0.0 <= ra <= 360.0 and -90.0 <= dec <= 90.0):
        return None
    return ra % 360.0, dec


def _query(source: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    import duckdb

    if isinstance(source, duckdb.DuckDBPyConnection):
        table: pa.Table = source.sql(sql, params=params).to_arrow_table()
    else:
        table = source.execute(sql, params)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


_OBJECTS_SQL = """
SELECT DISTINCT o.name, o.display_name, o.type, o.ra, o.dec, o.majax, o.minax, o.pa
FROM identifiers i JOIN objects o ON o.name = i.name
WHERE i.key = ?
ORDER BY o.name
"""
_HIP_SQL = "SELECT HIP, ra, dec FROM hipparcos WHERE HIP = ?"
_HIP = re.compile(r"^HIP(\d{1,9})$")


def _entry(
    search: str,
    resolver: str,
    started: float,
    name: str,
    ra: float,
    dec: float,
    object_type: str | None,
    **extra: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "searchString": search,
        "resolver": resolver,
        "cached": False,
        "resolverTime": int((time.perf_counter() - started) * 1000),
        "searchRadius": -1.0,
        "canonicalName": name,
        "ra": ra,
        "decl": dec,
    }
    entry.update({k: v for k, v in extra.items() if v is not None})
    if object_type is not None:
        entry["objectType"] = object_type
    return entry


def resolve(source: Any, name: str) -> list[dict[str, Any]]:
    """Resolve ``name`` against the archive's catalogues.

    Parameters
    ----------
    source : Archive or duckdb.DuckDBPyConnection
        Anything with ``execute(sql, params) -> pyarrow.Table`` (an
        :class:`~mastkit.server.archive.Archive`), or a DuckDB connection, holding the
        ``objects``, ``identifiers`` and ``hipparcos`` tables.
    name : str
        An object name (``M101``, ``NGC 5457``, ``UGC 8981``, ``Whirlpool Galaxy``,
        ``HIP 32349``) or a position string (see :func:`parse_coordinates`).

    Returns
    -------
    list of dict
        SANTA ``resolvedCoordinate`` entries (``searchString``, ``resolver``, ``cached``,
        ``resolverTime``, ``searchRadius``, ``canonicalName``, ``ra``, ``decl``, and
        ``objectType`` and, for extended objects, ``radius``, ``majorAxis``, ``minorAxis``,
        ``positionAngle`` in degrees), one per matching object; empty when nothing matches.
    """
    started = time.perf_counter()
    search = name.strip().lower()
    coords = parse_coordinates(name)
    if coords is not None:
        ra, dec = coords
        return [_entry(search, "Coordinates", started, f"{ra:.6f} {dec:+.6f}", ra, dec, None)]
    key = normalize_name(name)
    if not key:
        return []
    hip = _HIP.match(key)
    if hip:
        rows = _query(source, _HIP_SQL, [int(hip.group(1))])
        return [_hip_entry(search, started, r) for r in rows]
    return [_object_entry(search, started, r) for r in _query(source, _OBJECTS_SQL, [key])]


def _hip_entry(search: str, started: float, r: dict[str, Any]) -> dict[str, Any]:
    return _entry(search, "Hipparcos", started, f"HIP {r['HIP']}", r["ra"], r["dec"], "*")


def _object_entry(search: str, started: float, r: dict[str, Any]) -> dict[str, Any]:
    major = r["majax"] / 60 if r["majax"] is not None else None
    minor = r["minax"] / 60 if r["minax"] is not None else None
    return _entry(
        search,
        "OpenNGC",
        started,
        r["display_name"],
        r["ra"],
        r["dec"],
        r["type"],
        radius=major / 2 if major is not None else None,
        majorAxis=major,
        minorAxis=minor,
        positionAngle=float(r["pa"]) if r["pa"] is not None else None,
    )


# The batch form of _OBJECTS_SQL and _HIP_SQL in one statement: the first parameter lists the
# OpenNGC keys, the second the Hipparcos numbers. Each row says which it answers (``key`` or
# ``HIP``); rows of one key come ordered by object name, as _OBJECTS_SQL orders them. Keys are
# looked up with IN over the sorted ``identifiers.key`` (not one statement per name, which costs
# a parse, a plan and a scan start each: ~30 names a SANTA request).
_MANY_SQL = """
SELECT DISTINCT i.key, NULL::BIGINT AS HIP, o.name, o.display_name, o.type, o.ra, o.dec,
       o.majax, o.minax, o.pa
FROM identifiers i JOIN objects o ON o.name = i.name
WHERE i.key IN (SELECT unnest(?::VARCHAR[]))
UNION ALL
SELECT NULL, h.HIP, NULL, NULL, NULL, h.ra, h.dec, NULL, NULL, NULL
FROM hipparcos h
WHERE h.HIP IN (SELECT unnest(?::BIGINT[]))
ORDER BY 1, 3
"""
#: Most distinct keys one statement asks for (longer lists run in several statements).
MAX_KEYS = 1000


def resolve_many(source: Any, names: Sequence[str]) -> list[list[dict[str, Any]]]:
    """Resolve several names at once: the batch form of :func:`resolve`.

    Parameters
    ----------
    source : Archive or duckdb.DuckDBPyConnection
        As for :func:`resolve`.
    names : sequence of str
        Object names or position strings, in any mix; repeats allowed.

    Returns
    -------
    list of list of dict
        One list per name, in the order of ``names``: the entries ``resolve(source, name)``
        gives (same resolvers, canonical names, positions, order). Every entry is a dict of
        its own, even for repeated names. ``resolverTime`` counts from the start of the batch.

    Notes
    -----
    All catalogue names are looked up in one statement per :data:`MAX_KEYS` distinct keys,
    instead of one statement per name.
    """
    started = time.perf_counter()
    plans: list[tuple[str, Any]] = []  # per name: (kind, key or coordinates or HIP number)
    keys: dict[str, None] = {}
    hips: dict[int, None] = {}
    for name in names:
        coords = parse_coordinates(name)
        if coords is not None:
            plans.append(("coords", coords))
            continue
        key = normalize_name(name)
        hip = _HIP.match(key)
        if not key:
            plans.append(("none", None))
        elif hip:
            plans.append(("hip", int(hip.group(1))))
            hips[int(hip.group(1))] = None
        else:
            plans.append(("key", key))
            keys[key] = None
    by_key: dict[str, list[dict[str, Any]]] = {}
    by_hip: dict[int, list[dict[str, Any]]] = {}
    key_list, hip_list = list(keys), list(hips)
    for at in range(0, max(len(key_list), len(hip_list)), MAX_KEYS):
        params = [key_list[at : at + MAX_KEYS], hip_list[at : at + MAX_KEYS]]
        for row in _query(source, _MANY_SQL, params):
            if row["HIP"] is not None:
                by_hip.setdefault(row["HIP"], []).append(row)
            else:
                by_key.setdefault(row["key"], []).append(row)
    results: list[list[dict[str, Any]]] = []
    for name, (kind, value) in zip(names, plans, strict=True):
        search = name.strip().lower()
        if kind == "coords":
            ra, dec = value
            results.append(
                [_entry(search, "Coordinates", started, f"{ra:.6f} {dec:+.6f}", ra, dec, None)]
            )
        elif kind == "hip":
            results.append([_hip_entry(search, started, r) for r in by_hip.get(value, [])])
        elif kind == "key":
            results.append([_object_entry(search, started, r) for r in by_key.get(value, [])])
        else:
            results.append([])
    return results
