"""Catalogue names: from what users write (``"tic"``, ``"Gaia"``) to MAST's service names.

MAST spells each catalogue's services its own way: the TIC is ``Mast.Catalogs.Tic.Cone`` and
``Mast.Catalogs.Filtered.Tic[.Position].Rows``, but its columns config is
``Mast.Catalogs.Tess.Cone`` and its crossmatch ``Mast.Tic.Crossmatch``; the HSC and GALEX cones
have names of their own (mast-protocol.md 4.3, 4.5). :func:`catalog_spec` maps a name, matched
ignoring case, to a :class:`CatalogSpec` holding every service of that catalogue; any other
well-formed name gets the generic spelling (``Mast.Catalogs.NAME.Cone``,
``Mast.Catalogs.Filtered.NAME``, ``Mast.NAME.Crossmatch``), which is what the local server
offers for catalogues users add.

MAST's TIC columns config declares no column types, so the types of the TIC's columns, as MAST
sends them in its replies (mast-protocol.md 5.3), are kept here: criteria on the TIC are then
checked (a range on ``Tmag`` is a number range, a word for ``Tmag`` is an error) even against
the real MAST.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mastkit.errors import BadInputError

__all__ = [
    "CAOM",
    "KNOWN_CATALOGS",
    "CatalogSpec",
    "catalog_spec",
    "crossmatch_service",
    "with_types",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """The MAST services of one catalogue.

    Attributes
    ----------
    name : str
        How mastkit names it (``"TIC"``).
    key : str
        MAST's spelling inside service names (``"Tic"``).
    description : str
        One line for listings.
    cone : str or None
        The cone service (``ra``, ``dec``, ``radius``); None when there is none.
    filtered : str or None
        The Filtered service family (``Mast.Catalogs.Filtered.Tic``); None when MAST offers no
        criteria queries on the catalogue.
    rows : bool
        Whether row queries use the ``.Rows`` variant (faster, no counts), as astroquery does.
    config_id : str
        The columns config describing the catalogue's columns.
    crossmatch : str or None
        The crossmatch service.
    cone_params : mapping
        Extra parameters every cone request carries (HSC's ``nr``, GALEX's ``maxrecords``).
    takes_columns : bool
        Whether Filtered requests carry ``columns`` (DiskDetective's do not).
    count_suffix : str
        Appended to the Filtered service for counts (DiskDetective: ``.Count``).
    separation : str
        The separation column of cone results (arcsec), as MAST names it.
    key_column : str or None
        A column unique per row, used to remove rows matching negated criteria (without one,
        whole rows are compared).
    types : mapping
        Column name -> MAST type, for columns configs that declare none.
    probe_id : str or None
        The columns config looked up to tell whether a server has the catalogue, when not
        ``config_id`` (the CTL shares the TIC's config, so its own cone's is asked).
    """

    name: str
    key: str
    description: str
    cone: str | None
    filtered: str | None
    rows: bool
    config_id: str
    crossmatch: str | None
    cone_params: Mapping[str, Any] = field(default_factory=dict)
    takes_columns: bool = True
    count_suffix: str = ""
    separation: str = "dstArcSec"
    key_column: str | None = None
    types: Mapping[str, str] = field(default_factory=dict, repr=False)
    probe_id: str | None = None

    @property
    def probe_config(self) -> str:
        """The columns config whose presence says a server has the catalogue."""
        return self.probe_id or self.config_id

    def row_service(self, position: bool) -> str:
        """The Filtered service returning rows (with a position, or criteria alone)."""
        if self.filtered is None:
            raise BadInputError(
                f"MAST has no criteria queries on {self.name}; query a region without criteria "
                "and filter the table, or crossmatch."
            )
        return self.filtered + (".Position" if position else "") + (".Rows" if self.rows else "")

    def count_service(self, position: bool) -> str:
        """The Filtered service answering ``COUNT_BIG(*)``."""
        if self.filtered is None:
            raise BadInputError(
                f"MAST cannot count {self.name} rows by criteria; query the region and count "
                "the table's rows."
            )
        return self.filtered + (".Position" if position else "") + self.count_suffix


def _types(spec: str) -> dict[str, str]:
    """``"a b:int c"`` -> ``{"a": "float", "b": "int", "c": "float"}`` (float unless said)."""
    out: dict[str, str] = {}
    for item in spec.split():
        name, _, kind = item.partition(":")
        out[name] = kind or "float"
    return out


# The TIC's columns and MAST types (from MAST's replies). IDs are declared as strings by MAST
# but hold integers; they are typed ``long`` here so that ranges and integer checks apply.
_TIC_TYPES = _types(
    "ID:long version:string HIP:int TYC:string UCAC:string TWOMASS:string SDSS:string "
    "ALLWISE:string GAIA:string APASS:string KIC:int objType:string typeSrc:string ra dec "
    "POSflag:string pmRA e_pmRA pmDEC e_pmDEC PMflag:string plx e_plx PARflag:string gallong "
    "gallat eclong eclat Bmag e_Bmag Vmag e_Vmag umag e_umag gmag e_gmag rmag e_rmag imag "
    "e_imag zmag e_zmag Jmag e_Jmag Hmag e_Hmag Kmag e_Kmag TWOMflag:string prox w1mag e_w1mag "
    "w2mag e_w2mag w3mag e_w3mag w4mag e_w4mag GAIAmag e_GAIAmag Tmag e_Tmag TESSflag:string "
    "SPFlag:string Teff e_Teff logg e_logg MH e_MH rad e_rad mass e_mass rho e_rho "
    "lumclass:string lum e_lum d e_d ebv e_ebv numcont:int contratio disposition:string "
    "duplicate_id:string priority objID:long dstArcSec"
)


def _catalogs_family(name: str, key: str, description: str, **kw: Any) -> CatalogSpec:
    defaults: dict[str, Any] = {
        "cone": f"Mast.Catalogs.{key}.Cone",
        "filtered": f"Mast.Catalogs.Filtered.{key}",
        "rows": True,
        "config_id": f"Mast.Catalogs.{key}.Cone",
        "crossmatch": f"Mast.{key}.Crossmatch",
    }
    defaults.update(kw)
    return CatalogSpec(name=name, key=key, description=description, **defaults)


#: The catalogue served through the CAOM crossmatch (observations, not a catalogue of sources).
CAOM = CatalogSpec(
    name="CAOM",
    key="Caom",
    description="CAOM observations (crossmatch only)",
    cone=None,
    filtered=None,
    rows=False,
    config_id="Mast.Caom.Cone",
    crossmatch="Mast.Caom.Crossmatch",
    separation="distance",
    key_column="obsid",
)

#: The catalogues mastkit knows by name, in listing order.
KNOWN_CATALOGS: tuple[CatalogSpec, ...] = (
    _catalogs_family(
        "TIC",
        "Tic",
        "TESS Input Catalog",
        config_id="Mast.Catalogs.Tess.Cone",
        key_column="ID",
        types=_TIC_TYPES,
    ),
    _catalogs_family(
        "CTL",
        "Ctl",
        "TESS Candidate Target List",
        config_id="Mast.Catalogs.Tess.Cone",
        key_column="ID",
        types=_TIC_TYPES,
        probe_id="Mast.Catalogs.Ctl.Cone",
    ),
    _catalogs_family("GaiaDR3", "GaiaDR3", "Gaia Data Release 3", filtered=None),
    _catalogs_family("GaiaDR2", "GaiaDR2", "Gaia Data Release 2", filtered=None),
    _catalogs_family("GaiaDR1", "GaiaDR1", "Gaia Data Release 1", filtered=None),
    _catalogs_family("Tgas", "Tgas", "Tycho-Gaia Astrometric Solution", filtered=None),
    _catalogs_family(
        "DiskDetective",
        "DiskDetective",
        "Disk Detective",
        rows=False,
        config_id="Mast.Catalogs.Dd.Cone",
        takes_columns=False,
        count_suffix=".Count",
        key_column="designation",
    ),
    _catalogs_family("Plato", "Plato", "PLATO Input Catalog", filtered=None, crossmatch=None),
    CatalogSpec(
        name="HSC",
        key="Hsc",
        description="Hubble Source Catalog v3",
        cone="Mast.Hsc.Db.v3",
        filtered=None,
        rows=False,
        config_id="Mast.Hsc.Db.v3",
        crossmatch="Mast.Hsc.Crossmatch.MagAper2v3",
        cone_params={"nr": 50000, "ni": 1, "magtype": 1},
        separation="Distance",
        key_column="MatchID",
    ),
    CatalogSpec(
        name="GALEX",
        key="Galex",
        description="GALEX catalog",
        cone="Mast.Galex.Catalog",
        filtered=None,
        rows=False,
        config_id="Mast.Galex.Catalog",
        crossmatch="Mast.Galex.Crossmatch",
        cone_params={"maxrecords": 50000},
    ),
    _catalogs_family("Hipparcos", "Hipparcos", "Hipparcos 2 (the local archive)", key_column="HIP"),
)

_ALIASES = {"tess": "TIC", "gaia": "GaiaDR3", "hsc": "HSC", "galex": "GALEX", "hip": "Hipparcos"}
_BY_LOWER = {spec.name.lower(): spec for spec in KNOWN_CATALOGS}
_BY_LOWER.update({alias: _BY_LOWER[target.lower()] for alias, target in _ALIASES.items()})


def catalog_spec(name: Any) -> CatalogSpec:
    """The services of catalogue ``name`` (matched ignoring case; generic when unknown).

    Raises
    ------
    BadInputError
        For a name that cannot be part of a service name (only letters, digits and ``_``,
        starting with a letter), or ``"caom"`` (observations: use
        :class:`~mastkit.services.Observations`, or crossmatch).

    Examples
    --------
    >>> spec = catalog_spec("tic")
    >>> spec.cone, spec.config_id
    ('Mast.Catalogs.Tic.Cone', 'Mast.Catalogs.Tess.Cone')
    >>> spec.row_service(position=True), spec.count_service(position=False)
    ('Mast.Catalogs.Filtered.Tic.Position.Rows', 'Mast.Catalogs.Filtered.Tic')
    >>> catalog_spec("MyStars").cone
    'Mast.Catalogs.MyStars.Cone'
    """
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise BadInputError(
            f"A catalogue name is a word of letters, digits and '_' (like 'TIC' or 'Hipparcos'), "
            f"not {name!r}."
        )
    text = name.strip()
    if text.lower() == "caom":
        raise BadInputError(
            "CAOM holds observations, not catalogue sources: query it with Observations; "
            "crossmatch(table, catalog='caom') matches positions against it."
        )
    known = _BY_LOWER.get(text.lower())
    if known is not None:
        return known
    return _catalogs_family(text, text, f"{text} (queried by the generic service names)")


def crossmatch_service(catalog: Any) -> tuple[CatalogSpec, str]:
    """The spec and crossmatch service of ``catalog`` (``"caom"`` included).

    Examples
    --------
    >>> crossmatch_service("caom")[1], crossmatch_service("TIC")[1]
    ('Mast.Caom.Crossmatch', 'Mast.Tic.Crossmatch')
    """
    if isinstance(catalog, str) and catalog.strip().lower() == "caom":
        return CAOM, "Mast.Caom.Crossmatch"
    spec = catalog_spec(catalog)
    if spec.crossmatch is None:
        raise BadInputError(f"MAST has no crossmatch service for {spec.name}.")
    return spec, spec.crossmatch


def with_types(
    config: Mapping[str, Mapping[str, Any]], spec: CatalogSpec
) -> dict[str, dict[str, Any]]:
    """``config`` with a ``vot.datatype`` for the columns it leaves untyped that ``spec`` knows.

    Examples
    --------
    >>> with_types({"Tmag": {"text": "TESS Mag."}}, catalog_spec("TIC"))["Tmag"]["vot.datatype"]
    'float'
    """
    out: dict[str, dict[str, Any]] = {}
    for name, props in config.items():
        entry = dict(props) if isinstance(props, Mapping) else props
        if (
            isinstance(entry, dict)
            and name in spec.types
            and not any(k in entry for k in ("vot.datatype", "type", "cc.type"))
        ):
            entry["vot.datatype"] = spec.types[name]
        out[name] = entry
    return out
