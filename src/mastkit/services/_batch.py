"""Observations around many targets at once, as one plan (see :mod:`mastkit.services._plan`).

:func:`targets_plan` queries every distinct target (names resolved first: batched through
SANTA by the facades, see :mod:`mastkit.services._names`, then the session's name cache, then
``Mast.Name.Lookup``) and returns one table: the rows of every target in input order, each
carrying ``input_index`` (the target's position in the input list) and ``input_target`` (the
name, or the position as given). A target that fails (a name nobody knows, bad coordinates, a
server error) does not stop the others: it is listed in ``table.metadata["failures"]`` (one
dict per failed input: ``input_index``, ``input_target``, ``error``, ``error_type``), or, with
``errors="raise"``, its exception is raised once every target has been tried.

Two methods give the same table (``table.metadata["method"]`` says which ran):

* ``"cones"``: one ``Mast.Caom.Cone`` (``Mast.Caom.Filtered.Position`` with criteria) per
  distinct target, at most ``concurrency`` at once;
* ``"crossmatch"``: the distinct positions uploaded to ``Mast.Caom.Crossmatch`` a chunk at a
  time (:mod:`mastkit.services._cone_batch`), one request per chunk instead of one per
  target; positions it cannot answer are queried by cone.

``method="auto"`` (the default) picks ``"crossmatch"`` when there are no criteria, the radius is
above 0 and at most :data:`~mastkit.services._cone_batch.CROSSMATCH_MAX_RADIUS` (1 degree),
and there are at least :data:`~mastkit.services._cone_batch.CROSSMATCH_MIN_TARGETS` (8)
distinct targets; otherwise ``"cones"``. Criteria always use cones: the crossmatch cannot
filter, and MAST's filter semantics are the server's to apply.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from mastkit.errors import BadInputError, MastError
from mastkit.protocol.services import CAOM_CONE, CAOM_FILTERED_POSITION
from mastkit.services._cone_batch import (
    CROSSMATCH_MAX_RADIUS,
    CROSSMATCH_MIN_TARGETS,
    POSITION,
    crossmatch_cones_plan,
)
from mastkit.services._plan import ColumnsConfig, Gather, Plan, Session
from mastkit.services._queries import OBSERVATIONS_CONFIG, finish, object_plan, region_plan
from mastkit.services.coords import parse_coordinates, parse_radius
from mastkit.services.criteria import compile_criteria
from mastkit.services.resolver import Resolution, _renamed, resolve_plan
from mastkit.tables import ResultTable, concat_pages

__all__ = [
    "BatchErrors",
    "Method",
    "Progress",
    "Target",
    "check_batch",
    "check_plan",
    "choose_method",
    "targets_from",
    "targets_plan",
]

logger = logging.getLogger("mastkit.services")

BatchErrors = Literal["return", "raise"]
#: How a batch queries its targets (see the module docstring).
Method = Literal["auto", "cones", "crossmatch"]
#: A name's batch resolution: where it is, or why it cannot be resolved.
Known = Mapping[tuple[str, ...], "Resolution | MastError"]
#: Called with (targets done, targets in all) as targets complete (from any thread).
Progress = Callable[[int, int], None]
#: The columns a batch result starts with.
INDEX, LABEL = "input_index", "input_target"
_PER_TARGET_METADATA = ("resolved", "split", "rows_matched", "excluded_rows")


@dataclass(frozen=True, slots=True)
class Target:
    """One input of a batch: a name to resolve, or coordinates (``name`` None)."""

    label: str
    name: str | None = None
    coordinates: Any = None

    @property
    def key(self) -> tuple[Any, ...]:
        """Inputs with the same key are queried once."""
        if self.name is not None:
            return ("name", " ".join(self.name.split()).lower())
        try:
            return ("position", *parse_coordinates(self.coordinates))
        except BadInputError:
            return ("bad", self.label)


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    try:
        ra, dec = parse_coordinates(value)
    except BadInputError:
        return repr(value)
    return f"{ra:.6f} {dec:+.6f}"


def _items(values: Any, what: str) -> list[Any]:
    if isinstance(values, str | bytes):
        raise BadInputError(f"{what} takes a list of targets; give one target as a list of one.")
    if getattr(values, "isscalar", None) is False:  # an array SkyCoord: its scalar elements
        return list(values)
    if isinstance(values, np.ndarray):
        return [tuple(row) if np.ndim(row) else row for row in values]
    if not isinstance(values, Iterable):
        raise BadInputError(f"{what} takes a list of targets, not a {type(values).__name__}.")
    return [tuple(v) if isinstance(v, np.ndarray) else v for v in values]


def targets_from(values: Any, kind: Literal["name", "position", "any"]) -> list[Target]:
    """The targets of a batch.

    Parameters
    ----------
    values : sequence or array SkyCoord
        Names (``kind="name"``), coordinates in any form
        :func:`~mastkit.services.parse_coordinates` reads (``kind="position"``), or a mix where
        strings are names and anything else is coordinates (``kind="any"``).

    Examples
    --------
    >>> [t.label for t in targets_from(["M101", (210.8, 54.35)], "any")]
    ['M101', '210.800000 +54.350000']
    """
    what = {"name": "query_object_many", "position": "query_region_many"}.get(kind, "query_targets")
    targets = []
    for value in _items(values, what):
        is_name = kind == "name" or (kind == "any" and isinstance(value, str))
        if is_name:
            name = value if isinstance(value, str) else repr(value)
            targets.append(Target(label=name.strip(), name=name))
        else:
            targets.append(Target(label=_label(value), coordinates=value))
    return targets


class _Counter:
    """Progress across concurrently finishing targets (sync plans finish on threads)."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done += n
            done = self.done
        self.progress(done, self.total)


def _one_target(
    session: Session,
    target: Target,
    radius: Any,
    criteria: Mapping[str, Any],
    counter: _Counter,
    inputs: int,
    known: Known,
) -> Plan[ResultTable | MastError]:
    try:
        if target.name is None:
            table: ResultTable = yield from region_plan(
                session, target.coordinates, radius, criteria
            )
            return table
        outcome = known.get(target.key)
        if isinstance(outcome, MastError):
            raise outcome
        if outcome is None:
            return (yield from object_plan(session, target.name, radius, criteria))
        resolution = _renamed(outcome, target.name)
        return (
            yield from region_plan(
                session, resolution.coords, radius, criteria, resolution=resolution
            )
        )
    except MastError as exc:
        logger.info("target %r failed: %s", target.label, exc)
        return exc
    finally:
        counter.add(inputs)


def _tagged(table: ResultTable, index: int, label: str) -> pa.Table:
    arrow = table.arrow
    n = arrow.num_rows
    arrow = arrow.add_column(0, LABEL, pa.array([label] * n, pa.string()))
    return arrow.add_column(0, INDEX, pa.array(np.full(n, index, dtype=np.int64)))


def check_batch(errors: Any, concurrency: Any, method: Any) -> None:
    """Fail at once on bad batch options (before any request)."""
    if errors not in ("return", "raise"):
        raise BadInputError(f"errors must be 'return' or 'raise', not {errors!r}.")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise BadInputError(f"concurrency must be a positive integer, not {concurrency!r}.")
    if method not in ("auto", "cones", "crossmatch"):
        raise BadInputError(f"method must be 'auto', 'cones' or 'crossmatch', not {method!r}.")


def check_plan(
    radius: Any, criteria: Mapping[str, Any], errors: Any, concurrency: Any, method: Any
) -> Plan[None]:
    """Check a batch's options and criteria before anything about its targets is sent."""
    check_batch(errors, concurrency, method)
    parse_radius(radius)
    if criteria:
        config = yield ColumnsConfig(OBSERVATIONS_CONFIG)
        compile_criteria(criteria, config, service=CAOM_FILTERED_POSITION)


def choose_method(method: Method, distinct: int, radius: float, criteria: Mapping[str, Any]) -> str:
    """The method a batch runs (the rule of the module docstring).

    Examples
    --------
    >>> choose_method("auto", 1000, 0.1, {}), choose_method("auto", 3, 0.1, {})
    ('crossmatch', 'cones')
    >>> choose_method("auto", 1000, 0.1, {"obs_collection": "HST"})
    'cones'
    """
    if method == "crossmatch":
        if criteria:
            raise BadInputError(
                "method='crossmatch' cannot apply criteria (the crossmatch does not filter); "
                "use method='cones' or 'auto'."
            )
        if not 0 < radius <= CROSSMATCH_MAX_RADIUS:
            raise BadInputError(
                f"method='crossmatch' takes a radius above 0 and at most "
                f"{CROSSMATCH_MAX_RADIUS:g} deg, not {radius:g} deg; use method='cones'."
            )
        return "crossmatch"
    if method == "cones" or criteria:
        return "cones"
    if 0 < radius <= CROSSMATCH_MAX_RADIUS and distinct >= CROSSMATCH_MIN_TARGETS:
        return "crossmatch"
    return "cones"


def targets_plan(
    session: Session,
    targets: list[Target],
    radius: Any,
    criteria: Mapping[str, Any],
    *,
    errors: BatchErrors = "return",
    concurrency: int | None = None,
    progress: Progress | None = None,
    method: Method = "auto",
    known: Known | None = None,
    chunk: int | None = None,
) -> Plan[ResultTable]:
    """Observations around every target, tagged with its input index (see module doc).

    ``known`` holds names already resolved (or known to fail) by the batch resolver, keyed by
    :attr:`Target.key`; other names are resolved one by one.
    """
    check_batch(errors, concurrency, method)
    r = parse_radius(radius)
    config = yield ColumnsConfig(OBSERVATIONS_CONFIG)
    if criteria:  # a bad criterion fails once, here, not once per target
        compile_criteria(criteria, config, service=CAOM_FILTERED_POSITION)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, target in enumerate(targets):
        groups.setdefault(target.key, []).append(i)
    firsts = [targets[indices[0]] for indices in groups.values()]
    counter = _Counter(len(targets), progress)
    limit = concurrency or session.concurrency
    chosen = choose_method(method, len(firsts), r, criteria)
    logger.info(
        "querying %d targets (%d distinct) by %s, %d at a time",
        len(targets),
        len(firsts),
        chosen,
        limit,
    )
    sizes = [len(ix) for ix in groups.values()]
    known = known or {}
    if chosen == "crossmatch":
        found = yield from _by_crossmatch(
            session, firsts, sizes, r, config, counter, limit, known, chunk
        )
    else:
        found = yield Gather(
            tuple(
                _one_target(session, t, r, criteria, counter, n, known)
                for t, n in zip(firsts, sizes, strict=True)
            ),
            limit=limit,
        )
    outcome: list[ResultTable | MastError] = [None] * len(targets)  # type: ignore[list-item]
    for indices, result in zip(groups.values(), found, strict=True):
        for i in indices:
            outcome[i] = result
    failures = [
        {
            "input_index": i,
            "input_target": t.label,
            "error": str(res),
            "error_type": type(res).__name__,
        }
        for i, (t, res) in enumerate(zip(targets, outcome, strict=True))
        if isinstance(res, MastError)
    ]
    if failures and errors == "raise":
        first = next(res for res in outcome if isinstance(res, MastError))
        raise first
    table = _assemble(targets, outcome, failures, r)
    table.metadata["method"] = chosen
    return table


def _known_location(target: Target, known: Known) -> Resolution | MastError | None:
    """Where a target is without asking: coordinates (None), or a name the batch resolved."""
    if target.name is None:
        try:
            parse_coordinates(target.coordinates)
        except BadInputError as exc:
            return exc
        return None
    outcome = known[target.key]
    return outcome if isinstance(outcome, MastError) else _renamed(outcome, target.name)


def _looked_up(session: Session, name: str) -> Plan[Resolution | MastError]:
    try:
        return (yield from resolve_plan(session, name))
    except MastError as exc:
        return exc


def _by_crossmatch(
    session: Session,
    firsts: list[Target],
    sizes: list[int],
    radius: float,
    config: Mapping[str, Mapping[str, Any]],
    counter: _Counter,
    limit: int,
    known: Known,
    chunk: int | None,
) -> Plan[list[ResultTable | MastError]]:
    """Every distinct target's cone rows, by crossmatch chunks (cones for what they miss)."""
    pending = [i for i, t in enumerate(firsts) if t.name is not None and t.key not in known]
    asked = set(pending)
    where: list[Resolution | MastError | None] = [
        None if i in asked else _known_location(t, known) for i, t in enumerate(firsts)
    ]
    if pending:  # names the batch resolver could not answer: one by one
        looked: list[Resolution | MastError] = yield Gather(
            tuple(_looked_up(session, firsts[i].name or "") for i in pending), limit=limit
        )
        for i, located in zip(pending, looked, strict=True):
            where[i] = located
    results: list[ResultTable | MastError | None] = [
        w if isinstance(w, MastError) else None for w in where
    ]
    for i, w in enumerate(where):
        if isinstance(w, MastError):
            logger.info("target %r failed: %s", firsts[i].label, w)
            counter.add(sizes[i])
    usable = [i for i, w in enumerate(where) if not isinstance(w, MastError)]
    coords = [
        w.coords if isinstance(w, Resolution) else parse_coordinates(firsts[i].coordinates)
        for i, w in ((i, where[i]) for i in usable)
    ]

    def done(start: int, stop: int) -> None:
        counter.add(sum(sizes[usable[k]] for k in range(start, stop)))

    rows, left = yield from crossmatch_cones_plan(
        session, coords, radius, config, concurrency=limit, done=done, chunk=chunk
    )
    base = finish(ResultTable(rows.drop_columns([POSITION]).slice(0, 0)), config, distance=True)
    positions = rows.column(POSITION).to_numpy() if rows.num_rows else np.array([], np.int64)
    bounds = np.searchsorted(positions, np.arange(len(usable) + 1))
    body = rows.drop_columns([POSITION])
    for k, i in enumerate(usable):
        w = where[i]
        extra = {"resolved": w.as_dict()} if isinstance(w, Resolution) else {}
        part = body.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k]))
        results[i] = ResultTable(
            part, service=CAOM_CONE, pages=0, metadata={**base.metadata, **extra}
        )
    if left:  # positions the crossmatch could not answer: by cone
        cones: list[ResultTable | MastError] = yield Gather(
            tuple(
                _cone_at(
                    session, firsts[usable[k]], where[usable[k]], radius, counter, sizes[usable[k]]
                )
                for k in left
            ),
            limit=limit,
        )
        for k, result in zip(left, cones, strict=True):
            results[usable[k]] = result
    return results  # type: ignore[return-value]


def _cone_at(
    session: Session,
    target: Target,
    where: Resolution | MastError | None,
    radius: float,
    counter: _Counter,
    inputs: int,
) -> Plan[ResultTable | MastError]:
    try:
        if isinstance(where, Resolution):
            return (yield from region_plan(session, where.coords, radius, {}, resolution=where))
        return (yield from region_plan(session, target.coordinates, radius, {}))
    except MastError as exc:
        return exc
    finally:
        counter.add(inputs)


def _assemble(
    targets: list[Target],
    outcome: list[ResultTable | MastError],
    failures: list[dict[str, Any]],
    radius: float,
) -> ResultTable:
    tables = [(i, res) for i, res in enumerate(outcome) if isinstance(res, ResultTable)]
    tagged = [_tagged(res, i, targets[i].label) for i, res in tables if len(res)]
    if not tagged and tables:
        i, res = tables[0]
        tagged = [_tagged(res, i, targets[i].label)]
    if not tagged:
        arrow = pa.table({INDEX: pa.array([], pa.int64()), LABEL: pa.array([], pa.string())})
    elif len(tagged) > 1 and all(
        t.schema.equals(tagged[0].schema, check_metadata=True) for t in tagged
    ):
        # The usual case, and fast for thousands of targets: nothing to unify.
        arrow = pa.concat_tables(tagged).replace_schema_metadata(None)
    else:
        arrow = concat_pages(tagged)
    metadata: dict[str, Any] = {}
    if tables:
        metadata = {k: v for k, v in tables[0][1].metadata.items() if k not in _PER_TARGET_METADATA}
    resolved = {
        targets[i].label: res.metadata["resolved"]
        for i, res in tables
        if "resolved" in res.metadata
    }
    descriptions = dict(metadata.get("descriptions") or {})
    descriptions[INDEX] = "Position of the target in the input list (from 0)"
    descriptions[LABEL] = "The target as given: a name, or a position in degrees"
    metadata.update(
        {
            "targets": len(targets),
            "failures": failures,
            "resolved": resolved,
            "descriptions": descriptions,
        }
    )
    return ResultTable(
        arrow,
        service=CAOM_CONE,
        params={"targets": len(targets), "radius": radius},
        pages=sum(res.pages for _, res in tables),
        metadata=metadata,
    )
