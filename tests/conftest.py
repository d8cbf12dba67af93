"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "fixtures"

_ENV = (
    "MAST_API_TOKEN",
    "MAST_TOKEN",
    "MASTKIT_SERVER",
    "MASTKIT_TIMEOUT",
    "MASTKIT_PAGESIZE",
    "MASTKIT_CACHE",
    "MASTKIT_NO_CACHE",
    "MASTKIT_OFFLINE",
    "MASTKIT_CACHE_TTL",
    "MASTKIT_CACHE_SIZE",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's tokens or server settings."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(scope="session", autouse=True)
def isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """mastkit's cache root points into the test session's temporary directory."""
    path = tmp_path_factory.mktemp("mastkit-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("MASTKIT_CACHE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (what httpx and the server use)."""
    return "asyncio"
