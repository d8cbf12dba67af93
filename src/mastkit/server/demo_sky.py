"""What the synthetic archive observes, where and when: targets, pointings, visits, proposals.

Part of the synthetic CAOM generator (:mod:`mastkit.server.demo`). The target pool is the REAL
objects of the archive (OpenNGC objects, then Hipparcos stars) with draw weights that favour
famous targets; missions draw visits of several exposures on it, within their part of the sky.
Everything is drawn with numpy from the generator given, so a seed gives the same draws.
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
    Instrument,
    Mission,
    Setup,
    Template,
)

__all__ = [
    "KINDS",
    "Inst",
    "TemplateRow",
    "box",
    "catalogue",
    "draw",
    "offset",
    "proposals",
    "targets",
    "visits",
]

_FAMOUS = {1, 8, 13, 16, 20, 27, 31, 33, 42, 45, 51, 57, 81, 82, 87, 101, 104}
KINDS = ("galaxy", "cluster", "nebula", "star")
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


def targets(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, np.ndarray]]:
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


def draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(weights)
    return np.asarray(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"))


def offset(ra: np.ndarray, dec: np.ndarray, dist: np.ndarray, bearing: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The point ``dist`` degrees from (ra, dec) toward ``bearing`` (rad, east of north)."""
    d1, a1, delta = np.radians(dec), np.radians(ra), np.radians(dist)
    d2 = np.arcsin(np.clip(np.sin(d1) * np.cos(delta)
                           + np.cos(d1) * np.sin(delta) * np.cos(bearing), -1, 1))
    a2 = a1 + np.arctan2(np.sin(bearing) * np.sin(delta) * np.cos(d1),
                         np.cos(delta) - np.sin(d1) * np.sin(d2))
    return np.degrees(a2) % 360.0, np.degrees(d2)


def box(ra: np.ndarray, dec: np.ndarray, w: np.ndarray, h: np.ndarray, pa_: np.ndarray
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


class Inst(NamedTuple):
    """An instrument of MISSIONS, flattened: where its setups and product templates start."""

    mission_index: int
    mission: Mission
    spec: Instrument
    first_setup: int
    setups: int
    first_template: int


class TemplateRow(NamedTuple):
    id: int
    spec: Template


def catalogue() -> tuple[list[Inst], list[Setup], list[TemplateRow]]:
    """Flatten MISSIONS and PRODUCTS into indexable rows."""
    templates: list[TemplateRow] = []
    group_first: dict[str, int] = {}
    for name, group in PRODUCTS.items():
        group_first[name] = len(templates)
        templates.extend(TemplateRow(len(templates), t) for t in group)
    insts: list[Inst] = []
    setups: list[Setup] = []
    for m_idx, m in enumerate(MISSIONS):
        for inst in m.instruments:
            insts.append(Inst(m_idx, m, inst, len(setups), len(inst.setups),
                               group_first[inst.products]))
            setups.extend(inst.setups)
    return insts, setups, templates


def visits(rng: np.random.Generator, n: int, arrays: dict[str, np.ndarray]
            ) -> dict[str, np.ndarray]:
    """Per-visit draws for all missions: mission, instrument, target, proposal, start."""
    insts, _, _ = catalogue()
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
        inst = np.array(mine)[draw(rng, w, v)]
        sky = _sky_mask(arrays["ra"], arrays["dec"], m.sky)
        is_star = rng.random(v) < m.star_share
        target = np.empty(v, dtype=np.int64)
        for star in (False, True):
            pool_w = arrays["weight"] * sky * (arrays["star"] == star)
            if pool_w.sum() == 0:
                pool_w = arrays["weight"] * (arrays["star"] == star)
            sel = is_star == star
            target[sel] = draw(rng, pool_w, int(sel.sum()))
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


def proposals(mission: np.ndarray, proposal: np.ndarray) -> tuple[pa.Table, np.ndarray]:
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
