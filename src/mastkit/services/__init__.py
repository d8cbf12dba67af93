"""The user-facing query API: names, observations, products, catalogues and crossmatch.

Two facades per client flavour, sharing every line of query logic (see
:mod:`mastkit.services._plan`):

* :class:`Observations` / :class:`AsyncObservations`: resolve names, find observations
  (``query_region``, ``query_object``, ``query_criteria`` and their counts), describe columns and
  missions, list products (batched and concurrent), filter and summarize them;
* :class:`Catalogs` / :class:`AsyncCatalogs`: query catalogues (TIC, Gaia, Hipparcos, ...) by
  region, object and criteria, with counts and column metadata, and crossmatch tables against
  them (or against CAOM observations);
* :class:`Resolver` / :class:`AsyncResolver`: name resolution alone.

Pure helpers work without a client: :func:`parse_coordinates`, :func:`parse_radius`,
:func:`filter_products`, :func:`summarize`, :class:`Not`.

Examples
--------
>>> from mastkit.services import Not, parse_radius
>>> parse_radius("3 arcmin")
0.05
>>> Not("HLA")
Not('HLA')
"""

from mastkit.services.catalogs import AsyncCatalogs, Catalogs
from mastkit.services.coords import DEFAULT_RADIUS, parse_coordinates, parse_radius
from mastkit.services.criteria import Not
from mastkit.services.crossmatch import DEFAULT_CROSSMATCH_RADIUS
from mastkit.services.observations import AsyncObservations, Observations
from mastkit.services.product_filters import filter_products
from mastkit.services.resolver import (
    AsyncResolver,
    Resolution,
    ResolveManyError,
    Resolver,
    resolutions_table,
)
from mastkit.services.summary import ProductSummary, TypeTotals, summarize

__all__ = [
    "DEFAULT_CROSSMATCH_RADIUS",
    "DEFAULT_RADIUS",
    "AsyncCatalogs",
    "AsyncObservations",
    "AsyncResolver",
    "Catalogs",
    "Not",
    "Observations",
    "ProductSummary",
    "Resolution",
    "ResolveManyError",
    "Resolver",
    "TypeTotals",
    "filter_products",
    "parse_coordinates",
    "parse_radius",
    "resolutions_table",
    "summarize",
]
