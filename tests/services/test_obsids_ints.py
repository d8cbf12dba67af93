"""obsids_from on plain int lists (its fast path) agrees with the value-by-value reading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mastkit.errors import BadInputError
from mastkit.services.products import _obsid, obsids_from


@given(st.lists(st.integers(0, 2**62), max_size=50))
def test_int_lists_keep_first_appearances(ids: list[int]) -> None:
    expected = list(dict.fromkeys(_obsid(i) for i in ids))
    assert obsids_from(ids) == expected
    assert obsids_from(ids + [str(i) for i in ids]) == expected  # the general path too


@pytest.mark.parametrize("odd", [True, -5])
def test_a_bool_or_negative_among_ints_is_refused(odd: object) -> None:
    with pytest.raises(BadInputError, match="not an obsid"):
        obsids_from([1, 2, odd, 3])
