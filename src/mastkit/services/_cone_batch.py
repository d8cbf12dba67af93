"""Many cones in few requests: the ``crossmatch`` method of the batch queries.

One ``Mast.Caom.Crossmatch`` request (mast-protocol.md 4.5) answers "the observations within
``radius`` of each uploaded position", which is what a ``Mast.Caom.Cone`` per position answers,
for a whole chunk of positions at once. :func:`crossmatch_cones_plan` uploads the distinct
positions in chunks (:data:`CONE_CHUNK` per request, sent concurrently, through the client
crossmatch's upload helpers, positions sent unrounded as a cone sends them) and turns the
replies back into cone rows:

* the observation columns in the cone's order (the columns config's, as ``Mast.Caom.Cone``
  sends them), ``s_ra``/``s_dec`` from the reply's ``MatchRA``/``MatchDEC`` when the server moved
  them there, and ``distance`` from ``dstArcSec`` (both: arcsec from the position to the
  footprint, 0 inside it);
* each position's rows in the cone's order (MAST sorts CAOM results by ``obs_collection``
  descending, then ``obsid``), where the crossmatch orders them by separation.

A chunk the server refuses as too large is halved until it fits; a single position still
refused, or any chunk the crossmatch cannot answer (a server without the service, a reply
that cannot be read as cone rows), is handed back so the batch queries those positions by cone
(which splits oversized cones into tiles). The result is the cone path's, request for request
fewer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mastkit.errors import DecodeError, MastError
from mastkit.services._plan import Gather, Plan, Query, Session
from mastkit.services._split import refusal
from mastkit.services._table_input import Positions
from mastkit.services.criteria import fields_from_config
from mastkit.services.crossmatch import chunk_bounds, upload_table
from mastkit.tables import ResultTable, concat_pages

__all__ = [
    "CAOM_CROSSMATCH",
    "CONE_CHUNK",
    "CROSSMATCH_MAX_RADIUS",
    "CROSSMATCH_MIN_TARGETS",
    "MIN_CHUNK",
    "POSITION",
    "chunk_size",
    "cone_rows",
    "crossmatch_cones_plan",
]

logger = logging.getLogger("mastkit.services")

CAOM_CROSSMATCH = "Mast.Caom.Crossmatch"
#: Most positions per crossmatch request.
CONE_CHUNK = 1000
#: Fewest positions per request when a batch is spread over ``concurrency`` requests
#: (each request costs the server a pass over the archive: few large chunks beat many).
MIN_CHUNK = 500
#: ``method="auto"`` uses the crossmatch from this many distinct positions on ...
CROSSMATCH_MIN_TARGETS = 8
#: ... and for radii up to this (degrees; the crossmatch services serve small radii).
CROSSMATCH_MAX_RADIUS = 1.0
#: The column of :func:`crossmatch_cones_plan`'s result holding the position's index.
POSITION = "_position"
# The upload's columns (services/crossmatch.py uploads these names).
_UP_ROW, _UP_RA, _UP_DEC = "_i", "_ra", "_de"
# Cone column <- crossmatch column, when the server renamed it.
_RENAMED = {"s_ra": ("MatchRA",), "s_dec": ("MatchDEC",), "distance": ("dstArcSec",)}
# MAST's CAOM order (columns config: obs_collection sorts descending), obsid breaking ties.
_ORDER = [("obs_collection", "descending"), ("obsid", "ascending")]


def chunk_size(positions: int, concurrency: int) -> int:
    """Positions per request: the batch spread over ``concurrency`` requests, within bounds.

    Spreading lets the server work on several chunks at once; the bounds keep requests few
    (and polite) for large batches.

    Examples
    --------
    >>> chunk_size(1000, 8), chunk_size(50, 4), chunk_size(1500, 2), chunk_size(100_000, 4)
    (500, 500, 750, 1000)
    """
    spread = -(-positions // max(1, concurrency))
    return max(1, min(CONE_CHUNK, max(MIN_CHUNK, spread)))


def _find(names: Sequence[str], wanted: str) -> str | None:
    if wanted in names:
        return wanted
    lowered = wanted.lower()
    return next((n for n in names if n.lower() == lowered), None)


def cone_rows(reply: ResultTable, columns: Sequence[str], positions: int) -> pa.Table:
    """A crossmatch reply as cone rows: ``_position`` then ``columns`` (the cone's).

    Parameters
    ----------
    reply : ResultTable
        One crossmatch reply (its ``_i`` column: the uploaded position index).
    columns : sequence of str
        The cone's columns, ``distance`` last.
    positions : int
        How many positions were uploaded in all (indices must be below it).

    Raises
    ------
    DecodeError
        When the reply lacks a column the cone rows need.
    """
    arrow = reply.arrow
    names = arrow.column_names
    if not names:  # an empty reply without declared columns
        empty = ResultTable.empty([]).arrow
        return empty.append_column(POSITION, pa.array([], pa.int64()))
    index_name = _find(names, _UP_ROW)
    if index_name is None:
        raise DecodeError(
            f"{CAOM_CROSSMATCH} did not send back the uploaded position numbers.",
            service=CAOM_CROSSMATCH,
        )
    index = arrow.column(index_name).cast(pa.int64())
    values = index.to_numpy() if len(index) else np.array([], dtype=np.int64)
    if index.null_count or (len(values) and (values.min() < 0 or values.max() >= positions)):
        raise DecodeError(
            f"{CAOM_CROSSMATCH} sent back position numbers never uploaded.", service=CAOM_CROSSMATCH
        )
    out: dict[str, Any] = {POSITION: index}
    for name in columns:
        found = _find(names, name)
        for alternative in _RENAMED.get(name, ()):
            if found is not None:
                break
            found = _find(names, alternative)
        if found is None:
            raise DecodeError(
                f"{CAOM_CROSSMATCH} sent no {name!r} column, so its rows are not cone rows "
                f"(columns: {', '.join(names)}).",
                service=CAOM_CROSSMATCH,
            )
        out[name] = arrow.column(found)
    return pa.table(out)


def _chunk_plan(
    session: Session,
    where: Positions,
    start: int,
    stop: int,
    radius: float,
    columns: Sequence[str],
    done: Callable[[int, int], None],
) -> Plan[tuple[list[pa.Table], list[int]]]:
    """The cone rows of positions ``start:stop``, and the positions left to cones."""
    params = {"raColumn": _UP_RA, "decColumn": _UP_DEC, "radius": radius}
    try:
        reply: ResultTable = yield Query(
            CAOM_CROSSMATCH, params, data=upload_table(where, start, stop, decimals=None)
        )
        rows = cone_rows(reply, columns, len(where))
    except MastError as exc:
        refused, _ = refusal(exc)
        if refused and stop - start > 1:
            middle = (start + stop) // 2
            logger.info("crossmatch of %d positions refused as too large: halving it", stop - start)
            halves: list[tuple[list[pa.Table], list[int]]] = yield Gather(
                (
                    _chunk_plan(session, where, start, middle, radius, columns, done),
                    _chunk_plan(session, where, middle, stop, radius, columns, done),
                ),
                limit=2,
            )
            return [*halves[0][0], *halves[1][0]], [*halves[0][1], *halves[1][1]]
        logger.info(
            "crossmatch of positions %d-%d failed (%s): querying them by cone", start, stop - 1, exc
        )
        return [], list(range(start, stop))
    done(start, stop)
    return [rows], []


def crossmatch_cones_plan(
    session: Session,
    coordinates: Sequence[tuple[float, float]],
    radius: float,
    config: Mapping[str, Mapping[str, Any]],
    *,
    concurrency: int,
    done: Callable[[int, int], None],
    chunk: int | None = None,
) -> Plan[tuple[pa.Table, list[int]]]:
    """Cone rows of every position, by crossmatch (see the module docstring).

    Parameters
    ----------
    coordinates : sequence of (ra, dec)
        Distinct positions, degrees.
    radius : float
        Degrees.
    config : mapping
        The CAOM columns config (the cone's columns).
    concurrency : int
        Chunks in flight at once.
    done : callable
        Called with ``(start, stop)`` for each chunk of positions answered.
    chunk : int, optional
        Positions per request; default :func:`chunk_size`.

    Returns
    -------
    (pyarrow.Table, list of int)
        ``_position`` then the cone's columns, positions in order, each position's rows in
        the cone's order; and the positions that must be queried by cone instead.
    """
    columns = [f.name for f in fields_from_config(config, distance=True)]
    where = Positions(
        np.array([c[0] for c in coordinates], dtype=float),
        np.array([c[1] for c in coordinates], dtype=float),
        "ra",
        "dec",
    )
    bounds = chunk_bounds(len(where), chunk or chunk_size(len(where), concurrency))
    parts: list[tuple[list[pa.Table], list[int]]] = yield Gather(
        tuple(_chunk_plan(session, where, a, b, radius, columns, done) for a, b in bounds),
        limit=concurrency,
    )
    tables = [t for found, _ in parts for t in found]
    left = [i for _, missing in parts for i in missing]
    typed = [t for t in tables if t.num_columns > 1]
    if typed:
        whole = concat_pages([t for t in typed if t.num_rows] or typed[:1])
    else:
        whole = ResultTable.empty(fields_from_config(config, distance=True)).arrow
        whole = whole.add_column(0, POSITION, pa.array([], pa.int64()))
    order = [(POSITION, "ascending"), *((n, d) for n, d in _ORDER if n in whole.column_names)]
    return whole.sort_by(order), left
