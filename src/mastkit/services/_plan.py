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
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Generator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

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
            if isinstance(op, Query):
                result = client.query(op.service, op.params, **_paging(op))
            elif isinstance(op, Invoke):
                result = client.invoke(op.service, op.params, format=op.format)
            elif isinstance(op, ColumnsConfig):
                result = client.columns_config(op.config_id)
            elif isinstance(op, Gather):
                result = _gather_sync(client, op)
            else:  # pragma: no cover - plans only yield the four operations
                raise TypeError(f"unknown plan operation {op!r}")
        except MastError as exc:
            error = exc


def _gather_sync(client: Client, op: Gather) -> list[Any]:
    if len(op.plans) <= 1 or op.limit <= 1:
        return [run_sync(client, p) for p in op.plans]
    with ThreadPoolExecutor(max_workers=min(op.limit, len(op.plans))) as pool:
        futures = [pool.submit(run_sync, client, p) for p in op.plans]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


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
            if isinstance(op, Query):
                result = await client.query(op.service, op.params, **_paging(op))
            elif isinstance(op, Invoke):
                result = await client.invoke(op.service, op.params, format=op.format)
            elif isinstance(op, ColumnsConfig):
                result = await client.columns_config(op.config_id)
            elif isinstance(op, Gather):
                result = await _gather_async(client, op)
            else:  # pragma: no cover
                raise TypeError(f"unknown plan operation {op!r}")
        except MastError as exc:
            error = exc


async def _gather_async(client: AsyncClient, op: Gather) -> list[Any]:
    if len(op.plans) == 1:
        return [await run_async(client, op.plans[0])]
    gate = asyncio.Semaphore(max(1, op.limit))

    async def bounded(plan: Plan[Any]) -> Any:
        async with gate:
            return await run_async(client, plan)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(bounded(p)) for p in op.plans]
    except BaseExceptionGroup as failures:
        # Surface the first mastkit error itself, so callers catch MastError, not a group.
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]
