"""Service logic as sans-I/O plans, and the two small drivers that run them.

A *plan* is a generator that yields operations and receives their results, exactly like the
protocol flows one layer down (:mod:`mastkit.protocol.flows`), but at the level of client calls:

* :class:`Invoke`: ``client.invoke(...)``, the raw reply (for non-table services);
* :class:`Query`: ``client.query(...)``, every page as one :class:`~mastkit.tables.ResultTable`;
* :class:`ColumnsConfig`: ``client.columns_config(id)`` (cached per client);
* :class:`Gather`: run sub-plans concurrently, at most ``limit`` at once, and receive their
  results in order (the first failure is thrown into the plan).

Every query in :mod:`mastkit.services` is written once as a plan; :func:`run_sync` runs it on a
:class:`~mastkit.client.Client` (concurrency on threads) and :func:`run_async` on an
:class:`~mastkit.client.AsyncClient` (concurrency on tasks). A :class:`~mastkit.errors.MastError`
raised by an operation is thrown into the plan at the ``yield``, so plans handle failures with
ordinary ``try``/``except``.

Why plans are not protocol flows
--------------------------------
Plans and flows are two levels, not two copies of one mechanism. A flow's actions are wire
steps (send these bytes, wait, run sub-flows), and each client has the one driver that performs
them, with retries and socket deadlines. A plan's operation is a whole public client call, and
such a call is more than its flow: the on-disk result cache and offline mode, the request built
from the client's settings with a deadline per call, pages decoded into Arrow while later ones
arrive, and the columns config (not a MashupRequest at all). None of that is sans-I/O, so none
of it can move into :mod:`mastkit.protocol` (which may not import pyarrow or httpx). The only
way to run plan operations on the clients' flow drivers would be an opaque "call this client
method" action, whose callable is a function on one client and a coroutine function on the
other: the sync/async split would move into the flows, and the protocol would name the
client's API. So each operation runs one client call, and that call runs its flows on the
client's own driver: there is still exactly one flow driver per client. What the two levels do
share is written once: the fan-out (:class:`Gather` uses the bounded map of the clients'
:class:`~mastkit.protocol.flows.Parallel`), and the mapping from an operation to its client
call (:func:`_call`, the same for both drivers).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from mastkit.client._async import bounded_map as bounded_map_async
from mastkit.client._sync import bounded_map
from mastkit.errors import MastError

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.client import AsyncClient, Client

__all__ = [
    "DEFAULT_ROW_LIMIT",
    "ColumnsConfig",
    "Gather",
    "Invoke",
    "Plan",
    "Query",
    "Session",
    "run_async",
    "run_sync",
    "session_for",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Invoke:
    """One request (polled while EXECUTING); the result is the :class:`MashupResponse`."""

    service: str
    params: Mapping[str, Any]
    format: str = "json"


@dataclass(frozen=True, slots=True)
class Query:
    """A query auto-paged into one :class:`~mastkit.tables.ResultTable`.

    With ``page`` (and ``pagesize``), only that page is fetched: its table's ``paging`` says how
    many rows the whole result has (used for user-requested row limits).
    """

    service: str
    params: Mapping[str, Any]
    page: int | None = None
    pagesize: int | None = None
    #: An uploaded table (the request's top-level ``data``: crossmatch services).
    data: Any = None


@dataclass(frozen=True, slots=True)
class ColumnsConfig:
    """The columns config ``config_id`` (column name -> properties)."""

    config_id: str


@dataclass(frozen=True, slots=True)
class Gather:
    """Run ``plans`` concurrently, at most ``limit`` at once; the result is their results."""

    plans: tuple[Generator[Any, Any, Any], ...]
    limit: int = 4


Operation = Invoke | Query | ColumnsConfig | Gather
Plan = Generator[Operation, Any, T]

#: The largest result MAST returns in one query (mast-protocol.md 6): a session assumes this
#: until a refusal teaches it less.
DEFAULT_ROW_LIMIT = 500_000


@dataclass(eq=False)
class Session:
    """What plans share for one client: its concurrency and the resolved-name cache.

    One session exists per client instance (see :func:`session_for`), so every facade built on
    the same client shares the cache; it goes away with the client.
    """

    concurrency: int = 4
    names: dict[tuple[str, ...], Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Rows the server is believed to return in one query; lowered when it refuses less.
    row_limit: int = DEFAULT_ROW_LIMIT
    #: Obsids per product-list request once the server refused a larger batch (None: as asked).
    product_batch: int | None = None

    def learn_row_limit(self, rows: int) -> int:
        """Lower :attr:`row_limit` to ``rows`` (never below 1) and return the new value."""
        with self.lock:
            self.row_limit = max(1, min(self.row_limit, int(rows)))
            return self.row_limit

    def learn_product_batch(self, size: int) -> int:
        """Lower :attr:`product_batch` to ``size`` (never below 1) and return it."""
        with self.lock:
            current = self.product_batch if self.product_batch is not None else size
            self.product_batch = max(1, min(current, int(size)))
            return self.product_batch


_SESSIONS: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()
_SESSIONS_LOCK = threading.Lock()


def session_for(client: Client | AsyncClient) -> Session:
    """The :class:`Session` of ``client`` (created on first use, dropped with the client)."""
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(client)
        if session is None:
            session = Session(concurrency=max(1, client.settings.concurrency))
            _SESSIONS[client] = session
        return session


def _paging(op: Query) -> dict[str, Any]:
    """The page options of a query (and its upload), only those given."""
    given = (("page", op.page), ("pagesize", op.pagesize), ("data", op.data))
    return {k: v for k, v in given if v is not None}


def _call(client: Client | AsyncClient, op: Operation) -> Any:
    """Start the client call of ``op`` (not :class:`Gather`): on a :class:`Client` its result,
    on an :class:`AsyncClient` the awaitable of it. Written once for both drivers.
    """
    if isinstance(op, Query):
        return client.query(op.service, op.params, **_paging(op))
    if isinstance(op, Invoke):
        return client.invoke(op.service, op.params, format=op.format)
    if isinstance(op, ColumnsConfig):
        return client.columns_config(op.config_id)
    raise TypeError(f"unknown plan operation {op!r}")  # pragma: no cover - plans yield 4 kinds


def run_sync(client: Client, plan: Plan[T]) -> T:
    """Run ``plan`` to completion on a synchronous client and return its result."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = plan.throw(error) if error is not None else plan.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            if isinstance(op, Gather):
                result = bounded_map(partial(run_sync, client), op.plans, op.limit)
            else:
                result = _call(client, op)
        except MastError as exc:
            error = exc


async def run_async(client: AsyncClient, plan: Plan[T]) -> T:
    """Run ``plan`` to completion on an asynchronous client and return its result."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = plan.throw(error) if error is not None else plan.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            if isinstance(op, Gather):
                result = await bounded_map_async(partial(run_async, client), op.plans, op.limit)
            else:
                result = await _call(client, op)
        except MastError as exc:
            error = exc
