"""Fixtures of the download tests."""

from __future__ import annotations

import pytest

from mastkit.client import _rawbody
from mastkit.download import _writer


@pytest.fixture(params=["small", "large", "closing"])
def size_class(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every way a file is fetched: as a small one (through httpx, written inline), as a large
    one (body read straight from the connection, which then serves the next request, written on
    a thread of its own), and as a large one whose connection cannot be handed back (read
    directly, then closed: the fallback when httpcore's parser is not where it is expected)."""
    if request.param == "small":
        monkeypatch.setattr(_rawbody, "DIRECT_MIN", 1 << 62)
        monkeypatch.setattr(_rawbody, "CLOSING_MIN", 1 << 62)
    else:
        monkeypatch.setattr(_writer, "BACKGROUND_MIN", 0)
        monkeypatch.setattr(_rawbody, "DIRECT_MIN", 0)
    if request.param == "closing":
        monkeypatch.setattr(_rawbody, "CLOSING_MIN", 0)
        monkeypatch.setattr(_rawbody, "_parser", lambda response, stream: None)
    return str(request.param)
