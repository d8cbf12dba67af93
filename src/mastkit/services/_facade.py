"""What every service facade shares: its client (owned or lent), closing, and running plans.

:class:`~mastkit.services.Observations` and :class:`~mastkit.services.Catalogs` (and their async
twins) differ only in the queries they offer; the life cycle is written once here.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from mastkit.services._plan import Plan, Session, run_async, run_sync, session_for

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.client import AsyncClient, Client

__all__ = ["AsyncFacade", "SyncFacade"]


class SyncFacade:
    """A service facade on a :class:`~mastkit.client.Client` (created and owned when not given)."""

    client: Client
    _session: Session

    def __init__(self, client: Client | None = None) -> None:
        self._owns_client = client is None
        if client is None:
            from mastkit.client import Client

            client = Client()
        self.client = client
        self._session = session_for(client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r})"

    def close(self) -> None:
        """Close the client if this object created it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, plan: Plan[Any]) -> Any:
        return run_sync(self.client, plan)


class AsyncFacade:
    """A service facade on an :class:`~mastkit.client.AsyncClient` (owned when not given)."""

    client: AsyncClient
    _session: Session

    def __init__(self, client: AsyncClient | None = None) -> None:
        self._owns_client = client is None
        if client is None:
            from mastkit.client import AsyncClient

            client = AsyncClient()
        self.client = client
        self._session = session_for(client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r})"

    async def aclose(self) -> None:
        """Close the client if this object created it."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, plan: Plan[Any]) -> Any:
        return await run_async(self.client, plan)
