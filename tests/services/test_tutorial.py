"""docs/tutorial.md runs: its Python blocks, in order, against the local archive.

Blocks preceded by an ``<!-- tutorial: skip ... -->`` comment are shown to readers but not run
(the test provides the server through ``MASTKIT_SERVER`` instead). Warnings are errors here as
everywhere, so a step that matched nothing (a ``NoResultsWarning``) fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
BLOCK = re.compile(r"(?P<skip><!-- tutorial: skip[^>]*-->\s*\n)?```python\n(?P<code>.*?)```",
                   re.S)


def blocks() -> list[tuple[int, str, bool]]:
    text = TUTORIAL.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group("code"), bool(m.group("skip")))
            for m in BLOCK.finditer(text)]


def test_the_tutorial_has_runnable_blocks() -> None:
    found = blocks()
    assert len([b for b in found if not b[2]]) >= 10 and any(skip for _, _, skip in found)


def test_tutorial_runs(server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MASTKIT_SERVER", server_url)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "tutorial"}
    for line, code, skip in blocks():
        if skip:
            compile(code, f"{TUTORIAL.name}:{line}", "exec")  # shown, so at least valid Python
            continue
        exec(compile(code, f"{TUTORIAL.name}:{line}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Resolution('M101' -> 'M 101'" in out and "ProductSummary:" in out
    assert "Did you mean 'instrument_name'" in out
    assert (tmp_path / "m101_science.csv").stat().st_size > 0
