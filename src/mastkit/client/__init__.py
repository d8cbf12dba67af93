"""Sync and async MAST clients over httpx."""

from mastkit.client._async import AsyncClient
from mastkit.client._retry import RetryPolicy
from mastkit.client._sync import Client
from mastkit.client.auth import MastToken

__all__ = ["AsyncClient", "Client", "MastToken", "RetryPolicy"]
