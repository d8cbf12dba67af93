"""The many-target methods of :class:`~mastkit.services.Observations` and its async twin.

:class:`BatchQueries` and :class:`AsyncBatchQueries` are mixins holding ``query_region_many``,
``query_object_many`` and ``query_targets``; the facades in
:mod:`mastkit.services.observations` inherit them, so the public methods (and their docstrings)
are where users look for them. The work is the plan of :mod:`mastkit.services._batch`, after the
names have been resolved in batches (:mod:`mastkit.services._names`).

A mixin needs from its facade only ``client``, ``_session`` and ``_run`` (its plan driver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mastkit.services._batch import (
    BatchErrors,
    Method,
    Progress,
    Target,
    check_plan,
    targets_from,
    targets_plan,
)
from mastkit.services._names import prefetch_async, prefetch_sync
from mastkit.tables import ResultTable

if TYPE_CHECKING:  # pragma: no cover
    from mastkit.client import AsyncClient, Client
    from mastkit.services._plan import Plan, Session

__all__ = ["AsyncBatchQueries", "BatchQueries"]


class BatchQueries:
    """Observations around many targets at once, on a :class:`~mastkit.client.Client`."""

    if TYPE_CHECKING:  # provided by the facade
        client: Client
        _session: Session

        def _run(self, plan: Plan[Any]) -> Any: ...

    def query_region_many(
        self,
        coordinates: Any,
        radius: Any = None,
        *,
        errors: BatchErrors = "return",
        concurrency: int | None = None,
        progress: Progress | None = None,
        method: Method = "auto",
        **criteria: Any,
    ) -> ResultTable:
        """Observations around each of many positions, as one table.

        Parameters
        ----------
        coordinates : sequence or array SkyCoord
            Positions in any form :meth:`query_region` takes (strings, pairs, SkyCoords), or
            one array :class:`~astropy.coordinates.SkyCoord`.
        radius : Quantity, float or str, optional
            One radius for every position (default 0.2 degrees).
        errors : {"return", "raise"}
            ``"return"`` (default): a target that fails is listed in
            ``table.metadata["failures"]`` and the others are kept. ``"raise"``: once every
            target has been tried, the first failure is raised.
        concurrency : int, optional
            Queries at once; default the client's ``concurrency`` (4), polite to MAST.
        progress : callable, optional
            ``progress(done, total)`` after each target (called from worker threads).
        method : {"auto", "cones", "crossmatch"}
            ``"cones"``: one cone query per distinct target. ``"crossmatch"``: the positions
            uploaded to ``Mast.Caom.Crossmatch`` in chunks, one request per chunk (no
            criteria; radius up to 1 degree). Both give the same table. ``"auto"`` (default)
            uses the crossmatch without criteria, for a radius up to 1 degree and 8 or more
            distinct targets. Names are resolved in batches through MAST's resolver either way.
        **criteria
            Column criteria for every query, checked once before anything is sent.

        Returns
        -------
        ResultTable
            ``input_index`` (position in the input list, from 0) and ``input_target`` (the
            target as given) then the columns of :meth:`query_region`, targets in input order;
            an observation near two targets appears once per target. A position given twice is
            queried once. ``metadata["failures"]`` lists failed inputs (``input_index``,
            ``input_target``, ``error``, ``error_type``); ``metadata["method"]`` says which
            method ran.

        Examples
        --------
        >>> found = obs.query_region_many(["210.8 54.35", (10.68, 41.27)], radius="3 arcmin")
        ...                                                                   # doctest: +SKIP
        >>> found.metadata["failures"]                                        # doctest: +SKIP
        []
        """
        targets = targets_from(coordinates, "position")
        return self._many(targets, radius, errors, concurrency, progress, method, criteria)

    def query_object_many(
        self,
        names: Any,
        radius: Any = None,
        *,
        errors: BatchErrors = "return",
        concurrency: int | None = None,
        progress: Progress | None = None,
        method: Method = "auto",
        **criteria: Any,
    ) -> ResultTable:
        """Observations around each of many named objects (each resolved, then queried).

        As :meth:`query_region_many`; a name nobody knows is a failure in
        ``metadata["failures"]`` (a :class:`~mastkit.errors.ResolverError`), and
        ``metadata["resolved"]`` maps each resolved name to its resolution.

        Examples
        --------
        >>> found = obs.query_object_many(["M101", "M51", "no such thing"])   # doctest: +SKIP
        >>> [f["input_target"] for f in found.metadata["failures"]]            # doctest: +SKIP
        ['no such thing']
        """
        targets = targets_from(names, "name")
        return self._many(targets, radius, errors, concurrency, progress, method, criteria)

    def query_targets(
        self,
        targets: Any,
        radius: Any = None,
        *,
        errors: BatchErrors = "return",
        concurrency: int | None = None,
        progress: Progress | None = None,
        method: Method = "auto",
        **criteria: Any,
    ) -> ResultTable:
        """Observations around a mix of names and positions: strings are names, anything else
        (pairs, SkyCoords) coordinates. Otherwise as :meth:`query_region_many`.
        """
        return self._many(
            targets_from(targets, "any"), radius, errors, concurrency, progress, method, criteria
        )

    def _many(
        self,
        targets: list[Target],
        radius: Any,
        errors: BatchErrors,
        concurrency: int | None,
        progress: Progress | None,
        method: Method,
        criteria: dict[str, Any],
    ) -> ResultTable:
        # Arguments are checked before any name is looked up, so bad input costs no request.
        self._run(check_plan(radius, criteria, errors, concurrency, method))
        names = [t.name for t in targets if t.name is not None]
        known = prefetch_sync(self.client, self._session, names, concurrency) if names else {}
        table: ResultTable = self._run(
            targets_plan(
                self._session,
                targets,
                radius,
                criteria,
                errors=errors,
                concurrency=concurrency,
                progress=progress,
                method=method,
                known=known,
            )
        )
        return table


class AsyncBatchQueries:
    """The asynchronous twin of :class:`BatchQueries`, on an
    :class:`~mastkit.client.AsyncClient`.
    """

    if TYPE_CHECKING:  # provided by the facade
        client: AsyncClient
        _session: Session

        async def _run(self, plan: Plan[Any]) -> Any: ...

    async def query_region_many(
        self,
        coordinates: Any,
        radius: Any = None,
        *,
        errors: BatchErrors = "return",
        concurrency: int | None = None,
        progress: Progress | None = None,
        method: Method = "auto",
        **criteria: Any,
    ) -> ResultTable:
        """See :meth:`Observations.query_region_many`."""
        targets = targets_from(coordinates, "position")
        return await self._many(targets, radius, errors, concurrency, progress, method, criteria)

    async def query_object_many(
        self,
        names: Any,
        radius: Any = None,
        *,
        errors: BatchErrors = "return",
        concurrency: int | None = None,
        progress: Progress | None = None,
        method: Method = "auto",
        **criteria: Any,
    ) -> ResultTable:
        """See :meth:`Observations.query_object_many`."""
        targets = targets_from(names, "name")
        return await self._many(targets, radius, errors, concurrency, progress, method, criteria)

    async def query_targets(
        self,
        targets: Any,
        radius: Any = None,
        *,
        errors: BatchErrors = "return",
        concurrency: int | None = None,
        progress: Progress | None = None,
        method: Method = "auto",
        **criteria: Any,
    ) -> ResultTable:
        """See :meth:`Observations.query_targets`."""
        return await self._many(
            targets_from(targets, "any"), radius, errors, concurrency, progress, method, criteria
        )

    async def _many(
        self,
        targets: list[Target],
        radius: Any,
        errors: BatchErrors,
        concurrency: int | None,
        progress: Progress | None,
        method: Method,
        criteria: dict[str, Any],
    ) -> ResultTable:
        await self._run(check_plan(radius, criteria, errors, concurrency, method))
        names = [t.name for t in targets if t.name is not None]
        known = (
            await prefetch_async(self.client, self._session, names, concurrency) if names else {}
        )
        table: ResultTable = await self._run(
            targets_plan(
                self._session,
                targets,
                radius,
                criteria,
                errors=errors,
                concurrency=concurrency,
                progress=progress,
                method=method,
                known=known,
            )
        )
        return table
