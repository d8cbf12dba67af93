"""Fixtures of the download tests."""

from __future__ import annotations

import pytest

from mastkit.download import _body, _writer


@pytest.fixture(params=["small", "large"])
def size_class(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a file is fetched: as a small one (through httpx, written inline) and as a
    large one (body read straight from the connection, written on a thread of its own)."""
    if request.param == "large":
        monkeypatch.setattr(_writer, "BACKGROUND_MIN", 0)
        monkeypatch.setattr(_body, "DIRECT_MIN", 0)
    return str(request.param)
