"""The examples in the docstrings of mastkit.tables run and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mastkit.tables

MODULES = ["mastkit.tables"] + [
    f"mastkit.tables.{info.name}" for info in pkgutil.iter_modules(mastkit.tables.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_names_are_curated() -> None:
    exported = set(mastkit.tables.__all__)
    assert exported == {
        "ResultTable",
        "arrow_type",
        "column_metadata",
        "concat_pages",
        "declared_schema",
        "decode_csv",
        "decode_extjs",
        "decode_reply",
        "decode_rows",
        "decode_votable",
        "encode_csv",
        "encode_extjs",
        "encode_rows",
        "encode_votable",
        "extjs_column_properties",
        "fields_for",
        "ignore_values_from_config",
        "kind_of",
        "mast_type_for",
        "write_table",
    }
    for name in exported:
        assert getattr(mastkit.tables, name) is not None


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mastkit.tables; "
        "print(','.join(m for m in ('astropy', 'pandas', 'polars', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
