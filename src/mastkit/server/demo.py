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

This module assembles the observations; what they point at and when is drawn in
:mod:`mastkit.server.demo_sky`, their products are made in :mod:`mastkit.server.demo_products`.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from mastkit.server import demo_sky as sky
from mastkit.server.demo_products import build_products, file_sql
from mastkit.server.geometry import hpx_index, region_numbers_sql
from mastkit.server.loaders.missions import MISSIONS, PRODUCTS, TITLES

__all__ = ["REFERENCE_MJD", "SYNTHETIC_MARKER", "build_caom"]

SYNTHETIC_MARKER = "(mastkit synthetic)"
REFERENCE_MJD = 60700.0  # "today" of the archive: later release dates are EXCLUSIVE_ACCESS
_B36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def _base36(values: np.ndarray, width: int) -> pa.Array:
    """Fixed-width base-36 strings of non-negative integers, without a Python loop."""
    v = values.astype(np.int64).copy()
    digits = np.empty((len(v), width), dtype=np.uint8)
    for j in range(width - 1, -1, -1):
        digits[:, j] = _B36[v % 36]
        v //= 36
    return pa.array(digits.view(f"S{width}").ravel()).cast(pa.string())


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


def _preview(group: str) -> str | None:
    """The preview file pattern of a product group (its second template), if it has one."""
    second = PRODUCTS[group][1]
    return second.pattern if second.product_type == "PREVIEW" else None


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
    targets, arrays = sky.targets(con)
    insts, setups, templates = sky.catalogue()
    visits = sky.visits(rngs[0], observations, arrays)
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
    v_ra, v_dec = sky.offset(arrays["ra"][visits["target"]], arrays["dec"][visits["target"]],
                          v_dist, rng.random(len(sizes)) * 2 * np.pi)
    ra, dec = sky.offset(v_ra[vis], v_dec[vis], np.abs(rng.normal(0, 2e-4, n)),
                      rng.random(n) * 2 * np.pi)
    pa_ = (rng.random(len(sizes)) * 2 * np.pi)[vis]
    shape_box = np.array([row.spec.shape == "box" for row in insts])[inst]
    w = np.array([row.spec.size[0] for row in insts])[inst]
    h = np.array([row.spec.size[1] for row in insts])[inst]
    va, vd = sky.box(ra, dec, w, np.where(shape_box, h, w), pa_)
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
    props, prop_idx = sky.proposals(mission, visits["proposal"][vis])
    kinds = arrays["kind"][target]
    title_first = np.cumsum([0] + [len(TITLES[k]) for k in sky.KINDS])[:-1]
    title_len = np.array([len(TITLES[k]) for k in sky.KINDS])
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
                        "text": [t for k in sky.KINDS for t in TITLES[k]]})
    for name, table in (("_raw", raw), ("_inst", inst_t), ("_setup", setup_t),
                        ("_targets", targets), ("_titles", title_t), ("_props", props)):
        con.register(name + "_view", table)
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_view")
        con.unregister(name + "_view")
    _assemble_observations(con)
    build_products(con, rngs[5], n_prod, g_first, mission, exp, templates)
    for name in ("_raw", "_inst", "_setup", "_targets", "_titles", "_props", "_ob", "_prods",
                 "_templates"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _desc_rank(values: np.ndarray) -> np.ndarray:
    """Integer keys that sort ``values`` in descending (byte-wise, as SQL) order."""
    uniq = np.unique(values)  # ascending
    return np.asarray(len(uniq) - 1 - np.searchsorted(uniq, values))


def _assemble_observations(con: duckdb.DuckDBPyConnection) -> None:
    def url(pattern: str) -> str:
        return "'mast:' || upper(collection) || '/product/' || " + file_sql(pattern, "b")

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
    # _fp: the footprint's numbers, which cone searches read instead of parsing s_region.
    con.execute("CREATE TABLE observations AS SELECT * EXCLUDE (_gen, _code), "
                f"{region_numbers_sql('s_region')} AS _fp FROM _ob ORDER BY _hpx, _row")
