"""Products of the synthetic observations: several files per observation, with sizes and URIs.

Part of the synthetic CAOM generator (:mod:`mastkit.server.demo`). Each observation lists the
first few product templates of its instrument's group (:data:`~mastkit.server.loaders.missions.
PRODUCTS`); file sizes scatter around each template's median (FITS sizes are whole 2880-byte
blocks) and each file has a seed from which its bytes are generated on request
(:mod:`mastkit.server.files`). About 3% of JWST observations also list a file of the previous
exposure of their visit (the same ``dataURI`` under two ``obsID``\\ s).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from mastkit.server.demo_sky import TemplateRow
from mastkit.server.loaders.missions import MISSIONS

__all__ = ["build_products", "file_sql"]


def file_sql(pattern: str, alias: str) -> str:
    """SQL of a product file name: the template with {obs} and {code} filled in."""
    return (f"replace(replace({pattern}, '{{obs}}', lower({alias}.obs_id)), '{{code}}', "
            f"{alias}._code)")


def build_products(con: duckdb.DuckDBPyConnection, rng: np.random.Generator,
                   n_prod: np.ndarray, g_first: np.ndarray, mission: np.ndarray,
                   exp: np.ndarray, templates: list[TemplateRow]) -> None:
    """Create the ``products`` table from the temporary ``_ob`` table of observations.

    ``n_prod`` is each observation's number of products, ``g_first`` the first template of its
    group, ``mission`` and ``exp`` its mission index and exposure number within its visit.
    """
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
    fname = file_sql("t.pattern", "f")
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
