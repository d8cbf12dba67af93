"""``Mast.Caom.Products`` reads its comma-separated obsids the same way on its one-pass fast path
as item by item (the reference below): the same ids, or the same MAST error."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mastkit.server.handlers import ServiceFailure, _obsids

_ITEM = re.compile(r"^\s*[-+]?\d+\s*$")


def _reference(value: str) -> list[int] | str:
    ids = []
    for item in (part for part in value.split(",") if part.strip()):
        if not _ITEM.match(item):
            return "Error converting data type varchar to bigint."
        number = int(item)
        if not -(2**63) <= number < 2**63:
            return "Arithmetic overflow error converting expression to data type bigint."
        ids.append(number)
    return ids


def _parsed(value: str) -> list[int] | str:
    try:
        return _obsids(value)
    except ServiceFailure as exc:
        return exc.msg


_PARTS = st.one_of(
    st.integers(-(2**64), 2**64).map(str),
    st.sampled_from(["", " ", " 5 ", "+3", "-0", "x", "1e3", "\n7\n", "5\n", "\u0663", "1.0"]),
    st.text(max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PARTS, max_size=8).map(",".join))
def test_obsid_lists_parse_as_item_by_item(value: str) -> None:
    assert _parsed(value) == _reference(value)


def test_a_long_list_is_read_whole() -> None:
    ids = list(range(2_000_000_000, 2_000_001_000))
    assert _obsids(",".join(map(str, ids))) == ids
    assert _obsids(" , ".join(map(str, ids)) + ",") == ids
