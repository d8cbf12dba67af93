"""Column metadata of the local archive's tables, and MAST-style columns configs built from it.

Each public table has a :class:`TableSchema`: its exposed columns in MAST order, with the MAST
json type (what ``fields[].type`` says), the DuckDB storage type, unit, UCD, description and
separator. MAST declares its long database ids (``obsid``, ``objID``, ``obsID``,
``parent_obsid``) as ``string`` but sends numbers; they are stored as BIGINT here, exactly so.

Internal columns start with ``_`` (``_hpx``, ``_fp_radius``, ``_row``, ``_seed``, ...). They are
never listed in a schema, so they can be neither selected nor filtered on; every table keeps a
``_row`` column, its canonical order (documented per table in :attr:`TableSchema.order`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from mastkit.errors import BadInputError, UnknownColumnError

__all__ = [
    "DISTANCE",
    "HIPPARCOS",
    "OBSERVATIONS",
    "PRODUCTS",
    "TABLES",
    "Column",
    "TableSchema",
    "columns_config",
    "get_schema",
    "schema_config",
]

MastType = Literal["string", "int", "float", "boolean"]

# MAST json type -> the VOTable datatype its columns configs use.
_VOT = {"string": "char", "int": "int", "float": "double", "boolean": "boolean"}


@dataclass(frozen=True, slots=True)
class Column:
    """One exposed column.

    Attributes
    ----------
    name : str
        Column name, as MAST spells it.
    mast_type : {"string", "int", "float", "boolean"}
        The type MAST declares in ``fields``.
    duckdb_type : str
        The storage type (``VARCHAR``, ``BIGINT``, ``INTEGER``, ``DOUBLE``, ``BOOLEAN``).
    text : str
        The human label of the columns config.
    description : str
    unit : str or None
    ucd : str or None
    separator : str or None
        Delimiter of multi-valued string columns (``;``).
    example : str or None
    vot : str or None
        VOTable datatype when it is not the one implied by the types (MAST says ``float``
        for ``srcDen`` and ``distance``).
    extra : tuple of (str, object) pairs
        Further columns-config properties, as MAST's own config has them (``intAsString``,
        ``prefilterOrder``, ``visible``, ...).
    """

    name: str
    mast_type: MastType
    duckdb_type: str
    text: str
    description: str
    unit: str | None = None
    ucd: str | None = None
    separator: str | None = None
    example: str | None = None
    vot: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def vot_datatype(self) -> str:
        """VOTable datatype: ``long`` for BIGINT ids, else from the MAST type."""
        if self.vot:
            return self.vot
        if self.duckdb_type == "BIGINT":
            return "long"
        return _VOT[self.mast_type]

    @property
    def is_numeric(self) -> bool:
        """True when the stored value is a number (ids declared ``string`` included)."""
        return self.duckdb_type in ("BIGINT", "INTEGER", "DOUBLE")


@dataclass(frozen=True, slots=True)
class TableSchema:
    """The exposed columns of one archive table.

    Attributes
    ----------
    name : str
        DuckDB table name.
    columns : tuple of Column
        Exposed columns, in MAST order.
    order : str
        Human statement of the canonical row order (what ``_row`` encodes).
    ra, dec : str or None
        Position columns, for tables that support cone searches.
    footprint : str or None
        STC-S footprint column; without one rows are points.
    """

    name: str
    columns: tuple[Column, ...]
    order: str
    ra: str | None = None
    dec: str | None = None
    footprint: str | None = None
    _by_lower: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {c.name.lower(): c for c in self.columns})

    @property
    def names(self) -> list[str]:
        """Exposed column names in order."""
        return [c.name for c in self.columns]

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._by_lower

    def column(self, name: str) -> Column:
        """The column called ``name`` (case-insensitive, as SQL Server's default collation).

        Raises
        ------
        UnknownColumnError
            Whose message is MAST's ``Invalid column name 'x'.``, with close names as
            ``suggestions``.
        """
        found = self._by_lower.get(name.strip().lower())
        if found is not None:
            return found
        suggestions = difflib.get_close_matches(name, self.names, n=3)
        err = UnknownColumnError(name, suggestions, known=self.names)
        # The server answers in MAST's words; the suggestions stay available as attributes.
        err.message = err.server_message = f"Invalid column name '{name}'."
        raise err


def _c(
    name: str,
    mast_type: MastType,
    duckdb_type: str,
    text: str,
    description: str,
    unit: str | None = None,
    ucd: str | None = None,
    separator: str | None = None,
    example: str | None = None,
    vot: str | None = None,
) -> Column:
    return Column(name, mast_type, duckdb_type, text, description, unit, ucd, separator, example,
                  vot)


_S, _D, _I, _L = "VARCHAR", "DOUBLE", "INTEGER", "BIGINT"
_DECIMAL = "May be displayed in the Portal as hh:mm:ss.sss, but should be searched as decimal"

OBSERVATIONS = TableSchema(
    name="observations",
    order="obs_collection DESC, obsid ASC (as MAST sorts CAOM results)",
    ra="s_ra",
    dec="s_dec",
    footprint="s_region",
    columns=(
        _c("intentType", "string", _S, "Observation Type",
           "Whether observation is for science or calibration.", None, "meta.code",
           example="Valid values: science, calibration"),
        _c("obs_collection", "string", _S, "Mission", "Collection", None, "meta.id", ";",
           "E.g. HST, JWST, TESS, GALEX"),
        _c("provenance_name", "string", _S, "Provenance Name",
           "Provenance name, or source of data", None, "meta.curation",
           example="E.g. CALWF3, CALJWST, SPOC, TESS-SPOC"),
        _c("instrument_name", "string", _S, "Instrument", "Instrument Name", None, "instr",
           example="E.g. WFPC2/WFC, UVOT, STIS/CCD"),
        _c("project", "string", _S, "Project", "Processing project", None, "meta.title", ";",
           "E.g. HST, HLA, EUVE, hlsp_legus"),
        _c("filters", "string", _S, "Filters", "Instrument filters", None,
           "phys.transmission;instr.filter", ";", "F469N, NUV, FUV, LOW DISP, MIRROR"),
        _c("wave_region", "string", _S, "Wave Region", "Energy band (same as wavelength_region)",
           None, "instr.bandpass", ";", "EUV, XRAY, OPTICAL"),
        _c("target_name", "string", _S, "Target Name", "Target Name", None, "meta.id",
           example="Ex. NGC5457, M101, HIP32349"),
        _c("target_classification", "string", _S, "Target Classification", "Type of target",
           None, "src.class", ";", "Ex. GALAXY;SPIRAL"),
        _c("obs_id", "string", _S, "Observation ID", "Observation identifier, given by mission",
           None, "meta.id", example="U24Z0101T, N4QF18030"),
        _c("s_ra", "float", _D, "RA", "Observation Right Ascension", "deg",
           "pos.eq.ra;meta.main",
           example=_DECIMAL),
        _c("s_dec", "float", _D, "Dec", "Observation Declination", "deg",
           "pos.eq.dec;meta.main",
           example=_DECIMAL),
        _c("dataproduct_type", "string", _S, "Product Type", "Type of product", None,
           "meta.code.class",
           example="Valid values: IMAGE, SPECTRUM, SED, TIMESERIES, VISIBILITY, EVENTLIST, CUBE, "
           "CATALOG, ENGINEERING, NULL"),
        _c("proposal_pi", "string", _S, "Principal Investigator",
           "Principal investigator's last name", None, "meta.id.PI",
           example="Chander, Chu, Malkin"),
        _c("calib_level", "int", _I, "Calibration Level", "Calibration level", None,
           "meta.code.status",
           example="0 = raw, 1 = uncalibrated, 2 = calibrated, 3 = science product, "
           "4 = contributed science product"),
        _c("t_min", "float", _D, "Start Time", "Observation start datetime", "d",
           "time.start;obs.exposure", example="MJD"),
        _c("t_max", "float", _D, "End Time", "Observation end datetime", "d",
           "time.end;obs.exposure", example="MJD"),
        _c("t_exptime", "float", _D, "Exposure Length", "Exposure time", "s",
           "time.duration;obs.exposure"),
        _c("wavelength_region", "string", _S, "Waveband", "Energy Band", None, "meta.ucd", ";",
           "EUV, XRAY, OPTICAL"),
        _c("em_min", "float", _D, "Min. Wavelength", "Minimum Wavelength", "nm",
           "em.wl;stat.min"),
        _c("em_max", "float", _D, "Max. Wavelength", "Maximum Wavelength", "nm",
           "em.wl;stat.max"),
        _c("obs_title", "string", _S, "Observation Title",
           "Observation description from proposal", None, "meta.title",
           example="Age-dating Star Clusters in M101"),
        _c("t_obs_release", "float", _D, "Release Date", "Dataset release date", "d",
           "time.release;meta.dataset", example="MJD"),
        _c("proposal_id", "string", _S, "Proposal ID", "Proposal ID", None,
           "meta.id;obs.proposal"),
        _c("proposal_type", "string", _S, "Proposal Type", "Type of telescope proposal", None,
           "meta.code", example="E.g. GO, GTO, SNAP, CAL"),
        _c("sequence_number", "int", _I, "Sequence Number",
           "Sequence number, e.g. Kepler quarter, K2 campaign or TESS sector", None,
           "meta.number"),
        _c("s_region", "string", _S, "s_region", "STC/S Footprint", "deg", "pos;obs.field",
           example="Will be ICRS circle or polygon. E.g. CIRCLE ICRS 17.71740689 -58.40043015 "
           "0.625"),
        _c("jpegURL", "string", _S, "jpegURL", "Preview Image URL", None, "meta.ref.url"),
        _c("dataURL", "string", _S, "Data URL", "Data URL", None, "meta.ref.url"),
        _c("dataRights", "string", _S, "Data Rights", "Data Rights", None, "meta.code",
           example="PUBLIC, EXCLUSIVE_ACCESS"),
        _c("mtFlag", "boolean", "BOOLEAN", "Moving Target", "Moving Target Flag", None,
           "meta.code"),
        _c("srcDen", "float", _D, "Associated Catalogs",
           "Number of cataloged objects found in observation", None, "phys.density", vot="float"),
        _c("obsid", "string", _L, "Product Group ID", "Database identifier for obs_id", None,
           "meta.record", example="Long integer, e.g. 2007590987"),
        _c("objID", "string", _L, "Object ID",
           "Plane ID of observation at given calibration level", None, "meta.record",
           example="Long integer, e.g. 2012969445"),
        _c("wave_min", "float", _D, "Min. Wavelength", "Minimum wavelength (same as em_min)",
           "nm", "em.wl;stat.min"),
        _c("wave_max", "float", _D, "Max. Wavelength", "Maximum wavelength (same as em_max)",
           "nm", "em.wl;stat.max"),
    ),
)

PRODUCTS = TableSchema(
    name="products",
    order="obsID ASC, then the product's rank within its observation",
    columns=(
        _c("obsID", "string", _L, "Product Group ID", "Observation the product belongs to",
           None, "meta.record"),
        _c("obs_collection", "string", _S, "Mission", "Collection", None, "meta.id"),
        _c("dataproduct_type", "string", _S, "Product Type", "Type of product", None,
           "meta.code.class"),
        _c("obs_id", "string", _S, "Observation ID", "Observation identifier, given by mission",
           None, "meta.id"),
        _c("description", "string", _S, "Description", "File description", None, "meta.note"),
        _c("type", "string", _S, "Type", "S = simple, C = composite", None, "meta.code"),
        _c("dataURI", "string", _S, "Data URI", "URI of the file", None, "meta.ref.uri"),
        _c("productType", "string", _S, "Product Type",
           "SCIENCE, AUXILIARY, PREVIEW, INFO, ...", None, "meta.code.class"),
        _c("productGroupDescription", "string", _S, "Product Group",
           "Minimum Recommended Products or null", None, "meta.note"),
        _c("productSubGroupDescription", "string", _S, "Product Subgroup",
           "File class, e.g. DRZ, FLT, CAL, I2D, LC, TPF", None, "meta.code"),
        _c("productDocumentationURL", "string", _S, "Documentation",
           "Documentation URL", None, "meta.ref.url"),
        _c("project", "string", _S, "Project", "Processing project", None, "meta.title"),
        _c("prvversion", "string", _S, "Product Version", "Pipeline version", None,
           "meta.version"),
        _c("proposal_id", "string", _S, "Proposal ID", "Proposal ID", None,
           "meta.id;obs.proposal"),
        _c("productFilename", "string", _S, "Filename", "File name", None, "meta.id;meta.file"),
        _c("size", "int", _L, "Size", "File size", "byte", "phys.size;meta.file"),
        _c("parent_obsid", "string", _L, "Parent Obs ID", "The obsid that was queried", None,
           "meta.record"),
        _c("dataRights", "string", _S, "Data Rights", "Data Rights", None, "meta.code"),
        _c("calib_level", "int", _I, "Calibration Level", "Calibration level", None,
           "meta.code.status"),
        _c("filters", "string", _S, "Filters", "Instrument filters", None,
           "phys.transmission;instr.filter"),
    ),
)

_MAS, _MASYR = "mas", "mas/yr"
HIPPARCOS = TableSchema(
    name="hipparcos",
    order="HIP ASC",
    ra="ra",
    dec="dec",
    columns=(
        _c("HIP", "int", _I, "HIP", "Hipparcos identifier", None, "meta.id;meta.main"),
        _c("Sn", "int", _I, "Sn", "Solution type, new reduction", None, "meta.code"),
        _c("So", "int", _I, "So", "Solution type, old reduction", None, "meta.code"),
        _c("Nc", "int", _I, "Nc", "Number of components", None, "meta.number"),
        _c("ra", "float", _D, "RA", "Right Ascension (ICRS, epoch 1991.25)", "deg",
           "pos.eq.ra;meta.main"),
        _c("dec", "float", _D, "Dec", "Declination (ICRS, epoch 1991.25)", "deg",
           "pos.eq.dec;meta.main"),
        _c("Plx", "float", _D, "Plx", "Parallax", _MAS, "pos.parallax.trig"),
        _c("pmRA", "float", _D, "pmRA", "Proper motion in RA (times cos Dec)", _MASYR,
           "pos.pm;pos.eq.ra"),
        _c("pmDE", "float", _D, "pmDE", "Proper motion in Dec", _MASYR, "pos.pm;pos.eq.dec"),
        _c("e_RA", "float", _D, "e_RA", "Formal error on RA", _MAS, "stat.error;pos.eq.ra"),
        _c("e_DE", "float", _D, "e_DE", "Formal error on Dec", _MAS, "stat.error;pos.eq.dec"),
        _c("e_Plx", "float", _D, "e_Plx", "Formal error on parallax", _MAS,
           "stat.error;pos.parallax.trig"),
        _c("e_pmRA", "float", _D, "e_pmRA", "Formal error on pmRA", _MASYR,
           "stat.error;pos.pm;pos.eq.ra"),
        _c("e_pmDE", "float", _D, "e_pmDE", "Formal error on pmDE", _MASYR,
           "stat.error;pos.pm;pos.eq.dec"),
        _c("Ntr", "int", _I, "Ntr", "Number of field transits used", None, "meta.number"),
        _c("F2", "float", _D, "F2", "Goodness of fit", None, "stat.fit.goodness"),
        _c("F1", "int", _I, "F1", "Percentage of rejected data", "%", "stat.value"),
        _c("var", "float", _D, "var", "Cosmic dispersion added (stochastic solution)", _MAS,
           "stat.stdev"),
        _c("ic", "int", _I, "ic", "Entry in one of the supplementary catalogues", None,
           "meta.code"),
        _c("Hpmag", "float", _D, "Hpmag", "Hipparcos magnitude", "mag", "phot.mag;em.opt"),
        _c("e_Hpmag", "float", _D, "e_Hpmag", "Error on mean Hpmag", "mag",
           "stat.error;phot.mag"),
        _c("sHp", "float", _D, "sHp", "Scatter of Hpmag", "mag", "stat.stdev;phot.mag"),
        _c("VA", "int", _I, "VA", "Reference to variability annex", None, "meta.code"),
        _c("B_V", "float", _D, "B-V", "B-V colour index", "mag", "phot.color;em.opt.B;em.opt.V"),
        _c("e_B_V", "float", _D, "e_B-V", "Formal error on B-V", "mag", "stat.error;phot.color"),
        _c("V_I", "float", _D, "V-I", "V-I colour index", "mag", "phot.color;em.opt.V;em.opt.I"),
    ),
)

DISTANCE = _c("distance", "float", _D, 'Distance (")',
              "Angular separation between searched coordinates and the observation footprint "
              "(0 inside it)", "arcsec", "pos.angDistance", vot="float")

TABLES: dict[str, TableSchema] = {s.name: s for s in (OBSERVATIONS, PRODUCTS, HIPPARCOS)}

# Which schema each MAST columns config describes.
_CONFIGS: dict[str, tuple[TableSchema, bool]] = {
    "mast.caom.cone": (OBSERVATIONS, True),
    "mast.caom.filtered": (OBSERVATIONS, False),
    "mast.caom.filtered.position": (OBSERVATIONS, True),
    "mast.caom.products": (PRODUCTS, False),
}


def get_schema(table: str) -> TableSchema:
    """The schema of archive table ``table``.

    Raises
    ------
    BadInputError
        For a table that is not queryable.
    """
    try:
        return TABLES[table]
    except KeyError:
        raise BadInputError(f"Unknown table {table!r}; known: {', '.join(TABLES)}") from None


def _entry(col: Column, order: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "text": col.text,
        "order": order,
        "vot.datatype": col.vot_datatype,
        "vot.ID": col.name,
        "vot.name": col.name,
        "vot.description": col.description,
    }
    if col.vot_datatype == "char":
        entry["vot.arraysize"] = "*"
    if col.unit:
        entry["vot.unit"] = col.unit
    if col.ucd:
        entry["vot.ucd"] = col.ucd
    if col.separator:
        entry["separator"] = col.separator
    if col.example:
        entry["example"] = col.example
    if col.name in ("t_min", "t_max", "t_obs_release"):
        entry["isMjd"] = True
    if col.name == "obs_collection":
        entry["sort"] = "DESC"
    if col.duckdb_type == "BIGINT" and col.mast_type == "string":
        entry["intAsString"] = True  # long ids: declared string, sent as numbers
    entry.update(col.extra)
    return entry


def schema_config(
    schema: TableSchema, separation: Column | None = None
) -> dict[str, dict[str, Any]]:
    """The columns config of any table schema, with a trailing separation column if given.

    Parameters
    ----------
    schema : TableSchema
    separation : Column, optional
        The column a cone appends (``distance``, ``dstArcSec``).

    Returns
    -------
    dict
        Column name -> properties, in column order (see :func:`columns_config`).
    """
    cols = list(schema.columns) + ([separation] if separation is not None else [])
    return {col.name: _entry(col, i) for i, col in enumerate(cols)}


def columns_config(service: str) -> dict[str, dict[str, Any]]:
    """A MAST-style columns config (the ``columnsconfig`` endpoint's payload) for ``service``.

    Parameters
    ----------
    service : str
        ``Mast.Caom.Cone``, ``Mast.Caom.Filtered``, ``Mast.Caom.Filtered.Position`` or
        ``Mast.Caom.Products`` (case-insensitive). Catalogue configs
        (``Mast.Catalogs.Tess.Cone``, ``Mast.Catalogs.NAME.Cone``) depend on the archive's
        catalogues: see :mod:`mastkit.server.catalogs`.

    Returns
    -------
    dict
        Column name -> properties, in column order, using MAST's vocabulary (``text``,
        ``order``, ``vot.datatype``, ``vot.unit``, ``vot.ucd``, ``vot.description``,
        ``separator``, ``example``, ...). Cone configs add ``distance``.

    Raises
    ------
    BadInputError
        For a service without a columns config here.
    """
    try:
        schema, with_distance = _CONFIGS[service.strip().lower()]
    except KeyError:
        raise BadInputError(f"No columns config for service {service!r}") from None
    return schema_config(schema, DISTANCE if with_distance else None)
