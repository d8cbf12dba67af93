"""The observation workflow: :class:`Observations` (sync) and :class:`AsyncObservations`.

Both are thin facades over the plans of :mod:`mastkit.services._queries` and
:mod:`mastkit.services.products`: each method builds a plan and hands it to its client's
driver, so the two behave identically. The many-target methods (``query_region_many``,
``query_object_many``, ``query_targets``) come from the mixins of
:mod:`mastkit.services._batch_facade`. Every query returns a
:class:`~mastkit.tables.ResultTable`; an empty result is an empty table with the right columns,
and a :class:`~mastkit.errors.NoResultsWarning`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from mastkit.errors import BadInputError, NoResultsWarning, TruncatedResultWarning
from mastkit.services import _queries as q
from mastkit.services._batch_facade import AsyncBatchQueries, BatchQueries
from mastkit.services._facade import AsyncFacade, SyncFacade
from mastkit.services._plan import Session
from mastkit.services.product_filters import filter_products
from mastkit.services.products import DEFAULT_BATCH_SIZE, products_plan
from mastkit.services.resolver import (
    AsyncResolver,
    ErrorMode,
    Resolution,
    Resolver,
    resolve_plan,
)
from mastkit.services.summary import summarize
from mastkit.tables import ResultTable

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from mastkit.client import AsyncClient, Client

__all__ = ["AsyncObservations", "Observations"]


def _checked(table: ResultTable, what: str) -> ResultTable:
    """Warn (at the caller's line) when a query matched nothing, or was cut at a limit."""
    if len(table) == 0:
        warnings.warn(
            f"{what} matched nothing; the table is empty (its columns are kept).",
            NoResultsWarning,
            stacklevel=3,
        )
    if table.truncated:
        matched = table.metadata.get("rows_matched")
        of = f" of {matched}" if matched is not None else ""
        warnings.warn(
            f"{what} returned the first {len(table)}{of} matching rows, as limit= asked; "
            "table.truncated is True.",
            TruncatedResultWarning,
            stacklevel=3,
        )
    return table


def _configure(session: Session, row_limit: int | None) -> None:
    if row_limit is None:
        return
    if isinstance(row_limit, bool) or not isinstance(row_limit, int) or row_limit < 1:
        raise BadInputError(f"row_limit must be a positive number of rows, not {row_limit!r}.")
    session.row_limit = row_limit


class Observations(BatchQueries, SyncFacade):
    """Find CAOM observations and their data products with a :class:`~mastkit.client.Client`.

    Parameters
    ----------
    client : Client, optional
        The client to use. Without one, a ``Client()`` with default settings (the real MAST,
        or ``MASTKIT_SERVER``) is created and closed with this object.
    row_limit : int, optional
        The most rows the server returns for one query (MAST: about 500,000, the default).
        Larger results are fetched in parts that fit and merged (see Notes); the limit is
        shared by everything using the same client, and lowered by itself when the server
        refuses less.

    Notes
    -----
    Criteria (``**criteria`` below) are CAOM column names with values: exact values, lists,
    ``*`` wildcards, ranges (``(lo, hi)``, ``slice``, ``"lo..hi"``, ``">=x"``), negation
    (``"!value"`` or :class:`~mastkit.services.Not`), and dates (MJD, ISO strings, datetime or
    astropy Time) on ``t_min``, ``t_max`` and ``t_obs_release``. They are checked against the
    column metadata before anything is sent; see :mod:`mastkit.services.criteria`.

    MAST refuses a result of more than about 500,000 rows (it resets the connection). Queries
    by criteria alone are counted first; cones are tried whole. A result over the limit is
    split into parts that fit (sky tiles for a cone, sky slices for criteria, then obsid
    ranges), fetched ``concurrency`` at a time and merged in MAST's order, so the table is the
    one an unlimited server would return; ``table.metadata["split"]`` tells how many parts
    it took. A result that cannot be split raises
    :class:`~mastkit.errors.ResultTooLargeError`; one that comes back short raises
    :class:`~mastkit.errors.DecodeError`. Nothing is cut silently: ``limit=`` is the only way
    to get fewer rows than match, with a :class:`~mastkit.errors.TruncatedResultWarning`.

    Examples
    --------
    >>> from mastkit import Client
    >>> from mastkit.services import Observations
    >>> obs = Observations(Client())                                       # doctest: +SKIP
    >>> m101 = obs.query_object("M101", radius="3 arcmin",
    ...                         obs_collection="HST", dataproduct_type="image")  # doctest: +SKIP
    >>> products = obs.products(m101, unique=True)                          # doctest: +SKIP
    >>> science = obs.filter_products(products, product_type="SCIENCE",
    ...                               extension="fits", mrp_only=True)      # doctest: +SKIP
    >>> obs.summarize(science)                                              # doctest: +SKIP
    ProductSummary: 42 files, 3.1 GB
      SCIENCE  42 files     3.1 GB
    """

    def __init__(self, client: Client | None = None, *, row_limit: int | None = None) -> None:
        super().__init__(client)
        self.resolver = Resolver(self.client)
        _configure(self._session, row_limit)

    def resolve(self, name: str) -> Resolution:
        """Resolve an object name to coordinates; see :meth:`Resolver.resolve`."""
        result: Resolution = self._run(resolve_plan(self._session, name))
        return result

    def resolve_many(
        self, names: Iterable[str], *, errors: ErrorMode = "return"
    ) -> list[Resolution]:
        """Resolve many names concurrently; see :meth:`Resolver.resolve_many`."""
        result: list[Resolution] = Resolver(self.client).resolve_many(names, errors=errors)
        return result

    # -- observations --------------------------------------------------------------------------

    def query_region(
        self, coordinates: Any, radius: Any = None, *, limit: int | None = None, **criteria: Any
    ) -> ResultTable:
        """Observations whose footprint comes within ``radius`` of a position.

        Parameters
        ----------
        coordinates : SkyCoord, str or pair
            ``"210.8 54.35"``, ``"14h03m12.6s +54d20m57s"``, ``(210.8, 54.35)``, a SkyCoord...
            (see :func:`~mastkit.services.parse_coordinates`).
        radius : Quantity, float or str, optional
            ``"3 arcmin"``, ``0.1`` (degrees), ``3 * u.arcmin``; default 0.2 degrees.
        limit : int, optional
            Return at most this many rows (the first, in MAST's order); when more match,
            ``table.truncated`` is True and a :class:`~mastkit.errors.TruncatedResultWarning`
            says so.
        **criteria
            Column criteria; without any, ``Mast.Caom.Cone`` is used, with some
            ``Mast.Caom.Filtered.Position``.

        Returns
        -------
        ResultTable
            CAOM observation columns plus ``distance`` (arcsec from the position to the
            footprint, 0 inside it).

        Raises
        ------
        BadInputError, UnknownColumnError
            For bad coordinates, radius or criteria (before anything is sent).
        ResultTooLargeError
            When the result is over the server's limit and cannot be split (see Notes of
            :class:`Observations`).

        Examples
        --------
        >>> obs.query_region("210.8 54.35", radius="5 arcmin", calib_level=3)  # doctest: +SKIP
        """
        table = self._run(q.region_plan(self._session, coordinates, radius, criteria, limit=limit))
        return _checked(table, "query_region")

    def query_object(
        self, name: str, radius: Any = None, *, limit: int | None = None, **criteria: Any
    ) -> ResultTable:
        """Observations around a named object (resolved first, then as :meth:`query_region`).

        The resolution is kept in ``table.metadata["resolved"]``.

        Examples
        --------
        >>> obs.query_object("M101", radius="3 arcmin", obs_collection="HST")  # doctest: +SKIP
        """
        table = self._run(q.object_plan(self._session, name, radius, criteria, limit=limit))
        return _checked(table, "query_object")

    def query_criteria(
        self,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        limit: int | None = None,
        **criteria: Any,
    ) -> ResultTable:
        """Observations matching column criteria (``Mast.Caom.Filtered``, ``columns "*"``).

        At least one criterion must select rows. ``coordinates`` or ``objectname`` (with
        ``radius``) add a position, as in astroquery. ``limit`` is as in :meth:`query_region`.
        The query is counted first; a result over the server's limit is fetched in parts.

        Examples
        --------
        >>> obs.query_criteria(obs_collection="JWST", instrument_name="NIRCAM*",
        ...                    t_min=("2023-01-01", "2023-06-30"))             # doctest: +SKIP
        """
        table = self._run(
            q.criteria_plan(
                self._session,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
                limit=limit,
            )
        )
        return _checked(table, "query_criteria")

    def query_region_count(self, coordinates: Any, radius: Any = None, **criteria: Any) -> int:
        """How many rows :meth:`query_region` would return (``COUNT_BIG(*)``)."""
        count: int = self._run(q.count_region_plan(self._session, coordinates, radius, criteria))
        return count

    def query_object_count(self, name: str, radius: Any = None, **criteria: Any) -> int:
        """How many rows :meth:`query_object` would return."""
        count: int = self._run(q.count_object_plan(self._session, name, radius, criteria))
        return count

    def query_criteria_count(
        self,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        **criteria: Any,
    ) -> int:
        """How many rows :meth:`query_criteria` would return (no criterion: the whole archive)."""
        count: int = self._run(
            q.count_criteria_plan(
                self._session,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
            )
        )
        return count

    def columns(self, which: str = "observations") -> ResultTable:
        """The columns of ``"observations"`` or ``"products"``: name, type, unit, description,
        example (from the columns config; columns MAST marks removed are left out).
        """
        table: ResultTable = self._run(q.columns_plan(which))
        return table

    def missions(self) -> ResultTable:
        """The CAOM missions (collections), with their observation counts when MAST says.

        Columns ``mission`` and ``count``, sorted by mission.
        """
        return _checked(self._run(q.missions_plan()), "missions")

    # -- products ------------------------------------------------------------------------------

    def products(
        self,
        observations: Any,
        *,
        unique: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> ResultTable:
        """The data products of observations.

        Parameters
        ----------
        observations : ResultTable, astropy Table, sequence of obsids, or one obsid
            Observations (a table with ``obsid``) or their obsids.
        unique : bool
            Drop rows repeating a file (``dataURI``) already listed, keeping the first.
        batch_size : int
            Obsids per ``Mast.Caom.Products`` request; batches are fetched concurrently
            (up to the client's ``concurrency`` at once).

        Returns
        -------
        ResultTable
            CAOM product columns (``obsID``, ``dataURI``, ``productType``, ``size``, ...).

        Examples
        --------
        >>> obs.products(obs.query_object("M101"), unique=True)               # doctest: +SKIP
        """
        table = self._run(
            products_plan(self._session, observations, unique=unique, batch_size=batch_size)
        )
        return _checked(table, "products")

    filter_products = staticmethod(filter_products)
    summarize = staticmethod(summarize)


class AsyncObservations(AsyncBatchQueries, AsyncFacade):
    """The asynchronous twin of :class:`Observations`, on an :class:`~mastkit.client.AsyncClient`.

    Every method has the same parameters and results as its :class:`Observations` namesake and
    is awaited; ``filter_products`` and ``summarize`` are plain functions (nothing to await).

    Examples
    --------
    >>> async with AsyncClient() as client:                                  # doctest: +SKIP
    ...     obs = AsyncObservations(client)
    ...     found = await obs.query_object("M101", obs_collection="HST")
    ...     products = await obs.products(found, unique=True)
    """

    def __init__(
        self, client: AsyncClient | None = None, *, row_limit: int | None = None
    ) -> None:
        super().__init__(client)
        self.resolver = AsyncResolver(self.client)
        _configure(self._session, row_limit)

    async def resolve(self, name: str) -> Resolution:
        """See :meth:`Observations.resolve`."""
        result: Resolution = await self._run(resolve_plan(self._session, name))
        return result

    async def resolve_many(
        self, names: Iterable[str], *, errors: ErrorMode = "return"
    ) -> list[Resolution]:
        """See :meth:`Observations.resolve_many`."""
        result = await AsyncResolver(self.client).resolve_many(names, errors=errors)
        return result

    async def query_region(
        self, coordinates: Any, radius: Any = None, *, limit: int | None = None, **criteria: Any
    ) -> ResultTable:
        """See :meth:`Observations.query_region`."""
        table = await self._run(
            q.region_plan(self._session, coordinates, radius, criteria, limit=limit)
        )
        return _checked(table, "query_region")

    async def query_object(
        self, name: str, radius: Any = None, *, limit: int | None = None, **criteria: Any
    ) -> ResultTable:
        """See :meth:`Observations.query_object`."""
        table = await self._run(q.object_plan(self._session, name, radius, criteria, limit=limit))
        return _checked(table, "query_object")

    async def query_criteria(
        self,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        limit: int | None = None,
        **criteria: Any,
    ) -> ResultTable:
        """See :meth:`Observations.query_criteria`."""
        table = await self._run(
            q.criteria_plan(
                self._session,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
                limit=limit,
            )
        )
        return _checked(table, "query_criteria")

    async def query_region_count(
        self, coordinates: Any, radius: Any = None, **criteria: Any
    ) -> int:
        """See :meth:`Observations.query_region_count`."""
        count: int = await self._run(
            q.count_region_plan(self._session, coordinates, radius, criteria)
        )
        return count

    async def query_object_count(self, name: str, radius: Any = None, **criteria: Any) -> int:
        """See :meth:`Observations.query_object_count`."""
        count: int = await self._run(q.count_object_plan(self._session, name, radius, criteria))
        return count

    async def query_criteria_count(
        self,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        **criteria: Any,
    ) -> int:
        """See :meth:`Observations.query_criteria_count`."""
        count: int = await self._run(
            q.count_criteria_plan(
                self._session,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
            )
        )
        return count

    async def columns(self, which: str = "observations") -> ResultTable:
        """See :meth:`Observations.columns`."""
        table: ResultTable = await self._run(q.columns_plan(which))
        return table

    async def missions(self) -> ResultTable:
        """See :meth:`Observations.missions`."""
        return _checked(await self._run(q.missions_plan()), "missions")

    async def products(
        self,
        observations: Any,
        *,
        unique: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> ResultTable:
        """See :meth:`Observations.products`."""
        table = await self._run(
            products_plan(self._session, observations, unique=unique, batch_size=batch_size)
        )
        return _checked(table, "products")

    filter_products = staticmethod(filter_products)
    summarize = staticmethod(summarize)
