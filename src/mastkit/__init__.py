"""mastkit: the toolkit for the MAST archive API.

The public names below are loaded lazily, so ``import mastkit`` stays cheap: httpx, pyarrow,
astropy, DuckDB and typer are imported only when something that needs them is used.

>>> import mastkit
>>> mastkit.MashupRequest("Mast.Caom.Cone", {"ra": 210.8, "dec": 54.35}).service
'Mast.Caom.Cone'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AsyncClient": "mastkit.client",
    "Client": "mastkit.client",
    "MastToken": "mastkit.client",
    "RetryPolicy": "mastkit.client",
    "ResultCache": "mastkit.client",
    "CacheEntry": "mastkit.client",
    "CacheInfo": "mastkit.client",
    "CacheStats": "mastkit.client",
    "Settings": "mastkit._settings",
    "MashupRequest": "mastkit.protocol",
    "MashupResponse": "mastkit.protocol",
    "Field": "mastkit.protocol",
    "Paging": "mastkit.protocol",
    "Status": "mastkit.protocol",
    "Filter": "mastkit.protocol.filters",
    "Range": "mastkit.protocol.filters",
    "criterion": "mastkit.protocol.filters",
    "ResultTable": "mastkit.tables",
    "Observations": "mastkit.services",
    "AsyncObservations": "mastkit.services",
    "Catalogs": "mastkit.services",
    "AsyncCatalogs": "mastkit.services",
    "Resolver": "mastkit.services",
    "AsyncResolver": "mastkit.services",
    "Resolution": "mastkit.services",
    "Not": "mastkit.services",
    "ProductSummary": "mastkit.services",
    "MastError": "mastkit.errors",
    "BadInputError": "mastkit.errors",
    "UnknownColumnError": "mastkit.errors",
    "TransportError": "mastkit.errors",
    "QueryTimeout": "mastkit.errors",
    "HTTPStatusError": "mastkit.errors",
    "RateLimitError": "mastkit.errors",
    "ServiceError": "mastkit.errors",
    "DecodeError": "mastkit.errors",
    "ResolverError": "mastkit.errors",
    "ResultTooLargeError": "mastkit.errors",
    "CacheMissError": "mastkit.errors",
    "DownloadError": "mastkit.errors",
    "MastWarning": "mastkit.errors",
    "NoResultsWarning": "mastkit.errors",
    "TruncatedResultWarning": "mastkit.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from mastkit._settings import Settings
    from mastkit.client import (
        AsyncClient,
        CacheEntry,
        CacheInfo,
        CacheStats,
        Client,
        MastToken,
        ResultCache,
        RetryPolicy,
    )
    from mastkit.errors import (
        BadInputError,
        CacheMissError,
        DecodeError,
        DownloadError,
        HTTPStatusError,
        MastError,
        MastWarning,
        NoResultsWarning,
        QueryTimeout,
        RateLimitError,
        ResolverError,
        ResultTooLargeError,
        ServiceError,
        TransportError,
        TruncatedResultWarning,
        UnknownColumnError,
    )
    from mastkit.protocol import Field, MashupRequest, MashupResponse, Paging, Status
    from mastkit.protocol.filters import Filter, Range, criterion
    from mastkit.services import (
        AsyncCatalogs,
        AsyncObservations,
        AsyncResolver,
        Catalogs,
        Not,
        Observations,
        ProductSummary,
        Resolution,
        Resolver,
    )
    from mastkit.tables import ResultTable


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mastkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
