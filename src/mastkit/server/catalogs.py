"""The catalogues of the local archive, and how service names refer to them.

A :class:`Catalog` is a queryable point-source table: its
:class:`~mastkit.server.schema.TableSchema` (whose ``name`` is the table's SQL name, never
taken from a request), the name services use (``Mast.Catalogs.NAME.Cone``,
``Mast.Catalogs.Filtered.NAME``, ``Mast.NAME.Crossmatch``, ...) and its columns-config ids.
Built in:

* ``Tic``: the TIC-shaped catalogue derived from Hipparcos (:mod:`mastkit.server.loaders.tic`),
  under MAST's own names; its columns config is ``Mast.Catalogs.Tess.Cone``;
* ``Hipparcos``: Hipparcos 2 as published.

Users add their own with ``mastkit archive add-catalog`` (:mod:`mastkit.server.user_catalogs`);
an :class:`~mastkit.server.archive.Archive` lists all of them in :meth:`Archive.catalogs`.

Cone-type replies append the separation as ``dstArcSec`` (arcsec), MAST's name for it in
catalogue services (mast-protocol.md 5.5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mastkit.errors import BadInputError
from mastkit.server.loaders.tic import TIC
from mastkit.server.schema import HIPPARCOS, Column, TableSchema

__all__ = [
    "BUILTIN",
    "NAME_PATTERN",
    "RESERVED_NAMES",
    "SEPARATION",
    "Catalog",
    "check_catalog_name",
    "find_catalog",
]

#: The separation column catalogue cones and crossmatches append (arcsec).
SEPARATION = Column(
    "dstArcSec",
    "float",
    "DOUBLE",
    'Distance (")',
    "Angular separation between the searched position and the source",
    "arcsec",
    "pos.angDistance",
)

#: What a catalogue name looks like: a letter, then letters, digits or underscores.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")

#: Names services already use for something else (compared case-insensitively).
RESERVED_NAMES = frozenset(
    {
        "all",
        "caom",
        "catalogs",
        "count",
        "cone",
        "crossmatch",
        "ctl",
        "filtered",
        "hipparcos",
        "hsc",
        "name",
        "position",
        "rows",
        "tess",
        "tic",
        "observations",
        "products",
        "mast",
    }
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """A catalogue the server answers for.

    Attributes
    ----------
    name : str
        The name in service names (matched case-insensitively): ``Tic``, ``Hipparcos``, ...
    schema : TableSchema
        Exposed columns; ``schema.name`` is the SQL table the archive holds it in.
    title : str
        One line for listings.
    config_ids : tuple of str
        Columns-config ids describing it (its cone's, ``Mast.Catalogs.NAME.Cone``, first).
    user : bool
        Whether a user added it.
    rows : int or None
        Row count when known.
    id_column : str or None
        The column identifying a source (crossmatches report it as ``MatchID``); without
        one, the source's row number is its id.
    """

    name: str
    schema: TableSchema
    title: str
    config_ids: tuple[str, ...] = ()
    user: bool = False
    rows: int | None = None
    id_column: str | None = None

    @property
    def key(self) -> str:
        """The case-folded name."""
        return self.name.lower()

    def config(self) -> dict[str, dict[str, Any]]:
        """Its columns config (MAST vocabulary), with the trailing ``dstArcSec``."""
        from mastkit.server.schema import schema_config

        return schema_config(self.schema, SEPARATION)


def _config_ids(name: str, *extra: str) -> tuple[str, ...]:
    return (f"Mast.Catalogs.{name}.Cone", *extra)


BUILTIN: tuple[Catalog, ...] = (
    Catalog(
        "Tic",
        TIC,
        "TIC-shaped catalogue derived from Hipparcos 2 (real astrometry, "
        "derived ids and magnitudes)",
        _config_ids("Tic", "Mast.Catalogs.Tess.Cone", "Mast.Catalogs.Filtered.Tic"),
        rows=117_955,
        id_column="ID",
    ),
    Catalog(
        "Hipparcos",
        HIPPARCOS,
        "Hipparcos 2 (van Leeuwen 2007), 117,955 stars",
        _config_ids("Hipparcos", "Mast.Catalogs.Filtered.Hipparcos"),
        rows=117_955,
        id_column="HIP",
    ),
)


def check_catalog_name(name: str, taken: Mapping[str, Any] | None = None) -> str:
    """Validate a new catalogue's name.

    Parameters
    ----------
    name : str
    taken : mapping, optional
        Existing catalogues by case-folded name.

    Returns
    -------
    str
        The name, stripped.

    Raises
    ------
    BadInputError
        For a malformed, reserved or already used name.
    """
    text = name.strip() if isinstance(name, str) else ""
    if not NAME_PATTERN.match(text):
        raise BadInputError(
            f"Invalid catalogue name {name!r}: use a letter followed by up to 39 letters, "
            "digits or underscores (it becomes part of service names)."
        )
    if text.lower() in RESERVED_NAMES:
        raise BadInputError(f"The catalogue name {text!r} is reserved; choose another.")
    if taken is not None and text.lower() in taken:
        raise BadInputError(
            f"A catalogue named {text!r} already exists; remove it first or choose another name."
        )
    return text


def find_catalog(catalogs: Mapping[str, Catalog], name: str) -> Catalog | None:
    """The catalogue called ``name`` (case-insensitive), or None."""
    return catalogs.get(name.strip().lower())
