"""The synthetic CAOM archive: deterministic observations and products at any size.

**Synthetic data, labelled so.** Every observation's ``obs_title`` ends with
:data:`SYNTHETIC_MARKER` (``"(mastkit synthetic)"``) and every product file's FITS header says
``ORIGIN = 'mastkit synthetic'``. Missions, instruments, filters, footprints, exposure times,
pipelines and product names follow MAST's CAOM (see :mod:`mastkit.server.loaders.missions`);
the observations themselves are made up, pointed at the REAL objects of the archive (OpenNGC
objects and Hipparcos stars: ``target_name`` is the object's name, positions scatter around it),
with famous targets (M31, M42, M51, M101, ...) heavily observed.

The generator is vectorized: numpy draws every random quantity (one generator per concern,
spawned from ``seed``), DuckDB assembles the strings. For a given ``seed`` and size the result
is identical run to run. ``observations`` is stored sorted by ``_hpx`` (for cone pruning) with
``_row`` as its canonical order (``obs_collection DESC, obsid``); ``products`` is stored in its
canonical order (``obsID``, then product rank). About 3% of JWST observations share a product
file with the previous exposure of their visit (the same ``dataURI`` under two ``obsID``\\ s).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from mastkit.server.loaders.missions import (
    MISSIONS,
    PI_NAMES,
    PRODUCTS,
    TITLES,
    Instrument,
    Mission,
    Setup,
    Template,
)
from mastkit.server.sql import hpx_index

__all__ = ["REFERENCE_MJD", "SYNTHETIC_MARKER", "build_caom"]

SYNTHETIC_MARKER = "(mastkit synthetic)"
REFERENCE_MJD = 60700.0  # "today" of the archive: later release dates are EXCLUSIVE_ACCESS
_FAMOUS = {1, 8, 13, 16, 20, 27, 31, 33, 42, 45, 51, 57, 81, 82, 87, 101, 104}
_KINDS = ("galaxy", "cluster", "nebula", "star")
_KIND_OF = {"G": 0, "GPair": 0, "GTrpl": 0, "GGroup": 0, "OCl": 1, "GCl": 1, "*Ass": 1,
            "Cl+N": 2, "PN": 2, "HII": 2, "EmN": 2, "Neb": 2, "RfN": 2, "SNR": 2, "DrkN": 2}
_CLASS_OF = {
    "G": "GALAXY", "GPair": "GALAXY;INTERACTING GALAXIES", "GTrpl": "GALAXY;GALAXY GROUP",
    "GGroup": "GALAXY;GALAXY GROUP", "OCl": "STAR CLUSTER;OPEN CLUSTER",
    "GCl": "STAR CLUSTER;GLOBULAR CLUSTER", "*Ass": "STAR;STELLAR ASSOCIATION",
    "Cl+N": "STAR CLUSTER;NEBULA", "PN": "ISM;PLANETARY NEBULA", "HII": "ISM;HII REGION",
    "EmN": "ISM;EMISSION NEBULA", "Neb": "ISM;NEBULA", "RfN": "ISM;REFLECTION NEBULA",
    "SNR": "ISM;SUPERNOVA REMNANT", "DrkN": "ISM;DARK CLOUD", "*": "STAR",
    "**": "STAR;DOUBLE STAR", "Nova": "STAR;NOVA",
}
_STAR_CLASSES = ("STAR;HOT STAR", "STAR", "STAR;SOLAR-TYPE STAR", "STAR;LATE-TYPE STAR")
_B36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def _base36(values: np.ndarray, width: int) -> pa.Array:
    """Fixed-width base-36 strings of non-negative integers, without a Python loop."""
    v = values.astype(np.int64).copy()
    digits = np.empty((len(v), width), dtype=np.uint8)
    for j in range(width - 1, -1, -1):
        digits[:, j] = _B36[v % 36]
        v //= 36
    return pa.array(digits.view(f"S{width}").ravel()).cast(pa.string())


def _targets(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """The target pool: OpenNGC objects then Hipparcos stars, with draw weights."""
    obj = con.sql(
        "SELECT name, display_name, type, ra, dec, coalesce(majax, 1.0) / 60 AS size, messier,"
        " coalesce(vmag, bmag, 15.0) AS mag FROM objects ORDER BY name").to_arrow_table()
    hip = con.sql("SELECT HIP, ra, dec, Hpmag, coalesce(B_V, 0.6) AS bv FROM hipparcos "
                  "ORDER BY HIP").to_arrow_table()
    messier = obj.column("messier").to_numpy(zero_copy_only=False)
    messier = np.nan_to_num(messier.astype(float), nan=0).astype(int)
    famous = np.isin(messier, list(_FAMOUS))
    types = obj.column("type").to_pylist()
    n_obj, n_hip = obj.num_rows, hip.num_rows
    bv = hip.column("bv").to_numpy()
    star_class = np.digitize(bv, [0.0, 0.5, 1.2])
    hmag = hip.column("Hpmag").to_numpy()
    names = obj.column("name").to_pylist()
    compact = [n[:3] + n[3:].lstrip("0") if n[:3] == "NGC" else
               (n[:2] + n[2:].lstrip("0") if n[:2] == "IC" else n) for n in names]
    hips = hip.column("HIP").to_numpy()
    table = pa.table({
        "tid": np.arange(n_obj + n_hip),
        "name": pa.concat_arrays([pa.array(compact), pa.array([f"HIP{h}" for h in hips])]),
        "alt": pa.concat_arrays([pa.array([f"M{m}" if m else None for m in messier],
                                          pa.string()), pa.nulls(n_hip, pa.string())]),
        "display": pa.concat_arrays([obj.column("display_name").combine_chunks(),
                                     pa.array([f"HIP {h}" for h in hips])]),
        "class": pa.concat_arrays([pa.array([_CLASS_OF.get(t) for t in types], pa.string()),
                                   pa.array(np.array(_STAR_CLASSES)[star_class])]),
    })
    arrays = {
        "ra": np.concatenate([obj.column("ra").to_numpy(), hip.column("ra").to_numpy()]),
        "dec": np.concatenate([obj.column("dec").to_numpy(), hip.column("dec").to_numpy()]),
        "size": np.concatenate([obj.column("size").to_numpy(), np.zeros(n_hip)]),
        "kind": np.concatenate([[_KIND_OF.get(t, 3) for t in types], np.full(n_hip, 3)]),
        "star": np.concatenate([np.zeros(n_obj, bool), np.ones(n_hip, bool)]),
        "weight": np.concatenate([
            1 + 40.0 * (messier > 0) + 150.0 * famous
            + 5.0 * (obj.column("mag").to_numpy() < 10),
            1 + 10.0 * (hmag < 4) + 2.0 * (hmag < 7),
        ]),
    }
    return table, arrays


def _sky_mask(ra: np.ndarray, dec: np.ndarray, sky: str) -> np.ndarray:
    if sky == "kepler":  # the Kepler field: about 7 degrees around (290.67, +44.5)
        a, d = np.radians(ra - 290.67), np.radians(dec)
        cos_sep = (np.sin(d) * math.sin(math.radians(44.5))
                   + np.cos(d) * math.cos(math.radians(44.5)) * np.cos(a))
        return np.asarray(cos_sep > math.cos(math.radians(7.0)))
    if sky == "ecliptic":  # K2 pointed along the ecliptic
        eps = math.radians(23.4393)
        a, d = np.radians(ra), np.radians(dec)
        beta = np.arcsin(np.sin(d) * math.cos(eps) - np.cos(d) * math.sin(eps) * np.sin(a))
        return np.asarray(np.abs(np.degrees(beta)) < 5.0)
    if sky == "north":  # Pan-STARRS 3pi: dec > -30
        return np.asarray(dec > -30.0)
    return np.ones(len(ra), dtype=bool)


def _draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(weights)
    return np.asarray(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"))


def _offset(ra: np.ndarray, dec: np.ndarray, dist: np.ndarray, bearing: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The point ``dist`` degrees from (ra, dec) toward ``bearing`` (rad, east of north)."""
    d1, a1, delta = np.radians(dec), np.radians(ra), np.radians(dist)
    d2 = np.arcsin(np.clip(np.sin(d1) * np.cos(delta)
                           + np.cos(d1) * np.sin(delta) * np.cos(bearing), -1, 1))
    a2 = a1 + np.arctan2(np.sin(bearing) * np.sin(delta) * np.cos(d1),
                         np.cos(delta) - np.sin(d1) * np.sin(d2))
    return np.degrees(a2) % 360.0, np.degrees(d2)


def _box(ra: np.ndarray, dec: np.ndarray, w: np.ndarray, h: np.ndarray, pa_: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """Corners (n x 4) of w x h degree boxes rotated by pa_ (rad), by inverse gnomonic."""
    sx = np.array([-0.5, 0.5, 0.5, -0.5])
    sy = np.array([-0.5, -0.5, 0.5, 0.5])
    u, v = np.radians(w)[:, None] * sx, np.radians(h)[:, None] * sy
    c, s = np.cos(pa_)[:, None], np.sin(pa_)[:, None]
    xi, eta = u * c - v * s, u * s + v * c
    a0, d0 = np.radians(ra)[:, None], np.radians(dec)[:, None]
    rho = np.hypot(xi, eta)
    cc = np.arctan(rho)
    dec_v = np.arcsin(np.cos(cc) * np.sin(d0) + eta * np.sin(cc) * np.cos(d0) / rho)
    ra_v = a0 + np.arctan2(xi * np.sin(cc),
                           rho * np.cos(d0) * np.cos(cc) - eta * np.sin(d0) * np.sin(cc))
    return np.degrees(ra_v) % 360.0, np.degrees(dec_v)


class _Inst(NamedTuple):
    """An instrument of MISSIONS, flattened: where its setups and product templates start."""

    mission_index: int
    mission: Mission
    spec: Instrument
    first_setup: int
    setups: int
    first_template: int


class _Template(NamedTuple):
    id: int
    spec: Template


def _catalogue() -> tuple[list[_Inst], list[Setup], list[_Template]]:
    """Flatten MISSIONS and PRODUCTS into indexable rows."""
    templates: list[_Template] = []
    group_first: dict[str, int] = {}
    for name, group in PRODUCTS.items():
        group_first[name] = len(templates)
        templates.extend(_Template(len(templates), t) for t in group)
    insts: list[_Inst] = []
    setups: list[Setup] = []
    for m_idx, m in enumerate(MISSIONS):
        for inst in m.instruments:
            insts.append(_Inst(m_idx, m, inst, len(setups), len(inst.setups),
                               group_first[inst.products]))
            setups.extend(inst.setups)
    return insts, setups, templates


def _visits(rng: np.random.Generator, n: int, arrays: dict[str, np.ndarray]
            ) -> dict[str, np.ndarray]:
    """Per-visit draws for all missions: mission, instrument, target, proposal, start."""
    insts, _, _ = _catalogue()
    shares = np.array([m.share for m in MISSIONS])
    counts = np.floor(shares / shares.sum() * n).astype(int)
    counts[0] += n - counts.sum()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "mission", "inst", "target", "proposal", "size", "start", "seq")}
    for m_idx, (m, n_m) in enumerate(zip(MISSIONS, counts, strict=True)):
        if n_m == 0:
            continue
        sizes = np.minimum(rng.geometric(1 / m.visit_mean, n_m), m.visit_max)
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_m) + 1]
        sizes[-1] -= sizes.sum() - n_m
        v = len(sizes)
        mine = [i for i, row in enumerate(insts) if row.mission_index == m_idx]
        w = np.array([insts[i].spec.weight for i in mine])
        inst = np.array(mine)[_draw(rng, w, v)]
        sky = _sky_mask(arrays["ra"], arrays["dec"], m.sky)
        is_star = rng.random(v) < m.star_share
        target = np.empty(v, dtype=np.int64)
        for star in (False, True):
            pool_w = arrays["weight"] * sky * (arrays["star"] == star)
            if pool_w.sum() == 0:
                pool_w = arrays["weight"] * (arrays["star"] == star)
            sel = is_star == star
            target[sel] = _draw(rng, pool_w, int(sel.sum()))
        eras = np.array([insts[i].spec.era for i in inst])
        start = eras[:, 0] + rng.random(v) * (eras[:, 1] - eras[:, 0])
        seq = np.full(v, -1)
        if m.sequence is not None:
            t0, period, first, count = m.sequence
            seq = first + (rng.random(v) * (count - sizes + 1)).astype(int)
            start = t0 + period * (seq - first)
        parts["mission"].append(np.full(v, m_idx))
        parts["inst"].append(inst)
        parts["target"].append(target)
        parts["proposal"].append(rng.integers(0, max(1, v // 3), v))
        parts["size"].append(sizes)
        parts["start"].append(start)
        parts["seq"].append(seq)
    return {k: np.concatenate(v) for k, v in parts.items()}


_OBS_ID = """CASE i.style
  WHEN 'hst' THEN i.letter || r.b36v || r.b36e || 'Q'
  WHEN 'hla' THEN format('hst_{}_{}{}_{}_{}', p.proposal_id, lower(r.b36v), lower(r.b36e),
                         lower(replace(i.instrument, '/', '_')), s.code)
  WHEN 'jw3' THEN format('jw{:05d}-o{:03d}_t{:03d}_{}_{}', p.num, r.vnum, r.exp + 1,
                         lower(split_part(i.instrument, '/', 1)), s.code)
  WHEN 'jw2' THEN format('jw{:05d}{:03d}001_02101_{:05d}_{}', p.num, r.vnum, r.exp + 1,
                         lower(split_part(i.instrument, '/', 1)))
  WHEN 'tess' THEN format('tess{:013d}-s{:04d}-{:016d}-{:04d}-s',
                          2018206045859 + r.seq * 27000000, r.seq, 100000000 + 7 * r.target, r.u)
  WHEN 'kepler' THEN format('kplr{:09d}_{}c_q{:02d}_{:06d}', 1000000 + 3 * r.target,
                            CASE WHEN r.exptime < 100 THEN 's' ELSE 'l' END, r.seq, r.u)
  WHEN 'k2' THEN format('ktwo{:09d}-c{:02d}_{:06d}', 200000000 + r.target, r.seq, r.u)
  WHEN 'galex' THEN CAST(6371091135700582400 + 4096 * r.u AS VARCHAR)
  WHEN 'ps1' THEN format('rings.v3.skycell.{:04d}.{:03d}.stk.{}', 1000 + r.vnum // 100,
                         r.vnum % 100, s.code)
  WHEN 'swift' THEN format('{:08d}{:03d}', r.vnum, r.exp + 1)
  ELSE format('{}{:05d}', i.letter, r.u + 1000) END"""
_REGION = """CASE WHEN r.circle THEN format('CIRCLE ICRS {:.8f} {:.8f} {}', r.ra, r.dec, r.radius)
  ELSE format('POLYGON ICRS {:.8f} {:.8f} {:.8f} {:.8f} {:.8f} {:.8f} {:.8f} {:.8f}',
              r.a0, r.d0, r.a1, r.d1, r.a2, r.d2, r.a3, r.d3)
       || CASE WHEN i.style IN ('hst', 'hla') THEN format(' {:.8f} {:.8f}', r.a0, r.d0)
          ELSE '' END END"""


def _file_sql(pattern: str, alias: str) -> str:
    """SQL of a product file name: the template with {obs} and {code} filled in."""
    return (f"replace(replace({pattern}, '{{obs}}', lower({alias}.obs_id)), '{{code}}', "
            f"{alias}._code)")


def _preview(group: str) -> str | None:
    """The preview file pattern of a product group (its second template), if it has one."""
    second = PRODUCTS[group][1]
    return second.pattern if second.product_type == "PREVIEW" else None


def _proposals(mission: np.ndarray, proposal: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """One row per (mission, proposal): number, proposal_id, PI, type."""
    keys, inverse = np.unique(mission * 10_000_000 + proposal, return_inverse=True)
    rows: dict[str, list[Any]] = {"pid": [], "num": [], "proposal_id": [], "pi": [], "ptype": []}
    for k, key in enumerate(keys.tolist()):
        m, i = divmod(key, 10_000_000)
        spec = MISSIONS[m]
        # Deterministic spreads (Knuth's multiplicative hash) rather than more random draws.
        h = (i * 2654435761 + m * 40503) % 4294967296
        num = {"HST": 5000, "HLA": 5000, "JWST": 1000}.get(spec.collection, 1) + i
        rows["pid"].append(k)
        rows["num"].append(num)
        rows["proposal_id"].append(spec.proposal.format(i=num, c=1 + i % 7)
                                   if spec.proposal else None)
        rows["pi"].append(PI_NAMES[h % len(PI_NAMES)])
        types = spec.proposal_types
        if types:
            cdf = np.cumsum([w for _, w in types])
            rows["ptype"].append(types[int(np.searchsorted(cdf, (h >> 8) % cdf[-1], "right"))][0])
        else:
            rows["ptype"].append(None)
    return pa.table(rows), inverse


def build_caom(con: duckdb.DuckDBPyConnection, observations: int, seed: int = 0) -> None:
    """Create the ``observations`` and ``products`` tables in ``con``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A writable connection that already holds ``objects`` and ``hipparcos``.
    observations : int
        Number of observations (> 0).
    seed : int
        Seed of every random draw; the same seed and size give the same archive.
    """
    if observations <= 0:
        raise ValueError("observations must be > 0")
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    targets, arrays = _targets(con)
    insts, setups, templates = _catalogue()
    visits = _visits(rngs[0], observations, arrays)
    n = observations
    sizes = visits["size"]
    vis = np.repeat(np.arange(len(sizes)), sizes)
    first_obs = np.cumsum(sizes) - sizes
    exp = np.arange(n) - first_obs[vis]
    mission = visits["mission"][vis]
    m_first_obs = np.searchsorted(mission, np.arange(len(MISSIONS)))
    m_first_visit = np.searchsorted(visits["mission"], np.arange(len(MISSIONS)))
    inst = visits["inst"][vis]
    target = visits["target"][vis]
    i_first = np.array([row.first_setup for row in insts])
    i_nset = np.array([row.setups for row in insts])
    cycle = np.array([row.mission.cycle_setups for row in insts])
    rng = rngs[1]
    setup = i_first[inst] + np.where(cycle[inst], exp % i_nset[inst],
                                     (rng.random(n) * i_nset[inst]).astype(int))
    lo = np.array([row.spec.exptime[0] for row in insts])[inst]
    hi = np.array([row.spec.exptime[1] for row in insts])[inst]
    exptime = np.round(lo * (hi / lo) ** rng.random(n), 1)

    # Pointings: a visit centre scattered around the target, small dithers per exposure.
    rng = rngs[2]
    scatter = np.array([m.scatter for m in MISSIONS])[visits["mission"]]
    t_size = arrays["size"][visits["target"]]
    sigma = np.minimum(scatter + 0.2 * t_size, 1.0)
    v_dist = sigma * np.sqrt(-2 * np.log(1 - rng.random(len(sizes))))
    v_ra, v_dec = _offset(arrays["ra"][visits["target"]], arrays["dec"][visits["target"]],
                          v_dist, rng.random(len(sizes)) * 2 * np.pi)
    ra, dec = _offset(v_ra[vis], v_dec[vis], np.abs(rng.normal(0, 2e-4, n)),
                      rng.random(n) * 2 * np.pi)
    pa_ = (rng.random(len(sizes)) * 2 * np.pi)[vis]
    shape_box = np.array([row.spec.shape == "box" for row in insts])[inst]
    w = np.array([row.spec.size[0] for row in insts])[inst]
    h = np.array([row.spec.size[1] for row in insts])[inst]
    va, vd = _box(ra, dec, w, np.where(shape_box, h, w), pa_)
    fp = np.where(shape_box, np.degrees(np.arctan(np.radians(np.hypot(w, h) / 2))), w)

    # Times: exposures follow each other within a visit; sector/quarter missions by sequence.
    rng = rngs[3]
    span = exptime + 300.0
    cum = np.cumsum(span)
    t_min = visits["start"][vis] + (cum - span - (cum - span)[first_obs][vis]) / 86400
    t_max = t_min + exptime * 1.05 / 86400
    seq = np.where(visits["seq"][vis] >= 0, visits["seq"][vis] + exp, -1)
    for m_idx, m in enumerate(MISSIONS):
        if m.sequence is not None:
            sel = mission == m_idx
            t0, period, first, _ = m.sequence
            t_min[sel] = t0 + period * (seq[sel] - first) + rng.random(int(sel.sum())) * 0.5
            t_max[sel] = t_min[sel] + 0.93 * period
    release = t_max + np.array([m.release_delay for m in MISSIONS])[mission]

    # Products per observation: the first k templates of the instrument's group.
    rng = rngs[4]
    g_first = np.array([row.first_template for row in insts])[inst]
    g_len = np.array([len(PRODUCTS[row.spec.products]) for row in insts])[inst]
    n_prod = (2 + rng.random(n) * (g_len - 1)).astype(int)
    # An observation's calib_level is the highest of its products'.
    cummax = np.array([t.spec.calib_level for t in templates])
    for group in PRODUCTS.values():
        first = next(t.id for t in templates if t.spec is group[0])
        cummax[first : first + len(group)] = np.maximum.accumulate(
            cummax[first : first + len(group)])
    calib = cummax[g_first + n_prod - 1]
    gaps = rng.integers(1, 60, n)
    obsid = 2_000_000_000 + np.cumsum(gaps)
    collections = np.array([m.collection for m in MISSIONS])[mission]
    order = np.lexsort((obsid, _desc_rank(collections)))  # obs_collection DESC, obsid
    row = np.empty(n, dtype=np.int64)
    row[order] = np.arange(n)
    dense = np.isin(collections, ["GALEX", "PS1"])
    src_den = np.where(dense, np.round(rng.uniform(200, 20000, n)), np.nan)
    props, prop_idx = _proposals(mission, visits["proposal"][vis])
    kinds = arrays["kind"][target]
    title_first = np.cumsum([0] + [len(TITLES[k]) for k in _KINDS])[:-1]
    title_len = np.array([len(TITLES[k]) for k in _KINDS])
    title = title_first[kinds] + visits["proposal"][vis] % title_len[kinds]
    vnum = vis - m_first_visit[mission]

    raw = pa.table({
        "gen": np.arange(n), "inst": inst, "setup": setup, "target": target,
        "pid": prop_idx, "title": title, "vnum": vnum, "exp": exp,
        "u": np.arange(n) - m_first_obs[mission], "seq": seq,
        "b36v": _base36(vnum, 5), "b36e": _base36(exp, 2),
        "alt_name": (vis % 5) < 2, "ra": ra, "dec": dec, "circle": ~shape_box,
        "radius": w, **{f"a{j}": va[:, j] for j in range(4)},
        **{f"d{j}": vd[:, j] for j in range(4)},
        "t_min": np.round(t_min, 5), "t_max": np.round(t_max, 5), "exptime": exptime,
        "release": np.round(release, 5), "calib": calib.astype(np.int32),
        "srcden": pa.array(src_den, from_pandas=True), "obsid": obsid,
        "objid": obsid + 9_179_892, "hpx": hpx_index(ra, dec), "fp": fp + 1e-9, "row": row,
    })
    inst_t = pa.table({
        "id": np.arange(len(insts)),
        "collection": [r.mission.collection for r in insts],
        "instrument": [r.spec.name for r in insts],
        "dptype": [r.spec.dataproduct_type for r in insts],
        "provenance": pa.array([r.spec.provenance for r in insts], pa.string()),
        "project": [r.spec.project or r.mission.collection for r in insts],
        "style": [r.spec.style for r in insts],
        "letter": [r.spec.letter for r in insts],
        "classify": [r.mission.classify for r in insts],
        "first_pattern": [PRODUCTS[r.spec.products][0].pattern for r in insts],
        "preview": pa.array([_preview(r.spec.products) for r in insts], pa.string()),
    })
    setup_t = pa.table({
        "id": np.arange(len(setups)),
        "filters": [s.filters for s in setups], "em_min": [s.em_min for s in setups],
        "em_max": [s.em_max for s in setups], "region": [s.region for s in setups],
        "code": [s.code for s in setups],
    })
    title_t = pa.table({"id": np.arange(int(title_len.sum())),
                        "text": [t for k in _KINDS for t in TITLES[k]]})
    for name, table in (("_raw", raw), ("_inst", inst_t), ("_setup", setup_t),
                        ("_targets", targets), ("_titles", title_t), ("_props", props)):
        con.register(name + "_view", table)
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_view")
        con.unregister(name + "_view")
    _assemble_observations(con)
    _build_products(con, rngs[5], n_prod, g_first, mission, exp, templates)
    for name in ("_raw", "_inst", "_setup", "_targets", "_titles", "_props", "_ob", "_prods",
                 "_templates"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _desc_rank(values: np.ndarray) -> np.ndarray:
    """Integer keys that sort ``values`` in descending (byte-wise, as SQL) order."""
    uniq = np.unique(values)  # ascending
    return np.asarray(len(uniq) - 1 - np.searchsorted(uniq, values))


def _assemble_observations(con: duckdb.DuckDBPyConnection) -> None:
    def url(pattern: str) -> str:
        return "'mast:' || upper(collection) || '/product/' || " + _file_sql(pattern, "b")

    con.execute(f"""
    CREATE TEMP TABLE _ob AS
    WITH b AS (
      SELECT r.*, i.collection, i.instrument, i.dptype, i.provenance, i.project, i.style,
             i.classify, i.first_pattern, i.preview, s.filters, s.em_min, s.em_max, s.region,
             s.code AS _code, tg.name AS tname, tg.alt, tg.display, tg.class, p.proposal_id,
             p.pi, p.ptype, ti.text AS title_text, {_OBS_ID} AS obs_id, {_REGION} AS s_region
      FROM _raw r JOIN _inst i ON i.id = r.inst JOIN _setup s ON s.id = r.setup
      JOIN _targets tg ON tg.tid = r.target JOIN _props p ON p.pid = r.pid
      JOIN _titles ti ON ti.id = r.title)
    SELECT
      CASE WHEN ptype = 'CAL' THEN 'calibration' ELSE 'science' END AS intentType,
      collection AS obs_collection, provenance AS provenance_name,
      instrument AS instrument_name, project, filters, region AS wave_region,
      CASE WHEN alt_name AND alt IS NOT NULL THEN alt ELSE tname END AS target_name,
      CASE WHEN classify THEN class END AS target_classification,
      obs_id, ra AS s_ra, dec AS s_dec, dptype AS dataproduct_type, pi AS proposal_pi,
      calib AS calib_level, t_min, t_max, exptime AS t_exptime, region AS wavelength_region,
      em_min, em_max,
      replace(title_text, '{{target}}', display) || ' {SYNTHETIC_MARKER}' AS obs_title,
      release AS t_obs_release, proposal_id, ptype AS proposal_type,
      CAST(CASE WHEN seq >= 0 THEN seq END AS INTEGER) AS sequence_number, s_region,
      CASE WHEN preview IS NOT NULL THEN {url("preview")} END AS jpegURL,
      {url("first_pattern")} AS dataURL,
      CASE WHEN release > {REFERENCE_MJD} THEN 'EXCLUSIVE_ACCESS' ELSE 'PUBLIC' END
        AS dataRights,
      false AS mtFlag, srcden AS srcDen, obsid, objid AS objID, em_min AS wave_min,
      em_max AS wave_max, hpx AS _hpx, fp AS _fp_radius, row AS _row, gen AS _gen, _code
    FROM b""")
    con.execute("CREATE TABLE observations AS SELECT * EXCLUDE (_gen, _code) FROM _ob "
                "ORDER BY _hpx, _row")


def _build_products(con: duckdb.DuckDBPyConnection, rng: np.random.Generator,
                    n_prod: np.ndarray, g_first: np.ndarray, mission: np.ndarray,
                    exp: np.ndarray, templates: list[_Template]) -> None:
    n = len(n_prod)
    owner = np.repeat(np.arange(n), n_prod)
    first_product = np.cumsum(n_prod) - n_prod
    rank = np.arange(len(owner)) - first_product[owner]
    tid = g_first[owner] + rank
    median = np.array([t.spec.median_size for t in templates])[tid]
    fits = np.array([t.spec.pattern.endswith(".fits") for t in templates])[tid]
    size = median * np.exp(0.6 * rng.standard_normal(len(owner)))
    size = np.where(fits, np.maximum(np.ceil(size / 2880), 2) * 2880,
                    np.maximum(np.round(size), 512)).astype(np.int64)
    seed = rng.integers(0, 2**62, len(owner))
    # JWST: some exposures also list a file of the previous exposure of their visit.
    jwst = [m.collection for m in MISSIONS].index("JWST")
    cand = np.flatnonzero((mission == jwst) & (exp > 0))
    pick = cand[rng.random(len(cand)) < 0.03]
    src = first_product[pick - 1]
    owners = np.concatenate([owner, pick])
    ranks = np.concatenate([rank, n_prod[pick]])
    # Canonical order: obsID (increasing with the generation index), then rank.
    row = np.empty(len(owners), dtype=np.int64)
    row[np.lexsort((ranks, owners))] = np.arange(len(owners))
    prods = pa.table({
        "owner": owners,
        "file": np.concatenate([owner, pick - 1]),
        "template": np.concatenate([tid, tid[src]]),
        "row": row,
        "size": np.concatenate([size, size[src]]),
        "seed": np.concatenate([seed, seed[src]]),
    })
    tmpl = pa.table({
        "id": [t.id for t in templates],
        "pattern": [t.spec.pattern for t in templates],
        "subgroup": [t.spec.subgroup for t in templates],
        "product_type": [t.spec.product_type for t in templates],
        "description": [t.spec.description for t in templates],
        "calib_level": pa.array([t.spec.calib_level for t in templates], pa.int32()),
        "mrp": [t.spec.mrp for t in templates],
        "composite": [t.spec.composite for t in templates],
        "version": pa.array([t.spec.version for t in templates], pa.string()),
    })
    for name, table in (("_prods", prods), ("_templates", tmpl)):
        con.register(name + "_view", table)
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_view")
        con.unregister(name + "_view")
    fname = _file_sql("t.pattern", "f")
    con.execute(f"""
    CREATE TABLE products AS
    SELECT o.obsid AS obsID, o.obs_collection, o.dataproduct_type, f.obs_id, t.description,
      CASE WHEN t.composite THEN 'C' ELSE 'S' END AS type,
      'mast:' || upper(f.obs_collection) || '/product/' || {fname} AS dataURI,
      t.product_type AS productType,
      CASE WHEN t.mrp THEN 'Minimum Recommended Products' END AS productGroupDescription,
      t.subgroup AS productSubGroupDescription,
      CAST(NULL AS VARCHAR) AS productDocumentationURL, o.project, t.version AS prvversion,
      o.proposal_id, {fname} AS productFilename, p.size, o.obsid AS parent_obsid,
      o.dataRights, t.calib_level, o.filters, p.seed AS _seed,
      f.instrument_name AS _instrument, f.target_name AS _target,
      p.row AS _row
    FROM _prods p JOIN _ob o ON o._gen = p.owner JOIN _ob f ON f._gen = p.file
    JOIN _templates t ON t.id = p.template
    ORDER BY _row""")
