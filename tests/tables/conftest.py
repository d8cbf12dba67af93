"""Shared helpers for the tables tests: the real MAST replies in tests/fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mastkit.protocol import MashupResponse, decode_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_bytes(name: str) -> bytes:
    """The bytes of one file in tests/fixtures."""
    return (FIXTURES / name).read_bytes()


def fixture_reply(name: str, format: str = "json") -> MashupResponse:
    """One real reply, decoded by the protocol codec."""
    return decode_response(fixture_bytes(name), format)


@pytest.fixture
def reply() -> Callable[..., MashupResponse]:
    """``reply("caom.json")``: a real reply, decoded by the protocol codec."""
    return fixture_reply
