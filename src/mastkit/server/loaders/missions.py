"""Vocabulary of the synthetic CAOM archive: missions, instruments, filters, product templates.

The values follow what MAST's CAOM tables hold for these missions (instrument names, filters,
wavelength ranges in nm, field-of-view sizes, exposure ranges, pipeline names, product file
suffixes and their subgroups); the observations made from them are synthetic
(see :mod:`mastkit.server.demo`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["MISSIONS", "PI_NAMES", "PRODUCTS", "TITLES", "Instrument", "Mission", "Setup",
           "Template"]


@dataclass(frozen=True, slots=True)
class Setup:
    """One optical configuration: the ``filters`` value and its band."""

    filters: str
    em_min: float  # nm
    em_max: float  # nm
    region: str  # wavelength_region
    code: str  # short form used in file names


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument (or instrument mode) and how its observations look."""

    name: str
    setups: tuple[Setup, ...]
    dataproduct_type: str
    shape: Literal["box", "circle"]
    size: tuple[float, float]  # box width, height (deg); circle radius, 0
    exptime: tuple[float, float]  # s, drawn log-uniformly
    era: tuple[float, float]  # MJD range of visit starts
    provenance: str | None
    products: str  # key of PRODUCTS
    style: str  # obs_id style (see demo)
    weight: float = 1.0
    project: str | None = None  # defaults to the mission's
    letter: str = ""  # HST: first letter of the obs_id


@dataclass(frozen=True, slots=True)
class Mission:
    """A CAOM collection and the shape of its programs."""

    collection: str
    share: float  # fraction of all observations
    instruments: tuple[Instrument, ...]
    visit_mean: float  # observations per visit (pointing)
    visit_max: int
    star_share: float  # fraction of visits on Hipparcos stars (the rest on OpenNGC objects)
    scatter: float  # pointing scatter around the target, deg
    release_delay: float  # days from t_max to t_obs_release
    proposal: str | None  # proposal_id format, fields {i} (number) and {c} (cycle)
    proposal_types: tuple[tuple[str, float], ...]
    sky: str = "all"  # all, kepler, ecliptic, north
    sequence: tuple[float, float, int, int] | None = None  # t0, period, first, count
    classify: bool = True  # fill target_classification
    cycle_setups: bool = False  # setups in order within a visit (grizy, NUV/FUV)


@dataclass(frozen=True, slots=True)
class Template:
    """One product file of an observation. ``pattern`` fields: {obs} (lower-case obs_id),
    {code} (setup code)."""

    pattern: str
    subgroup: str
    product_type: str
    description: str
    calib_level: int
    median_size: float  # bytes
    mrp: bool = False
    composite: bool = False
    version: str | None = None


def _bands(names: str, scale: float, region: str) -> tuple[Setup, ...]:
    """HST/JWST filters from their names: F606W is centred on 606 nm (x ``scale``)."""
    widths = {"W": 0.25, "M": 0.1, "N": 0.01, "P": 0.3}  # LP: long pass
    out = []
    for name in names.split():
        centre = float("".join(ch for ch in name if ch.isdigit())) * scale
        half = centre * widths[name[-1]] / 2
        out.append(Setup(name, round(centre - half, 2), round(centre + half, 2), region,
                         name.lower()))
    return tuple(out)


def _s(spec: str, region: str) -> tuple[Setup, ...]:
    """Setups from ``"FILTER:min-max:code ..."``."""
    out = []
    for item in spec.split():
        name, band, code = item.split(":")
        lo, hi = band.split("-")
        out.append(Setup(name.replace("_", " "), float(lo), float(hi), region, code))
    return tuple(out)


_HST_ERA, _JWST_ERA = (55000.0, 60600.0), (59750.0, 60600.0)
_WFC3_UVIS = Instrument(
    "WFC3/UVIS", _bands("F225W F275W F336W F438W F475W F555W F606W F625W F814W F502N F656N",
                        1, "OPTICAL"),
    "image", "box", (0.045, 0.045), (60, 2700), _HST_ERA, "CALWF3", "HST_IMAGE", "hst", 3,
    letter="I")
_WFC3_IR = Instrument(
    "WFC3/IR", _bands("F105W F110W F125W F140W F160W F127M F128N", 10, "INFRARED"),
    "image", "box", (0.034, 0.038), (100, 1500), _HST_ERA, "CALWF3", "HST_IMAGE", "hst", 2,
    letter="I")
_ACS_WFC = Instrument(
    "ACS/WFC", _bands("F435W F475W F555W F606W F625W F775W F814W F850LP F658N F502N", 1,
                      "OPTICAL"),
    "image", "box", (0.056, 0.056), (300, 2400), (52400, 60600), "CALACS", "HST_IMAGE", "hst", 3,
    letter="J")
_WFPC2 = Instrument(
    "WFPC2/WFC", _bands("F300W F336W F439W F450W F555W F606W F814W F656N", 1, "OPTICAL"),
    "image", "box", (0.044, 0.044), (100, 2000), (49000, 54950), "CALWFPC2", "HST_IMAGE", "hst",
    1.5, letter="U")
_STIS = Instrument(
    "STIS/CCD", _s("G430L:290-570:g430l G750L:524-1027:g750l G230LB:168-306:g230lb", "OPTICAL"),
    "spectrum", "box", (0.0144, 0.00006), (200, 3000), (50500, 60600), "CALSTIS", "HST_SPECTRUM",
    "hst", 1, letter="O")
_COS = Instrument(
    "COS/FUV", _s("G130M:90-145:g130m G160M:140-178:g160m G140L:90-215:g140l", "UV"),
    "spectrum", "circle", (0.000347, 0), (300, 5000), _HST_ERA, "CALCOS", "HST_SPECTRUM", "hst", 1,
    letter="L")

_NIRCAM = Instrument(
    "NIRCAM/IMAGE", _bands("F070W F090W F115W F150W F200W F277W F356W F444W F410M F187N", 10,
                           "INFRARED"),
    "image", "box", (0.145, 0.063), (200, 3000), _JWST_ERA, "CALJWST", "JWST_IMAGE3", "jw3", 3)
_MIRI = Instrument(
    "MIRI/IMAGE", _bands("F560W F770W F1000W F1130W F1280W F1500W F1800W F2100W F2550W", 10,
                         "INFRARED"),
    "image", "box", (0.021, 0.031), (100, 2000), _JWST_ERA, "CALJWST", "JWST_IMAGE3", "jw3", 2)
_NIRSPEC = Instrument(
    "NIRSPEC/MSA", _s("CLEAR;PRISM:600-5300:prism F170LP;G235M:1660-3070:g235m "
                      "F290LP;G395M:2870-5100:g395m", "INFRARED"),
    "spectrum", "box", (0.06, 0.06), (500, 5000), _JWST_ERA, "CALJWST", "JWST_SPEC3", "jw3", 1.5)
_NIRISS = Instrument(
    "NIRISS/SOSS", _s("CLEAR;GR700XD:600-2800:gr700xd", "INFRARED"),
    "spectrum", "box", (0.02, 0.02), (1000, 20000), _JWST_ERA, "CALJWST", "JWST_SPEC3", "jw3", 0.7)
_IFU = Instrument(
    "NIRSPEC/IFU", _s("F100LP;G140H:970-1890:g140h F290LP;G395H:2870-5270:g395h", "INFRARED"),
    "cube", "box", (0.00083, 0.00083), (500, 5000), _JWST_ERA, "CALJWST", "JWST_SPEC3", "jw3", 0.8)


def _jwst() -> tuple[Instrument, ...]:
    """Each JWST mode gives level-3 (combined) and level-2 (exposure) observations."""
    out = []
    for inst in (_NIRCAM, _MIRI, _NIRSPEC, _NIRISS, _IFU):
        out.append(inst)
        level2 = inst.products.replace("3", "2")
        out.append(replace(inst, products=level2, style="jw2", weight=inst.weight * 1.5))
    return tuple(out)


def _hla() -> tuple[Instrument, ...]:
    return tuple(replace(i, provenance="HLA", products="HLA", style="hla")
                 for i in (_WFC3_UVIS, _ACS_WFC, _WFPC2))


_TESS = _s("TESS:600-1000:tess", "OPTICAL")
_KEPLER = _s("Kepler:420-900:kepler", "OPTICAL")
_TESS_ERA = (58324.8, 60600.0)

MISSIONS: tuple[Mission, ...] = (
    Mission("HST", 0.28, (_WFC3_UVIS, _WFC3_IR, _ACS_WFC, _WFPC2, _STIS, _COS), 6, 60, 0.2,
            0.004, 365, "{i}", (("GO", 70), ("GTO", 10), ("SNAP", 8), ("CAL", 7), ("DD", 5))),
    Mission("HLA", 0.07, _hla(), 4, 30, 0.1, 0.004, 400, "{i}", (("GO", 85), ("GTO", 15))),
    Mission("JWST", 0.10, _jwst(), 5, 40, 0.15, 0.004, 365, "{i}",
            (("GO", 70), ("GTO", 15), ("ERS", 5), ("DD", 5), ("CAL", 5))),
    Mission("TESS", 0.17, (
        Instrument("Photometer", _TESS, "timeseries", "box", (0.0636, 0.0636), (120, 120),
                   _TESS_ERA, "SPOC", "TESS_SPOC", "tess", 6),
        Instrument("Photometer", _TESS, "timeseries", "box", (0.0636, 0.0636), (200, 1800),
                   _TESS_ERA, "TESS-SPOC", "TESS_HLSP", "tess", 2.5),
        Instrument("Photometer", _TESS, "timeseries", "box", (0.0636, 0.0636), (200, 1800),
                   _TESS_ERA, "QLP", "TESS_HLSP", "tess", 1.5),
    ), 1.8, 13, 1.0, 0.0002, 60, "G0{c}{i:04d}", (("GI", 100),), classify=False,
            sequence=(58324.8, 27.4, 1, 83)),
    Mission("Kepler", 0.06, (
        Instrument("Kepler", _KEPLER, "timeseries", "box", (0.012, 0.012), (1765.5, 1765.5),
                   (54953.0, 56400.0), "Kepler", "KEPLER", "kepler", 5),
        Instrument("Kepler", _KEPLER, "timeseries", "box", (0.012, 0.012), (58.85, 58.85),
                   (54953.0, 56400.0), "Kepler", "KEPLER", "kepler", 1),
    ), 4, 18, 1.0, 0.0001, 120, "GO{i:05d}", (("GO", 100),), sky="kepler", classify=False,
            sequence=(54953.0, 93.0, 0, 18)),
    Mission("K2", 0.05, (
        Instrument("Kepler", _KEPLER, "timeseries", "box", (0.012, 0.012), (1765.5, 1765.5),
                   (56725.0, 58300.0), "K2", "K2", "k2", 1),
    ), 1.2, 3, 1.0, 0.0001, 60, "GO{c}{i:03d}", (("GO", 100),), sky="ecliptic", classify=False,
            sequence=(56725.0, 80.0, 0, 20)),
    Mission("GALEX", 0.08, tuple(
        Instrument("GALEX", _s("NUV:169-301:n FUV:134-181:f", "UV"), "image", "circle",
                   (0.625, 0), exp, (52700.0, 56000.0), None, "GALEX", "galex", w, project=p)
        for p, exp, w in (("AIS", (80, 250), 5), ("MIS", (1000, 1700), 2),
                          ("DIS", (1500, 30000), 0.5), ("GII", (500, 10000), 1.5))
    ), 2, 2, 0.3, 0.35, 365, "GI{c}_{i:03d}", (("GI", 100),), classify=False, cycle_setups=True),
    Mission("PS1", 0.06, (
        Instrument("GPC1", _s("g:400-550:g r:550-690:r i:690-820:i z:820-920:z y:920-1080:y",
                              "OPTICAL"),
                   "image", "box", (0.4, 0.4), (200, 2000), (55000.0, 56800.0), "PS1", "PS1",
                   "ps1", 1, project="3PI"),
    ), 5, 5, 0.3, 0.15, 1500, None, (), sky="north", classify=False, cycle_setups=True),
    Mission("SWIFT", 0.06, (
        Instrument("UVOT", _s("UVW2:160-260:w2 UVM2:200-260:m2 UVW1:220-330:w1 U:300-390:uu "
                              "B:380-490:bb V:500-600:vv WHITE:160-800:wh", "UV"),
                   "image", "circle", (0.1417, 0), (50, 2000), (53400.0, 60600.0), None,
                   "SWIFT", "swift", 1),
    ), 3, 12, 0.4, 0.02, 7, "{i:08d}", (("GI", 60), ("TOO", 40))),
    Mission("IUE", 0.04, (
        Instrument("SWP", _s("LOW_DISP:115-198:lo HIGH_DISP:115-198:hi", "UV"), "spectrum",
                   "circle", (0.00278, 0), (60, 20000), (43600.0, 50300.0), None, "IUE", "iue",
                   2, letter="SWP"),
        Instrument("LWP", _s("LOW_DISP:185-335:lo HIGH_DISP:185-335:hi", "UV"), "spectrum",
                   "circle", (0.00278, 0), (60, 20000), (45700.0, 50300.0), None, "IUE", "iue",
                   1.5, letter="LWP"),
        Instrument("LWR", _s("LOW_DISP:185-335:lo HIGH_DISP:185-335:hi", "UV"), "spectrum",
                   "circle", (0.00278, 0), (60, 20000), (43600.0, 46500.0), None, "IUE", "iue",
                   1, letter="LWR"),
    ), 2, 8, 0.7, 0.0003, 180, "{c}{i:04d}", (("GO", 100),)),
)

_T = Template
PRODUCTS: dict[str, tuple[Template, ...]] = {
    "HST_IMAGE": (
        _T("{obs}_drz.fits", "DRZ", "SCIENCE",
           "DADS DRZ file - Calibrated combined image ACS/WFC3/WFPC2/STIS", 3, 60e6, True, True),
        _T("{obs}_drz.jpg", "PREVIEW", "PREVIEW", "Preview-Full", 3, 150e3),
        _T("{obs}_flt.fits", "FLT", "SCIENCE",
           "DADS FLT file - Calibrated exposure ACS/WFC3/STIS/COS", 2, 40e6, version="3.7.1"),
        _T("{obs}_raw.fits", "RAW", "SCIENCE", "DADS RAW file - Raw exposure ACS/WFC3/STIS/COS",
           1, 20e6),
        _T("{obs}_asn.fits", "ASN", "AUXILIARY", "DADS ASN file - Association ACS/WFC3/STIS", 1,
           11e3),
        _T("{obs}_spt.fits", "SPT", "AUXILIARY",
           "DADS SPT file - Engineering telemetry ACS/WFC3/NICMOS/COS/STIS", 1, 40e3),
        _T("{obs}_trl.fits", "TRL", "AUXILIARY", "DADS TRL file - Processing log", 1, 30e3),
        _T("{obs}_jif.fits", "JIF", "AUXILIARY", "DADS JIF file", 1, 35e3),
    ),
    "HST_SPECTRUM": (
        _T("{obs}_x1d.fits", "X1D", "SCIENCE", "DADS X1D file - Extracted 1D spectrum STIS/COS",
           2, 200e3, True),
        _T("{obs}_x1d.png", "PREVIEW", "PREVIEW", "Preview-Full", 2, 60e3),
        _T("{obs}_flt.fits", "FLT", "SCIENCE",
           "DADS FLT file - Calibrated exposure ACS/WFC3/STIS/COS", 2, 10e6),
        _T("{obs}_raw.fits", "RAW", "SCIENCE", "DADS RAW file - Raw exposure ACS/WFC3/STIS/COS",
           1, 5e6),
        _T("{obs}_spt.fits", "SPT", "AUXILIARY",
           "DADS SPT file - Engineering telemetry ACS/WFC3/NICMOS/COS/STIS", 1, 40e3),
        _T("{obs}_jit.fits", "JIT", "AUXILIARY", "DADS JIT file", 1, 26e3),
    ),
    "HLA": (
        _T("{obs}_drz.fits", "DRZ", "SCIENCE", "HLA simple image", 3, 80e6, True, True),
        _T("{obs}_drz.jpg", "PREVIEW", "PREVIEW", "HLA preview image", 3, 200e3),
        _T("{obs}_wht.fits", "WHT", "AUXILIARY", "HLA weight image", 3, 40e6),
        _T("{obs}_ctx.fits", "CTX", "AUXILIARY", "HLA context image", 3, 20e6),
        _T("{obs}_daophot_trm.cat", "CAT", "SCIENCE", "HLA DAOPHOT source list", 3, 300e3),
        _T("{obs}_sexphot_trm.cat", "CAT", "SCIENCE", "HLA SExtractor source list", 3, 300e3),
    ),
    "JWST_IMAGE3": (
        _T("{obs}_i2d.fits", "I2D", "SCIENCE", "Rectified 2D image", 3, 120e6, True, True,
           "1.14.0"),
        _T("{obs}_i2d.jpg", "PREVIEW", "PREVIEW", "Preview-Full", 3, 300e3),
        _T("{obs}_cat.ecsv", "CAT", "SCIENCE", "Source catalog", 3, 2e6),
        _T("{obs}_segm.fits", "SEGM", "SCIENCE", "Segmentation map", 3, 30e6),
        _T("{obs}_asn.json", "ASN", "INFO", "Association file", 3, 5e3),
        _T("{obs}_pool.csv", "POOL", "INFO", "Association pool", 3, 50e3),
    ),
    "JWST_IMAGE2": (
        _T("{obs}_cal.fits", "CAL", "SCIENCE", "Calibrated exposure", 2, 110e6, True,
           version="1.14.0"),
        _T("{obs}_cal.jpg", "PREVIEW", "PREVIEW", "Preview-Full", 2, 300e3),
        _T("{obs}_rate.fits", "RATE", "SCIENCE", "Countrate image", 2, 70e6),
        _T("{obs}_uncal.fits", "UNCAL", "SCIENCE", "Uncalibrated exposure", 1, 150e6),
        _T("{obs}_rateints.fits", "RATEINTS", "SCIENCE", "Countrate per integration", 2, 90e6),
        _T("{obs}_trapsfilled.fits", "TRAPSFILLED", "AUXILIARY", "Trap state", 2, 50e6),
    ),
    "JWST_SPEC3": (
        _T("{obs}_x1d.fits", "X1D", "SCIENCE", "Extracted 1D spectrum", 3, 500e3, True, True,
           "1.14.0"),
        _T("{obs}_x1d.jpg", "PREVIEW", "PREVIEW", "Preview-Full", 3, 100e3),
        _T("{obs}_s2d.fits", "S2D", "SCIENCE", "Rectified 2D spectrum", 3, 20e6),
        _T("{obs}_asn.json", "ASN", "INFO", "Association file", 3, 5e3),
        _T("{obs}_pool.csv", "POOL", "INFO", "Association pool", 3, 50e3),
    ),
    "JWST_SPEC2": (
        _T("{obs}_cal.fits", "CAL", "SCIENCE", "Calibrated exposure", 2, 60e6, True,
           version="1.14.0"),
        _T("{obs}_cal.jpg", "PREVIEW", "PREVIEW", "Preview-Full", 2, 200e3),
        _T("{obs}_x1d.fits", "X1D", "SCIENCE", "Extracted 1D spectrum", 2, 500e3),
        _T("{obs}_rate.fits", "RATE", "SCIENCE", "Countrate image", 2, 70e6),
        _T("{obs}_uncal.fits", "UNCAL", "SCIENCE", "Uncalibrated exposure", 1, 150e6),
    ),
    "TESS_SPOC": (
        _T("{obs}_lc.fits", "LC", "SCIENCE", "Light curves", 3, 1.9e6, True, version="5.0"),
        _T("{obs}_tp.fits", "TPF", "SCIENCE", "Target pixel files", 3, 45e6),
        _T("{obs}_dvt.fits", "DVT", "SCIENCE", "Data validation time series", 3, 5e6),
        _T("{obs}_dvr.pdf", "DVR", "INFO", "Data validation full report", 3, 3e6),
        _T("{obs}_dvs.pdf", "DVS", "INFO", "Data validation summary report", 3, 1e6),
    ),
    "TESS_HLSP": (
        _T("{obs}_llc.fits", "LC", "SCIENCE", "FFI light curve", 4, 800e3, True),
        _T("{obs}_llc.txt", "LC", "SCIENCE", "FFI light curve (text)", 4, 300e3),
        _T("{obs}_cutout.fits", "TPF", "AUXILIARY", "FFI cutout", 4, 8e6),
    ),
    "KEPLER": (
        _T("{obs}_llc.fits", "LLC", "SCIENCE", "Lightcurve Long Cadence (CLC) - Q", 2, 450e3, True),
        _T("{obs}_lpd-targ.fits", "LPD-TARG", "SCIENCE", "Target Pixel Long Cadence (TPL) - Q", 1,
           5e6),
        _T("{obs}_slc.fits", "SLC", "SCIENCE", "Lightcurve Short Cadence (CSC) - M", 2, 4e6),
        _T("{obs}_spd-targ.fits", "SPD-TARG", "SCIENCE", "Target Pixel Short Cadence (TPS) - M",
           1, 60e6),
        _T("{obs}_dvt.fits", "DVT", "AUXILIARY", "Data validation time series", 2, 3e6),
    ),
    "K2": (
        _T("{obs}_llc.fits", "LLC", "SCIENCE", "Lightcurve Long Cadence (KLC) - C", 2, 500e3,
           True),
        _T("{obs}_lpd-targ.fits", "LPD-TARG", "SCIENCE", "Target Pixel Long Cadence (KTL) - C",
           1, 8e6),
        _T("{obs}_spd-targ.fits", "SPD-TARG", "SCIENCE", "Target Pixel Short Cadence (KTS) - C",
           1, 90e6),
    ),
    "GALEX": (
        _T("{obs}-{code}d-int.fits", "INT", "SCIENCE", "Intensity map", 2, 25e6, True),
        _T("{obs}-{code}d-int.jpg", "PREVIEW", "PREVIEW", "Preview image", 2, 150e3),
        _T("{obs}-{code}d-cnt.fits", "CNT", "SCIENCE", "Count map", 2, 10e6),
        _T("{obs}-{code}d-rrhr.fits", "RRHR", "AUXILIARY", "Relative response map", 2, 15e6),
        _T("{obs}-{code}d-skybg.fits", "SKYBG", "AUXILIARY", "Sky background map", 2, 10e6),
        _T("{obs}-xd-mcat.fits", "MCAT", "SCIENCE", "Merged source catalog", 2, 8e6),
    ),
    "PS1": (
        _T("{obs}.unconv.fits", "STACK", "SCIENCE", "stack image", 3, 60e6, True, True),
        _T("{obs}.jpg", "PREVIEW", "PREVIEW", "Preview image", 3, 250e3),
        _T("{obs}.unconv.wt.fits", "WEIGHT", "AUXILIARY", "stack variance image", 3, 60e6),
        _T("{obs}.unconv.mask.fits", "MASK", "AUXILIARY", "stack mask image", 3, 5e6),
        _T("{obs}.unconv.num.fits", "NUM", "AUXILIARY", "stack number image", 3, 3e6),
        _T("{obs}.unconv.exp.fits", "EXP", "AUXILIARY", "stack exposure image", 3, 10e6),
    ),
    "SWIFT": (
        _T("sw{obs}u{code}_sk.fits", "SK", "SCIENCE", "UVOT sky image", 2, 8e6, True),
        _T("sw{obs}u{code}_sk.jpg", "PREVIEW", "PREVIEW", "Preview image", 2, 120e3),
        _T("sw{obs}u{code}_ex.fits", "EX", "AUXILIARY", "UVOT exposure map", 2, 8e6),
        _T("sw{obs}u{code}_rw.fits", "RW", "SCIENCE", "UVOT raw image", 1, 8e6),
        _T("sw{obs}uat.fits", "ATT", "AUXILIARY", "Attitude file", 1, 1e6),
    ),
    "IUE": (
        _T("{obs}mxlo_vo.fits", "MXLO", "SCIENCE", "IUE extracted spectrum (VO)", 2, 50e3, True),
        _T("{obs}_preview.jpg", "PREVIEW", "PREVIEW", "Preview image", 2, 40e3),
        _T("{obs}silo.fits", "SILO", "SCIENCE", "IUE resampled image", 2, 400e3),
        _T("{obs}lilo.fits", "LILO", "SCIENCE", "IUE linearized image", 1, 300e3),
        _T("{obs}raw.fits", "RAW", "SCIENCE", "IUE raw image", 1, 500e3),
    ),
}

PI_NAMES = (
    "Adams", "Alvarez", "Andersen", "Baker", "Bianchi", "Brown", "Calzetti", "Carter", "Chen",
    "Clarke", "Cohen", "Costa", "Dalcanton", "Davies", "Dressler", "Dupont", "Eriksson", "Evans",
    "Fischer", "Fraser", "Garcia", "Gonzalez", "Green", "Gupta", "Hall", "Hansen", "Harris",
    "Hernandez", "Hoffmann", "Ito", "Jackson", "Jansen", "Johnson", "Kato", "Kelly", "Kim",
    "Kowalski", "Kumar", "Larsen", "Lee", "Lopez", "Martin", "Martinez", "Meyer", "Miller", "Mori",
    "Muller", "Murphy", "Nakamura", "Nguyen", "Novak", "Olsen", "Ostriker", "Park", "Patel",
    "Peeters", "Petit", "Quinn", "Ramirez", "Rossi", "Russo", "Santos", "Sato", "Schmidt",
    "Schneider", "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thompson", "Tremonti",
    "Turner", "Vogel", "Wagner", "Walker", "Wang", "Weber", "White", "Williams", "Wilson", "Wong",
    "Yamamoto", "Young", "Zhang", "Zhou",
)

# Observation titles by kind of target; {target} is the target's display name.
TITLES: dict[str, tuple[str, ...]] = {
    "galaxy": (
        "Resolved stellar populations in {target}", "The star formation history of {target}",
        "Age-dating star clusters in {target}", "Cepheids and the distance to {target}",
        "Dust and gas in the disk of {target}", "The nuclear region of {target}",
    ),
    "cluster": (
        "Proper motions and internal dynamics of {target}", "Multiple populations in {target}",
        "The white dwarf cooling sequence of {target}", "Binary fraction of {target}",
    ),
    "nebula": (
        "Ionization structure of {target}", "Shock physics in {target}",
        "Protostars and outflows in {target}", "Expansion of {target}",
    ),
    "star": (
        "Asteroseismology of {target}", "Transits and eclipses of {target}",
        "Ultraviolet activity of {target}", "Chromospheres of cool stars: {target}",
        "Flares and rotation of {target}",
    ),
}
