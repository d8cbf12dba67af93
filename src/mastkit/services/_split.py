"""Queries too large for the server, split into parts that fit and merged back (as plans).

MAST refuses a result of more than about 500,000 rows: the connection is reset, or the local
server (``reset_over_limit=False``) answers ERROR "Query returned more than N rows"
(mast-protocol.md 6). :func:`fetch_rows` runs a query as a plan (see
:mod:`mastkit.services._plan`) and, when the result is too large, counts it, splits it into parts
that each fit, fetches the parts concurrently (bounded by the session's concurrency) and merges
them into the table an unlimited server would have returned. What a part is (its axes, ranges
and requests) lives in :mod:`mastkit.services._split_parts`; the merge in
:mod:`mastkit.services._split_merge`.

How a query is split
--------------------
A *part* is the query plus inclusive range filters on a few *axes*, columns every CAOM row has:

* a cone: sky tiles. Declination bands over the cone, then right-ascension ranges within a band
  (``s_dec``, ``s_ra``), then ``obsid`` ranges. The cone's own position stays on every part, so a
  tile holds the rows of the cone whose *centre* falls in it, wherever their footprint reaches;
  tiles of the rest of the sky (beyond the cone's box) catch rows whose large footprints reach
  the cone from afar, and are usually empty.
* criteria alone: right-ascension slices of the whole sky, then declination, then ``obsid``
  (whose first split is by decade).

Neighbouring ranges end one representable number before the next begins (the next float down,
the next integer down), so each row falls in exactly one part. The pieces of a split are counted
(``COUNT_BIG(*)``): contiguous pieces that fit together are merged into one part, empty ones are
dropped, and a piece still too large is split again, on the same axis or, when one tile holds
every row, on the next. Rows that no piece holds (a null ``s_ra``) show as counts that do not add
up; the split then moves on to the next axis for that part, ending with ``obsid``, which every
row has. A part the server still refuses (its limit is lower than the session believed) lowers
the session's :attr:`~mastkit.services._plan.Session.row_limit` and is split again.

Parts are cut smaller than the row limit when the session fetches several at once: the rows in
flight (each part's reply is held whole until it is decoded) stay near ``_INFLIGHT_ROWS``
whatever the limit, which bounds the memory a split takes beyond its result.

Refusals, resets and transient failures
---------------------------------------
An ERROR reply stating the limit is a refusal. A reset may be one (MAST resets over its limit)
or a transport fault: it is taken for a refusal only while the part may be over the limit, that
is, larger than every part the server returned in this split and than a limit the server
stated, and only for a few rounds of lowering (``_MAX_GUESSES``); past that it is raised as the
transport error it is. A transient failure of the whole query (a 503 after the client's retries,
which may have hidden resets) is settled by counting: over the limit, the query is split;
within it, the whole is asked once more, and a second failure that is no refusal is raised.

The merged table is checked against the counts (a short table is an error, never a result), freed
of any repeated ``obsid`` (a server that rounds range bounds could place a row twice), and sorted
in the server's order (CAOM: ``obs_collection`` descending, then ``obsid``), so it equals, row for
row, what a server without a limit returns.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from mastkit.errors import (
    DecodeError,
    HTTPStatusError,
    MastError,
    QueryTimeout,
    RequestDecodeError,
    ResultTooLargeError,
    ServiceError,
    TransportError,
)
from mastkit.protocol.status import RETRYABLE_STATUS
from mastkit.services._plan import Gather, Operation, Plan, Query, Session
from mastkit.services._split_merge import merge_consuming, merge_parts, release_unused
from mastkit.services._split_parts import (
    CAOM_ORDER,
    Axis,
    Part,
    Source,
    cone_axes,
    count_rows,
    count_value,
    criteria_axes,
)
from mastkit.tables import ResultTable

__all__ = [
    "CAOM_ORDER",
    "Axis",
    "Part",
    "Source",
    "cone_axes",
    "count_rows",
    "count_value",
    "criteria_axes",
    "fetch_rows",
    "learn_limit",
    "merge_parts",
    "refusal",
    "split_rows",
]

logger = logging.getLogger("mastkit.services")

#: The server's words when it answers a refusal with ERROR instead of a reset.
_REFUSED = re.compile(r"more than\s+([\d,]+)\s+rows", re.IGNORECASE)
_MAX_PIECES = 16
_MIN_PIECES = 4
_MAX_ROUNDS = 64
#: Rows of all the parts fetched at once: each part's reply is held whole while it is decoded,
#: so parts are cut to about this many rows over the session's concurrency.
_INFLIGHT_ROWS = 100_000
_MIN_PART_ROWS = 10_000  # smaller parts would cost more in counts than they save
#: Rows per page of a part: small replies, each decoded (and its bytes freed) on arrival.
_PAGE_ROWS = 10_000
#: Rounds in which resets (no limit stated) may lower the row limit, within one split.
_MAX_GUESSES = 6


def _one(op: Operation) -> Plan[Any]:
    result = yield op
    return result


# ------------------------------------------------------------------------------ refusals


def refusal(error: BaseException) -> tuple[bool, int | None]:
    """Whether ``error`` may be the server refusing a result as too large, and its stated limit.

    An ERROR reply saying "more than N rows" is a refusal with limit N; a connection reset (any
    transport failure but a timeout) may be one, as production MAST resets the connection over
    its limit. The callers confirm with a count before splitting.

    Examples
    --------
    >>> from mastkit.errors import ServiceError
    >>> refusal(ServiceError("x", server_message="Query returned more than 1,000 rows; ..."))
    (True, 1000)
    >>> refusal(ServiceError("x", server_message="Invalid column name 's_fov'"))
    (False, None)
    """
    if isinstance(error, ResultTooLargeError):
        return True, None
    if isinstance(error, ServiceError):
        found = _REFUSED.search(error.server_message or error.message or "")
        if found:
            return True, int(found.group(1).replace(",", ""))
        return False, None
    if isinstance(error, TransportError) and not isinstance(error, QueryTimeout):
        return True, None
    return False, None


def learn_limit(session: Session, rows: int, stated: int | None) -> int:
    """Lower the session's row limit after a refusal of ``rows`` rows; the new limit."""
    guess = stated if stated is not None and stated < rows else rows // 2
    limit = session.learn_row_limit(max(1, guess))
    logger.info("the server refused %d rows; splitting queries to at most %d rows", rows, limit)
    return limit


def _transient(error: MastError) -> bool:
    """A failure that says nothing of the size (a 503 after retries, a garbled reply)."""
    if isinstance(error, HTTPStatusError):
        return error.status_code in RETRYABLE_STATUS
    return isinstance(error, DecodeError) and not isinstance(error, RequestDecodeError)


@dataclass(slots=True)
class _Known:
    """What one split knows of the server's limit, besides the session's belief."""

    #: Most rows the server returned in one part: a part this small fits.
    safe: int = 0
    #: The limit the server stated in an ERROR reply.
    stated: int | None = None
    #: Rounds in which a reset lowered the row limit; ``guessed``: the current round did.
    guesses: int = 0
    guessed: bool = False

    def fits(self, rows: int) -> bool:
        """Whether ``rows`` rows are known to be within the server's limit."""
        return rows <= max(self.safe, self.stated or 0)


def _target(session: Session) -> int:
    """The most rows a part is cut to: the row limit, or less to bound the rows in flight."""
    share = max(_MIN_PART_ROWS, _INFLIGHT_ROWS // max(1, session.concurrency))
    return max(1, min(session.row_limit, share))


# ------------------------------------------------------------------------------ splitting


def _pieces(source: Source, part: Part, limit: int) -> tuple[int, list[tuple[float, float]]]:
    """The first axis (from ``part.axis``) that can cut ``part``, and its pieces."""
    wanted = max(_MIN_PIECES, min(_MAX_PIECES, math.ceil(4 * part.count / max(1, limit))))
    for k in range(part.axis, len(source.axes)):
        axis = source.axes[k]
        current = part.ranges[k]
        lo, hi = current if current is not None else (axis.lo, axis.hi)
        pieces = axis.cut(lo, hi, wanted, first=current is None)
        if len(pieces) >= 2:
            return k, pieces
    raise ResultTooLargeError(
        f"{source.service}: {part.count} rows ({source.describe(part)}) exceed the server's "
        "limit and cannot be split further; narrow the query.",
        service=source.service,
    )


def _with_range(part: Part, k: int, bounds: tuple[float, float], count: int, axis: int) -> Part:
    ranges = list(part.ranges)
    ranges[k] = bounds
    return Part(tuple(ranges), count, axis)


def _group(
    part: Part,
    k: int,
    pieces: list[tuple[float, float]],
    counts: list[int],
    limit: int,
    last_axis: bool,
) -> list[Part]:
    """Contiguous pieces merged into parts of at most ``limit`` rows (bigger pieces alone)."""
    groups: list[tuple[float, float, int]] = []
    for (lo, hi), n in zip(pieces, counts, strict=True):
        if groups and n <= limit and groups[-1][2] <= limit and groups[-1][2] + n <= limit:
            start, _, total = groups[-1]
            groups[-1] = (start, hi, total + n)
        else:
            groups.append((lo, hi, n))
    # One piece with every row: this axis does not separate them (a tight cluster, one value);
    # move on to the next axis for it, unless this is the last one.
    stuck = max(counts) >= part.count and not last_axis
    return [
        _with_range(part, k, (lo, hi), n, k + 1 if stuck and n > limit else k)
        for lo, hi, n in groups
        if n > 0
    ]


def _split_round(
    session: Session, source: Source, parts: list[Part]
) -> Plan[tuple[list[Part], list[Part]]]:
    """Count the pieces of every part over the limit: (parts that fit, parts still too big)."""
    limit = _target(session)
    fit = [p for p in parts if p.count <= limit]
    plans: list[tuple[Part, int, list[tuple[float, float]]]] = []
    for part in (p for p in parts if p.count > limit):
        k, pieces = _pieces(source, part, limit)
        plans.append((part, k, pieces))
    queries = [
        _one(Query(source.service, source.params(_with_range(part, k, bounds, 0, k), count=True)))
        for part, k, pieces in plans
        for bounds in pieces
    ]
    tables: list[ResultTable] = yield Gather(tuple(queries), limit=session.concurrency)
    counts = iter(count_value(t, source.service) for t in tables)
    big: list[Part] = []
    for part, k, pieces in plans:
        found = [next(counts) for _ in pieces]
        if sum(found) < part.count:
            # Rows this axis cannot place (a null s_ra, a value outside its range).
            if k + 1 >= len(source.axes):
                raise ResultTooLargeError(
                    f"{source.service}: the parts of {source.describe(part)} hold "
                    f"{sum(found)} of its {part.count} rows, so it cannot be split without "
                    "losing rows; narrow the query.",
                    service=source.service,
                )
            big.append(replace(part, axis=k + 1))
            continue
        for child in _group(part, k, pieces, found, limit, k + 1 >= len(source.axes)):
            (fit if child.count <= limit else big).append(child)
    return fit, big


_REFUSED_PART = object()


def _too_large(source: Source, error: MastError, stated: int | None) -> NoReturn:
    """A refusal of one row: the server's own words say so, or it was no refusal at all."""
    if stated is None:
        raise error  # a reset of a one-row query is a transport failure, not a size
    raise ResultTooLargeError(
        f"{source.service}: the server refuses even one row (its limit is {stated}).",
        service=source.service,
    ) from error


def _not_refused(source: Source, part: Part, error: MastError, known: _Known) -> NoReturn:
    """A reset of a part that fits (or after too many guesses): the transport fault it is."""
    why = (
        "which the server's limit allows"
        if known.fits(part.count)
        else f"after {known.guesses} rounds of lowering the row limit for resets"
    )
    raise TransportError(
        f"{source.service}: a part of the split query ({source.describe(part)}, {part.count} "
        f"rows, {why}) failed: {error}",
        service=source.service,
        request=error.request,
    ) from error


def _fetch_part(session: Session, source: Source, part: Part, known: _Known) -> Plan[Any]:
    """One part's rows, or :data:`_REFUSED_PART` (with the session's limit lowered)."""
    try:
        table: ResultTable = yield Query(source.service, source.params(part), pagesize=_PAGE_ROWS)
    except MastError as exc:
        refused, stated = refusal(exc)
        if not refused:
            raise
        if stated is not None:
            known.stated = stated if known.stated is None else min(known.stated, stated)
        elif not isinstance(exc, ResultTooLargeError):
            # A reset: a refusal only while the part may be over the limit.
            if known.fits(part.count) or known.guesses >= _MAX_GUESSES:
                _not_refused(source, part, exc, known)
            known.guessed = True
        if part.count <= 1:
            _too_large(source, exc, stated)
        learn_limit(session, part.count, stated)
        return _REFUSED_PART
    if len(table) != part.count:
        raise DecodeError(
            f"{source.service}: a part of the split query ({source.describe(part)}) has "
            f"{len(table)} rows but was counted at {part.count}; the archive changed while the "
            "query ran. Run it again.",
            service=source.service,
        )
    known.safe = max(known.safe, part.count)
    release_unused()
    return table


def _split_all(
    session: Session, source: Source, total: int, known: _Known
) -> Plan[list[ResultTable]]:
    """Every part of ``source`` (``total`` rows), fetched; counted and split in rounds."""
    pending = [Part((None,) * len(source.axes), total)]
    tables: list[ResultTable] = []
    rounds = 0
    while pending and rounds < _MAX_ROUNDS:
        ready: list[Part] = []
        while pending and rounds < _MAX_ROUNDS:
            rounds += 1
            fit, pending = yield from _split_round(session, source, pending)
            ready.extend(fit)
        if pending:
            break
        logger.debug(
            "%s: fetching %d parts of at most %d rows",
            source.service,
            len(ready),
            session.row_limit,
        )
        fetched = yield Gather(
            tuple(_fetch_part(session, source, p, known) for p in ready),
            limit=session.concurrency,
        )
        if known.guessed:
            known.guesses, known.guessed = known.guesses + 1, False
        for part, got in zip(ready, fetched, strict=True):
            if got is _REFUSED_PART:
                pending.append(part)
            else:
                tables.append(got)
        # The driver that sent this list may hold it until the next operation (after the
        # merge): emptied, it no longer keeps the parts alive while the result is built.
        if isinstance(fetched, list):
            fetched.clear()
    if not pending:
        return tables
    raise ResultTooLargeError(
        f"{source.service}: the query was still too large after {_MAX_ROUNDS} rounds of "
        "splitting; narrow the query.",
        service=source.service,
    )


def fetch_rows(
    session: Session,
    source: Source,
    *,
    first: Query | None = None,
    precount: bool = False,
) -> Plan[ResultTable]:
    """Every row of ``source``, split into parts when the server refuses it as too large.

    Parameters
    ----------
    session : Session
        Concurrency and the row limit the server is believed to have.
    source : Source
        The query, as parts are cut from it.
    first : Query, optional
        The request to try whole (``Mast.Caom.Cone`` for a plain cone); by default the source's.
    precount : bool
        Count first and split at once when the count is over the session's limit (for queries
        that are often large, so that the server is not asked for what it will refuse).

    Raises
    ------
    ResultTooLargeError
        When a part cannot be split further.
    DecodeError
        When the parts do not add up (the archive changed meanwhile).
    """
    whole = first or Query(source.service, source.params())
    total: int | None = None
    if precount:
        total = yield from count_rows(source)
    known = _Known()
    retried = False
    while total is None or total <= session.row_limit:
        try:
            table: ResultTable = yield whole
            return table
        except MastError as exc:
            refused, stated = refusal(exc)
            if not refused and (retried or not _transient(exc)):
                raise
            if total is None:
                try:
                    total = yield from count_rows(source)
                except MastError:
                    raise exc from None  # the query's own failure says more than the count's
            if not refused:
                # A 503 or a garbled reply after the client's retries, which may have hidden
                # resets over the limit: over the limit the query is split; within it, asked
                # once more (a refusal then is one).
                retried = True
                continue
            if total <= 1:
                _too_large(source, exc, stated)
            if stated is not None:
                known.stated = stated
            elif not isinstance(exc, ResultTooLargeError):
                known.guesses = 1
            learn_limit(session, total, stated)
    return (yield from _split_rows(session, source, total, whole, known))


def split_rows(
    session: Session, source: Source, total: int, whole: Query, *, stated: int | None = None
) -> Plan[ResultTable]:
    """The ``total`` rows of ``source``, fetched in parts and merged (``whole`` names the
    result's service and parameters; ``stated``: the limit the server stated, if it did)."""
    return (yield from _split_rows(session, source, total, whole, _Known(stated=stated)))


def _split_rows(
    session: Session, source: Source, total: int, whole: Query, known: _Known
) -> Plan[ResultTable]:
    logger.info(
        "%s: %d rows are more than the server returns at once (%d); splitting",
        source.service,
        total,
        session.row_limit,
    )
    tables = yield from _split_all(session, source, total, known)
    parts, pages = len(tables), sum(t.pages for t in tables)
    arrow = merge_consuming(tables, source.order, total, source.service)  # empties `tables`
    return ResultTable(
        arrow,
        service=whole.service,
        params=dict(whole.params),
        pages=pages,
        metadata={"split": {"parts": parts, "row_limit": session.row_limit}},
    )
