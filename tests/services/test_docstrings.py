"""The examples in the docstrings of mastkit.services run and show what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "mastkit.services",
    "mastkit.services.coords",
    "mastkit.services.criteria",
    "mastkit.services.observations",
    "mastkit.services.product_filters",
    "mastkit.services.products",
    "mastkit.services.summary",
    "mastkit.services.resolver",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0
