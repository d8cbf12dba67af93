"""The public API is deliberate: mastkit.__all__ equals what docs/api.md documents."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mastkit

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def documented_names() -> set[str]:
    return set(re.findall(r"^- `([A-Za-z_][A-Za-z0-9_]*)`", DOC.read_text(), flags=re.M))


def test_all_matches_documentation() -> None:
    documented = documented_names()
    exported = set(mastkit.__all__)
    assert not exported - documented, f"exported but undocumented: {sorted(exported - documented)}"
    assert not documented - exported, f"documented but not exported: {sorted(documented - exported)}"


def test_every_public_name_resolves() -> None:
    for name in mastkit.__all__:
        assert getattr(mastkit, name) is not None, name


def test_import_is_light() -> None:
    # Importing mastkit must not pull in the heavy optional machinery.
    code = (
        "import sys, mastkit; "
        "heavy = [m for m in ('httpx', 'pyarrow', 'astropy', 'duckdb', 'typer', 'starlette') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_attribute() -> None:
    try:
        mastkit.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
