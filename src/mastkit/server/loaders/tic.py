"""A TIC-shaped catalogue derived from the real Hipparcos 2 stars.

The TESS Input Catalog (TIC) itself is far too large to ship; this table has the TIC's real
column names, order and MAST types (the ``Mast.Catalogs.Filtered.Tic.Rows`` reply's 89 fields)
with one row per Hipparcos star:

* real (Hipparcos 2): ``HIP``, ``ra``, ``dec``, ``pmRA``, ``pmDEC``, their errors, ``plx``
  and ``e_plx``;
* derived, deterministically, and said so in each column's description: ``ID`` (10,000,000,000
  + HIP), the galactic and ecliptic coordinates (exact rotations of ra/dec), ``Vmag``/``Bmag``
  (from Hp and B-V), ``GAIAmag`` and ``Tmag`` (from V and V-I), their errors, ``Teff`` (from
  B-V) and the distance ``d`` (1000/plx);
* everything else (other surveys' ids and magnitudes, stellar parameters, flags): null.

The photometric transformations are rough approximations good to a few tenths of a magnitude:
enough for demos and tests, not for science. The table is a view over the Hipparcos table
(:func:`view_sql`), computed as it is read.
"""

from __future__ import annotations

import math
from typing import Any

from mastkit.server.schema import Column, MastType, TableSchema

__all__ = ["ID_OFFSET", "TIC", "view_sql"]

#: TIC ``ID`` of a star: this plus its HIP number (above 2**32, as real TIC ids can be).
ID_OFFSET = 10_000_000_000
_VERSION = "hip2-derived"

_S, _D, _I, _L = "VARCHAR", "DOUBLE", "INTEGER", "BIGINT"
_REAL = "Hipparcos 2 (real): "
_DERIVED = "Derived in the local archive: "
_NULL = "Not available in the local archive (always null): "

# (name, MAST type, storage, description, unit, columns-config properties of MAST's own config)
_SPEC: tuple[tuple[str, MastType, str, str, str | None, dict[str, Any]], ...] = (
    (
        "ID",
        "string",
        _L,
        _DERIVED + "TIC identifier, 10000000000 + HIP",
        None,
        {
            "text": "TIC ID",
            "autoFacetRule": "never",
            "defaultFacet": True,
            "excludeFromCharts": True,
            "prefilterOrder": 1,
        },
    ),
    ("version", "string", _S, _DERIVED + "catalogue version label", None, {"text": "Version"}),
    (
        "HIP",
        "int",
        _I,
        _REAL + "Hipparcos identifier",
        None,
        {"text": "HIP", "autoFacetRule": "never", "excludeFromCharts": True, "intAsString": True},
    ),
    ("TYC", "string", _S, _NULL + "Tycho-2 identifier", None, {"text": "TYC ID"}),
    ("UCAC", "string", _S, _NULL + "UCAC4 identifier", None, {"text": "UCAC ID"}),
    ("TWOMASS", "string", _S, _NULL + "2MASS identifier", None, {"text": "2MASS ID"}),
    ("SDSS", "string", _L, _NULL + "SDSS DR9 identifier", None, {"text": "SDSS ID"}),
    ("ALLWISE", "string", _S, _NULL + "AllWISE identifier", None, {"text": "ALLWISE ID"}),
    ("GAIA", "string", _L, _NULL + "Gaia identifier", None, {"text": "GAIA ID"}),
    ("APASS", "string", _S, _NULL + "APASS identifier", None, {"text": "APASS ID"}),
    (
        "KIC",
        "int",
        _I,
        _NULL + "Kepler Input Catalog identifier",
        None,
        {"text": "KIC ID", "intAsString": True},
    ),
    (
        "objType",
        "string",
        _S,
        _DERIVED + "object type (every Hipparcos entry is a STAR)",
        None,
        {"text": "Object Type"},
    ),
    (
        "typeSrc",
        "string",
        _S,
        _DERIVED + "source of the object type",
        None,
        {"text": "Source of Type", "autoFacetRule": "always"},
    ),
    (
        "ra",
        "float",
        _D,
        _REAL + "right ascension (ICRS, epoch 1991.25)",
        "deg",
        {"text": "RA", "defaultFacet": True, "prefilterOrder": 3},
    ),
    (
        "dec",
        "float",
        _D,
        _REAL + "declination (ICRS, epoch 1991.25)",
        "deg",
        {"text": "Dec", "defaultFacet": True, "prefilterOrder": 4},
    ),
    (
        "POSflag",
        "string",
        _S,
        _DERIVED + "source of the position",
        None,
        {"text": "Source of Position", "visible": False},
    ),
    (
        "pmRA",
        "float",
        _D,
        _REAL + "proper motion in RA (times cos Dec)",
        "mas/year",
        {"text": "pmRA"},
    ),
    (
        "e_pmRA",
        "float",
        _D,
        _REAL + "error in proper motion in RA",
        "mas/year",
        {"text": "pmRA Err."},
    ),
    ("pmDEC", "float", _D, _REAL + "proper motion in Dec", "mas/year", {"text": "pmDEC"}),
    (
        "e_pmDEC",
        "float",
        _D,
        _REAL + "error in proper motion in Dec",
        "mas/year",
        {"text": "pmDec Err."},
    ),
    (
        "PMflag",
        "string",
        _S,
        _DERIVED + "source of the proper motion",
        None,
        {"text": "PM Flag", "visible": False},
    ),
    ("plx", "float", _D, _REAL + "parallax", "mas", {"text": "Parallax"}),
    ("e_plx", "float", _D, _REAL + "error in parallax", "mas", {"text": "Parallax Err."}),
    (
        "PARflag",
        "string",
        _S,
        _DERIVED + "source of the parallax",
        None,
        {"text": "Source of Parallax", "visible": False},
    ),
    (
        "gallong",
        "float",
        _D,
        _DERIVED + "galactic longitude, rotated from ra/dec",
        "deg",
        {"text": "Gal. Long.", "visible": False},
    ),
    (
        "gallat",
        "float",
        _D,
        _DERIVED + "galactic latitude, rotated from ra/dec",
        "deg",
        {"text": "Gal. Lat.", "visible": False},
    ),
    (
        "eclong",
        "float",
        _D,
        _DERIVED + "ecliptic longitude (J2000), rotated from ra/dec",
        "deg",
        {"text": "Ecl. Long.", "visible": False},
    ),
    (
        "eclat",
        "float",
        _D,
        _DERIVED + "ecliptic latitude (J2000), rotated from ra/dec",
        "deg",
        {"text": "Ecl. Lat.", "visible": False},
    ),
    (
        "Bmag",
        "float",
        _D,
        _DERIVED + "Johnson B, Vmag + (B-V)",
        "mag",
        {"text": "B Mag.", "defaultFacet": True, "prefilterOrder": 5},
    ),
    ("e_Bmag", "float", _D, _DERIVED + "error in Bmag", "mag", {"text": "B Mag. Err."}),
    (
        "Vmag",
        "float",
        _D,
        _DERIVED + "Johnson V, approximately Hp + 0.2 (B-V)",
        "mag",
        {"text": "V Mag.", "defaultFacet": True, "prefilterOrder": 6},
    ),
    ("e_Vmag", "float", _D, _DERIVED + "error in Vmag", "mag", {"text": "V Mag. Err."}),
    *(
        (name, "float", _D, _NULL + desc, "mag", {"text": text})
        for name, desc, text in (
            ("umag", "SDSS u", "u Mag."),
            ("e_umag", "error in umag", "u Mag. Err."),
            ("gmag", "SDSS g", "g Mag."),
            ("e_gmag", "error in gmag", "g Mag. Err."),
            ("rmag", "SDSS r", "r Mag."),
            ("e_rmag", "error in rmag", "r Mag. Err."),
            ("imag", "SDSS i", "i Mag."),
            ("e_imag", "error in imag", "i Mag. Err."),
            ("zmag", "SDSS z", "z Mag."),
            ("e_zmag", "error in zmag", "z Mag. Err."),
            ("Jmag", "2MASS J", "J Mag."),
            ("e_Jmag", "error in Jmag", "J Mag. Err."),
            ("Hmag", "2MASS H", "H Mag."),
            ("e_Hmag", "error in Hmag", "H Mag. Err."),
            ("Kmag", "2MASS K", "K Mag."),
            ("e_Kmag", "error in Kmag", "K Mag. Err."),
        )
    ),
    ("TWOMflag", "string", _S, _NULL + "2MASS quality flags", None, {"visible": False}),
    (
        "prox",
        "float",
        _D,
        _NULL + "distance to the nearest 2MASS neighbour",
        "arcsec",
        {"visible": False},
    ),
    *(
        (name, "float", _D, _NULL + desc, "mag", {"text": text})
        for name, desc, text in (
            ("w1mag", "WISE W1", "W1 Mag."),
            ("e_w1mag", "error in w1mag", "W1 Mag. Err."),
            ("w2mag", "WISE W2", "W2 Mag."),
            ("e_w2mag", "error in w2mag", "W2 Mag. Err."),
            ("w3mag", "WISE W3", "W3 Mag."),
            ("e_w3mag", "error in w3mag", "W3 Mag. Err."),
            ("w4mag", "WISE W4", "W4 Mag."),
            ("e_w4mag", "error in w4mag", "W4 Mag. Err."),
        )
    ),
    (
        "GAIAmag",
        "float",
        _D,
        _DERIVED + "Gaia G, approximated from V and V-I",
        "mag",
        {"text": "GAIA G Mag."},
    ),
    ("e_GAIAmag", "float", _D, _DERIVED + "error in GAIAmag", "mag", {"text": "GAIA G Mag. Err."}),
    (
        "Tmag",
        "float",
        _D,
        _DERIVED + "TESS magnitude, approximately V - 0.85 (V-I)",
        "mag",
        {"text": "TESS Mag.", "defaultFacet": True, "prefilterOrder": 19},
    ),
    ("e_Tmag", "float", _D, _DERIVED + "error in Tmag", "mag", {"text": "TESS Mag. Err."}),
    (
        "TESSflag",
        "string",
        _S,
        _NULL + "TESS magnitude flag",
        None,
        {"text": "TESS Flag", "visible": False},
    ),
    (
        "SPFlag",
        "string",
        _S,
        _NULL + "stellar properties flag",
        None,
        {"text": "Stellar Properties Flag", "visible": False},
    ),
    (
        "Teff",
        "float",
        _D,
        _DERIVED + "effective temperature from B-V (Ballesteros 2012)",
        "K",
        {"text": "T_eff", "defaultFacet": True, "prefilterOrder": 21},
    ),
    ("e_Teff", "float", _D, _NULL + "error in Teff", "K", {"text": "T_eff Err."}),
    ("logg", "float", _D, _NULL + "surface gravity", "cgs", {"text": "log(g)"}),
    ("e_logg", "float", _D, _NULL + "error in logg", "cgs", {"text": "log(g) Err."}),
    ("MH", "float", _D, _NULL + "metallicity", "dex", {"text": "Metallicity"}),
    ("e_MH", "float", _D, _NULL + "error in MH", "dex", {"text": "Metallicity Err."}),
    ("rad", "float", _D, _NULL + "stellar radius", "solar units", {"text": "Stellar Radius"}),
    ("e_rad", "float", _D, _NULL + "error in rad", "solar units", {"text": "Stellar Radius Err."}),
    ("mass", "float", _D, _NULL + "stellar mass", "solar units", {"text": "Stellar Mass"}),
    ("e_mass", "float", _D, _NULL + "error in mass", "solar units", {"text": "Stellar Mass Err."}),
    (
        "rho",
        "float",
        _D,
        _NULL + "stellar density",
        "solar units",
        {"text": "Stellar Density", "visible": False},
    ),
    (
        "e_rho",
        "float",
        _D,
        _NULL + "error in rho",
        "solar units",
        {"text": "Stellar Density Err.", "visible": False},
    ),
    (
        "lumclass",
        "string",
        _S,
        _NULL + "luminosity class",
        None,
        {"text": "Luminosity Class from RPM"},
    ),
    (
        "lum",
        "float",
        _D,
        _NULL + "stellar luminosity",
        "solar units",
        {"text": "Stellar Luminosity"},
    ),
    (
        "e_lum",
        "float",
        _D,
        _NULL + "error in lum",
        "solar units",
        {"text": "Stellar Luminosity Err."},
    ),
    (
        "d",
        "float",
        _D,
        _DERIVED + "distance, 1000 / plx (positive parallaxes only)",
        "parsec",
        {"text": "Distance"},
    ),
    (
        "e_d",
        "float",
        _D,
        _DERIVED + "error in d, 1000 e_plx / plx^2",
        "parsec",
        {"text": "Distance Err."},
    ),
    ("ebv", "float", _D, _NULL + "E(B-V) reddening", "mag", {"text": "E(B-V)"}),
    ("e_ebv", "float", _D, _NULL + "error in ebv", "mag", {"text": "E(B-V) Err."}),
    (
        "numcont",
        "int",
        _I,
        _NULL + "number of sources in the aperture",
        None,
        {"text": "Num. Sources in Aper."},
    ),
    ("contratio", "float", _D, _NULL + "contamination ratio", None, {"text": "Contam. Ratio"}),
    (
        "disposition",
        "string",
        _S,
        _NULL + "disposition of the entry",
        None,
        {"text": "Disposition"},
    ),
    (
        "duplicate_id",
        "string",
        _L,
        _NULL + "TIC ID of a duplicate entry",
        None,
        {"text": "Duplicate ID"},
    ),
    ("priority", "float", _D, _NULL + "TESS target priority", None, {"text": "Priority"}),
    ("objID", "string", _L, _NULL + "MAST object identifier", None, {"text": "MAST Object ID"}),
)


def _column(
    name: str,
    mast: MastType,
    storage: str,
    description: str,
    unit: str | None,
    props: dict[str, Any],
) -> Column:
    props = dict(props)
    text = str(props.pop("text", name))
    return Column(name, mast, storage, text, description, unit, extra=tuple(props.items()))


TIC = TableSchema(
    name="tic",
    order="ID ASC",
    ra="ra",
    dec="dec",
    columns=tuple(_column(*spec) for spec in _SPEC),
)

# ICRS -> galactic and J2000 ecliptic rotation matrices (rows: the new frame's axes).
_GALACTIC = (
    (-0.0548755604162154, -0.8734370902348850, -0.4838350155487132),
    (+0.4941094278755837, -0.4448296299600112, +0.7469822444972189),
    (-0.8676661490190047, -0.1980763734312015, +0.4559837761750669),
)
_OBLIQUITY = math.radians(23.439291111)
_ECLIPTIC = (
    (1.0, 0.0, 0.0),
    (0.0, math.cos(_OBLIQUITY), math.sin(_OBLIQUITY)),
    (0.0, -math.sin(_OBLIQUITY), math.cos(_OBLIQUITY)),
)


def _rotated(matrix: tuple[tuple[float, ...], ...]) -> tuple[str, str]:
    """SQL of the longitude and latitude (deg) of ra/dec in a rotated frame."""
    x, y, z = (
        " + ".join(f"({m!r}) * _{axis}" for m, axis in zip(row, "xyz", strict=True))
        for row in matrix
    )
    lon = f"((degrees(atan2({y}, {x})) + 360.0) % 360.0)"
    lat = f"degrees(asin(greatest(-1.0, least(1.0, {z}))))"
    return lon, lat


def _expressions() -> dict[str, str]:
    """SQL of the derived and real columns over the Hipparcos table (``h``)."""
    gallong, gallat = _rotated(_GALACTIC)
    eclong, eclat = _rotated(_ECLIPTIC)
    vmag = "(Hpmag + 0.2 * B_V)"  # Hp is broader and redder than V
    e_vmag = "sqrt(e_Hpmag * e_Hpmag + 0.04 * e_B_V * e_B_V)"
    return {
        "ID": f"CAST(HIP AS BIGINT) + {ID_OFFSET}",
        "version": f"'{_VERSION}'",
        "HIP": "HIP",
        "objType": "'STAR'",
        "typeSrc": "'hip'",
        "ra": "ra",
        "dec": "dec",
        "POSflag": "'hip'",
        "pmRA": "pmRA",
        "e_pmRA": "e_pmRA",
        "pmDEC": "pmDE",
        "e_pmDEC": "e_pmDE",
        "PMflag": "'hip'",
        "plx": "Plx",
        "e_plx": "e_Plx",
        "PARflag": "'hip'",
        "gallong": gallong,
        "gallat": gallat,
        "eclong": eclong,
        "eclat": eclat,
        "Bmag": f"{vmag} + B_V",
        "e_Bmag": f"sqrt({e_vmag} * {e_vmag} + e_B_V * e_B_V)",
        "Vmag": vmag,
        "e_Vmag": e_vmag,
        # Gaia DR2 G - V as a cubic in V - I (Evans et al. 2018).
        "GAIAmag": f"{vmag} - 0.01746 + 0.008092 * V_I - 0.2810 * V_I * V_I "
        "+ 0.03655 * V_I * V_I * V_I",
        "e_GAIAmag": f"sqrt({e_vmag} * {e_vmag} + 0.0009)",
        "Tmag": f"{vmag} - 0.85 * V_I",
        "e_Tmag": f"sqrt({e_vmag} * {e_vmag} + 0.0025)",
        # Ballesteros (2012): a black-body fit of Teff to B-V, sensible for -0.4 < B-V < 2.
        "Teff": "CASE WHEN B_V > -0.4 AND B_V < 2.0 THEN "
        "4600.0 * (1.0 / (0.92 * B_V + 1.7) + 1.0 / (0.92 * B_V + 0.62)) END",
        "d": "CASE WHEN Plx > 0 THEN 1000.0 / Plx END",
        "e_d": "CASE WHEN Plx > 0 THEN 1000.0 * e_Plx / (Plx * Plx) END",
    }


def view_sql(source: str = "hipparcos", name: str = "tic") -> str:
    """The ``CREATE VIEW`` statement of the TIC-shaped table over the Hipparcos table.

    A view, not a copy: it costs nothing to build or store, and DuckDB pushes the cone's
    ``_hpx``/declination conditions through it into the Hipparcos scan. It keeps the source's
    internal ``_hpx`` and ``_row`` (``HIP - 1``, so ``ID`` order).

    Parameters
    ----------
    source : str
        The Hipparcos table (as :func:`~mastkit.server.loaders.hipparcos.read_hipparcos`
        columns, plus ``_hpx`` and ``_row``).
    name : str
        The view's name.
    """
    expressions = _expressions()
    select = [
        f'{expressions.get(c.name, "NULL")}::{c.duckdb_type} AS "{c.name}"' for c in TIC.columns
    ]
    unit = (
        "cos(radians(dec)) * cos(radians(ra)) AS _x, "
        "cos(radians(dec)) * sin(radians(ra)) AS _y, sin(radians(dec)) AS _z"
    )
    return (
        f"CREATE VIEW {name} AS SELECT {', '.join(select)}, _hpx, _row "
        f"FROM (SELECT *, {unit} FROM {source})"
    )
