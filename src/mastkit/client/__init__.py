"""Sync and async MAST clients over httpx, and the on-disk result cache."""

from mastkit.client._async import AsyncClient
from mastkit.client._retry import RetryPolicy
from mastkit.client._sync import Client
from mastkit.client.auth import MastToken
from mastkit.client.cache import CacheEntry, CacheInfo, CacheStats, ResultCache

__all__ = [
    "AsyncClient",
    "CacheEntry",
    "CacheInfo",
    "CacheStats",
    "Client",
    "MastToken",
    "ResultCache",
    "RetryPolicy",
]
