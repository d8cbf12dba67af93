"""Catalogues and crossmatch: :class:`Catalogs` (sync) and :class:`AsyncCatalogs`.

Both are thin facades over the plans of :mod:`mastkit.services._catalog_queries` and
:mod:`mastkit.services.crossmatch`: each method builds a plan and hands it to its client's
driver, so the two behave identically.

Catalogue names are matched ignoring case and mapped to MAST's own service spellings: ``"TIC"``
(or ``"tic"``) queries ``Mast.Catalogs.Tic.Cone`` and ``Mast.Catalogs.Filtered.Tic...``, with
the columns config ``Mast.Catalogs.Tess.Cone``; ``"CTL"``, ``"GaiaDR3"`` (``"gaia"``),
``"GaiaDR2"``, ``"GaiaDR1"``, ``"Tgas"``, ``"DiskDetective"``, ``"Plato"``, ``"HSC"`` and
``"GALEX"`` are known too; any other name is queried by MAST's generic spelling
(``Mast.Catalogs.NAME.Cone``), which is how the local archive serves ``"Hipparcos"`` and the
catalogues users add to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mastkit.services import _catalog_queries as cq
from mastkit.services._facade import AsyncFacade, SyncFacade
from mastkit.services.crossmatch import DEFAULT_CHUNK_SIZE, crossmatch_plan
from mastkit.services.observations import _checked
from mastkit.tables import ResultTable

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable


__all__ = ["AsyncCatalogs", "Catalogs"]


class Catalogs(SyncFacade):
    """Query MAST catalogues (TIC, Gaia, Hipparcos, ...) and crossmatch tables against them.

    Parameters
    ----------
    client : Client, optional
        The client to use. Without one, a ``Client()`` with default settings (the real MAST,
        or ``MASTKIT_SERVER``) is created and closed with this object.

    Notes
    -----
    ``radius`` defaults to 0.2 degrees for cone queries (astroquery's default for catalogues;
    MAST's own services assume 0.02 degrees when a request leaves it out, which mastkit never
    does) and to 0.002 degrees (7.2 arcsec, MAST's default) for crossmatches. Criteria are the
    catalogue's column names with values, in the forms
    :meth:`~mastkit.services.Observations.query_criteria` takes (exact values, lists, ``*``
    wildcards, ranges, negation), checked against the catalogue's columns config before
    anything is sent.

    Examples
    --------
    >>> from mastkit import Client
    >>> from mastkit.services import Catalogs
    >>> cat = Catalogs(Client())                                             # doctest: +SKIP
    >>> cat.query_object("TIC", "M67", radius="5 arcmin", Tmag="<12")        # doctest: +SKIP
    >>> cat.crossmatch(my_table, catalog="TIC", radius="3 arcsec")           # doctest: +SKIP
    """

    def query_region(
        self, catalog: str, coordinates: Any, radius: Any = None, **criteria: Any
    ) -> ResultTable:
        """Catalogue rows within ``radius`` of a position.

        Parameters
        ----------
        catalog : str
            ``"TIC"``, ``"GaiaDR3"``, ``"Hipparcos"``, ... (any case).
        coordinates : SkyCoord, str or pair
            See :func:`~mastkit.services.parse_coordinates`.
        radius : Quantity, float or str, optional
            Default 0.2 degrees.
        **criteria
            Column criteria; without any, the catalogue's cone service is used
            (``Mast.Catalogs.Tic.Cone``), with some its Filtered.Position service.

        Returns
        -------
        ResultTable
            The catalogue's columns plus its separation column (``dstArcSec`` for the TIC and
            generic catalogues, arcsec).

        Raises
        ------
        BadInputError, UnknownColumnError
            For a bad catalogue name, position, radius or criteria (before anything is sent).
        ServiceError
            The server has no such catalogue, or refused the query.

        Examples
        --------
        >>> cat.query_region("TIC", "210.8 54.35", radius="2 arcmin")        # doctest: +SKIP
        """
        table = self._run(cq.region_plan(self._session, catalog, coordinates, radius, criteria))
        return _checked(table, "query_region")

    def query_object(
        self, catalog: str, name: str, radius: Any = None, **criteria: Any
    ) -> ResultTable:
        """Catalogue rows around a named object (resolved first, then :meth:`query_region`).

        The resolution is kept in ``table.metadata["resolved"]``.
        """
        table = self._run(cq.object_plan(self._session, catalog, name, radius, criteria))
        return _checked(table, "query_object")

    def query_criteria(
        self,
        catalog: str,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        **criteria: Any,
    ) -> ResultTable:
        """Catalogue rows matching column criteria (``Mast.Catalogs.Filtered.NAME.Rows``).

        At least one criterion is needed; ``coordinates`` or ``objectname`` (with ``radius``)
        add a position, as in astroquery.

        Examples
        --------
        >>> cat.query_criteria("TIC", Tmag=(8, 9), objType="STAR")            # doctest: +SKIP
        """
        table = self._run(
            cq.criteria_plan(
                self._session,
                catalog,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
            )
        )
        return _checked(table, "query_criteria")

    def query_region_count(
        self, catalog: str, coordinates: Any, radius: Any = None, **criteria: Any
    ) -> int:
        """How many rows :meth:`query_region` would return (``COUNT_BIG(*)``)."""
        count: int = self._run(
            cq.count_region_plan(self._session, catalog, coordinates, radius, criteria)
        )
        return count

    def query_object_count(
        self, catalog: str, name: str, radius: Any = None, **criteria: Any
    ) -> int:
        """How many rows :meth:`query_object` would return."""
        count: int = self._run(cq.count_object_plan(self._session, catalog, name, radius, criteria))
        return count

    def query_criteria_count(
        self,
        catalog: str,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        **criteria: Any,
    ) -> int:
        """How many rows :meth:`query_criteria` would return (no criterion: the catalogue)."""
        count: int = self._run(
            cq.count_criteria_plan(
                self._session,
                catalog,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
            )
        )
        return count

    def columns(self, catalog: str) -> ResultTable:
        """The catalogue's columns: name, type, unit, description, example."""
        table: ResultTable = self._run(cq.catalog_columns_plan(catalog))
        return table

    def catalogs(self, extra: Iterable[str] = (), *, probe: bool = True) -> ResultTable:
        """The catalogues mastkit knows, and which of them the server offers.

        MAST has no service listing its catalogues, so the list is mastkit's own (the
        catalogues of MAST's API, and the local archive's Hipparcos) plus any ``extra`` names
        (catalogues added to a local archive); with ``probe`` each is looked up in the server's
        column metadata (one request per catalogue, concurrent, cached per client).

        Returns
        -------
        ResultTable
            ``name``, ``available`` (the server describes its columns; null without
            ``probe``), ``columns`` (how many), ``criteria`` and ``crossmatch`` (whether MAST
            offers those services for it), ``description``, ``cone_service``,
            ``columns_config``.
        """
        table: ResultTable = self._run(cq.catalogs_plan(self._session, list(extra), probe=probe))
        return table

    def crossmatch(
        self,
        table: Any,
        catalog: str = "TIC",
        radius: Any = None,
        *,
        ra: str | None = None,
        dec: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int | None = None,
        keep_input: bool = False,
    ) -> ResultTable:
        """Match every row of ``table`` against a catalogue, on the server.

        Parameters
        ----------
        table : astropy Table, pandas/polars DataFrame, Arrow table, ResultTable, ...
            The positions (any table type; a dict of columns or a list of row dicts too).
        catalog : str
            ``"TIC"``, ``"Hipparcos"``, any catalogue with a crossmatch service, or ``"caom"``
            for observations (``Mast.Caom.Crossmatch``).
        radius : Quantity, float or str, optional
            Match radius; default 0.002 degrees (7.2 arcsec, MAST's).
        ra, dec : str, optional
            The position columns (degrees); found by name when not given (``ra``/``dec``,
            ``s_ra``/``s_dec``, ``RAJ2000``/``DEJ2000``, ``ra_deg``/``dec_deg``, ...).
        chunk_size : int
            Input rows per request; chunks are sent concurrently.
        concurrency : int, optional
            Requests at once (default: the client's ``concurrency``).
        keep_input : bool
            Add the input's columns after ``input_row`` (renamed ``input_NAME`` when a
            catalogue column has the same name).

        Returns
        -------
        ResultTable
            One row per match: ``input_row`` (0-based row number in ``table``), the
            catalogue's columns, ``separation`` (arcsec); sorted by input row, then
            separation. Input rows without a match are absent. ``metadata["crossmatch"]``
            summarises the run.

        Raises
        ------
        BadInputError, UnknownColumnError
            Unreadable tables, missing, empty, non-finite or out-of-range positions (naming
            the row), a bad radius (before anything is sent).

        Examples
        --------
        >>> matches = cat.crossmatch(targets, catalog="TIC", radius="5 arcsec")  # doctest: +SKIP
        >>> matches.to_pandas().groupby("input_row").first()                  # doctest: +SKIP
        """
        result = self._run(
            crossmatch_plan(
                self._session,
                table,
                catalog,
                radius,
                ra=ra,
                dec=dec,
                chunk_size=chunk_size,
                concurrency=concurrency,
                keep_input=keep_input,
            )
        )
        return _checked(result, "crossmatch")


class AsyncCatalogs(AsyncFacade):
    """The asynchronous twin of :class:`Catalogs`, on an :class:`~mastkit.client.AsyncClient`.

    Every method has the same parameters and results as its :class:`Catalogs` namesake and is
    awaited.

    Examples
    --------
    >>> async with AsyncClient() as client:                                  # doctest: +SKIP
    ...     cat = AsyncCatalogs(client)
    ...     stars = await cat.query_region("TIC", "210.8 54.35", radius="2 arcmin")
    """

    async def query_region(
        self, catalog: str, coordinates: Any, radius: Any = None, **criteria: Any
    ) -> ResultTable:
        """See :meth:`Catalogs.query_region`."""
        table = await self._run(
            cq.region_plan(self._session, catalog, coordinates, radius, criteria)
        )
        return _checked(table, "query_region")

    async def query_object(
        self, catalog: str, name: str, radius: Any = None, **criteria: Any
    ) -> ResultTable:
        """See :meth:`Catalogs.query_object`."""
        table = await self._run(cq.object_plan(self._session, catalog, name, radius, criteria))
        return _checked(table, "query_object")

    async def query_criteria(
        self,
        catalog: str,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        **criteria: Any,
    ) -> ResultTable:
        """See :meth:`Catalogs.query_criteria`."""
        table = await self._run(
            cq.criteria_plan(
                self._session,
                catalog,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
            )
        )
        return _checked(table, "query_criteria")

    async def query_region_count(
        self, catalog: str, coordinates: Any, radius: Any = None, **criteria: Any
    ) -> int:
        """See :meth:`Catalogs.query_region_count`."""
        count: int = await self._run(
            cq.count_region_plan(self._session, catalog, coordinates, radius, criteria)
        )
        return count

    async def query_object_count(
        self, catalog: str, name: str, radius: Any = None, **criteria: Any
    ) -> int:
        """See :meth:`Catalogs.query_object_count`."""
        count: int = await self._run(
            cq.count_object_plan(self._session, catalog, name, radius, criteria)
        )
        return count

    async def query_criteria_count(
        self,
        catalog: str,
        *,
        coordinates: Any = None,
        objectname: str | None = None,
        radius: Any = None,
        **criteria: Any,
    ) -> int:
        """See :meth:`Catalogs.query_criteria_count`."""
        count: int = await self._run(
            cq.count_criteria_plan(
                self._session,
                catalog,
                criteria,
                coordinates=coordinates,
                objectname=objectname,
                radius=radius,
            )
        )
        return count

    async def columns(self, catalog: str) -> ResultTable:
        """See :meth:`Catalogs.columns`."""
        table: ResultTable = await self._run(cq.catalog_columns_plan(catalog))
        return table

    async def catalogs(self, extra: Iterable[str] = (), *, probe: bool = True) -> ResultTable:
        """See :meth:`Catalogs.catalogs`."""
        table: ResultTable = await self._run(
            cq.catalogs_plan(self._session, list(extra), probe=probe)
        )
        return table

    async def crossmatch(
        self,
        table: Any,
        catalog: str = "TIC",
        radius: Any = None,
        *,
        ra: str | None = None,
        dec: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int | None = None,
        keep_input: bool = False,
    ) -> ResultTable:
        """See :meth:`Catalogs.crossmatch`."""
        result = await self._run(
            crossmatch_plan(
                self._session,
                table,
                catalog,
                radius,
                ra=ra,
                dec=dec,
                chunk_size=chunk_size,
                concurrency=concurrency,
                keep_input=keep_input,
            )
        )
        return _checked(result, "crossmatch")
