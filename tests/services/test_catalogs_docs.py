"""docs/catalogs.md runs: its Python blocks, in order, against the local archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_tutorial import BLOCK

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalogs.md"


def test_catalogs_page_runs(
    server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MASTKIT_SERVER", server_url)
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text()
    namespace: dict[str, object] = {"__name__": "catalogs_doc"}
    ran = 0
    for match in BLOCK.finditer(text):
        line = text[: match.start()].count("\n") + 1
        code = compile(match.group("code"), f"{DOC.name}:{line}", "exec")
        if match.group("skip"):
            continue  # shown, and at least valid Python
        exec(code, namespace)
        ran += 1
    out = capsys.readouterr().out
    assert ran >= 6
    assert "Did you mean 'Tmag'" in out
    assert "outside [-90, 90]" in out and "2 of 3 matched" in out
    assert "Alcyone" in out and "M 45" in out
